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
 *
 * The resolution here steers the reading (Host, Match, Include, the final
 * pass); its parts are the reader (`config-reader.ts`), the keyword table
 * (`config-keywords.ts`) that fills the options (`config-options.ts`), and
 * the result (`config-result.ts`).
 */
import { hostname as osHostname } from 'os';

import { ISshConfigLocation, SshConfigError } from './config-errors';
import {
  connectionHash,
  expandTilde,
  expandTokens,
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
import { applyKeyword } from './config-keywords';
import {
  IResolutionEnv,
  IValue,
  localTokens,
  ObtainedOptions
} from './config-options';
import { ConfigReader } from './config-reader';
import { resolvedHost } from './config-result';
import { IConfigLine, KEYWORDS } from './config-syntax';
import type {
  IHostOverrides,
  IResolvedHost,
  IResolveOptions,
  ISshConfigFiles
} from './config-types';
import {
  hostLineMatches,
  matchHostname,
  matchPattern,
  matchPatternList
} from './host-patterns';

export { SshConfigError } from './config-errors';
export type { ISshConfigLocation, SshConfigErrorCode } from './config-errors';
export {
  formatProxyJump,
  parseProxyJump,
  sshProxyCommandHop
} from './config-jump';
export type { IJumpHop } from './config-jump';
export { MAX_INCLUDE_DEPTH } from './config-reader';
export { proxyCommandArgv } from './config-result';
export type {
  IHostOverrides,
  IResolvedHost,
  IResolveOptions,
  ISshConfigFiles,
  StrictHostKeyChecking
} from './config-types';

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
// Resolution

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

/**
 * One resolution of an alias: reads the files in ssh's order, steered by
 * Host, Match and Include lines, hands every other line to the keyword
 * table, and once the files are read (twice for a final pass) builds the
 * result.
 */
class Resolution {
  constructor(
    private readonly alias: string,
    options: IResolveOptions,
    reader?: ConfigReader
  ) {
    const env = options.env ?? process.env;
    this.r = {
      alias,
      home: options.home,
      localUser: options.localUser,
      localHostName: options.localHostName ?? osHostname(),
      uid: options.uid ?? process.getuid?.() ?? 0,
      env,
      shell: options.shell || env.SHELL || '/bin/sh',
      cwd: options.cwd ?? process.cwd(),
      defaultIdentityFiles:
        options.defaultIdentityFiles ?? OPENSSH_DEFAULT_IDENTITY_FILES
    };
    this.o = new ObtainedOptions(options.home);
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
    if (this.o.hostName) {
      host = this.expandHostName(this.o.hostName);
    }
    if (!isAddress(host)) {
      host = host.toLowerCase();
    }
    if (this.o.canonicalize) {
      this.o.warn(
        `${this.o.where(this.o.canonicalize)}: CanonicalizeHostname is not ` +
          'done here (no DNS lookups); the host name is used as written.'
      );
    }
    if (this.wantFinalPass || this.o.canonicalize) {
      this.o.hostName = { value: host, location: null };
      this.o.obtained.add('HostName');
      this.finalPass = true;
      this.matchHost = host;
      this.readAll();
    }
    return resolvedHost(this.o, this.r, host);
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
      this.o.user = { value: user, location: null };
      this.o.obtained.add('User');
      this.o.addSource(`settings: User ${user}`);
    }
    if (port !== undefined && port !== null) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new SshConfigError(
          'ssh-config-bad-port',
          `The port ${port} in the settings is not a port number ` +
            "(1-65535). Leave it empty to use the ssh config's or 22."
        );
      }
      this.o.port = port;
      this.o.obtained.add('Port');
      this.o.addSource(`settings: Port ${port}`);
    }
    if (identityFile) {
      // `ssh -i` expands ~ at once.
      const path = expandTilde(identityFile, this.r.home, this.r.localUser);
      if (path === null) {
        throw new SshConfigError(
          'ssh-config-bad-value',
          `The identity file "${identityFile}" in the settings names ` +
            "another user's home directory. Write the full path instead."
        );
      }
      this.o.identities.push({ path, userProvided: true, location: null });
      this.o.addSource(`settings: IdentityFile ${identityFile}`);
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
      this.o.jump = { value: hops, location: null };
      this.o.obtained.add('ProxyJump');
      if (hops.length > 0) {
        this.o.obtained.add('ProxyCommand');
      }
      this.o.addSource(`settings: ProxyJump ${jumpHost}`);
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
        this.o.ignoreUnknown !== undefined &&
        matchPatternList(line.keyword, this.o.ignoreUnknown, true) === 1;
      if (!ignored) {
        this.o.warn(
          `${this.o.where(location)}: "${line.text.split(/[\s=]/)[0]}" is ` +
            'not an ssh_config keyword; the line is ignored (ssh may ' +
            'refuse it: "Bad configuration option").'
        );
      }
      return;
    }
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
      default:
        applyKeyword(this.o, {
          name,
          line,
          location,
          active: context.active,
          system: context.system
        });
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
          `${this.o.where(location)}: a Host pattern is empty.`,
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
      this.o.addSource(this.o.sourceLine(location, line));
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
        `${this.o.where(location)}: ${message}`,
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
            matchPatternList(
              this.o.user?.value ?? this.r.localUser,
              arg,
              false
            ) === 1;
          break;
        case 'localuser':
          matched = matchPatternList(this.r.localUser, arg, false) === 1;
          break;
        case 'tagged': {
          const tag = this.o.tag ?? '';
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
      this.o.warn(
        `${this.o.where(location)}: the block of "${line.text}" is skipped: ` +
          `${unevaluated.join(', ')} is not evaluated here (the sidecar ` +
          'never runs commands from ssh config). ssh may apply this block.'
      );
    }
    context.active = !context.neverMatch && result && unevaluated.length === 0;
    if (context.active) {
      this.o.addSource(this.o.sourceLine(location, line));
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
          `${this.o.where(location)}: an Include path is empty.`,
          location
        );
      }
      let path: string;
      try {
        path = this.expandIncludePath(arg, location);
      } catch (err) {
        // OpenSSH reports this and goes on with the next path.
        this.o.warn((err as Error).message);
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

  // -- Tokens the reading itself needs ----------------------------------------

  /** HostName with `%h` expanded (the only token OpenSSH allows there). */
  private expandHostName(hostName: IValue<string>): string {
    return expandTokens(
      hostName.value,
      { h: this.alias },
      null,
      this.o.badToken(hostName.location, `HostName "${hostName.value}"`)
    );
  }

  /** The host `Match host` sees at this point (readconf.c). */
  private currentHost(): string {
    if (this.finalPass || !this.o.hostName) {
      return this.o.hostName?.value ?? this.alias;
    }
    return this.expandHostName(this.o.hostName);
  }

  /** `%` tokens and `${VAR}` of an Include path (OpenSSH 9.9+). */
  private expandIncludePath(arg: string, location: ISshConfigLocation): string {
    if (!arg.includes('%') && !arg.includes('${')) {
      return arg;
    }
    const host = this.currentHost();
    const port = String(this.o.port ?? 22);
    const user = this.o.user?.value ?? this.r.localUser;
    const jump = this.o.jumpHostName();
    return expandTokens(
      arg,
      {
        ...localTokens(this.r),
        C: connectionHash(this.r.localHostName, host, port, user, jump),
        h: host,
        k: this.o.hostKeyAlias ?? host,
        n: this.alias,
        p: port,
        r: user,
        j: jump
      },
      this.r.env,
      this.o.badToken(location, `Include "${arg}"`)
    );
  }

  private readonly r: IResolutionEnv;
  private readonly o: ObtainedOptions;
  private readonly overrides: IHostOverrides;
  private readonly reader: ConfigReader;

  /** What Host lines match: the alias, then the final host name. */
  private matchHost: string;
  private finalPass = false;
  private wantFinalPass = false;
}
