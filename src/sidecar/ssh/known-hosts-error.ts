/** The error of a refused host key or a failed known_hosts update. */

export type HostKeyErrorCode =
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'host-key-invalid'
  | 'known-hosts-write-failed';

/** A refused host key or a failed known_hosts update, with a stable code. */
export class HostKeyError extends Error {
  constructor(
    readonly code: HostKeyErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'HostKeyError';
  }
}
