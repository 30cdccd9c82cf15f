import type { ErrorCode } from '../common/api';

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
    if (options && 'cause' in options) {
      (this as { cause?: unknown }).cause = options.cause;
    }
  }
}

export function isSidecarError(err: unknown): err is SidecarError {
  return err instanceof SidecarError;
}
