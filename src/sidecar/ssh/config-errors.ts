/**
 * The one error type of the ssh_config resolver (`config.ts`): a stable
 * machine-readable code, the file and line at fault when there is one, and a
 * message a user can act on.
 */
import { displayPath } from '../paths';

export { displayPath } from '../paths';

export type SshConfigErrorCode =
  /** A config file exists but cannot be read (permissions, I/O error). */
  | 'ssh-config-unreadable'
  /** A line OpenSSH would refuse: bad quotes, missing or extra arguments… */
  | 'ssh-config-syntax'
  /** A file Includes itself, directly or through other files. */
  | 'ssh-config-include-loop'
  /** Includes nested deeper than OpenSSH allows (16). */
  | 'ssh-config-include-depth'
  /** A Port line or setting that is not a port number. */
  | 'ssh-config-bad-port'
  /** A ProxyJump line or jump-host setting that cannot be parsed. */
  | 'ssh-config-bad-proxyjump'
  /** A value OpenSSH would refuse: a bad yes/no, time or number. */
  | 'ssh-config-bad-value'
  /** An unknown `%` token or an unset `${VARIABLE}` in a value. */
  | 'ssh-config-bad-token'
  /** A host name or user name that is empty or contains shell characters. */
  | 'ssh-config-bad-host'
  /** ProxyJump hosts that lead back to themselves. */
  | 'ssh-config-jump-loop';

/** Where in the config files an error was found. */
export interface ISshConfigLocation {
  /** Absolute path of the file. */
  file: string;
  /** 1-based line number. */
  line: number;
}

/** A config problem the user has to fix; `message` says what and where. */
export class SshConfigError extends Error {
  constructor(
    readonly code: SshConfigErrorCode,
    message: string,
    readonly location?: ISshConfigLocation
  ) {
    super(message);
    this.name = 'SshConfigError';
  }
}

/** `~/.ssh/config line 12` — how messages name a line. */
export function describeLocation(
  location: ISshConfigLocation,
  home: string
): string {
  return `${displayPath(location.file, home)} line ${location.line}`;
}
