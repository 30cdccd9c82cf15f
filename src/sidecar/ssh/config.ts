/**
 * Resolve a cluster's host the way OpenSSH's `ssh` does, from the user's
 * ~/.ssh/config, the files it Includes and /etc/ssh/ssh_config.
 *
 * `resolveHost` follows readconf.c and ssh.c (checked against `ssh -G` by the
 * unit tests):
 *
 * - Settings act like ssh's command-line options, read before any file:
 *   `user` is `-l`, `port` is `-p`, `identityFile` is `-i`, `jumpHost` is
 *   `-J`. Since the first value obtained wins, a port in settings beats
 *   the config's Port, exactly as `ssh -p` does.
 * - Files are read in order: the user's config, then the system config
 *   (skipped with `systemConfigPath: null`, as `ssh -F` skips it). For
 *   every keyword the first value obtained wins; IdentityFile lines add up.
 * - `Host` lines match the alias as typed (case-sensitively) against each
 *   pattern (`*`, `?`); a matching `!pattern` disables the block. `Match`
 *   supports all, host, originalhost, user, localuser, canonical, final and
 *   tagged, with `!` negation. `Match exec` (and localnetwork, version,
 *   command, sessiontype) is never evaluated: the sidecar never runs
 *   commands from a config while resolving. Such a block is treated as not
 *   matching and a warning says so.
 * - `Include` takes paths relative to ~/.ssh (/etc/ssh for the system
 *   config), `~`, globs, and (OpenSSH 9.9+) `%` tokens and `${VAR}`. An
 *   Include inside a Host or Match block only applies when the block does,
 *   and an Include'd file's own Host/Match lines do not change the
 *   including file's state. Loops and nesting deeper than 16 are errors.
 * - HostName may use `%h`; the host name is then lower-cased (unless it is
 *   an IP address). When a `Match final` or `CanonicalizeHostname` asks for
 *   it, the files are read a second time with the final host name (not for
 *   `Match !final`, since OpenSSH 10.1). Canonicalisation itself (DNS
 *   lookups) is not done.
 * - ProxyJump and ProxyCommand: whichever is obtained first wins, and
 *   `ProxyCommand none` blocks a later ProxyJump. `ProxyJump none` only
 *   settles ProxyJump: a later ProxyCommand still applies (OpenSSH 10.3,
 *   backported to e.g. Debian 12's 9.2; older ssh ignored that
 *   ProxyCommand).
 * - IdentityFile and UserKnownHostsFile expand `~`, `${VAR}` and the tokens
 *   `%C %d %h %i %j %k %L %l %n %p %r %u`; ProxyCommand `%h %k %n %p %r`,
 *   and HostName `%h`, as OpenSSH does; any other token is an error.
 *
 * `resolveRoute` then resolves the jump hosts the same way, hop by hop, as
 * ssh does for ProxyJump (and, on request, for a ProxyCommand that only
 * runs `ssh gw nc %h %p` or `ssh -W %h:%p gw`); `listHostAliases` and
 * `hasHostEntry` serve the "Add cluster" dialog.
 *
 * Errors are `SshConfigError`s with a stable code. A missing config file is
 * not an error, and neither is an alias no Host line names: like ssh, it is
 * then a plain host name (`hasHostEntry` tells the UI whether to warn).
 *
 * Nothing here runs a program or touches the network; files are only read,
 * through `readFile`/`listDir`, which tests replace.
 */
import { readdirSync, readFileSync } from 'fs';
import { hostname as osHostname } from 'os';
import { dirname, isAbsolute, normalize, resolve as resolvePath } from 'path';

import {
  describeLocation,
  displayPath,
  ISshConfigLocation,
  SshConfigError
} from './config-errors';
import {
  connectionHash,
  expandTilde,
  expandTokens,
  globPaths,
  isAddress
} from './config-expand';
import {
  formatProxyJump,
  IJumpHop,
  isValidHostName,
  isValidUserName,
  parseProxyJump,
  sshProxyCommandHop
} from './config-jump';
import {
  ACCUMULATING_KEYWORDS,
  OPENSSH_PASSTHROUGH_KEYWORDS,
  IConfigLine,
  KEYWORDS,
  parseConfigText,
  parseCount,
  parseFlag,
  parsePort,
  parseTime
} from './config-syntax';
import {
  hostLineMatches,
  matchHostname,
  matchPattern,
  matchPatternList
} from './host-patterns';
import {
  DEFAULT_GLOBAL_KNOWN_HOSTS_FILES,
  DEFAULT_USER_KNOWN_HOSTS_FILES
} from './known-hosts-names';

export { SshConfigError } from './config-errors';
export type { ISshConfigLocation, SshConfigErrorCode } from './config-errors';
export {
  formatProxyJump,
  parseProxyJump,
  sshProxyCommandHop
} from './config-jump';
export type { IJumpHop } from './config-jump';

/** OpenSSH's READCONF_MAX_DEPTH. */
export const MAX_INCLUDE_DEPTH = 16;

/** More jump hosts than anyone chains; beyond this we assume a loop. */
export const MAX_JUMP_HOPS = 16;

/**
 * The identity files OpenSSH 9.x tries when none is configured, in its
 * order (ssh_config(5), readconf.c `fill_default_options`). OpenSSH 9.8 and
 * later leave id_dsa out unless built with DSA, and 10.0 dropped it: the
 * OpenSSH client's list comes from the local `ssh -G` where it can
 * (`opensshDefaultIdentityFiles`), this one is what the resolver mirrors
 * when it is told nothing else.
 */
export const OPENSSH_DEFAULT_IDENTITY_FILES: readonly string[] = [
  'id_rsa',
  'id_ecdsa',
  'id_ecdsa_sk',
  'id_ed25519',
  'id_ed25519_sk',
  'id_xmss',
  'id_dsa'
];

/**
 * The defaults the built-in client can use: ssh2 loads no security-key
 * (`*_sk`) or XMSS keys, and DSA keys are not worth offering.
 */
export const SSH2_DEFAULT_IDENTITY_FILES: readonly string[] = [
  'id_rsa',
  'id_ecdsa',
  'id_ed25519'
];

/** Where the config files are and how to read them. */
export interface ISshConfigFiles {
  /** The local user's home directory (`~`, `%d`). */
  home: string;
  /** The user's config; `<home>/.ssh/config` by default. */
  configPath?: string;
  /** The system config, read after the user's; null to skip it. */
  systemConfigPath?: string | null;
  /**
   * The text of a file, or null when it does not exist. Throw for a file
   * that exists but cannot be read. Reads the file system by default.
   */
  readFile?: (path: string) => string | null;
  /** The names in a directory, or null when it is not one (for globs). */
  listDir?: (path: string) => string[] | null;
}

/**
 * Values from our settings (the fields of `IClusterConfig` of the same
 * names): they act like ssh's command-line options and so win over the
 * config. Empty strings and null mean "not set".
 */
export interface IHostOverrides {
  /** Like `ssh -p`. */
  port?: number | null;
  /** Like `ssh -l`. */
  user?: string;
  /** Like `ssh -i`: tried before the config's IdentityFiles. */
  identityFile?: string;
  /** Like `ssh -J`: `[user@]host[:port],…`, or `none`. */
  jumpHost?: string;
}

export interface IResolveOptions extends ISshConfigFiles {
  /** The local user name (`%u`, `Match localuser`, the default User). */
  localUser: string;
  /** This machine's host name (`%l`, `%L`); os.hostname() by default. */
  localHostName?: string;
  /** The local user id (`%i`); process.getuid() by default. */
  uid?: number;
  /** The environment for `${VAR}`; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The shell for ProxyCommand; $SHELL or /bin/sh by default. */
  shell?: string;
  /** Where relative IdentityFile paths start; process.cwd() by default. */
  cwd?: string;
  /**
   * The names in ~/.ssh to try when no IdentityFile is configured: what the
   * SSH client that will connect tries by default.
   * `OPENSSH_DEFAULT_IDENTITY_FILES` by default.
   */
  defaultIdentityFiles?: readonly string[];
  overrides?: IHostOverrides;
}

export type StrictHostKeyChecking = 'yes' | 'no' | 'ask' | 'accept-new';

/** A host resolved through ssh_config, ready for a connection. */
export interface IResolvedHost {
  /** The name asked for (OpenSSH's `%n`). */
  alias: string;
  /** The host to connect to: HostName with `%h` expanded, lower-cased. */
  hostName: string;
  port: number;
  user: string;
  /**
   * Absolute paths of the keys to try, in order. The client's defaults
   * (`IResolveOptions.defaultIdentityFiles` in ~/.ssh) when none is
   * configured; the caller skips files that do not exist.
   */
  identityFiles: string[];
  /** True when IdentityFile lines or settings gave `identityFiles`. */
  identityFilesExplicit: boolean;
  /** Only the identity files, not every key of the ssh-agent. */
  identitiesOnly: boolean;
  /**
   * Hosts to go through, first one first. Each is to be resolved in its
   * turn with the same config (`resolveRoute` does it as OpenSSH does).
   */
  proxyJump: IJumpHop[];
  /**
   * The ProxyCommand to spawn without a shell, tokens expanded; null for
   * none (and always null when `proxyJump` has hops). OpenSSH runs
   * `exec <command>` with `$SHELL -c`. A command made only of words,
   * paths, options, `%` tokens and `user@host:port`-like text means the
   * same without a shell, so it is split into words and `exec` is dropped:
   * `ssh gw exec nc %h %p` → `['ssh', 'gw', 'exec', 'nc', 'node1', '22']`.
   * Anything else (quotes, `$`, `~`, globs, `;`, `|`, redirections…) is
   * given to the shell like OpenSSH does: `[shell, '-c', 'exec <command>']`.
   */
  proxyCommand: string[] | null;
  /** The ProxyCommand as written in the config, for messages; or null. */
  proxyCommandText: string | null;
  /** Seconds between keepalives; 0 for none. */
  serverAliveInterval: number;
  serverAliveCountMax: number;
  /** Seconds to wait for the TCP connection; null for the system's. */
  connectTimeout: number | null;
  strictHostKeyChecking: StrictHostKeyChecking;
  /** Absolute paths, `~` and tokens expanded; empty for `none`. */
  userKnownHostsFiles: string[];
  /** As configured (OpenSSH expands nothing in them). */
  globalKnownHostsFiles: string[];
  /** Lower-cased, as ssh looks it up in known_hosts; or null. */
  hostKeyAlias: string | null;
  /**
   * Lines the built-in client does not use but OpenSSH does (GSSAPI,
   * CertificateFile, algorithm lists…, see OPENSSH_PASSTHROUGH_KEYWORDS),
   * as `Keyword=value` in the order they took effect, for `ssh -o`.
   */
  opensshOptions: string[];
  /**
   * The lines that took effect, in order: `~/.ssh/config:4: HostName x`,
   * and `settings: Port 2222` for settings.
   */
  source: string[];
  /** Things that may make ssh and us differ, for the user to see. */
  warnings: string[];
}

/**
 * Resolve `alias` as `ssh alias` would. Throws `SshConfigError` for a
 * config or a setting ssh would refuse.
 */
export function resolveHost(
  alias: string,
  options: IResolveOptions
): IResolvedHost {
  return new Resolution(alias, options).run();
}

export interface IRouteOptions extends IResolveOptions {
  /**
   * Turn a ProxyCommand that only runs ssh through one gateway (`ssh gw
   * exec nc %h %p`, `ssh -W %h:%p gw`, see `sshProxyCommandHop`) into a
   * jump through that gateway, so the connection can make it in-process
   * instead of spawning ssh (which cannot ask the user for a password).
   * The host then has `proxyJump: [gateway]`, `proxyCommand: null` and a
   * `source` entry saying so. Off by default: ssh spawns the command.
   */
  sshProxyCommandsAsJumps?: boolean;
}

/**
 * Resolve `alias` and, recursively, the jump hosts it goes through, as
 * OpenSSH does for ProxyJump: the last hop is resolved like
 * `ssh -l <hop user> -p <hop port> -J <earlier hops> <hop>`, and so on down
 * to a host without jump hosts (which may have a ProxyCommand). Settings
 * other than those of the hop (e.g. `identityFile`) apply to `alias` only,
 * as in OpenSSH. Returns the hosts in the order to connect: the first one
 * directly (or through its ProxyCommand), each next one through the one
 * before (a direct-tcpip channel to its `hostName`:`port`); the last is
 * `alias`. Throws `ssh-config-jump-loop` for jump hosts that lead back to
 * themselves.
 */
export function resolveRoute(
  alias: string,
  options: IRouteOptions
): IResolvedHost[] {
  const seen = new Set<string>();
  const route: IResolvedHost[] = [];
  // Every hop reads the same files: read and parse them once.
  const reader = new ConfigReader(options, options.localUser);
  let next: { alias: string; overrides: IHostOverrides } | null = {
    alias,
    overrides: options.overrides ?? {}
  };
  while (next) {
    const { overrides } = next;
    const key = JSON.stringify([
      next.alias,
      overrides.user || '',
      overrides.port ?? '',
      overrides.jumpHost || ''
    ]);
    if (seen.has(key) || route.length > MAX_JUMP_HOPS) {
      const chain = [...route.map(h => h.alias), next.alias].join(' via ');
      throw new SshConfigError(
        'ssh-config-jump-loop',
        `The jump hosts of ${alias} go round in a circle: ${chain}. Fix ` +
          'the ProxyJump or ProxyCommand lines of these hosts in your ssh ' +
          'config.'
      );
    }
    seen.add(key);
    const host: IResolvedHost = new Resolution(
      next.alias,
      { ...options, overrides },
      reader
    ).run();
    route.push(host);
    const viaSsh =
      options.sshProxyCommandsAsJumps && host.proxyCommandText !== null
        ? sshProxyCommandHop(host.proxyCommandText)
        : null;
    if (viaSsh) {
      // The gateway is resolved as the spawned `ssh` would resolve it.
      host.source.push(
        `ProxyCommand ${host.proxyCommandText} → made in-process as ` +
          `ProxyJump ${formatProxyJump([viaSsh])}`
      );
      host.proxyJump = [viaSsh];
      host.proxyCommand = null;
      next = {
        alias: viaSsh.host,
        overrides: { user: viaSsh.user, port: viaSsh.port ?? null }
      };
    } else if (host.proxyJump.length > 0) {
      const hops = host.proxyJump;
      const last = hops[hops.length - 1];
      next = {
        alias: last.host,
        overrides: {
          user: last.user,
          port: last.port ?? null,
          jumpHost: formatProxyJump(hops.slice(0, -1)) || undefined
        }
      };
    } else {
      next = null;
    }
  }
  return route.reverse();
}

/**
 * The concrete names of Host lines (no wildcards, no negations), in the
 * order of the files, without duplicates: the aliases the "Add cluster"
 * dialog offers. Included files are followed; a name in a file Included
 * inside a Host block is listed only when it would match that block.
 */
export function listHostAliases(
  files: ISshConfigFiles & { localUser?: string }
): string[] {
  const reader = new ConfigReader(files, files.localUser ?? '');
  const aliases = new Set<string>();
  const visit = (
    path: string,
    system: boolean,
    depth: number,
    stack: readonly string[],
    enclosing: readonly string[][]
  ): void => {
    let block: string[] | null = null;
    for (const line of reader.lines(path) ?? []) {
      const location = { file: path, line: line.line };
      if (line.keyword === 'host') {
        block = line.args;
        for (const name of line.args) {
          if (
            !/[*?]/.test(name) &&
            !name.startsWith('!') &&
            name !== '' &&
            hostLineMatches(name, line.args) &&
            enclosing.every(patterns => hostLineMatches(name, patterns))
          ) {
            aliases.add(name);
          }
        }
      } else if (line.keyword === 'match') {
        block = null;
      } else if (line.keyword === 'include') {
        for (const arg of line.args) {
          if (arg === '' || arg.includes('%') || arg.includes('${')) {
            continue;
          }
          for (const file of reader.includedFiles(arg, system, location)) {
            reader.checkNesting(file, depth, stack, location);
            visit(
              file,
              system,
              depth + 1,
              [...stack, file],
              block ? [...enclosing, block] : enclosing
            );
          }
        }
      }
    }
  };
  for (const { path, system } of reader.topFiles()) {
    visit(path, system, 0, [path], []);
  }
  return [...aliases];
}

/**
 * True when a Host line of the config names `alias` literally (not only
 * through wildcards). The UI warns "no Host entry named …" otherwise; ssh
 * itself then just uses the name as a host name.
 */
export function hasHostEntry(
  alias: string,
  files: ISshConfigFiles & { localUser?: string }
): boolean {
  return listHostAliases(files).includes(alias);
}

// ---------------------------------------------------------------------------
// Reading files

function defaultReadFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return null;
    }
    if (code === 'EISDIR') {
      return '';
    }
    throw err;
  }
}

function defaultListDir(path: string): string[] | null {
  try {
    return readdirSync(path);
  } catch {
    return null;
  }
}

/** Reads, parses and caches config files; resolves Include paths. */
class ConfigReader {
  constructor(
    private readonly files: ISshConfigFiles,
    private readonly localUser: string
  ) {
    this.home = files.home;
    this.readFile = files.readFile ?? defaultReadFile;
    this.listDir = files.listDir ?? defaultListDir;
  }

  readonly home: string;

  /** The user's config and the system config, in the order ssh reads them. */
  topFiles(): { path: string; system: boolean }[] {
    const top = [
      {
        path: this.files.configPath ?? `${this.home}/.ssh/config`,
        system: false
      }
    ];
    const system =
      this.files.systemConfigPath === undefined
        ? '/etc/ssh/ssh_config'
        : this.files.systemConfigPath;
    if (system !== null) {
      top.push({ path: system, system: true });
    }
    return top;
  }

  /** The directive lines of a file, or null when it does not exist. */
  lines(path: string): IConfigLine[] | null {
    if (this.cache.has(path)) {
      return this.cache.get(path)!;
    }
    let text: string | null;
    try {
      text = this.readFile(path);
    } catch (err) {
      if (err instanceof SshConfigError) {
        throw err;
      }
      const reason = err instanceof Error ? err.message : String(err);
      throw new SshConfigError(
        'ssh-config-unreadable',
        `Cannot read ${displayPath(path, this.home)} (${reason}). ` +
          'Make it readable by you, or remove it.'
      );
    }
    const lines = text === null ? null : parseConfigText(text, path, this.home);
    this.cache.set(path, lines);
    return lines;
  }

  /**
   * The files an Include argument names, already token-expanded: relative
   * to ~/.ssh (or the system config's directory), `~` expanded, globbed.
   */
  includedFiles(
    arg: string,
    system: boolean,
    location: ISshConfigLocation
  ): string[] {
    const where = describeLocation(location, this.home);
    if (arg.startsWith('~') && system) {
      throw new SshConfigError(
        'ssh-config-syntax',
        `${where}: the system config cannot Include "${arg}" (a path ` +
          'with ~).',
        location
      );
    }
    let path = arg;
    if (!isAbsolute(path) && !path.startsWith('~')) {
      path = system
        ? `${dirname(this.topFiles()[1]?.path ?? '/etc/ssh/ssh_config')}/${path}`
        : `~/.ssh/${path}`;
    }
    const expanded = expandTilde(path, this.home, this.localUser);
    if (expanded === null) {
      throw new SshConfigError(
        'ssh-config-bad-value',
        `${where}: Include "${arg}" names another user's home directory, ` +
          'which is not supported here. Write the full path instead.',
        location
      );
    }
    // Normalised, so that `~/.ssh/./config` is seen to be `~/.ssh/config`.
    return globPaths(expanded, this.listDir).map(f => normalize(f));
  }

  /** Throws when including `file` would loop or nest too deep. */
  checkNesting(
    file: string,
    depth: number,
    stack: readonly string[],
    location: ISshConfigLocation
  ): void {
    const where = describeLocation(location, this.home);
    if (stack.includes(file)) {
      const chain = [...stack.slice(stack.indexOf(file)), file]
        .map(f => displayPath(f, this.home))
        .join(' → ');
      throw new SshConfigError(
        'ssh-config-include-loop',
        `${where}: Include loop: ${chain}. Remove one of these Include lines.`,
        location
      );
    }
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      throw new SshConfigError(
        'ssh-config-include-depth',
        `${where}: Includes are nested more than ${MAX_INCLUDE_DEPTH} deep ` +
          `(at ${displayPath(file, this.home)}), which OpenSSH refuses. ` +
          'Flatten your Include lines.',
        location
      );
    }
  }

  private readonly readFile: (path: string) => string | null;
  private readonly listDir: (path: string) => string[] | null;
  private readonly cache = new Map<string, IConfigLine[] | null>();
}

// ---------------------------------------------------------------------------
// Resolution

interface IValue<T> {
  value: T;
  location: ISshConfigLocation | null;
}

interface IIdentity {
  path: string;
  /** From the user's config or settings (OpenSSH dedupes per origin). */
  userProvided: boolean;
  location: ISshConfigLocation | null;
}

/** What a file is read with (OpenSSH's activep and flags). */
interface IFileContext {
  /** Whether the current Host/Match block applies. */
  active: boolean;
  /** Inside an Include of an inactive block: nothing can apply. */
  neverMatch: boolean;
  system: boolean;
  depth: number;
  stack: readonly string[];
}

const STRICT_VALUES: Record<string, StrictHostKeyChecking> = {
  yes: 'yes',
  true: 'yes',
  no: 'no',
  false: 'no',
  off: 'no',
  ask: 'ask',
  'accept-new': 'accept-new'
};

/** Match criteria that would need a program or the network to evaluate. */
const UNEVALUATED_CRITERIA = new Set([
  'exec',
  'localnetwork',
  'version',
  'command',
  'sessiontype'
]);

/** Criteria that may be written `name=value` (OpenSSH 10). */
const CRITERIA_WITH_EQUALS = new Set([
  'host',
  'originalhost',
  'user',
  'localuser',
  'localnetwork',
  'version',
  'tagged',
  'command',
  'exec'
]);

/** First words that make a ProxyCommand shell syntax rather than a program. */
const SHELL_WORDS = new Set([
  '!',
  '.',
  ':',
  'alias',
  'break',
  'builtin',
  'case',
  'cd',
  'command',
  'continue',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'eval',
  'exec',
  'exit',
  'export',
  'fi',
  'for',
  'function',
  'if',
  'in',
  'local',
  'readonly',
  'return',
  'select',
  'set',
  'shift',
  'source',
  'then',
  'time',
  'times',
  'trap',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'until',
  'wait',
  'while'
]);

class Resolution {
  constructor(
    private readonly alias: string,
    options: IResolveOptions,
    reader?: ConfigReader
  ) {
    this.home = options.home;
    this.localUser = options.localUser;
    this.localHostName = options.localHostName ?? osHostname();
    this.uid = options.uid ?? process.getuid?.() ?? 0;
    this.env = options.env ?? process.env;
    this.shell = options.shell || this.env.SHELL || '/bin/sh';
    this.cwd = options.cwd ?? process.cwd();
    this.defaultIdentityFiles =
      options.defaultIdentityFiles ?? OPENSSH_DEFAULT_IDENTITY_FILES;
    this.overrides = options.overrides ?? {};
    this.reader = reader ?? new ConfigReader(options, options.localUser);
    this.matchHost = alias;
  }

  run(): IResolvedHost {
    if (!isValidHostName(this.alias)) {
      throw new SshConfigError(
        'ssh-config-bad-host',
        `"${this.alias}" is not a host name or ssh config alias: it is ` +
          'empty, starts with "-" or contains spaces or characters such as ' +
          '; $ | " \' ( ). Use the name from your ssh config or the host ' +
          'name.'
      );
    }
    this.applyOverrides();
    this.readAll();

    // ssh.c: take HostName into use, lower-case it, maybe read again.
    let host = this.alias;
    if (this.hostName) {
      host = this.expandHostName(this.hostName);
    }
    if (!isAddress(host)) {
      host = host.toLowerCase();
    }
    if (this.canonicalize) {
      this.warn(
        `${this.where(this.canonicalize)}: CanonicalizeHostname is not ` +
          'done here (no DNS lookups); the host name is used as written.'
      );
    }
    if (this.wantFinalPass || this.canonicalize) {
      this.hostName = { value: host, location: null };
      this.obtained.add('HostName');
      this.finalPass = true;
      this.matchHost = host;
      this.readAll();
    }
    return this.result(host);
  }

  // -- Settings, like ssh's command-line options --------------------------

  private applyOverrides(): void {
    const { user, port, identityFile, jumpHost } = this.overrides;
    if (user) {
      if (!isValidUserName(user)) {
        throw new SshConfigError(
          'ssh-config-bad-host',
          `The user name "${user}" in the settings is not valid. Leave it ` +
            "empty to use the ssh config's or your local user name."
        );
      }
      this.user = { value: user, location: null };
      this.obtained.add('User');
      this.addSource(`settings: User ${user}`);
    }
    if (port !== undefined && port !== null) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new SshConfigError(
          'ssh-config-bad-port',
          `The port ${port} in the settings is not a port number ` +
            "(1-65535). Leave it empty to use the ssh config's or 22."
        );
      }
      this.port = port;
      this.obtained.add('Port');
      this.addSource(`settings: Port ${port}`);
    }
    if (identityFile) {
      // `ssh -i` expands ~ at once.
      const path = expandTilde(identityFile, this.home, this.localUser);
      if (path === null) {
        throw new SshConfigError(
          'ssh-config-bad-value',
          `The identity file "${identityFile}" in the settings names ` +
            "another user's home directory. Write the full path instead."
        );
      }
      this.identities.push({ path, userProvided: true, location: null });
      this.addSource(`settings: IdentityFile ${identityFile}`);
    }
    if (jumpHost) {
      let hops: IJumpHop[];
      try {
        hops = parseProxyJump(jumpHost, true);
      } catch (err) {
        throw new SshConfigError(
          'ssh-config-bad-proxyjump',
          `The jump host setting: ${(err as Error).message}`
        );
      }
      // Like ssh -J: `none` settles ProxyJump only, hosts ProxyCommand too.
      this.jump = { value: hops, location: null };
      this.obtained.add('ProxyJump');
      if (hops.length > 0) {
        this.obtained.add('ProxyCommand');
      }
      this.addSource(`settings: ProxyJump ${jumpHost}`);
    }
  }

  // -- Reading ------------------------------------------------------------

  private readAll(): void {
    for (const { path, system } of this.reader.topFiles()) {
      this.readFile(path, {
        active: true,
        neverMatch: false,
        system,
        depth: 0,
        stack: [path]
      });
    }
  }

  private readFile(path: string, context: IFileContext): void {
    const lines = this.reader.lines(path);
    for (const line of lines ?? []) {
      this.processLine(line, { file: path, line: line.line }, context);
    }
  }

  private processLine(
    line: IConfigLine,
    location: ISshConfigLocation,
    context: IFileContext
  ): void {
    const name = KEYWORDS[line.keyword];
    if (name === undefined) {
      const ignored =
        this.ignoreUnknown !== undefined &&
        matchPatternList(line.keyword, this.ignoreUnknown, true) === 1;
      if (!ignored) {
        this.warn(
          `${this.where(location)}: "${line.text.split(/[\s=]/)[0]}" is ` +
            'not an ssh_config keyword; the line is ignored (ssh may ' +
            'refuse it: "Bad configuration option").'
        );
      }
      return;
    }
    // Values are checked whether or not the line applies, as OpenSSH does;
    // `obtain` then stores them if the line applies and none was obtained.
    const obtain = (set: () => void, keyword = name): void => {
      if (context.active && !this.obtained.has(keyword)) {
        this.obtained.add(keyword);
        set();
        this.addSource(this.sourceLine(location, line));
      }
    };
    switch (name) {
      case 'Host':
        this.processHost(line, location, context);
        return;
      case 'Match':
        this.processMatch(line, location, context);
        return;
      case 'Include':
        this.processInclude(line, location, context);
        return;
      case 'HostName': {
        const value = this.single(line, location, name);
        obtain(() => (this.hostName = { value, location }));
        return;
      }
      case 'User': {
        const value = this.single(line, location, name);
        obtain(() => {
          this.user = { value, location };
          this.userFromConfig = true;
        });
        return;
      }
      case 'Port': {
        const text = this.single(line, location, name);
        const value = parsePort(text);
        if (value === null) {
          throw new SshConfigError(
            'ssh-config-bad-port',
            `${this.where(location)}: Port "${text}" is not a port number ` +
              '(1-65535). Fix or remove the line.',
            location
          );
        }
        obtain(() => (this.port = value));
        return;
      }
      case 'HostKeyAlias': {
        const value = this.single(line, location, name);
        obtain(() => (this.hostKeyAlias = value));
        return;
      }
      case 'Tag': {
        const value = this.single(line, location, name);
        obtain(() => (this.tag = value));
        return;
      }
      case 'IgnoreUnknown': {
        const value = this.single(line, location, name);
        obtain(() => (this.ignoreUnknown = value));
        return;
      }
      case 'IdentityFile': {
        const path = this.single(line, location, name);
        const userProvided = !context.system;
        const known = this.identities.some(
          i => i.path === path && i.userProvided === userProvided
        );
        if (context.active && !known) {
          if (this.identities.length >= 100) {
            throw this.badValue(location, 'more than 100 identity files');
          }
          this.identities.push({ path, userProvided, location });
          this.addSource(this.sourceLine(location, line));
        }
        return;
      }
      case 'IdentitiesOnly': {
        const text = this.single(line, location, name);
        const value = parseFlag(text);
        if (value === null) {
          throw this.badValue(location, `${name} must be yes or no`);
        }
        obtain(() => (this.identitiesOnly = value));
        return;
      }
      case 'ProxyCommand': {
        // OpenSSH keeps the rest of the line as it is.
        const value = line.rest.replace(/^[ \t\r\n=]+/, '');
        obtain(() => (this.proxyCommand = { value, location }));
        return;
      }
      case 'ProxyJump': {
        const text = line.rest.replace(/^[ \t\r\n=]+/, '');
        let hops: IJumpHop[];
        try {
          hops = parseProxyJump(text);
        } catch (err) {
          throw new SshConfigError(
            'ssh-config-bad-proxyjump',
            `${this.where(location)}: ${(err as Error).message}`,
            location
          );
        }
        if (hops.length === 0) {
          // `ProxyJump none` only settles ProxyJump: a later ProxyCommand
          // still applies (OpenSSH 10.3, backported by distributions;
          // older ssh ignored that ProxyCommand).
          obtain(() => (this.jump = { value: hops, location }));
        } else if (!this.obtained.has('ProxyCommand')) {
          // Hosts settle ProxyCommand too: whichever comes first wins.
          obtain(() => {
            this.jump = { value: hops, location };
            this.obtained.add('ProxyCommand');
          });
        }
        return;
      }
      case 'ServerAliveInterval':
      case 'ConnectTimeout': {
        const text = this.single(line, location, name);
        // "none" obtains nothing: a later line may still set a value.
        const value = text === 'none' ? undefined : parseTime(text);
        if (value === null) {
          throw this.badValue(
            location,
            `${name} "${text}" is not a time (e.g. 30, 30s, 5m)`
          );
        }
        if (value !== undefined) {
          obtain(() => {
            if (name === 'ConnectTimeout') {
              this.connectTimeout = value;
            } else {
              this.serverAliveInterval = value;
            }
          });
        }
        return;
      }
      case 'ServerAliveCountMax': {
        const text = this.single(line, location, name);
        const value = parseCount(text);
        if (value === null) {
          throw this.badValue(location, `${name} "${text}" is not a number`);
        }
        obtain(() => (this.serverAliveCountMax = value));
        return;
      }
      case 'StrictHostKeyChecking': {
        const text = this.single(line, location, name);
        const value = STRICT_VALUES[text.toLowerCase()];
        if (value === undefined) {
          throw this.badValue(
            location,
            `${name} must be yes, no, ask or accept-new, not "${text}"`
          );
        }
        obtain(() => (this.strictHostKeyChecking = value));
        return;
      }
      case 'CanonicalizeHostname': {
        const text = this.single(line, location, name).toLowerCase();
        const flag = parseFlag(text);
        if (text !== 'always' && flag === null) {
          throw this.badValue(
            location,
            `${name} must be yes, no or always, not "${text}"`
          );
        }
        obtain(() => (this.canonicalize = flag !== false ? location : null));
        return;
      }
      case 'UserKnownHostsFile': {
        const value = this.fileList(line, location, name);
        obtain(() => (this.userKnownHosts = { value, location }));
        return;
      }
      case 'GlobalKnownHostsFile': {
        const value = this.fileList(line, location, name);
        obtain(() => (this.globalKnownHosts = value));
        return;
      }
      default: {
        // Keywords the built-in client does not use: in `source` when they
        // take effect, so the UI can show every line that applies; those
        // OpenSSH uses also in `opensshOptions`, as written.
        const option = OPENSSH_PASSTHROUGH_KEYWORDS.has(name)
          ? `${name}=${line.rest}`
          : null;
        if (ACCUMULATING_KEYWORDS.has(name)) {
          if (context.active) {
            this.addSource(this.sourceLine(location, line));
            if (option) {
              this.opensshOptions.push(option);
            }
          }
        } else {
          obtain(() => {
            if (option) {
              this.opensshOptions.push(option);
            }
          });
        }
      }
    }
  }

  /** A `Host` line: OpenSSH's oHost. */
  private processHost(
    line: IConfigLine,
    location: ISshConfigLocation,
    context: IFileContext
  ): void {
    context.active = false;
    for (const arg of line.args) {
      if (arg === '') {
        throw new SshConfigError(
          'ssh-config-syntax',
          `${this.where(location)}: a Host pattern is empty.`,
          location
        );
      }
      if (context.neverMatch) {
        break;
      }
      const negated = arg.startsWith('!');
      if (matchPattern(this.matchHost, negated ? arg.slice(1) : arg)) {
        if (negated) {
          context.active = false;
          break;
        }
        context.active = true;
      }
    }
    if (context.active) {
      this.addSource(this.sourceLine(location, line));
    }
  }

  /** A `Match` line: OpenSSH's match_cfg_line. */
  private processMatch(
    line: IConfigLine,
    location: ISshConfigLocation,
    context: IFileContext
  ): void {
    const syntax = (message: string) =>
      new SshConfigError(
        'ssh-config-syntax',
        `${this.where(location)}: ${message}`,
        location
      );
    const args = line.args;
    let result = true;
    let attributes = 0;
    const unevaluated: string[] = [];
    let done = false;
    for (let i = 0; i < args.length && !done; i++) {
      let attrib = args[i];
      if (attrib.startsWith('#')) {
        break;
      }
      const negate = attrib.startsWith('!');
      if (negate) {
        attrib = attrib.slice(1);
      }
      let lower = attrib.toLowerCase();
      if (lower === 'all') {
        const next = args[i + 1];
        if (
          attributes > 1 ||
          (next !== undefined && next !== '' && !next.startsWith('#'))
        ) {
          throw syntax(
            `"Match ${attrib}" cannot be combined with other criteria.`
          );
        }
        if (result) {
          result = !negate;
        }
        done = true;
        continue;
      }
      attributes++;
      if (lower === 'canonical' || lower === 'final') {
        if (lower === 'final' && !negate) {
          this.wantFinalPass = true;
        }
        if (this.finalPass === negate) {
          result = false;
        }
        continue;
      }
      let arg: string | undefined;
      const eq = attrib.indexOf('=');
      if (eq > 0 && CRITERIA_WITH_EQUALS.has(lower.slice(0, eq))) {
        arg = attrib.slice(eq + 1);
        attrib = attrib.slice(0, eq);
        lower = lower.slice(0, eq);
      } else {
        arg = args[++i];
      }
      if (
        arg === undefined ||
        arg.startsWith('#') ||
        (arg === '' && lower !== 'tagged' && lower !== 'command')
      ) {
        throw syntax(`"Match ${attrib}" needs a value.`);
      }
      let matched: boolean;
      switch (lower) {
        case 'host':
          matched = matchHostname(this.currentHost(), arg);
          break;
        case 'originalhost':
          matched = matchHostname(this.alias, arg);
          break;
        case 'user':
          matched =
            matchPatternList(this.user?.value ?? this.localUser, arg, false) ===
            1;
          break;
        case 'localuser':
          matched = matchPatternList(this.localUser, arg, false) === 1;
          break;
        case 'tagged': {
          const tag = this.tag ?? '';
          matched =
            tag === '' ? arg === '' : matchPatternList(tag, arg, false) === 1;
          break;
        }
        default:
          if (UNEVALUATED_CRITERIA.has(lower)) {
            unevaluated.push(`${negate ? '!' : ''}${attrib} "${arg}"`);
            continue;
          }
          throw syntax(
            `"Match ${attrib}" is not a Match criterion (all, host, ` +
              'originalhost, user, localuser, canonical, final, tagged, exec…).'
          );
      }
      if (matched === negate) {
        result = false;
      }
    }
    if (attributes === 0 && !done) {
      throw syntax('"Match" needs at least one criterion, e.g. "Match all".');
    }
    if (unevaluated.length > 0 && result && !context.neverMatch) {
      this.warn(
        `${this.where(location)}: the block of "${line.text}" is skipped: ` +
          `${unevaluated.join(', ')} is not evaluated here (the sidecar ` +
          'never runs commands from ssh config). ssh may apply this block.'
      );
    }
    context.active = !context.neverMatch && result && unevaluated.length === 0;
    if (context.active) {
      this.addSource(this.sourceLine(location, line));
    }
  }

  /** An `Include` line: OpenSSH's oInclude. */
  private processInclude(
    line: IConfigLine,
    location: ISshConfigLocation,
    context: IFileContext
  ): void {
    for (const arg of line.args) {
      if (arg === '') {
        throw new SshConfigError(
          'ssh-config-syntax',
          `${this.where(location)}: an Include path is empty.`,
          location
        );
      }
      let path: string;
      try {
        path = this.expandIncludePath(arg, location);
      } catch (err) {
        // OpenSSH reports this and goes on with the next path.
        this.warn((err as Error).message);
        continue;
      }
      for (const file of this.reader.includedFiles(
        path,
        context.system,
        location
      )) {
        this.reader.checkNesting(file, context.depth, context.stack, location);
        // The included file starts in the including line's state, and its
        // Host/Match lines do not change the including file's.
        this.readFile(file, {
          active: context.active,
          neverMatch: context.neverMatch || !context.active,
          system: context.system,
          depth: context.depth + 1,
          stack: [...context.stack, file]
        });
      }
    }
  }

  // -- Values ---------------------------------------------------------------

  /** The one argument of a single-valued keyword (OpenSSH parse_string). */
  private single(
    line: IConfigLine,
    location: ISshConfigLocation,
    name: string
  ): string {
    if (line.args.length === 0 || line.args[0] === '') {
      throw new SshConfigError(
        'ssh-config-syntax',
        `${this.where(location)}: ${name} needs a value.`,
        location
      );
    }
    if (line.args.length > 1) {
      throw new SshConfigError(
        'ssh-config-syntax',
        `${this.where(location)}: ${name} takes one value, not ` +
          `${line.args.length} ("${line.rest}"). Put quotes around a value ` +
          'with spaces.',
        location
      );
    }
    return line.args[0];
  }

  /** UserKnownHostsFile / GlobalKnownHostsFile arguments. */
  private fileList(
    line: IConfigLine,
    location: ISshConfigLocation,
    name: string
  ): string[] {
    const files = line.args;
    if (files.length === 0 || files.includes('')) {
      throw new SshConfigError(
        'ssh-config-syntax',
        `${this.where(location)}: ${name} needs file names.`,
        location
      );
    }
    if (files.length > 1 && files.some(f => f.toLowerCase() === 'none')) {
      throw this.badValue(location, `"none" must be the only ${name}`);
    }
    if (files.length > 32) {
      throw this.badValue(location, `more than 32 files in ${name}`);
    }
    return files;
  }

  private badValue(location: ISshConfigLocation, reason: string) {
    return new SshConfigError(
      'ssh-config-bad-value',
      `${this.where(location)}: ${reason}. Fix or remove the line.`,
      location
    );
  }

  private badToken(location: ISshConfigLocation | null, what: string) {
    return (reason: string) =>
      new SshConfigError(
        'ssh-config-bad-token',
        `${location ? this.where(location) + ': ' : ''}${what}: ${reason}.`,
        location ?? undefined
      );
  }

  /** HostName with `%h` expanded (the only token OpenSSH allows there). */
  private expandHostName(hostName: IValue<string>): string {
    return expandTokens(
      hostName.value,
      { h: this.alias },
      null,
      this.badToken(hostName.location, `HostName "${hostName.value}"`)
    );
  }

  /** The host `Match host` sees at this point (readconf.c). */
  private currentHost(): string {
    if (this.finalPass || !this.hostName) {
      return this.hostName?.value ?? this.alias;
    }
    return this.expandHostName(this.hostName);
  }

  /** `%` tokens and `${VAR}` of an Include path (OpenSSH 9.9+). */
  private expandIncludePath(arg: string, location: ISshConfigLocation): string {
    if (!arg.includes('%') && !arg.includes('${')) {
      return arg;
    }
    const host = this.currentHost();
    const port = String(this.port ?? 22);
    const user = this.user?.value ?? this.localUser;
    const jump = this.jumpHostName();
    return expandTokens(
      arg,
      {
        ...this.localTokens(),
        C: connectionHash(this.localHostName, host, port, user, jump),
        h: host,
        k: this.hostKeyAlias ?? host,
        n: this.alias,
        p: port,
        r: user,
        j: jump
      },
      this.env,
      this.badToken(location, `Include "${arg}"`)
    );
  }

  private localTokens(): Record<string, string> {
    return {
      L: this.localHostName.split('.')[0],
      d: this.home,
      i: String(this.uid),
      l: this.localHostName,
      u: this.localUser
    };
  }

  /** The last jump host's name (`%j`), '' without one. */
  private jumpHostName(): string {
    const hops = this.jump?.value ?? [];
    return hops.length > 0 ? hops[hops.length - 1].host : '';
  }

  // -- Result -------------------------------------------------------------

  private result(host: string): IResolvedHost {
    const port = this.port ?? 22;
    const hops = this.jump?.value ?? [];
    const jump = this.jumpHostName();
    const hostKeyAlias = this.hostKeyAlias?.toLowerCase() ?? null;
    const base = {
      ...this.localTokens(),
      h: host,
      k: hostKeyAlias ?? this.alias,
      n: this.alias,
      p: String(port),
      j: jump
    };

    // OpenSSH 10 expands tokens and ${VAR} in a User from the config.
    let user = this.user?.value ?? this.localUser;
    if (this.user && this.userFromConfig) {
      const expanded = expandTokens(
        user,
        base,
        this.env,
        this.badToken(this.user.location, `User "${user}"`)
      );
      if (expanded !== user && !isValidUserName(expanded)) {
        throw new SshConfigError(
          'ssh-config-bad-host',
          `${this.where(this.user.location)}: User "${user}" expands to ` +
            `"${expanded}", which is not a valid user name.`,
          this.user.location ?? undefined
        );
      }
      user = expanded;
    }

    if (
      hops.length > 0 &&
      hops[hops.length - 1].host === host &&
      (hops[hops.length - 1].port ?? 22) === port &&
      (hops[hops.length - 1].user ?? user) === user
    ) {
      throw new SshConfigError(
        'ssh-config-jump-loop',
        `${this.alias} is its own jump host (ProxyJump ` +
          `${formatProxyJump(hops)}). Remove the ProxyJump for ${this.alias}.`
      );
    }

    const tokens = {
      ...base,
      r: user,
      C: connectionHash(this.localHostName, host, String(port), user, jump)
    };
    const expandPath = (
      raw: string,
      location: ISshConfigLocation | null,
      what: string
    ): string => {
      const tilde = expandTilde(raw, this.home, this.localUser);
      if (tilde === null) {
        throw new SshConfigError(
          'ssh-config-bad-value',
          `${location ? this.where(location) + ': ' : ''}${what} "${raw}" ` +
            "names another user's home directory, which is not supported " +
            'here. Write the full path instead.',
          location ?? undefined
        );
      }
      const path = expandTokens(
        tilde,
        tokens,
        this.env,
        this.badToken(location, `${what} "${raw}"`)
      );
      if (isAbsolute(path)) {
        return path;
      }
      this.warn(
        `${location ? this.where(location) + ': ' : 'settings: '}${what} ` +
          `"${raw}" is relative; it is taken from ${this.cwd}, as ssh ` +
          'would from its working directory. Write ~/… or a full path.'
      );
      return resolvePath(this.cwd, path);
    };

    const identityFiles: string[] = [];
    for (const identity of this.identities) {
      if (identity.path.toLowerCase() === 'none') {
        continue;
      }
      const path = expandPath(identity.path, identity.location, 'IdentityFile');
      if (!identityFiles.includes(path)) {
        identityFiles.push(path);
      }
    }
    if (this.identities.length === 0) {
      for (const name of this.defaultIdentityFiles) {
        identityFiles.push(`${this.home}/.ssh/${name}`);
      }
    }

    const userKnownHosts = this.userKnownHosts ?? {
      value: [...DEFAULT_USER_KNOWN_HOSTS_FILES],
      location: null
    };
    const userKnownHostsFiles =
      userKnownHosts.value[0].toLowerCase() === 'none'
        ? []
        : userKnownHosts.value.map(f =>
            expandPath(f, userKnownHosts.location, 'UserKnownHostsFile')
          );
    const globalKnownHosts = this.globalKnownHosts ?? [
      ...DEFAULT_GLOBAL_KNOWN_HOSTS_FILES
    ];

    let proxyCommandText: string | null = null;
    let proxyCommand: string[] | null = null;
    if (
      hops.length === 0 &&
      this.proxyCommand &&
      this.proxyCommand.value.toLowerCase() !== 'none'
    ) {
      const { value, location } = this.proxyCommand;
      proxyCommandText = value;
      const expand = (s: string): string =>
        expandTokens(
          s,
          {
            h: host,
            k: hostKeyAlias ?? this.alias,
            n: this.alias,
            p: String(port),
            r: user
          },
          null,
          this.badToken(location, `ProxyCommand "${value}"`)
        );
      proxyCommand = proxyCommandArgv(value, expand, this.shell);
    }

    return {
      alias: this.alias,
      hostName: host,
      port,
      user,
      identityFiles,
      identityFilesExplicit: this.identities.length > 0,
      identitiesOnly: this.identitiesOnly ?? false,
      proxyJump: hops,
      proxyCommand,
      proxyCommandText,
      serverAliveInterval: this.serverAliveInterval ?? 0,
      serverAliveCountMax: this.serverAliveCountMax ?? 3,
      connectTimeout: this.connectTimeout ?? null,
      strictHostKeyChecking: this.strictHostKeyChecking ?? 'ask',
      userKnownHostsFiles,
      globalKnownHostsFiles:
        globalKnownHosts[0].toLowerCase() === 'none' ? [] : globalKnownHosts,
      hostKeyAlias,
      opensshOptions: [...this.opensshOptions],
      source: [...this.source],
      warnings: [...this.warnings]
    };
  }

  // -- Bookkeeping ----------------------------------------------------------

  private where(location: ISshConfigLocation | null): string {
    return location ? describeLocation(location, this.home) : 'settings';
  }

  private sourceLine(location: ISshConfigLocation, line: IConfigLine): string {
    return `${displayPath(location.file, this.home)}:${location.line}: ${line.text}`;
  }

  private addSource(entry: string): void {
    this.source.add(entry);
  }

  private warn(message: string): void {
    this.warnings.add(message);
  }

  private readonly home: string;
  private readonly localUser: string;
  private readonly localHostName: string;
  private readonly uid: number;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly shell: string;
  private readonly cwd: string;
  private readonly defaultIdentityFiles: readonly string[];
  private readonly overrides: IHostOverrides;
  private readonly reader: ConfigReader;

  /** What Host lines match: the alias, then the final host name. */
  private matchHost: string;
  private finalPass = false;
  private wantFinalPass = false;

  // OpenSSH's Options: unset until the first value is obtained. `obtained`
  // has the keywords (as KEYWORDS spells them) that have one.
  private hostName?: IValue<string>;
  private user?: IValue<string>;
  private userFromConfig = false;
  private port?: number;
  private hostKeyAlias?: string;
  private tag?: string;
  private ignoreUnknown?: string;
  private identities: IIdentity[] = [];
  private identitiesOnly?: boolean;
  private proxyCommand?: IValue<string>;
  private jump?: IValue<IJumpHop[]>;
  private serverAliveInterval?: number;
  private serverAliveCountMax?: number;
  private connectTimeout?: number;
  private strictHostKeyChecking?: StrictHostKeyChecking;
  /** Where CanonicalizeHostname yes/always was obtained; null for no. */
  private canonicalize?: ISshConfigLocation | null;
  private userKnownHosts?: IValue<string[]>;
  private globalKnownHosts?: string[];
  private readonly obtained = new Set<string>();
  private readonly opensshOptions: string[] = [];
  private readonly source = new Set<string>();
  private readonly warnings = new Set<string>();
}

/**
 * The argv for a ProxyCommand (see `IResolvedHost.proxyCommand`). Words are
 * split before tokens are expanded, so a token's value is always one
 * argument and never shell syntax.
 */
export function proxyCommandArgv(
  command: string,
  expand: (s: string) => string,
  shell: string
): string[] {
  const words = command.split(/[ \t]+/).filter(w => w !== '');
  if (words[0] === 'exec' && words.length > 1 && !words[1].startsWith('-')) {
    words.shift();
  }
  const plain =
    /^[A-Za-z0-9_@%+=:,./ \t-]+$/.test(command) &&
    words.length > 0 &&
    !words[0].includes('=') &&
    !SHELL_WORDS.has(words[0]);
  if (plain) {
    return words.map(expand);
  }
  return [shell, '-c', `exec ${expand(command)}`];
}
