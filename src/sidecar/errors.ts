import type { ErrorCode } from '../common/api';

// The sidecar is two bundles (scripts/build-sidecar.mjs), each with its own
// copy of this class: a mark from the global symbol registry tells our
// errors apart where `instanceof` would see only one copy.
const MARK = Symbol.for('jupyterlab-hpc.SidecarError');

/**
 * Every failure to reach or use a cluster: a stable code for the UI and a
 * sentence the user can act on (which host, what went wrong, what to do).
 */
export class SidecarError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message);
    this.name = 'SidecarError';
    (this as { [MARK]?: true })[MARK] = true;
    if (options && 'cause' in options) {
      (this as { cause?: unknown }).cause = options.cause;
    }
  }
}

export function isSidecarError(err: unknown): err is SidecarError {
  return (
    err instanceof SidecarError ||
    (err instanceof Error && (err as { [MARK]?: true })[MARK] === true)
  );
}
