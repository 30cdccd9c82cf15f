import type { Duplex, Readable } from 'stream';

import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';

/** How a command is run: the command, plus limits. */
export interface ICommandOptions {
  /** Keep at most this many bytes per stream (the rest is counted). */
  maxOutputBytes?: number;
  /**
   * Abort waiting and kill the command when this fires. A command run with
   * `onOutput` is killed with everything it started (its process group) and
   * the promise rejects only once that is done.
   */
  signal?: AbortSignal;
  /**
   * Stream the command's own output as it arrives (output of the login files
   * is left out), for long-running commands. Chunks are raw bytes and may end
   * inside a UTF-8 character. The output is still collected up to
   * `maxOutputBytes`. On SSH such a command gets an exec channel of its own
   * and never holds the shared session.
   */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /**
   * Bytes for the command's standard input, piped as they come (with
   * backpressure); its end closes the input. Only with `onOutput`: such a
   * command runs on a channel of its own. Without it, input is /dev/null.
   * Bytes pass unchanged (no terminal), so a binary protocol can use it.
   */
  stdin?: Readable;
  /**
   * Called once the command runs: on SSH after any wait for a free session
   * channel (sshd's MaxSessions, session-limiter.ts), so a caller's own
   * timeout can leave that wait out.
   */
  onStart?: () => void;
}

/**
 * What every cluster feature uses to reach a cluster, whatever the way:
 * an SSH connection (ssh/connection.ts) or this computer itself
 * (transport/local.ts). Chosen per cluster by its `transport` setting.
 */
export interface ITransport {
  readonly kind: 'ssh' | 'local';
  /**
   * Run a command in the user's login environment and collect its output.
   * Resolves with the exit status (124 after `timeoutSeconds`); rejects with
   * a SidecarError when the command could not be run at all.
   */
  run(
    command: IRemoteCommand,
    options?: ICommandOptions
  ): Promise<ICommandOutput>;
  /**
   * A byte stream to `host:port` as seen from the cluster (the login node
   * for SSH; this computer for local). TCP_NODELAY is set on every socket.
   */
  openStream(host: string, port: number): Promise<Duplex>;
  /** Close everything; later calls reject with code 'disconnected'. */
  close(): Promise<void>;
}
