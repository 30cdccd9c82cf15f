/** Command-line options of the sidecar. */
export interface ISidecarOptions {
  /** Absolute path of the unix socket to listen on. */
  socket: string;
}

export class UsageError extends Error {}

/**
 * Parse `--socket <path>` (or `--socket=<path>`). The sidecar listens on a
 * unix socket only: a TCP port would be reachable by every local user,
 * bypassing Jupyter's authentication.
 */
export function parseArgs(argv: readonly string[]): ISidecarOptions {
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--socket') {
      socket = argv[++i];
      if (socket === undefined) {
        throw new UsageError('--socket needs a path');
      }
    } else if (arg.startsWith('--socket=')) {
      socket = arg.slice('--socket='.length);
    } else {
      throw new UsageError(`unknown argument: ${arg}`);
    }
  }
  if (!socket) {
    throw new UsageError(
      'usage: sidecar --socket <path>  (the sidecar only listens on a unix socket)'
    );
  }
  if (!socket.startsWith('/')) {
    throw new UsageError(`--socket must be an absolute path, got: ${socket}`);
  }
  return { socket };
}
