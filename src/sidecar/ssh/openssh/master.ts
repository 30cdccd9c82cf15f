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

import { SidecarError } from '../../errors';
import type { AskpassBridge } from '../askpass';
import type { IResolvedHost } from '../config';
import type { IExecChannel, IExecClient } from '../exec-client';
import type { IPrompter } from '../prompter';
import { masterArgs, MUX_DESTINATION, muxArgs } from './args';
import { lastLines, masterFailure } from './errors';
import watchdogSh from './watchdog.sh';

/** Stderr kept for error messages, in characters. */
const STDERR_KEEP = 8192;

/**
 * Runs `"$@"` (ssh) with stdin from /dev/null and kills it once its own
 * stdin (our pipe) reaches end of file; exits with ssh's status. Fixed text
 * (watchdog.sh):
 * the argv is passed as arguments, never into the script.
 */
export const WATCHDOG_SCRIPT = watchdogSh;

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
    // 'close', not 'exit': ssh's last words may still be in the pipe.
    _child.once('close', () => {
      this._exited = true;
      rmSync(dir, { recursive: true, force: true });
      const said = lastLines(stderr.text);
      this._events.emit('close', said ? new Error(said) : undefined);
    });
  }

  /** Start the master and wait until it is logged in (its socket listens). */
  static async start(options: IOpenSshMasterOptions): Promise<OpenSshMaster> {
    if (process.platform === 'win32') {
      throw new SidecarError(
        'ssh-config',
        "OpenSSH for Windows cannot multiplex a connection; choose the built-in SSH client in the cluster's settings."
      );
    }
    const dir = mkdtempSync(join(tmpdir(), 'jlhpc-ssh-'));
    const controlPath = join(dir, 'ctl');
    const removeDir = () => rmSync(dir, { recursive: true, force: true });
    let args: string[];
    try {
      args = masterArgs(options.route, controlPath, options);
    } catch (err) {
      removeDir();
      throw new SidecarError('ssh-config', (err as Error).message);
    }
    // A cancelled question ends the attempt at once: ssh itself would take
    // the missing answer as an empty one and ask again.
    let cancelled: SidecarError | null = null;
    let child: ChildProcess | null = null;
    const prompter: IPrompter = {
      ask: async (request, signal, origin) => {
        try {
          return await options.prompter.ask(request, signal, origin);
        } catch (err) {
          cancelled ??=
            err instanceof SidecarError
              ? err
              : new SidecarError('auth-cancelled', (err as Error).message);
          child?.stdin?.end();
          throw err;
        }
      }
    };
    let askpassEnv: Record<string, string>;
    try {
      askpassEnv = await options.askpass.envFor(prompter);
    } catch (err) {
      removeDir();
      throw err;
    }
    const stderr = { text: '' };
    let spawnError: Error | null = null;
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
    // Without a listener a failed spawn (EAGAIN, EMFILE) would be thrown.
    child.on('error', err => {
      spawnError = err;
    });
    child.stdin!.on('error', () => undefined);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr.text = (stderr.text + chunk).slice(-STDERR_KEEP);
    });
    const master = new OpenSshMaster(options, dir, child, stderr);
    // Questions still shown are withdrawn as soon as ssh is gone.
    child.once('exit', () => options.askpass.release(askpassEnv));
    child.once('error', () => options.askpass.release(askpassEnv));
    try {
      await waitForSocket(dir, controlPath, child, options.signal);
    } catch (err) {
      master.close();
      if (cancelled) {
        throw cancelled;
      }
      if (spawnError) {
        removeDir();
        throw new SidecarError(
          'connection-lost',
          `Could not start ssh: ${(spawnError as Error).message}`
        );
      }
      if (err instanceof SidecarError) {
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
            new SidecarError(
              'forward-failed',
              /Port forwarding failed|Address already in use/i.test(said)
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

/** How long the master may take to open a session before we give up. */
const SESSION_OPEN_TIMEOUT_MS = 30_000;

/**
 * One session of the master, run by an `ssh` client of the control socket.
 * With `-v` that client says "master session id" when the master has the
 * session open, or "session request failed" when the server refused it
 * (MaxSessions): only then is the channel handed out, as ssh2 does. The
 * program's own stderr may arrive before that line (the master starts the
 * command before it answers its client): it is held and passed on after.
 * The client's other words (its version banner) are dropped.
 *
 * Like a stream (ssh2's channels are streams), the channel holds its output,
 * 'exit' and 'close' until the consumer listens: the command runner attaches
 * its listeners only after the open has been awaited, and a quick command's
 * whole output can come with the line that opens the session.
 */
export class MuxChannel extends EventEmitter implements IExecChannel {
  readonly stderr = new EventEmitter();

  constructor(private readonly _child: ChildProcess) {
    super();
    // As a stream starts flowing: on the tick after the first 'data'
    // listener, so that those attached with it see everything too.
    this.on('newListener', (event: string | symbol) => {
      if (event === 'data' && !this._flowing) {
        this._flowing = true;
        process.nextTick(() => {
          const held = this._held ?? [];
          this._held = null;
          held.forEach(emit => emit());
        });
      }
    });
    _child.stdin!.on('error', () => undefined);
    _child.stdin!.on('drain', () => this.emit('drain'));
    _child.on('error', err => this._settle(err));
    _child.stdout!.on('data', (chunk: Buffer) => {
      // Output can only come from an open session.
      this._settle();
      this._send(() => this.emit('data', chunk));
    });
    _child.stderr!.on('data', (chunk: Buffer) => this._stderr(chunk));
    _child.on('exit', (code, signal) => {
      this._exit = { code, signal: signal ?? undefined };
      if (this._opened) {
        this._send(() => this.emit('exit', code, signal ?? undefined));
      }
    });
    // Decided on 'close', when every word the client said has been read.
    _child.on('close', () => {
      if (!this._settled) {
        const { code, signal } = this._exit ?? {};
        this._settle(
          new SidecarError(
            'connection-lost',
            lastLines(this._pending.toString('utf8')) ||
              `ssh exited with ${code ?? signal}`
          )
        );
        return;
      }
      if (this._opened) {
        this._flush();
        this._send(() => this.emit('close'));
      }
    });
    this._timer = setTimeout(() => {
      this._settle(
        new SidecarError(
          'channel-refused',
          `The connection's master did not open a session within ${SESSION_OPEN_TIMEOUT_MS / 1000} s.`
        )
      );
      this.close();
    }, SESSION_OPEN_TIMEOUT_MS);
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
    if (this._clientDone) {
      this._send(() => this.stderr.emit('data', chunk));
      return;
    }
    // Until the client's "master session id" line has gone by, read whole
    // lines: the client's own are dropped, the program's held (or, once the
    // session is known open from its output, passed on).
    const all = Buffer.concat([this._pending, chunk]);
    const held: Buffer[] = [];
    let from = 0;
    for (;;) {
      const nl = all.indexOf(10, from);
      if (nl < 0) {
        break;
      }
      const lineBytes = all.subarray(from, nl + 1);
      const line = lineBytes.toString('utf8').trimEnd();
      from = nl + 1;
      if (/^debug1: .*master session id:/.test(line)) {
        this._clientDone = true;
        this._pending = Buffer.concat([...held, all.subarray(from)]);
        if (this._opened) {
          // Opened earlier by output on stdout: what was held goes on now,
          // before anything the program writes next (it passes straight).
          this._flush();
        } else {
          this._settle();
        }
        return;
      }
      const refused = /session request failed: (.*)$/.exec(line);
      if (refused && !this._settled) {
        this._pending = Buffer.concat(held);
        this._settle(Object.assign(new Error(refused[1]), { reason: 2 }));
        this.close();
        return;
      }
      if (!/^OpenSSH_|^debug1: /.test(line)) {
        held.push(lineBytes);
      }
    }
    this._pending = Buffer.concat([...held, all.subarray(from)]);
    if (this._opened) {
      this._flush(true);
    }
  }

  /** Pass on what is held (only its whole lines, while still reading lines). */
  private _flush(wholeLinesOnly = false): void {
    const cut = wholeLinesOnly
      ? this._pending.lastIndexOf(10) + 1
      : this._pending.length;
    if (cut <= 0) {
      return;
    }
    const out = this._pending.subarray(0, cut);
    this._pending = this._pending.subarray(cut);
    this._send(() => this.stderr.emit('data', out));
  }

  private _settle(err?: Error): void {
    if (this._settled) {
      return;
    }
    this._settled = true;
    clearTimeout(this._timer);
    if (!err) {
      this._opened = true;
    }
    const callback = this._callback;
    this._callback = null;
    // The channel is handed out before what it held is passed on.
    callback?.(err);
    if (err) {
      return;
    }
    this._flush(!this._clientDone);
    if (this._exit) {
      const { code, signal } = this._exit;
      this._send(() => this.emit('exit', code, signal));
    }
  }

  /** Emit now, or hold it until the consumer listens ('data'). */
  private _send(emit: () => void): void {
    if (this._held) {
      this._held.push(emit);
    } else {
      emit();
    }
  }

  private _callback: ((err: Error | undefined) => void) | null = null;
  /** What the channel would have emitted before the consumer listened. */
  private _held: (() => void)[] | null = [];
  private _flowing = false;
  private _pending = Buffer.alloc(0);
  private _settled = false;
  private _opened = false;
  /** The client's "master session id" line has been read. */
  private _clientDone = false;
  private _exit: { code: number | null; signal?: string } | null = null;
  private readonly _timer: NodeJS.Timeout;
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
      child.off('close', onExit);
      child.off('error', onExit);
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
      finish(new SidecarError('disconnected', 'Connecting was stopped.'));
    let watcher: ReturnType<typeof watch> | null = null;
    try {
      watcher = watch(dir, check);
    } catch {
      watcher = null;
    }
    // fs.watch may miss events on some file systems; poll as well.
    const poll = setInterval(check, 50);
    child.once('close', onExit);
    child.once('error', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) {
      onAbort();
      return;
    }
    check();
  });
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
