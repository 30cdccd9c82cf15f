/**
 * The transport for "This computer": JupyterLab runs on a login node, so
 * commands run here and forwards connect from here. Commands are started the
 * way sshd starts them for the SSH transport, so that every feature sees the
 * same thing either way:
 *
 * - `$SHELL -c <buildRemoteCommand(command)>` in the home directory, with
 *   stdin from /dev/null (or the caller's `stdin`), in a session of its own (as sshd's setsid), so that
 *   stopping a command stops everything it started.
 * - A fresh environment as sshd builds it (HOME, USER, LOGNAME, SHELL, a
 *   standard PATH, the locale), not the sidecar's: JupyterHub tokens, the
 *   Jupyter server's conda PATH or an enclosing Slurm job's SLURM_* must not
 *   reach commands or the jobs they submit. The login files do the rest.
 * - A fresh nonce per command, read back with FramedOutputParser, so that
 *   whatever the login files print stays out of the output, as on SSH.
 */

import { spawn, type ChildProcess } from 'child_process';
import { connect, type Socket } from 'net';
import { constants, userInfo, type UserInfo } from 'os';
import { basename } from 'path';
import type { Duplex } from 'stream';

import { ShellQuoteError } from '../shell/quote';
import {
  buildRemoteCommand,
  DEFAULT_MAX_OUTPUT_BYTES,
  FramedOutputParser,
  newNonce,
  RemoteCommandError,
  type ICommandOutput,
  type IRemoteCommand
} from '../shell/remote-command';
import { SidecarError } from '../errors';
import type { ICommandOptions, ITransport } from './types';

/** Milliseconds between SIGTERM and SIGKILL when a command is stopped. */
export const KILL_GRACE_MS = 3000;

/** PATH before the login files run; sshd's compiled-in default, roughly. */
export const LOGIN_PATH =
  '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

/**
 * Variables taken over from the sidecar's environment: the locale (ssh sends
 * LANG and LC_* by default), the Kerberos ticket cache that sshd's GSSAPI
 * login would set (needed for Kerberos home directories), and the runtime
 * directory pam_systemd gives every ssh session.
 */
const PASSED_ON = /^(?:LANG|LANGUAGE|LC_[A-Z_]+|KRB5CCNAME|XDG_RUNTIME_DIR)$/;

/** How often a stopped command's process group is checked for survivors. */
const GROUP_POLL_MS = 50;

/** How long after SIGKILL the group may take to go away. */
const KILL_WAIT_MS = 1000;

export interface ILocalTransportOptions {
  /**
   * The sidecar's environment (default `process.env`). Only HOME, SHELL,
   * USER and the variables named in PASSED_ON are read from it.
   */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds from SIGTERM to SIGKILL (default KILL_GRACE_MS). */
  killGraceMs?: number;
}

interface IRunning {
  child: ChildProcess;
  /** Reject the caller's promise; the caller stops the process. */
  fail(error: SidecarError): void;
}

/** Runs commands and opens connections on this computer. */
export class LocalTransport implements ITransport {
  readonly kind = 'local';

  constructor(options: ILocalTransportOptions = {}) {
    const env = options.env ?? process.env;
    const account = passwdEntry();
    this.home = env.HOME || account?.homedir || '/';
    this.shell = env.SHELL || account?.shell || '/bin/sh';
    const user = account?.username ?? env.USER ?? env.LOGNAME ?? '';
    const session: Record<string, string> = {
      HOME: this.home,
      USER: user,
      LOGNAME: user,
      SHELL: this.shell,
      PATH: LOGIN_PATH
    };
    for (const [name, value] of Object.entries(env)) {
      if (PASSED_ON.test(name) && value !== undefined) {
        session[name] = value;
      }
    }
    this._env = session;
    this._killGraceMs = options.killGraceMs ?? KILL_GRACE_MS;
  }

  /** The directory commands start in, and what `~` means for them. */
  readonly home: string;
  /** The login shell that runs every command, as `$SHELL -c`. */
  readonly shell: string;

  /**
   * Run `command` in the login environment. The output has a fresh `nonce`.
   * A program killed by a signal gets exitCode 128 + the signal number, as
   * a shell's `$?` reports it (which is what a session shell sees, too).
   *
   * Rejects with a SidecarError: 'command-too-long'; 'bad-request' for
   * arguments no program can receive (a NUL byte) or a bad timeout;
   * 'command-failed' when the shell cannot be started; 'command-timeout'
   * when `options.signal` fires (as the SSH transport does; the message
   * says "did not finish in time" for `AbortSignal.timeout`); and
   * 'disconnected' after close().
   */
  async run(
    command: IRemoteCommand,
    options: ICommandOptions = {}
  ): Promise<ICommandOutput> {
    if (this._closed) {
      throw closedError();
    }
    const { signal } = options;
    if (signal?.aborted) {
      throw abortError(command, signal);
    }
    const nonce = newNonce();
    const line = buildCommandLine(command, nonce);
    const parser = new FramedOutputParser({
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      onOutput: options.onOutput
    });
    parser.expect({ nonce });

    return new Promise<ICommandOutput>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(this.shell, ['-c', line], {
          argv0: basename(this.shell),
          cwd: this.home,
          env: this._env,
          stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
          detached: true
        });
      } catch (err) {
        reject(this._startError(err));
        return;
      }
      if (child.pid !== undefined) {
        options.onStart?.();
      }

      let settled = false;
      const finish = (settle: () => void): void => {
        if (settled) {
          return;
        }
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        this._running.delete(running);
        settle();
      };
      const fail = (error: SidecarError): void => finish(() => reject(error));
      const stop = (error: SidecarError): void => {
        const gone = this._terminate(child);
        if (options.onOutput) {
          // A streamed command is long-running work (an install): say it
          // stopped only once nothing of it is left.
          finish(() => void gone.then(() => reject(error)));
        } else {
          fail(error);
        }
      };
      const running: IRunning = { child, fail };
      const onAbort = (): void => stop(abortError(command, signal!));
      const feed = (push: () => unknown): void => {
        if (settled) {
          return;
        }
        try {
          push();
        } catch (err) {
          stop(
            new SidecarError(
              'command-failed',
              `The command's output could not be read: ${message(err)}`,
              { cause: err }
            )
          );
        }
      };

      this._running.add(running);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (options.stdin) {
        const input = options.stdin;
        const sink = child.stdin!;
        // The command may exit before reading everything: not our error.
        sink.on('error', () => undefined);
        input.pipe(sink);
        child.once('close', () => input.unpipe(sink));
      }
      child.stdout!.on('data', (chunk: Buffer) =>
        feed(() => parser.pushStdout(chunk))
      );
      child.stderr!.on('data', (chunk: Buffer) =>
        feed(() => parser.pushStderr(chunk))
      );
      child.on('error', err => finish(() => reject(this._startError(err))));
      child.on('close', (code, signalName) => {
        const exitCode = code ?? signalStatus(signalName);
        finish(() => resolve(parser.finish(exitCode)[0]));
      });
    });
  }

  /** A TCP connection from this computer to `host:port`, TCP_NODELAY set. */
  openStream(host: string, port: number): Promise<Duplex> {
    if (this._closed) {
      return Promise.reject(closedError());
    }
    return new Promise<Duplex>((resolve, reject) => {
      const failed = (reason: string, cause?: unknown): SidecarError =>
        new SidecarError(
          'forward-failed',
          `Could not connect to ${hostPort(host, port)} from this computer: ${reason}`,
          { cause }
        );
      let socket: Socket;
      try {
        socket = connect({ host, port });
      } catch (err) {
        reject(failed(message(err), err));
        return;
      }
      socket.setNoDelay(true);
      this._sockets.add(socket);
      socket.once('close', () => this._sockets.delete(socket));
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.destroy();
        reject(failed(connectReason(err), err));
      };
      const onClose = (): void =>
        reject(this._closed ? closedError() : failed('connection closed'));
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.off('close', onClose);
        // A reset later on must not crash the sidecar; the user of the
        // stream sees 'close' either way.
        socket.on('error', () => undefined);
        resolve(socket);
      });
    });
  }

  /**
   * Stop every running command (SIGTERM to its process group, SIGKILL after
   * the grace period) and close every stream. Resolves when the process
   * groups are gone.
   */
  async close(): Promise<void> {
    this._closed = true;
    const stopping: Promise<void>[] = [];
    for (const running of [...this._running]) {
      stopping.push(this._terminate(running.child));
      running.fail(closedError());
    }
    for (const socket of this._sockets) {
      socket.destroy();
    }
    this._sockets.clear();
    await Promise.all(stopping);
  }

  /**
   * SIGTERM to the command's process group, SIGKILL to what is left of it
   * after the grace period. Resolves when the group is empty or killed.
   */
  private _terminate(child: ChildProcess): Promise<void> {
    const group = child.pid;
    if (group === undefined || !signalGroup(group, 'SIGTERM')) {
      return Promise.resolve();
    }
    const deadline = Date.now() + this._killGraceMs;
    return new Promise<void>(resolve => {
      const check = (): void => {
        if (!signalGroup(group, 0)) {
          resolve();
        } else if (Date.now() >= deadline) {
          signalGroup(group, 'SIGKILL');
          // SIGKILL takes a moment to land on a busy machine: wait (a
          // little) until the group is really gone.
          const until = Date.now() + KILL_WAIT_MS;
          const gone = (): void => {
            if (!signalGroup(group, 0) || Date.now() >= until) {
              resolve();
            } else {
              setTimeout(gone, GROUP_POLL_MS / 5);
            }
          };
          gone();
        } else {
          setTimeout(check, GROUP_POLL_MS);
        }
      };
      setTimeout(check, Math.min(GROUP_POLL_MS, this._killGraceMs));
    });
  }

  private _startError(err: unknown): SidecarError {
    return new SidecarError(
      'command-failed',
      `Could not start the login shell ${this.shell} in ${this.home}: ${message(err)}`,
      { cause: err }
    );
  }

  private readonly _env: Record<string, string>;
  private readonly _killGraceMs: number;
  private readonly _running = new Set<IRunning>();
  private readonly _sockets = new Set<Socket>();
  private _closed = false;
}

function passwdEntry(): UserInfo<string> | null {
  try {
    return userInfo();
  } catch {
    // No passwd entry (a container started with an arbitrary uid).
    return null;
  }
}

/** buildRemoteCommand, its refusals as SidecarErrors. */
function buildCommandLine(command: IRemoteCommand, nonce: string): string {
  try {
    return buildRemoteCommand(command, { nonce });
  } catch (err) {
    if (err instanceof RemoteCommandError && err.code === 'command-too-long') {
      throw new SidecarError('command-too-long', err.message, { cause: err });
    }
    if (err instanceof RemoteCommandError || err instanceof ShellQuoteError) {
      throw new SidecarError('bad-request', err.message, { cause: err });
    }
    throw new SidecarError(
      'command-failed',
      `Running a command on this computer failed: ${message(err)}`,
      { cause: err }
    );
  }
}

/** Send `signal` to a process group; false if the group is gone. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    return false;
  }
}

function signalStatus(signal: NodeJS.Signals | null): number | null {
  const number = signal === null ? undefined : constants.signals[signal];
  return number === undefined ? null : 128 + number;
}

function closedError(): SidecarError {
  return new SidecarError(
    'disconnected',
    'The connection to this computer was closed.'
  );
}

/** The same code as the SSH transport's, whatever the reason. */
function abortError(
  command: IRemoteCommand,
  signal: AbortSignal
): SidecarError {
  const reason: unknown = signal.reason;
  const timedOut =
    typeof reason === 'object' &&
    reason !== null &&
    (reason as { name?: unknown }).name === 'TimeoutError';
  return new SidecarError(
    'command-timeout',
    `${command.argv[0] ?? 'The command'} on this computer ${timedOut ? 'did not finish in time and ' : ''}was stopped.`,
    { cause: reason }
  );
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const CONNECT_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is anything listening on that port?)',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'host name lookup failed (temporary failure)'
};

function connectReason(err: NodeJS.ErrnoException): string {
  return (err.code && CONNECT_REASONS[err.code]) || err.message;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
