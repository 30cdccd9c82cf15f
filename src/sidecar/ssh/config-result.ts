/**
 * The resolved host a resolution answers, from the options it obtained:
 * tokens and `~` expanded in paths, the client's default keys when none is
 * configured, the known_hosts defaults, and the ProxyCommand as an argv.
 */
import { isAbsolute, resolve as resolvePath } from 'path';

import { ISshConfigLocation, SshConfigError } from './config-errors';
import { connectionHash, expandTilde, expandTokens } from './config-expand';
import { formatProxyJump, isValidUserName } from './config-jump';
import { IResolutionEnv, localTokens, ObtainedOptions } from './config-options';
import type { IResolvedHost } from './config-types';
import {
  DEFAULT_GLOBAL_KNOWN_HOSTS_FILES,
  DEFAULT_USER_KNOWN_HOSTS_FILES
} from './known-hosts-names';

/** What `resolveHost` answers once the files are read (ssh.c, readconf.c). */
export function resolvedHost(
  o: ObtainedOptions,
  r: IResolutionEnv,
  host: string
): IResolvedHost {
  const port = o.port ?? 22;
  const hops = o.jump?.value ?? [];
  const jump = o.jumpHostName();
  const hostKeyAlias = o.hostKeyAlias?.toLowerCase() ?? null;
  const base = {
    ...localTokens(r),
    h: host,
    k: hostKeyAlias ?? r.alias,
    n: r.alias,
    p: String(port),
    j: jump
  };

  // OpenSSH 10 expands tokens and ${VAR} in a User from the config.
  let user = o.user?.value ?? r.localUser;
  if (o.user && o.userFromConfig) {
    const expanded = expandTokens(
      user,
      base,
      r.env,
      o.badToken(o.user.location, `User "${user}"`)
    );
    if (expanded !== user && !isValidUserName(expanded)) {
      throw new SshConfigError(
        'ssh-config-bad-host',
        `${o.where(o.user.location)}: User "${user}" expands to ` +
          `"${expanded}", which is not a valid user name.`,
        o.user.location ?? undefined
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
      `${r.alias} is its own jump host (ProxyJump ` +
        `${formatProxyJump(hops)}). Remove the ProxyJump for ${r.alias}.`
    );
  }

  const tokens = {
    ...base,
    r: user,
    C: connectionHash(r.localHostName, host, String(port), user, jump)
  };
  const expandPath = (
    raw: string,
    location: ISshConfigLocation | null,
    what: string
  ): string => {
    const tilde = expandTilde(raw, r.home, r.localUser);
    if (tilde === null) {
      throw new SshConfigError(
        'ssh-config-bad-value',
        `${location ? o.where(location) + ': ' : ''}${what} "${raw}" ` +
          "names another user's home directory, which is not supported " +
          'here. Write the full path instead.',
        location ?? undefined
      );
    }
    const path = expandTokens(
      tilde,
      tokens,
      r.env,
      o.badToken(location, `${what} "${raw}"`)
    );
    if (isAbsolute(path)) {
      return path;
    }
    o.warn(
      `${location ? o.where(location) + ': ' : 'settings: '}${what} ` +
        `"${raw}" is relative; it is taken from ${r.cwd}, as ssh ` +
        'would from its working directory. Write ~/… or a full path.'
    );
    return resolvePath(r.cwd, path);
  };

  const identityFiles: string[] = [];
  for (const identity of o.identities) {
    if (identity.path.toLowerCase() === 'none') {
      continue;
    }
    const path = expandPath(identity.path, identity.location, 'IdentityFile');
    if (!identityFiles.includes(path)) {
      identityFiles.push(path);
    }
  }
  if (o.identities.length === 0) {
    for (const name of r.defaultIdentityFiles) {
      identityFiles.push(`${r.home}/.ssh/${name}`);
    }
  }

  const userKnownHosts = o.userKnownHosts ?? {
    value: [...DEFAULT_USER_KNOWN_HOSTS_FILES],
    location: null
  };
  const userKnownHostsFiles =
    userKnownHosts.value[0].toLowerCase() === 'none'
      ? []
      : userKnownHosts.value.map(f =>
          expandPath(f, userKnownHosts.location, 'UserKnownHostsFile')
        );
  const globalKnownHosts = o.globalKnownHosts ?? [
    ...DEFAULT_GLOBAL_KNOWN_HOSTS_FILES
  ];

  let proxyCommandText: string | null = null;
  let proxyCommand: string[] | null = null;
  if (
    hops.length === 0 &&
    o.proxyCommand &&
    o.proxyCommand.value.toLowerCase() !== 'none'
  ) {
    const { value, location } = o.proxyCommand;
    proxyCommandText = value;
    const expand = (s: string): string =>
      expandTokens(
        s,
        {
          h: host,
          k: hostKeyAlias ?? r.alias,
          n: r.alias,
          p: String(port),
          r: user
        },
        null,
        o.badToken(location, `ProxyCommand "${value}"`)
      );
    proxyCommand = proxyCommandArgv(value, expand, r.shell);
  }

  return {
    alias: r.alias,
    hostName: host,
    port,
    user,
    identityFiles,
    identityFilesExplicit: o.identities.length > 0,
    identitiesOnly: o.identitiesOnly ?? false,
    proxyJump: hops,
    proxyCommand,
    proxyCommandText,
    serverAliveInterval: o.serverAliveInterval ?? 0,
    serverAliveCountMax: o.serverAliveCountMax ?? 3,
    connectTimeout: o.connectTimeout ?? null,
    strictHostKeyChecking: o.strictHostKeyChecking ?? 'ask',
    userKnownHostsFiles,
    globalKnownHostsFiles:
      globalKnownHosts[0].toLowerCase() === 'none' ? [] : globalKnownHosts,
    hostKeyAlias,
    opensshOptions: [...o.opensshOptions],
    source: [...o.source],
    warnings: [...o.warnings]
  };
}

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
