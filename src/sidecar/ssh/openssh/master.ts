/**
 * A cluster's connection carried by OpenSSH: one `ssh -M` ControlMaster per
 * cluster, and everything else as its clients over the control socket.
 * Forwards are the master's own (`ssh -O forward -L`), so forwarded bytes
 * never pass through Node: throughput and round trip are `ssh -L`'s. The
 * master's questions (host key, passphrase, password, 2FA codes) reach
 * JupyterLab through the askpass bridge, so they are asked once per
 * connection, as with the built-in client.
 *
 * The control socket lives in a fresh 0700 directory. The master runs under
 * a tiny sh watchdog that reads our pipe: when the sidecar goes away, even
 * killed, the pipe closes and the watchdog ends the master, so no connection
 * outlives the sidecar.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import { existsSync, mkdtempSync, rmSync, watch } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Duplex } from 'stream';
import { EventEmitter } from 'events';

import { TransportError } from '../../transport/errors';
import type { AskpassBridge } from '../askpass';
import type { IResolvedHost } from '../config';
import type { IExecChannel, IExecClient } from '../exec-client';
import type { IPrompter } from '../prompter';
import { masterArgs, MUX_DESTINATION, muxArgs } from './args';
import { lastLines, masterFailure } from './errors';

/** Stderr kept for error messages, in characters. */
const STDERR_KEEP = 8192;

/**
 * Runs `"$@"` (ssh) with stdin from /dev/null and kills it once its own
 * stdin (our pipe) reaches end of file; exits with ssh's status. Fixed text:
 * the argv is passed as arguments, never into the script.
 */
export const WATCHDOG_SCRIPT = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'p=$!',
  '{ read -r _ <&3; kill -TERM "$p" 2>/dev/null; } &',
  'w=$!',
  'exec 3<&-',
  'wait "$p"; s=$?',
  'kill "$w" 2>/dev/null',
  'exit "$s"'
].join('\n');

export interface IOpenSshMasterOptions {
  /** The ssh program. */
  ssh: string;
  route: readonly IResolvedHost[];
  /** Environment of ssh and its ProxyCommands (HOME, SSH_AUTH_SOCK, PATH…). */
  env: NodeJS.ProcessEnv;
  askpass: AskpassBridge;
  prompter: IPrompter;
  /** For messages: user@host[:port] of the login node. */
  label: string;
  exists: (path: string) => boolean;
  signal?: AbortSignal;
}

/** A local forward held by the master: `-L 127.0.0.1:localPort:host:port`. */
export interface IForwardSpec {
  localPort: number;
  host: string;
  port: number;
}

export class OpenSshMaster implements IExecClient {
  private constructor(
    private readonly _options: IOpenSshMasterOptions,
    dir: string,
    private readonly _child: ChildProcess,
    stderr: { text: string }
  ) {
    this._controlPath = join(dir, 'ctl');
    _child.once('exit', () => {
      this._exited = true;
      rmSync(dir, { recursive: true, force: true });
      const said = lastLines(stderr.text);
      this._events.emit('close', said ? new Error(said) : undefined);
    });
  }

  /** Start the master and wait until it is logged in (its socket listens). */
  static async start(options: IOpenSshMasterOptions): Promise<OpenSshMaster> {
    const dir = mkdtempSync(join(tmpdir(), 'jlhpc-ssh-'));
    const controlPath = join(dir, 'ctl');
    let args: string[];
    try {
      args = masterArgs(options.route, controlPath, options);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw new TransportError('ssh-config', (err as Error).message);
    }
    // A cancelled question ends the attempt at once: ssh itself would take
    // the missing answer as an empty one and ask again.
    let cancelled: TransportError | null = null;
    let child: ChildProcess | null = null;
    const prompter: IPrompter = {
      ask: async (request, signal) => {
        try {
          return await options.prompter.ask(request, signal);
        } catch (err) {
          cancelled ??=
            err instanceof TransportError
              ? err
              : new TransportError('auth-cancelled', (err as Error).message);
          child?.stdin?.end();
          throw err;
        }
      }
    };
    const askpassEnv = await options.askpass.envFor(prompter);
    const stderr = { text: '' };
    child = spawn(
      '/bin/sh',
      ['-c', WATCHDOG_SCRIPT, 'jlhpc-ssh', options.ssh, ...args],
      {
        stdio: ['pipe', 'ignore', 'pipe'],
        // A session of its own: no controlling terminal for ssh to ask on
        // instead of askpass.
        detached: true,
        env: {
          ...options.env,
          ...askpassEnv,
          // Jump hosts are ProxyCommands we quoted for a POSIX shell; a
          // ProxyCommand of the user's own runs in their $SHELL, as with ssh.
          ...(options.route.length > 1 ? { SHELL: '/bin/sh' } : {})
        }
      }
    );
    child.stdin!.on('error', () => undefined);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr.text = (stderr.text + chunk).slice(-STDERR_KEEP);
    });
    const master = new OpenSshMaster(options, dir, child, stderr);
    child.once('exit', () => options.askpass.release(askpassEnv));
    try {
      await waitForSocket(dir, controlPath, child, options.signal);
    } catch (err) {
      master.close();
      if (cancelled) {
        throw cancelled;
      }
      if (err instanceof TransportError) {
        throw err;
      }
      throw masterFailure(stderr.text, options.route, options.label);
    }
    return master;
  }

  /** Called once when the master has gone, with its last words. */
  onClose(listener: (why?: Error) => void): void {
    if (this._exited) {
      listener();
      return;
    }
    this._events.once('close', listener);
  }

  exec(
    command: string,
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): void {
    const child = spawn(
      this._options.ssh,
      [
        ...muxArgs(this._controlPath),
        '-v',
        '-T',
        '--',
        MUX_DESTINATION,
        command
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: this._options.env }
    );
    const channel = new MuxChannel(child);
    channel.whenOpen(err => callback(err, channel));
  }

  /** A byte stream to host:port as seen from the login node (`ssh -W`). */
  async openStream(host: string, port: number): Promise<Duplex> {
    const child = spawn(
      this._options.ssh,
      [
        ...muxArgs(this._controlPath),
        '-W',
        `${bracket(host)}:${port}`,
        '--',
        MUX_DESTINATION
      ],
      { stdio: ['pipe', 'pipe', 'ignore'], env: this._options.env }
    );
    const stream = Duplex.from({
      readable: child.stdout!,
      writable: child.stdin!
    });
    stream.on('error', () => undefined);
    child.on('error', () => stream.destroy());
    child.on('exit', () => setTimeout(() => stream.destroy(), 20));
    stream.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
    });
    return stream;
  }

  /** Ask the master to listen on 127.0.0.1:localPort and forward to host:port. */
  forward(spec: IForwardSpec): Promise<void> {
    return this._control('forward', spec);
  }

  cancelForward(spec: IForwardSpec): Promise<void> {
    return this._control('cancel', spec);
  }

  /** End the master (and with it every session and forward). */
  close(): void {
    if (!this._exited) {
      this._child.stdin?.end();
      // Should the watchdog not be there to do it:
      setTimeout(() => {
        if (!this._exited && this._child.pid) {
          try {
            // The watchdog leads a process group of its own (detached).
            process.kill(-this._child.pid, 'SIGKILL');
          } catch {
            // Gone meanwhile.
          }
        }
      }, 3000).unref();
    }
  }

  private _control(
    op: 'forward' | 'cancel',
    spec: IForwardSpec
  ): Promise<void> {
    const forward = `127.0.0.1:${spec.localPort}:${bracket(spec.host)}:${spec.port}`;
    return new Promise((resolve, reject) => {
      execFile(
        this._options.ssh,
        [
          ...muxArgs(this._controlPath),
          '-O',
          op,
          '-L',
          forward,
          MUX_DESTINATION
        ],
        { env: this._options.env, timeout: 15_000 },
        (err, _stdout, stderr) => {
          if (!err) {
            resolve();
            return;
          }
          const said = lastLines(stderr) || err.message;
          reject(
            new TransportError(
              'forward-failed',
              /forwarding request failed|Port forwarding failed/i.test(said)
                ? `Port ${spec.localPort} on 127.0.0.1 is already in use; choose another or leave it empty.`
                : `${this._options.label} could not ${op === 'forward' ? 'open' : 'close'} the forward to ${spec.host} port ${spec.port}: ${said}`
            )
          );
        }
      );
    });
  }

  private readonly _controlPath: string;
  private readonly _events = new EventEmitter();
  private _exited = false;
}

/**
 * One session of the master, run by an `ssh` client of the control socket.
 * With `-v` that client says "master session id" when the master has the
 * session open, or "session request failed" when the server refused it
 * (MaxSessions): only then is the channel handed out, as ssh2 does. Its
 * other words (the version banner) are dropped; the rest of stderr is the
 * remote program's.
 */
class MuxChannel extends EventEmitter implements IExecChannel {
  readonly stderr = new EventEmitter();

  constructor(private readonly _child: ChildProcess) {
    super();
    _child.stdin!.on('error', () => undefined);
    _child.on('error', err => this._settle(err));
    _child.stdout!.on('data', (chunk: Buffer) => {
      // Output can only come from an open session.
      this._settle();
      this.emit('data', chunk);
    });
    _child.stderr!.on('data', (chunk: Buffer) => this._stderr(chunk));
    _child.on('exit', (code, signal) => {
      if (!this._settled) {
        this._settle(
          new TransportError(
            'connection-lost',
            lastLines(this._pending.toString('utf8')) ||
              `ssh exited with ${code ?? signal}`
          )
        );
        return;
      }
      this.emit('exit', code, signal ?? undefined);
    });
    _child.on('close', () => {
      if (this._opened) {
        this.emit('close');
      }
    });
  }

  whenOpen(callback: (err: Error | undefined) => void): void {
    this._callback = callback;
  }

  write(data: string | Buffer): boolean {
    return this._child.stdin!.write(data);
  }

  end(): void {
    this._child.stdin!.end();
  }

  close(): void {
    if (this._child.exitCode === null && this._child.signalCode === null) {
      this._child.kill('SIGTERM');
    }
  }

  /** Clients of a ControlMaster cannot send signal requests. */
  signal(): void {
    return;
  }

  private _stderr(chunk: Buffer): void {
    if (this._settled) {
      this.stderr.emit('data', chunk);
      return;
    }
    this._pending = Buffer.concat([this._pending, chunk]);
    for (;;) {
      const nl = this._pending.indexOf(10);
      if (nl < 0) {
        return;
      }
      const line = this._pending.subarray(0, nl).toString('utf8');
      if (/master session id:/.test(line)) {
        const rest = this._pending.subarray(nl + 1);
        this._pending = Buffer.alloc(0);
        this._settle();
        if (rest.length > 0) {
          this.stderr.emit('data', rest);
        }
        return;
      }
      const refused = /session request failed: (.*)$/.exec(line);
      if (refused) {
        this._settle(Object.assign(new Error(refused[1]), { reason: 2 }));
        this.close();
        return;
      }
      if (/^OpenSSH_|^debug1: /.test(line)) {
        this._pending = this._pending.subarray(nl + 1);
        continue;
      }
      // Not the client's: keep it for the error message, or for the
      // program's stderr once the session turns out open.
      return;
    }
  }

  private _settle(err?: Error): void {
    if (this._settled) {
      return;
    }
    this._settled = true;
    if (!err) {
      this._opened = true;
    }
    const callback = this._callback;
    this._callback = null;
    // The channel is handed out before its buffered stderr is replayed.
    callback?.(err);
    if (!err && this._pending.length > 0) {
      const held = this._pending;
      this._pending = Buffer.alloc(0);
      this.stderr.emit('data', held);
    }
  }

  private _callback: ((err: Error | undefined) => void) | null = null;
  private _pending = Buffer.alloc(0);
  private _settled = false;
  private _opened = false;
}

/** Resolve once the control socket exists (the master has logged in). */
function waitForSocket(
  dir: string,
  controlPath: string,
  child: ChildProcess,
  signal?: AbortSignal
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) {
        return;
      }
      done = true;
      watcher?.close();
      clearInterval(poll);
      signal?.removeEventListener('abort', onAbort);
      child.off('exit', onExit);
      if (err) {
        reject(err);
      } else {
        resolve();
      }
    };
    const check = (): void => {
      if (existsSync(controlPath)) {
        finish();
      }
    };
    const onExit = (): void => finish(new Error('the master exited'));
    const onAbort = (): void =>
      finish(new TransportError('disconnected', 'Connecting was stopped.'));
    let watcher: ReturnType<typeof watch> | null = null;
    try {
      watcher = watch(dir, check);
    } catch {
      watcher = null;
    }
    // fs.watch may miss events on some file systems; poll as well.
    const poll = setInterval(check, 50);
    child.once('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
    check();
  });
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
