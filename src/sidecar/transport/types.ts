import type { Duplex } from 'stream';

import type { ICommandOutput, IRemoteCommand } from '../ssh/remote-command';

/** How a command is run: the command, plus limits. */
export interface ICommandOptions {
  /** Keep at most this many bytes per stream (the rest is counted). */
  maxOutputBytes?: number;
  /** Abort waiting (and kill the command) when this fires. */
  signal?: AbortSignal;
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
   * a TransportError when the command could not be run at all.
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
