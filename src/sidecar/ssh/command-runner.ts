/**
 * Runs commands on one open SSH connection at the floor latency: the
 * command's own time plus one round trip. A long-lived login shell (the
 * "session", see remote-command.ts) is fed one framed command at a time, so a
 * command costs no channel open and no login-file run. When the session is
 * busy, or a command wants more output than it keeps, the command gets its
 * own `exec` channel (one more round trip), never more at once than the
 * server's MaxSessions allows (session-limiter.ts).
 */
import { constants as osConstants } from 'os';

import type { Client, ClientChannel } from 'ssh2';

import { TransportError } from '../transport/errors';
import type { ICommandOptions } from '../transport/types';
import { ShellQuoteError } from './quote';
import {
  buildRemoteCommand,
  buildSessionCommand,
  buildSessionFrame,
  DEFAULT_MAX_OUTPUT_BYTES,
  FramedOutputParser,
  ICommandOutput,
  IRemoteCommand,
  newNonce,
  RemoteCommandError,
  TIMEOUT_KILL_AFTER_SECONDS
} from './remote-command';
import type { SessionLimiter } from './session-limiter';

/** Seconds past a command's own timeout before we stop waiting for it. */
const LOCAL_DEADLINE_SLACK_SECONDS = TIMEOUT_KILL_AFTER_SECONDS + 5;

interface ISessionJob {
  resolve: (out: ICommandOutput) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
  maxOutputBytes: number;
}

export class SshCommandRunner {
  constructor(
    private readonly _client: Client,
    private readonly _limiter: SessionLimiter,
    private readonly _label: string
  ) {}

  /** Commands running now (session or exec). */
  get running(): number {
    return this._running;
  }

  async run(
    command: IRemoteCommand,
    options: ICommandOptions = {}
  ): Promise<ICommandOutput> {
    if (this._closed) {
      throw this._closed;
    }
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this._running++;
    try {
      if (
        !this._sessionBusy &&
        this._sessionUsable &&
        maxOutputBytes <= DEFAULT_MAX_OUTPUT_BYTES
      ) {
        return await this._runInSession(
          command,
          maxOutputBytes,
          options.signal
        );
      }
      return await this._runExec(command, maxOutputBytes, options.signal);
    } finally {
      this._running--;
    }
  }

  /** Fail everything in flight and refuse new commands. */
  close(reason: TransportError): void {
    if (this._closed) {
      return;
    }
    this._closed = reason;
    this._job?.reject(reason);
    this._job = null;
    this._session?.close();
    this._session = null;
  }

  private async _runInSession(
    command: IRemoteCommand,
    maxOutputBytes: number,
    signal?: AbortSignal
  ): Promise<ICommandOutput> {
    this._sessionBusy = true;
    try {
      const frame = buildSessionFrame(command);
      const session = await this._openSession();
      return await new Promise<ICommandOutput>((resolve, reject) => {
        const stop = this._deadline(command, signal, err => {
          // A frame cannot be interrupted: drop the whole session.
          this._job = null;
          session.close();
          reject(err);
        });
        this._job = {
          resolve,
          reject,
          cleanup: stop,
          maxOutputBytes
        };
        this._parser!.expect(frame);
        session.write(frame.text);
      });
    } catch (err) {
      throw toTransportError(err, this._label);
    } finally {
      this._job?.cleanup();
      this._job = null;
      this._sessionBusy = false;
    }
  }

  private _openSession(): Promise<ClientChannel> {
    if (this._session) {
      return Promise.resolve(this._session);
    }
    return (this._sessionOpening ??= (async () => {
      const release = await this._limiter.acquire();
      try {
        const channel = await this._exec(buildSessionCommand());
        const parser = new FramedOutputParser();
        let completed = 0;
        const deliver = (done: ICommandOutput[]) => {
          for (const out of done) {
            completed++;
            const job = this._job;
            this._job = null;
            job?.cleanup();
            job?.resolve(limitOutput(out, job.maxOutputBytes));
          }
        };
        channel.on('data', (chunk: Buffer) =>
          deliver(parser.pushStdout(chunk))
        );
        channel.stderr.on('data', (chunk: Buffer) =>
          deliver(parser.pushStderr(chunk))
        );
        channel.on('close', () => {
          release();
          if (this._session === channel) {
            this._session = null;
            this._parser = null;
          }
          // A login shell that exits before running anything (an `exit` in
          // the login files, a restricted shell) cannot host a session:
          // use exec channels from now on.
          if (completed === 0) {
            this._sessionUsable = false;
          }
          const job = this._job;
          this._job = null;
          if (job) {
            job.cleanup();
            const [out] = parser.finish(null);
            if (out && completed > 0) {
              job.resolve(limitOutput(out, job.maxOutputBytes));
            } else {
              job.reject(
                this._closed ??
                  new TransportError(
                    'command-failed',
                    `The login shell on ${this._label} ended before the command finished.` +
                      strayText(parser)
                  )
              );
            }
          }
        });
        this._session = channel;
        this._parser = parser;
        return channel;
      } catch (err) {
        release();
        throw err;
      }
    })().finally(() => {
      this._sessionOpening = null;
    }));
  }

  private async _runExec(
    command: IRemoteCommand,
    maxOutputBytes: number,
    signal?: AbortSignal
  ): Promise<ICommandOutput> {
    const nonce = newNonce();
    let text: string;
    try {
      text = buildRemoteCommand(command, { nonce });
    } catch (err) {
      throw toTransportError(err, this._label);
    }
    const release = await this._limiter.acquire(signal);
    try {
      const channel = await this._exec(text);
      channel.end();
      const parser = new FramedOutputParser({ maxOutputBytes });
      parser.expect({ nonce });
      return await new Promise<ICommandOutput>((resolve, reject) => {
        let exitCode: number | null = null;
        const stop = this._deadline(command, signal, err => {
          channel.close();
          reject(err);
        });
        channel.on('data', (chunk: Buffer) => parser.pushStdout(chunk));
        channel.stderr.on('data', (chunk: Buffer) => parser.pushStderr(chunk));
        channel.on('exit', (code: number | null, signal?: string) => {
          // As a shell reports it (and the session path does): 128 + n.
          const n = signal
            ? (osConstants.signals as Record<string, number>)[`SIG${signal}`]
            : undefined;
          exitCode =
            typeof code === 'number' ? code : n !== undefined ? 128 + n : null;
        });
        channel.on('close', () => {
          stop();
          if (this._closed) {
            reject(this._closed);
            return;
          }
          resolve(parser.finish(exitCode)[0]);
        });
      });
    } finally {
      release();
    }
  }

  /** Open an exec channel, waiting in line when the server says it is full. */
  private async _exec(text: string): Promise<ClientChannel> {
    for (;;) {
      if (this._closed) {
        throw this._closed;
      }
      try {
        return await new Promise<ClientChannel>((resolve, reject) => {
          this._client.exec(text, (err, channel) =>
            err ? reject(err) : resolve(channel)
          );
        });
      } catch (err) {
        const open = this._limiter.active - 1;
        if (isOpenRefused(err) && open >= 1 && open < this._limiter.limit) {
          // Our slot is given back by the caller; wait for another one
          // under the lowered limit, then try again.
          this._limiter.refused(open);
          const release = await this._limiter.acquire();
          release();
          continue;
        }
        throw new TransportError(
          'channel-refused',
          `${this._label} refused to run a command: ${(err as Error).message}`,
          { cause: err }
        );
      }
    }
  }

  /** Timers for a command's deadline and abort signal; returns the cleanup. */
  private _deadline(
    command: IRemoteCommand,
    signal: AbortSignal | undefined,
    fail: (err: TransportError) => void
  ): () => void {
    let timer: NodeJS.Timeout | null = null;
    if (command.timeoutSeconds !== undefined) {
      const seconds = command.timeoutSeconds + LOCAL_DEADLINE_SLACK_SECONDS;
      timer = setTimeout(
        () =>
          fail(
            new TransportError(
              'command-timeout',
              `${command.argv[0]} on ${this._label} did not finish within ${command.timeoutSeconds} s.`
            )
          ),
        seconds * 1000
      );
    }
    const onAbort = () =>
      fail(
        new TransportError(
          'command-timeout',
          `${command.argv[0]} on ${this._label} was stopped.`
        )
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      if (timer) {
        clearTimeout(timer);
      }
      signal?.removeEventListener('abort', onAbort);
    };
  }

  private _closed: TransportError | null = null;
  private _session: ClientChannel | null = null;
  private _sessionOpening: Promise<ClientChannel> | null = null;
  private _parser: FramedOutputParser | null = null;
  private _sessionBusy = false;
  private _sessionUsable = true;
  private _job: ISessionJob | null = null;
  private _running = 0;
}

function isOpenRefused(err: unknown): boolean {
  const reason = (err as { reason?: unknown }).reason;
  // OpenSSH refuses a session over MaxSessions with "open failed" and reason
  // CONNECT_FAILED (2); other servers say ADMINISTRATIVELY_PROHIBITED (1) or
  // RESOURCE_SHORTAGE (4). A session channel connects to nothing, so any of
  // them while others are open means "too many".
  return reason === 1 || reason === 2 || reason === 4;
}

/** Cut a session's output (kept at the default limit) to the caller's. */
function limitOutput(out: ICommandOutput, limit: number): ICommandOutput {
  if (out.stdout.length <= limit && out.stderr.length <= limit) {
    return out;
  }
  return {
    ...out,
    stdout: out.stdout.subarray(0, limit),
    stderr: out.stderr.subarray(0, limit),
    stdoutTruncated: out.stdoutTruncated || out.stdout.length > limit,
    stderrTruncated: out.stderrTruncated || out.stderr.length > limit
  };
}

function strayText(parser: FramedOutputParser): string {
  const text = parser.stray.stderr.toString('utf8').trim();
  return text ? ` It said: ${text.slice(-500)}` : '';
}

export function toTransportError(err: unknown, label: string): Error {
  if (err instanceof TransportError) {
    return err;
  }
  if (err instanceof RemoteCommandError && err.code === 'command-too-long') {
    return new TransportError('command-too-long', err.message);
  }
  if (err instanceof RemoteCommandError || err instanceof ShellQuoteError) {
    return new TransportError('bad-request', err.message);
  }
  return new TransportError(
    'command-failed',
    `Running a command on ${label} failed: ${(err as Error).message}`,
    { cause: err }
  );
}
