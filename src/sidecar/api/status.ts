/**
 * The one place where a SidecarError becomes an HTTP answer: its status, its
 * body (`IErrorBody`: the same code and sentence) and its log line.
 */
import type { ServerResponse } from 'http';

import type { ErrorCode } from '../../common/api';
import { isSidecarError } from '../errors';
import type { ILogger } from '../log';
import { sendError } from './respond';

/**
 * Every code has its status, so a new code cannot go unmapped: 4xx for what
 * the request or the user's own state decides, 502/504 for what the cluster
 * side did.
 */
const STATUS: Record<ErrorCode, number> = {
  'not-found': 404,
  'method-not-allowed': 405,
  'missing-request-header': 403,
  'bad-request': 400,
  'forbidden-origin': 403,
  'payload-too-large': 413,
  'request-header-too-large': 431,
  internal: 500,
  // Clusters and connections
  'unknown-cluster': 404,
  'ssh-config': 422,
  'host-key-changed': 502,
  'host-key-revoked': 502,
  'host-key-unknown': 502,
  'host-key-rejected': 502,
  'host-key-invalid': 502,
  'known-hosts-write-failed': 502,
  'auth-failed': 502,
  'auth-cancelled': 409,
  'key-unreadable': 502,
  unreachable: 502,
  'connect-timeout': 504,
  'proxy-command-failed': 502,
  'connection-lost': 502,
  disconnected: 409,
  'channel-refused': 502,
  'command-failed': 502,
  'command-timeout': 504,
  'command-too-long': 413,
  'forward-failed': 502,
  'key-setup-failed': 502,
  // Environments and kernels
  'env-not-found': 404,
  'env-scan-failed': 502,
  'ipykernel-missing': 409,
  'kernel-exists': 409,
  'kernel-not-found': 404,
  'kernel-not-managed': 403,
  'kernels-dir-unknown': 409,
  'kernel-write-failed': 502,
  // Install tasks
  'task-not-found': 404,
  'task-failed': 502,
  'task-cancelled': 502,
  'conda-exists': 409,
  'installer-url': 400,
  // JupyterLab sessions in SLURM jobs
  'session-not-found': 404,
  'session-not-running': 409,
  'launch-invalid': 400,
  'sbatch-refused': 422,
  'slurm-unavailable': 502,
  'session-exists': 409,
  'session-not-attachable': 409,
  'state-damaged': 500,
  'state-unwritable': 507,
  'kernel-relay-failed': 502,
  'profile-invalid': 400,
  'profile-not-found': 404,
  'allocation-not-found': 404,
  'allocation-ended': 409,
  'kernel-start-cancelled': 409,
  'kernel-start-not-found': 404
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 502;
}

/** Answer a failed request: our errors as they are, anything else as 500. */
export function sendFailure(
  res: ServerResponse,
  err: unknown,
  log: ILogger,
  what: string
): void {
  if (isSidecarError(err)) {
    if (err.code !== 'bad-request') {
      log.info(`${what}: ${err.code}: ${err.message}`);
    }
    sendError(res, statusOf(err.code), err.code, err.message);
    return;
  }
  log.error(
    `${what} failed: ${err instanceof Error ? err.message : String(err)}`
  );
  sendError(res, 500, 'internal', 'The sidecar failed to answer.');
}
