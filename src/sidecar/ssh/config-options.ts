/**
 * OpenSSH's `Options` as one resolution obtains them (readconf.c): every
 * value unset until the first one obtained, which wins, with the line it
 * came from; and what the user is shown of it: the lines that took effect
 * and the warnings.
 */
import { displayPath } from '../paths';
import {
  describeLocation,
  ISshConfigLocation,
  SshConfigError
} from './config-errors';
import type { IJumpHop } from './config-jump';
import type { IConfigLine } from './config-syntax';
import type { StrictHostKeyChecking } from './config-types';

export interface IValue<T> {
  value: T;
  location: ISshConfigLocation | null;
}

export interface IIdentity {
  path: string;
  /** From the user's config or settings (OpenSSH dedupes per origin). */
  userProvided: boolean;
  location: ISshConfigLocation | null;
}

/** Who resolves, where, for which alias: what tokens and paths start from. */
export interface IResolutionEnv {
  /** The name asked for (`%n`). */
  alias: string;
  home: string;
  localUser: string;
  localHostName: string;
  uid: number;
  env: Readonly<Record<string, string | undefined>>;
  shell: string;
  cwd: string;
  defaultIdentityFiles: readonly string[];
}

/** The tokens of the local side: `%L %d %i %l %u`. */
export function localTokens(r: IResolutionEnv): Record<string, string> {
  return {
    L: r.localHostName.split('.')[0],
    d: r.home,
    i: String(r.uid),
    l: r.localHostName,
    u: r.localUser
  };
}

export class ObtainedOptions {
  constructor(private readonly _home: string) {}

  hostName?: IValue<string>;
  user?: IValue<string>;
  userFromConfig = false;
  port?: number;
  hostKeyAlias?: string;
  tag?: string;
  ignoreUnknown?: string;
  identities: IIdentity[] = [];
  identitiesOnly?: boolean;
  proxyCommand?: IValue<string>;
  jump?: IValue<IJumpHop[]>;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
  connectTimeout?: number;
  strictHostKeyChecking?: StrictHostKeyChecking;
  /** Where CanonicalizeHostname yes/always was obtained; null for no. */
  canonicalize?: ISshConfigLocation | null;
  userKnownHosts?: IValue<string[]>;
  globalKnownHosts?: string[];
  /** The keywords (as KEYWORDS spells them) that have a value. */
  readonly obtained = new Set<string>();
  /** `Keyword=value` lines for `ssh -o`, in the order they took effect. */
  readonly opensshOptions: string[] = [];
  readonly source = new Set<string>();
  readonly warnings = new Set<string>();

  /** The last jump host's name (`%j`), '' without one. */
  jumpHostName(): string {
    const hops = this.jump?.value ?? [];
    return hops.length > 0 ? hops[hops.length - 1].host : '';
  }

  // -- What the user is shown -------------------------------------------------

  where(location: ISshConfigLocation | null): string {
    return location ? describeLocation(location, this._home) : 'settings';
  }

  sourceLine(location: ISshConfigLocation, line: IConfigLine): string {
    return `${displayPath(location.file, this._home)}:${location.line}: ${line.text}`;
  }

  addSource(entry: string): void {
    this.source.add(entry);
  }

  warn(message: string): void {
    this.warnings.add(message);
  }

  badValue(location: ISshConfigLocation, reason: string): SshConfigError {
    return new SshConfigError(
      'ssh-config-bad-value',
      `${this.where(location)}: ${reason}. Fix or remove the line.`,
      location
    );
  }

  /** The error for a bad `%` token or `${VAR}` in `what`. */
  badToken(
    location: ISshConfigLocation | null,
    what: string
  ): (reason: string) => SshConfigError {
    return (reason: string) =>
      new SshConfigError(
        'ssh-config-bad-token',
        `${location ? this.where(location) + ': ' : ''}${what}: ${reason}.`,
        location ?? undefined
      );
  }
}
