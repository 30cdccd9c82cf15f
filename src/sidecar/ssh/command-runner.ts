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
import type { Readable } from 'stream';

import { SidecarError } from '../errors';
import type { IExecChannel, IExecClient } from './exec-client';
import type { ICommandOptions } from '../transport/types';
import { ShellQuoteError } from '../shell/quote';
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
} from '../shell/remote-command';
import killTaggedSh from './kill-tagged.sh';
import type { SessionLimiter } from './session-limiter';

/** Seconds past a command's own timeout before we stop waiting for it. */
const LOCAL_DEADLINE_SLACK_SECONDS = TIMEOUT_KILL_AFTER_SECONDS + 5;
/** Retries of an exec refused at the session limit: 5 ms doubling, ~1.3 s in all. */
const AT_LIMIT_RETRIES = 8;

interface ISessionJob {
  resolve: (out: ICommandOutput) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
  maxOutputBytes: number;
}

export class SshCommandRunner {
  constructor(
    private readonly _client: IExecClient,
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
      if (options.onOutput || options.stdin) {
        return await this._runStreamed(command, maxOutputBytes, options);
      }
      if (
        !this._sessionBusy &&
        this._sessionUsable &&
        maxOutputBytes <= DEFAULT_MAX_OUTPUT_BYTES
      ) {
        return await this._runInSession(command, maxOutputBytes, options);
      }
      return await this._runExec(command, maxOutputBytes, options);
    } finally {
      this._running--;
    }
  }

  /** Fail everything in flight and refuse new commands. */
  close(reason: SidecarError): void {
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
    { signal, onStart }: ICommandOptions
  ): Promise<ICommandOutput> {
    this._sessionBusy = true;
    try {
      const { tagged, tag } = withRunTag(command);
      const frame = buildSessionFrame(tagged);
      const session = await this._openSession();
      return await new Promise<ICommandOutput>((resolve, reject) => {
        const stop = this._deadline(command, signal, err => {
          // A frame cannot be interrupted: drop the whole session, and stop
          // what the command started (the shell's end does not).
          this._job = null;
          this._dropped.add(session);
          if (this._session === session) {
            this._session = null;
            this._parser = null;
          }
          session.close();
          this._sweep(tag);
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
        onStart?.();
      });
    } catch (err) {
      throw toSidecarError(err, this._label);
    } finally {
      this._job?.cleanup();
      this._job = null;
      this._sessionBusy = false;
    }
  }

  private _openSession(): Promise<IExecChannel> {
    if (this._session) {
      return Promise.resolve(this._session);
    }
    return (this._sessionOpening ??= (async () => {
      const release = await this._limiter.acquire();
      try {
        const { channel } = await this._exec(buildSessionCommand());
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
          if (this._dropped.delete(channel)) {
            // We ended it (a command was given up on): its job is gone and
            // `_job` may already belong to the next session.
            return;
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
                  new SidecarError(
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
    { signal, onStart }: ICommandOptions
  ): Promise<ICommandOutput> {
    const nonce = newNonce();
    const { tagged, tag } = withRunTag(command);
    let text: string;
    try {
      text = buildRemoteCommand(tagged, { nonce });
    } catch (err) {
      throw toSidecarError(err, this._label);
    }
    const release = await this._limiter.acquire(signal);
    try {
      const { channel, exit } = await this._exec(text);
      onStart?.();
      channel.end();
      const parser = new FramedOutputParser({ maxOutputBytes });
      parser.expect({ nonce });
      return await new Promise<ICommandOutput>((resolve, reject) => {
        const stop = this._deadline(command, signal, err => {
          // Closing the channel leaves a program that writes nothing running
          // (sshd sends no SIGHUP without a pty) and no signal request can
          // be sent once the input has ended: find it by its tag.
          channel.close();
          this._sweep(tag);
          reject(err);
        });
        channel.on('data', (chunk: Buffer) => parser.pushStdout(chunk));
        channel.stderr.on('data', (chunk: Buffer) => parser.pushStderr(chunk));
        channel.on('close', () => {
          stop();
          if (this._closed) {
            reject(this._closed);
            return;
          }
          resolve(parser.finish(exit.code)[0]);
        });
      });
    } finally {
      release();
    }
  }

  /**
   * A long-running command on an exec channel of its own, its output passed
   * on as it comes. When `signal` fires, its whole process group is stopped
   * (`_stopExec`) before the promise rejects.
   */
  private async _runStreamed(
    command: IRemoteCommand,
    maxOutputBytes: number,
    options: ICommandOptions
  ): Promise<ICommandOutput> {
    const { signal, onOutput } = options;
    const stopped = (): SidecarError =>
      new SidecarError(
        'command-timeout',
        `${command.argv[0]} on ${this._label} was stopped.`
      );
    if (signal?.aborted) {
      throw stopped();
    }
    const nonce = newNonce();
    // A tag in its environment finds what is left of it on a server that
    // ignores signal requests.
    const tag = newNonce();
    let text: string;
    try {
      text = buildRemoteCommand(
        {
          ...command,
          env: { ...command.env, [RUN_TAG_VARIABLE]: tag },
          stdinFromDevNull: !options.stdin
        },
        { nonce }
      );
    } catch (err) {
      throw toSidecarError(err, this._label);
    }
    const release = await this._limiter.acquire(signal);
    try {
      // Input stays open: ssh2 sends no signal request once it has ended.
      const { channel, exit } = await this._exec(text);
      options.onStart?.();
      const unpipe = options.stdin ? pipeInput(options.stdin, channel) : null;
      const parser = new FramedOutputParser({ maxOutputBytes, onOutput });
      parser.expect({ nonce });
      return await new Promise<ICommandOutput>((resolve, reject) => {
        let stopping: SidecarError | null = null;
        let markClosed = (): void => undefined;
        const closed = new Promise<void>(done => (markClosed = done));
        const stop = this._deadline(command, signal, err => {
          if (stopping) {
            return;
          }
          stopping = err;
          void this._stopExec(channel, tag, closed).then(() => reject(err));
        });
        const feed = (push: () => unknown): void => {
          if (stopping) {
            return;
          }
          try {
            push();
          } catch (err) {
            stopping = toSidecarError(err, this._label) as SidecarError;
            const error = stopping;
            void this._stopExec(channel, tag, closed).then(() => reject(error));
          }
        };
        channel.on('data', (chunk: Buffer) =>
          feed(() => parser.pushStdout(chunk))
        );
        channel.stderr.on('data', (chunk: Buffer) =>
          feed(() => parser.pushStderr(chunk))
        );
        channel.on('close', () => {
          markClosed();
          unpipe?.();
          stop();
          if (stopping) {
            return;
          }
          if (this._closed) {
            reject(this._closed);
            return;
          }
          resolve(parser.finish(exit.code)[0]);
        });
      });
    } finally {
      release();
    }
  }

  /**
   * Stop a streamed command and everything it started. OpenSSH (7.9 and
   * later) sends a `signal` request to the session's process group; sshd
   * made the command a session leader (setsid), and remote-command.ts execs
   * all the way down, so the group is the command's. Servers that ignore
   * signal requests are covered by a second command, started at once, that
   * finds the processes by their tag (KILL_TAGGED_SCRIPT). SIGTERM first,
   * SIGKILL after STOP_GRACE_MS. Resolves when the channel closed (or, at
   * worst, was closed by us).
   */
  private async _stopExec(
    channel: IExecChannel,
    tag: string,
    closed: Promise<void>
  ): Promise<void> {
    signalChannel(channel, 'TERM');
    const sweep = this._closed
      ? Promise.resolve()
      : this.run(killTaggedCommand(tag), { maxOutputBytes: 4096 }).then(
          () => undefined,
          // The connection is going away: sshd ends the session with it.
          () => undefined
        );
    if (await settlesWithin(closed, STOP_GRACE_MS)) {
      return;
    }
    signalChannel(channel, 'KILL');
    // The sweep may itself wait for a session: do not wait on it forever.
    await settlesWithin(sweep, SWEEP_WAIT_MS);
    if (!(await settlesWithin(closed, 2000))) {
      channel.close();
    }
  }

  /** Stop what is left of a command by its tag, in the background. */
  private _sweep(tag: string): void {
    if (this._closed) {
      // The connection is going away: sshd ends the sessions with it.
      return;
    }
    void this.run(killTaggedCommand(tag), { maxOutputBytes: 4096 }).catch(
      () => undefined
    );
  }

  /**
   * Open an exec channel, waiting in line when the server says it is full.
   * Its exit status is recorded from the moment it opens: ssh2 emits 'exit'
   * as soon as it reads it, which for a quick command can be in the same
   * read as the open, before our caller (past an await) listens. Output and
   * 'close' are held until then (IExecChannel).
   */
  private async _exec(
    text: string
  ): Promise<{ channel: IExecChannel; exit: { code: number | null } }> {
    let atLimit = 0;
    for (;;) {
      if (this._closed) {
        throw this._closed;
      }
      try {
        return await new Promise((resolve, reject) => {
          this._client.exec(text, (err, channel) => {
            if (err) {
              reject(err);
              return;
            }
            const exit = { code: null as number | null };
            channel.on('exit', (code: number | null, signal?: string) => {
              exit.code = exitStatus(code, signal);
            });
            resolve({ channel, exit });
          });
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
        if (isOpenRefused(err) && open >= 1 && atLimit < AT_LIMIT_RETRIES) {
          // Refused at the limit we keep: sshd has not yet freed a session
          // whose close reached it in the same segment as this open. It
          // frees it within a moment; try again shortly.
          await new Promise(resolve => setTimeout(resolve, 5 << atLimit++));
          continue;
        }
        throw new SidecarError(
          'channel-refused',
          `${this._label} refused to run a command: ${(err as Error).message}`,
          { cause: err }
        );
      }
    }
  }

  /**
   * Timers for a command's deadline and abort signal; returns the cleanup.
   * `fail` is called at most once, and never after the cleanup.
   */
  private _deadline(
    command: IRemoteCommand,
    signal: AbortSignal | undefined,
    fail: (err: SidecarError) => void
  ): () => void {
    let done = false;
    let timer: NodeJS.Timeout | null = null;
    const cleanup = (): void => {
      done = true;
      if (timer) {
        clearTimeout(timer);
      }
      signal?.removeEventListener('abort', onAbort);
    };
    const fire = (message: string): void => {
      if (!done) {
        cleanup();
        fail(new SidecarError('command-timeout', message));
      }
    };
    const onAbort = (): void =>
      fire(`${command.argv[0]} on ${this._label} was stopped.`);
    if (command.timeoutSeconds !== undefined) {
      const seconds = command.timeoutSeconds + LOCAL_DEADLINE_SLACK_SECONDS;
      timer = setTimeout(
        () =>
          fire(
            `${command.argv[0]} on ${this._label} did not finish within ${command.timeoutSeconds} s.`
          ),
        seconds * 1000
      );
    }
    if (signal?.aborted) {
      // Given up on while its channel was opening: 'abort' has fired already
      // and would never reach a listener added now, and the command would
      // run to its end holding a channel. Stop it as soon as the caller has
      // finished setting it up.
      queueMicrotask(onAbort);
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
    }
    return cleanup;
  }

  private _closed: SidecarError | null = null;
  private _session: IExecChannel | null = null;
  /** Sessions we closed ourselves, until their 'close'. */
  private readonly _dropped = new WeakSet<IExecChannel>();
  private _sessionOpening: Promise<IExecChannel> | null = null;
  private _parser: FramedOutputParser | null = null;
  private _sessionBusy = false;
  private _sessionUsable = true;
  private _job: ISessionJob | null = null;
  private _running = 0;
}

/** The variable that tags the processes of a streamed command. */
export const RUN_TAG_VARIABLE = 'JLHPC_RUN';

/** Longest wait for the tagged sweep when a streamed command stops. */
const SWEEP_WAIT_MS = 10_000;

/** Milliseconds between SIGTERM and SIGKILL when a streamed command stops. */
export const STOP_GRACE_MS = 3000;

/**
 * TERM every process of this user whose environment has `JLHPC_RUN=<tag>`,
 * and KILL what is left of them three seconds later: for servers that ignore
 * signal requests. Linux /proc only; a fixed script (kill-tagged.sh), the
 * `NAME=tag` entry an argument.
 */
export const KILL_TAGGED_SCRIPT = killTaggedSh;

/** The command with a fresh tag in its environment (RUN_TAG_VARIABLE). */
function withRunTag(command: IRemoteCommand): {
  tagged: IRemoteCommand;
  tag: string;
} {
  const tag = newNonce();
  return {
    tagged: { ...command, env: { ...command.env, [RUN_TAG_VARIABLE]: tag } },
    tag
  };
}

export function killTaggedCommand(tag: string): IRemoteCommand {
  return {
    argv: [
      '/bin/sh',
      '-c',
      KILL_TAGGED_SCRIPT,
      'jlhpc',
      `${RUN_TAG_VARIABLE}=${tag}`
    ]
  };
}

/**
 * Copy `input` into the channel as it comes, pausing it while the channel's
 * buffer is full; its end ends the channel's input. Returns the undo, for
 * when the channel has closed.
 */
function pipeInput(input: Readable, channel: IExecChannel): () => void {
  const resume = (): void => {
    input.resume();
  };
  const onData = (chunk: Buffer | string): void => {
    if (!channel.write(chunk)) {
      input.pause();
      channel.once('drain', resume);
    }
  };
  const onEnd = (): void => {
    channel.end();
  };
  input.on('data', onData);
  input.once('end', onEnd);
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
  };
}

function signalChannel(channel: IExecChannel, name: string): void {
  try {
    channel.signal(name);
  } catch {
    // The channel is already closed.
  }
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** As a shell reports it (and the session path does): 128 + n for a signal. */
function exitStatus(code: number | null, signal?: string): number | null {
  const n = signal
    ? (osConstants.signals as Record<string, number>)[`SIG${signal}`]
    : undefined;
  return typeof code === 'number' ? code : n !== undefined ? 128 + n : null;
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

export function toSidecarError(err: unknown, label: string): Error {
  if (err instanceof SidecarError) {
    return err;
  }
  if (err instanceof RemoteCommandError && err.code === 'command-too-long') {
    return new SidecarError('command-too-long', err.message);
  }
  if (err instanceof RemoteCommandError || err instanceof ShellQuoteError) {
    return new SidecarError('bad-request', err.message);
  }
  return new SidecarError(
    'command-failed',
    `Running a command on ${label} failed: ${(err as Error).message}`,
    { cause: err }
  );
}
