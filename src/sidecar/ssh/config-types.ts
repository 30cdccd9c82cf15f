/**
 * What the ssh_config resolver is asked (files, settings, the local
 * account) and what it answers: a host resolved as `ssh` resolves it.
 */
import type { IJumpHop } from './config-jump';

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
