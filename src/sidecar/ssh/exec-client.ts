/**
 * What the command runner needs of a connection: `exec` channels. ssh2's
 * Client is one; an OpenSSH ControlMaster's clients (openssh/master.ts) are
 * the other.
 */
/**
 * Like a stream, a channel holds its output and 'close' until a 'data'
 * listener is attached (ssh2's channels are streams; MuxChannel does the
 * same), so those listeners may be attached after the open was awaited.
 * 'exit' may come at once (ssh2 emits it as it reads it): listen for it in
 * the `exec` callback.
 */
export interface IExecChannel {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(
    event: 'exit',
    listener: (code: number | null, signal?: string) => void
  ): unknown;
  on(event: 'close', listener: () => void): unknown;
  /** After `write` returned false: the input can take more. */
  once(event: 'drain', listener: () => void): unknown;
  readonly stderr: {
    on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  };
  write(data: string | Buffer): boolean;
  end(): unknown;
  /** Close the channel; the remote program is not signalled. */
  close(): unknown;
  /** Send a signal request (may be a no-op where none can be sent). */
  signal(name: string): unknown;
}

export interface IExecClient {
  /**
   * Open a session channel running `command`. The error of a refused open
   * carries the SSH reason code (`reason`), as ssh2's does.
   */
  exec(
    command: string,
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): unknown;
}
