/**
 * The sidecar's end of a kernel relay: one job step on a compute node
 * (relay.py, run by the user's own Python) that starts a kernel on Unix
 * sockets in its 0700 directory and carries connections to them over the
 * step's stdio.
 * Here, each of the kernel's five channels gets a listener on this
 * computer's 127.0.0.1; every connection a Jupyter client makes to one is a
 * stream of the relay (relay-protocol.ts) to the same channel on the node.
 * So nothing of the kernel listens on the cluster network, and nothing but
 * the cluster's one connection (the transport) is used to reach it. The
 * frames go over the step's stdio until the relay's link is up: a TCP
 * connection to the relay through the transport (`openStream`), proven with
 * the one-time token the relay sent in HELLO. Slurm's I/O forwarding holds
 * small writes for a delayed ACK (~40 ms per round trip); the link does not.
 * When the node cannot be reached that way, stdio carries everything. Unix
 * sockets rather than the node's 127.0.0.1, because other users of a shared
 * node could reach that (and read iopub through it); `transport: 'tcp'`
 * binds 127.0.0.1 for kernels that cannot use ipc.
 *
 *     const relay = await KernelRelay.start({ transport, command: relayCommand(...) });
 *     const kernel = await relay.startKernel({ key, signature_scheme: 'hmac-sha256' });
 *     // kernel.connection: a connection file's fields for a Jupyter client here
 *     await relay.signal('SIGINT');    // interrupt
 *     await relay.shutdown();          // kernel and step end
 */
import { createServer, type Server, type Socket } from 'net';
import { constants as osConstants } from 'os';
import { PassThrough, type Duplex } from 'stream';
import { deflateSync } from 'zlib';

import { SidecarError } from '../errors';
import type { IRemoteCommand } from '../shell/remote-command';
import type { ITransport } from '../transport/types';
import relaySource from './relay.py';
import {
  launchCommand,
  parseLaunch,
  parseWait,
  reapCommand,
  stopCommand,
  waitCommand,
  type IDetachedRelay,
  type IRelayWait
} from './relay-launch';
import {
  controlBody,
  encodeControl,
  encodeData,
  encodeFrame,
  encodeOpen,
  encodeWindow,
  FrameDecoder,
  FrameType,
  KERNEL_CHANNELS,
  RELAY_PROTOCOL_VERSION,
  STREAM_WINDOW,
  windowBytes,
  type IFrame,
  type IKernelExited,
  type IKernelStarted,
  type IRelayHello,
  type IRelayLinked,
  type IRelayLinkOffer,
  type IStartKernel,
  type KernelChannel
} from './relay-protocol';

/** The relay's source, as relay.py holds it. */
export const RELAY_SOURCE = relaySource;

/** Stderr of the step kept for error messages, in characters. */
const STDERR_KEEP = 8192;

/** How long the step may take to say HELLO (srun, Python start). */
const HELLO_TIMEOUT_MS = 60_000;

/** How long the link may take to come up before stdio carries everything. */
const LINK_TIMEOUT_MS = 5_000;

/** How long `shutdown` waits for the step to end before it stops it. */
const SHUTDOWN_WAIT_MS = 10_000;

/** The longest one wait of the launcher holds the cluster's shell. */
const WAIT_CHUNK_MS = 1_000;

/** Pauses between attempts to link again after a cut. */
const RELINK_FIRST_PAUSE_MS = 200;
const RELINK_MAX_PAUSE_MS = 5_000;
const RELINK_GRACE_MS = 10_000;

/**
 * A one-line Python program that runs the relay: its source compressed, so
 * the step's argv (shown by `ps` and `scontrol show step`) stays short and
 * needs no quoting beyond a word. No secret is in it.
 */
export function relayBootstrap(source = RELAY_SOURCE): string {
  const packed = deflateSync(Buffer.from(source, 'utf8'), {
    level: 9
  }).toString('base64');
  return `import zlib,base64;exec(zlib.decompress(base64.b64decode('${packed}')))`;
}

export interface IRelayCommandOptions {
  /** The running allocation the relay runs in, as a step. */
  jobId: string;
  /** The environment's interpreter on the node (`<prefix>/bin/python`). */
  python: string;
  /** More srun options (e.g. `--mem=…`), placed before the program. */
  srunOptions?: readonly string[];
}

/**
 * `srun --overlap --jobid J -n1 -u <python> -I -c <relay>`: the relay as one
 * more step of a running allocation (beside its batch step and other
 * kernels), its stdio carried by Slurm. `-I` keeps the user's PYTHON*
 * variables and site packages away from the relay (not from the kernel).
 */
export function relayCommand(options: IRelayCommandOptions): IRemoteCommand {
  return {
    argv: [
      'srun',
      '--overlap',
      `--jobid=${options.jobId}`,
      '--ntasks=1',
      '--unbuffered',
      ...(options.srunOptions ?? []),
      options.python,
      '-I',
      '-c',
      relayBootstrap()
    ]
  };
}

/** The same relay run directly (no Slurm), for "This computer" and tests. */
export function directRelayCommand(python: string): IRemoteCommand {
  return { argv: [python, '-I', '-c', relayBootstrap()] };
}

/** Whether the launcher has seen the step end (it wrote a status). */
function ended(wait: IRelayWait | null): boolean {
  return typeof wait?.status === 'number';
}

/** How a relay ended. */
export interface IRelayEnd {
  /** The step's exit status, or null when it is not known. */
  exitCode: number | null;
  /** Why, in a sentence (the step's last words when it failed). */
  reason: string;
}

export interface IRelayedKernel {
  /** The kernel's pid on the node. */
  pid: number;
  /**
   * The kernel's ports on the node's 127.0.0.1 ('tcp'), or the numbers of
   * its Unix sockets in the relay's private directory ('ipc').
   */
  remotePorts: Record<KernelChannel, number>;
  /** How the kernel listens on the node. */
  remoteTransport: 'tcp' | 'ipc';
  /** The listeners on this computer, one per channel. */
  localPorts: Record<KernelChannel, number>;
  /** A connection file's fields for clients on this computer. */
  connection: {
    ip: '127.0.0.1';
    transport: 'tcp';
    key: string;
    signature_scheme: string;
    shell_port: number;
    iopub_port: number;
    stdin_port: number;
    control_port: number;
    hb_port: number;
  };
  /** Resolves when the kernel process has ended. */
  exited: Promise<IKernelExited>;
}

export interface IKernelRelayOptions {
  transport: ITransport;
  /** relayCommand(…) (or directRelayCommand on this computer). */
  command: IRemoteCommand;
  /** For messages: the cluster's name. */
  label?: string;
  helloTimeoutMs?: number;
  /** Every piece of the step's stderr (srun, the relay, the kernel's own). */
  onStderr?: (text: string) => void;
  /** Take the relay's link when it offers one (default true). */
  link?: boolean;
  linkTimeoutMs?: number;
  /**
   * Start the relay in the background (relay-launch.ts) and carry frames
   * only over its link, which is made again after a cut; without a link for
   * `lingerSeconds` the relay ends. When no link can be made, the relay is
   * started again with its stdio attached.
   */
  detach?: { lingerSeconds: number };
}

interface IStream {
  socket: Socket;
  /** Bytes we may still send to the relay. */
  credit: number;
  /** Bytes handed to the client, not yet given back to the relay as credit. */
  consumed: number;
  /** We sent Close (or got it): no more frames for it. */
  closed: boolean;
  /** The kernel's port it goes to. */
  remotePort: number;
}

type Pending<T> = { resolve: (v: T) => void; reject: (e: Error) => void };

/** See KernelRelay.iopubBack. */
const IOPUB_SETTLE_MS = 250;

export class KernelRelay {
  private constructor(
    private readonly _options: IKernelRelayOptions,
    private readonly _input: PassThrough
  ) {}

  /**
   * Run the relay step and wait for its HELLO. Rejects with a SidecarError
   * ('kernel-relay-failed') when it ends first (srun's refusal is in the message)
   * or says nothing in time.
   */
  static async start(options: IKernelRelayOptions): Promise<KernelRelay> {
    if (options.detach && options.link !== false) {
      const relay = await KernelRelay._startDetached(options, options.detach);
      if (relay) {
        return relay;
      }
    }
    return KernelRelay._startAttached(options);
  }

  private static async _startAttached(
    options: IKernelRelayOptions
  ): Promise<KernelRelay> {
    const input = new PassThrough();
    const relay = new KernelRelay(options, input);
    const timeout = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    const hello = await new Promise<IRelayHello>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      // Counted from when the command runs: a start that waits for a free
      // SSH channel (the server's MaxSessions) has not begun yet.
      const onStart = (): void => {
        if (!relay._helloWaiter) {
          return;
        }
        timer = setTimeout(() => {
          reject(
            relay._failure(
              `The kernel relay did not start in ${timeout / 1000} s.`
            )
          );
          relay._abort.abort();
        }, timeout);
      };
      relay._helloWaiter = {
        resolve: h => {
          clearTimeout(timer);
          resolve(h);
        },
        reject: e => {
          clearTimeout(timer);
          reject(e);
        }
      };
      relay._run(onStart);
    });
    if (hello.version !== RELAY_PROTOCOL_VERSION) {
      relay._abort.abort();
      throw relay._failure(
        `The kernel relay speaks protocol ${hello.version}, not ${RELAY_PROTOCOL_VERSION}.`
      );
    }
    relay.hello = hello;
    if (hello.link && options.link !== false) {
      await relay._openLink(hello.link);
    }
    return relay;
  }

  /**
   * Launch the relay in the background and link to it. Null when it ran but
   * no link could be made (it is stopped again): the caller starts it
   * attached. Rejects like `start` when it could not run at all.
   */
  private static async _startDetached(
    options: IKernelRelayOptions,
    detach: { lingerSeconds: number }
  ): Promise<KernelRelay | null> {
    const relay = new KernelRelay(options, new PassThrough());
    relay._lingerMs = detach.lingerSeconds * 1000;
    const timeout = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    const started = Date.now();
    const out = await relay._runScript(
      launchCommand(options.command, detach.lingerSeconds, WAIT_CHUNK_MS)
    );
    if (out === null) {
      throw relay._failure(
        `The kernel relay could not be started on ${relay._label}.${relay._lastWords()}`
      );
    }
    let launched: ReturnType<typeof parseLaunch>;
    try {
      launched = parseLaunch(out);
    } catch (err) {
      throw relay._failure(`${(err as Error).message}${relay._lastWords()}`);
    }
    relay._detached = launched;
    let wait: IRelayWait | null = launched.wait;
    while (!wait?.hello && !ended(wait)) {
      if (Date.now() - started > timeout) {
        await relay._stopDetached(0);
        throw relay._failure(
          `The kernel relay did not start in ${timeout / 1000} s.`
        );
      }
      wait = await relay._wait(WAIT_CHUNK_MS);
    }
    const hello = wait?.hello;
    if (!hello) {
      await relay._finishDetached(wait);
      throw relay._failure((await relay.ended).reason);
    }
    relay.hello = hello;
    if (hello.version !== RELAY_PROTOCOL_VERSION) {
      await relay._stopDetached(0);
      throw relay._failure(
        `The kernel relay speaks protocol ${hello.version}, not ${RELAY_PROTOCOL_VERSION}.`
      );
    }
    if (hello.link && (await relay._openLink(hello.link))) {
      return relay;
    }
    options.onStderr?.(
      'relay: started again with its stdio attached, as no link could be made\n'
    );
    await relay._stopDetached(SHUTDOWN_WAIT_MS);
    return null;
  }

  /**
   * Take up a detached relay again (a sidecar started anew): link with the
   * token its launcher kept, and open the kernel's listeners on the ports
   * its clients know. Rejects ('kernel-relay-failed') when the relay or its
   * kernel is gone, or a port is taken.
   */
  static async resume(
    options: IKernelRelayOptions & {
      detach: { lingerSeconds: number };
      handle: IDetachedRelay;
      ports: Record<KernelChannel, number>;
      signatureScheme: string;
    }
  ): Promise<KernelRelay> {
    const relay = new KernelRelay(options, new PassThrough());
    relay._lingerMs = options.detach.lingerSeconds * 1000;
    relay._detached = options.handle;
    const wait = await relay._wait(0);
    if (!wait?.hello || wait.status !== null) {
      await relay._finishDetached(wait);
      throw relay._failure(
        ended(wait)
          ? `The kernel ended while the sidecar was away. ${(await relay.ended).reason}`
          : `The kernel's relay on ${relay._label} is not there any more.${relay._lastWords()}`
      );
    }
    relay.hello = wait.hello;
    if (!wait.hello.link || !(await relay._openLink(wait.hello.link))) {
      await relay._stopDetached(0);
      throw relay._failure(
        `The kernel's relay on ${relay._label} could not be linked again.${relay._lastWords()}`
      );
    }
    const started = relay._linkedState?.started;
    if (!started) {
      await relay._stopDetached(SHUTDOWN_WAIT_MS);
      throw relay._failure('The kernel ended while the sidecar was away.');
    }
    try {
      // The provisioner holds the key; nothing here needs it.
      await relay._openKernel(
        started,
        '',
        options.signatureScheme,
        options.ports
      );
    } catch (err) {
      await relay._stopDetached(SHUTDOWN_WAIT_MS);
      throw err;
    }
    return relay;
  }

  /** What the relay said at start (its pid and host on the node). */
  hello!: IRelayHello;

  /**
   * Resolves true once a client's iopub connection carries the kernel's
   * bytes (false after `timeoutMs`). After a resume or a cut, clients
   * connect again in any order, and what the kernel publishes before the
   * Jupyter server's iopub is back is lost: a cell run at once would get
   * its reply on shell and none of its output. So a kernel is said to be
   * back only once this resolved. (A client that comes back later than the
   * first, or a cell run while none is back, can still miss output: the
   * kernel publishes to whoever is subscribed.)
   */
  iopubBack(timeoutMs: number): Promise<boolean> {
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this._iopubWaiters = this._iopubWaiters.filter(w => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = (back: boolean): void => {
        clearTimeout(timer);
        resolve(back);
      };
      this._iopubWaiters.push(waiter);
    });
  }

  /** Where a detached relay runs, for a sidecar that takes it up again. */
  get handle(): IDetachedRelay | null {
    return this._detached ? { ...this._detached } : null;
  }

  /** The kernel now running, if any. */
  get kernel(): IRelayedKernel | null {
    return this._kernel;
  }

  /** Resolves when the step has ended, whatever the reason. */
  get ended(): Promise<IRelayEnd> {
    return this._ended;
  }

  /** True while the frames go over the link rather than the step's stdio. */
  get linked(): boolean {
    return this._link !== null;
  }

  /** The step's last words on stderr (srun, the relay, the kernel). */
  get stderrTail(): string {
    return this._stderr;
  }

  /**
   * Start a kernel on the node (one at a time; after one has exited,
   * another may start in the same step: a restart keeps the allocation) and
   * open this computer's listeners for it.
   */
  async startKernel(request: IStartKernel): Promise<IRelayedKernel> {
    this._checkOpen();
    if (this._kernel) {
      throw new SidecarError(
        'kernel-relay-failed',
        'A kernel is already running in this relay.'
      );
    }
    if (this._startWaiter) {
      throw new SidecarError(
        'kernel-relay-failed',
        'A kernel is already starting.'
      );
    }
    const started = new Promise<IKernelStarted>((resolve, reject) => {
      this._startWaiter = { resolve, reject };
    });
    this._send(encodeControl(FrameType.Start, request));
    const info = await started;
    return this._openKernel(info, request.key, request.signature_scheme);
  }

  /**
   * The kernel's listeners here (on `ports` when given: a resumed kernel
   * keeps the ports its clients know) and its record.
   */
  private async _openKernel(
    info: IKernelStarted,
    key: string,
    signatureScheme: string,
    ports?: Record<KernelChannel, number>
  ): Promise<IRelayedKernel> {
    const servers = await Promise.all(
      KERNEL_CHANNELS.map(channel =>
        this._listen(info.ports[channel], ports?.[channel])
      )
    ).catch(err => {
      throw this._failure(
        `The kernel's ports on this computer could not be opened again: ${(err as Error).message}`
      );
    });
    const localPorts = {} as Record<KernelChannel, number>;
    KERNEL_CHANNELS.forEach((channel, i) => {
      localPorts[channel] = (servers[i].address() as { port: number }).port;
    });
    let exitedResolve!: (e: IKernelExited) => void;
    const exited = new Promise<IKernelExited>(r => (exitedResolve = r));
    const kernel: IRelayedKernel = {
      pid: info.pid,
      remotePorts: info.ports,
      remoteTransport: info.transport,
      localPorts,
      connection: {
        ip: '127.0.0.1',
        transport: 'tcp',
        key,
        signature_scheme: signatureScheme,
        shell_port: localPorts.shell,
        iopub_port: localPorts.iopub,
        stdin_port: localPorts.stdin,
        control_port: localPorts.control,
        hb_port: localPorts.hb
      },
      exited
    };
    this._kernel = kernel;
    this._servers = servers;
    this._exitedResolve = exitedResolve;
    if (this._pendingExit) {
      // It ended while the listeners were being opened.
      this._kernelEnded(this._pendingExit);
    }
    return kernel;
  }

  /** Send a signal to the kernel's process group (SIGINT interrupts). */
  signal(signal: NodeJS.Signals | number): void {
    this._checkOpen();
    const number =
      typeof signal === 'number' ? signal : osConstants.signals[signal];
    if (number === undefined) {
      throw new SidecarError('bad-request', `Unknown signal ${signal}.`);
    }
    this._send(encodeControl(FrameType.Signal, { signal: number }));
  }

  /**
   * Stop the kernel (SIGTERM, SIGKILL after 3 s) and end the step. Resolves
   * when the step has ended; stops it through the transport when it does not
   * end in time.
   */
  async shutdown(waitMs = SHUTDOWN_WAIT_MS): Promise<IRelayEnd> {
    if (this._detached) {
      if (!this._done && !this._stopping) {
        void this._stopDetached(waitMs);
      }
      return this._ended;
    }
    if (!this._done) {
      this._send(encodeFrame(FrameType.Shutdown, 0));
      this._flush();
      this._input.end();
      const timer = setTimeout(() => this._abort.abort(), waitMs);
      await this._ended;
      clearTimeout(timer);
    }
    return this._ended;
  }

  /**
   * Let go of a detached relay without stopping it, as a sidecar that exits
   * would: the listeners and the link close, and the relay waits its linger
   * time for a next sidecar (`resume`).
   */
  abandon(): void {
    if (!this._detached || this._done) {
      return;
    }
    this._stopping = true;
    this._finish({
      exitCode: null,
      reason: 'The kernel relay was left to the next sidecar.'
    });
  }

  private _run(onStart: () => void): void {
    const onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      if (stream === 'stderr') {
        const text = chunk.toString('utf8');
        this._stderr = (this._stderr + text).slice(-STDERR_KEEP);
        this._options.onStderr?.(text);
        return;
      }
      let frames: IFrame[];
      try {
        frames = this._decoder.push(chunk);
      } catch (err) {
        this._protocolError = (err as Error).message;
        this._abort.abort();
        return;
      }
      for (const frame of frames) {
        this._onFrame(frame);
      }
    };
    this._options.transport
      .run(this._options.command, {
        onOutput,
        stdin: this._input,
        signal: this._abort.signal,
        onStart,
        maxOutputBytes: 64 * 1024
      })
      .then(
        out =>
          this._finish({
            exitCode: out.exitCode,
            reason:
              out.exitCode === 0
                ? 'The kernel relay ended.'
                : `The kernel relay ended with status ${out.exitCode}.${this._lastWords()}`
          }),
        (err: Error) =>
          this._finish({
            exitCode: null,
            reason: this._protocolError
              ? `The kernel relay sent something that is not a frame (${this._protocolError}).${this._lastWords()}`
              : `${err.message}${this._lastWords()}`
          })
      );
  }

  /**
   * Connect to the relay's listener through the transport and prove the
   * token; on any failure the stream is dropped and stdio stays.
   */
  private async _openLink(offer: IRelayLinkOffer): Promise<boolean> {
    const host = this.hello.node || this.hello.host;
    const timeoutMs = this._options.linkTimeoutMs ?? LINK_TIMEOUT_MS;
    let stream: Duplex | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Set once this attempt has given up: a stream that comes later (the
    // transport was reconnecting) must not become the link.
    let gaveUp = false;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${timeoutMs / 1000} s`)),
          timeoutMs
        );
        this._options.transport.openStream(host, offer.port).then(s => {
          if (gaveUp || this._done) {
            s.destroy();
            return;
          }
          stream = s;
          const decoder = new FrameDecoder();
          s.on('data', (chunk: Buffer) => {
            let frames: IFrame[];
            try {
              frames = decoder.push(chunk);
            } catch (err) {
              reject(err as Error);
              s.destroy();
              return;
            }
            for (const frame of frames) {
              if (frame.type === FrameType.Linked) {
                if (gaveUp || this._done) {
                  s.destroy();
                  return;
                }
                this._link = s;
                if (frame.payload.length > 0) {
                  this._linkedState = controlBody<IRelayLinked>(frame);
                  this._relinked(this._linkedState);
                }
                resolve();
              } else {
                this._onFrame(frame);
              }
            }
          });
          s.on('error', () => undefined);
          s.once('close', () => {
            reject(new Error('the connection closed'));
            this._linkClosed(s);
          });
          s.write(Buffer.from(offer.token, 'ascii'));
        }, reject);
      });
      return true;
    } catch (err) {
      gaveUp = true;
      (stream as Duplex | null)?.destroy();
      this._options.onStderr?.(
        `relay: no link to ${host}:${offer.port} (${(err as Error).message})${this._detached ? '' : "; the step's stdio carries the kernel"}\n`
      );
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The link closed: stdio carries on; streams in flight are cut, clients connect again. */
  private _linkClosed(stream: Duplex): void {
    if (this._link !== stream) {
      return;
    }
    this._link = null;
    this._queued = [];
    if (!this._done && !this._detached) {
      this._options.onStderr?.('relay: the link closed; back to stdio\n');
    }
    for (const s of this._streams.values()) {
      s.closed = true;
      s.socket.destroy();
    }
    this._streams.clear();
    if (this._detached && !this._done && !this._stopping) {
      void this._relink();
    }
  }

  /**
   * A detached relay's link is gone: link again (the transport reconnects
   * first), until the relay is known to have ended or has waited its linger
   * time for us, whichever comes first.
   */
  private async _relink(): Promise<void> {
    if (this._relinking) {
      return;
    }
    this._relinking = true;
    this._options.onStderr?.('relay: the link closed; linking again\n');
    // The relay gives up first and says so; we give up only when we could
    // not even learn that.
    const deadline = Date.now() + this._lingerMs + RELINK_GRACE_MS;
    let pause = RELINK_FIRST_PAUSE_MS;
    try {
      while (!this._done && !this._stopping && !this._link) {
        if (this.hello.link && (await this._openLink(this.hello.link))) {
          this._options.onStderr?.('relay: linked again\n');
          return;
        }
        const wait = await this._wait(0);
        if (ended(wait) || wait?.gone) {
          await this._finishDetached(wait);
          return;
        }
        if (Date.now() > deadline) {
          this._reachable = false;
          await this._stopDetached(0);
          return;
        }
        await new Promise(resolve => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, RELINK_MAX_PAUSE_MS);
      }
    } finally {
      this._relinking = false;
    }
  }

  /** LINKED after a cut: what happened to the kernel meanwhile. */
  private _relinked(state: IRelayLinked): void {
    const kernel = this._kernel;
    if (kernel && state.started?.pid !== kernel.pid) {
      this._kernelEnded(
        state.exited?.pid === kernel.pid
          ? state.exited
          : { pid: kernel.pid, code: null, signal: null }
      );
    }
    if (this._startWaiter && !state.starting) {
      if (state.started && !kernel) {
        this._startWaiter.resolve(state.started);
      } else {
        this._startWaiter.reject(
          this._failure(
            `The connection to ${this._label} was cut while the kernel started.`
          )
        );
      }
      this._startWaiter = null;
    }
  }

  /**
   * Stop a detached relay: SHUTDOWN over the link (or TERM to its launcher
   * when there is none), KILL after `waitMs`; then its end is collected and
   * its directory removed.
   */
  private async _stopDetached(waitMs: number): Promise<void> {
    if (this._stopping || this._done) {
      return this._ended.then(() => undefined);
    }
    this._stopping = true;
    const relay = this._detached!;
    if (this._link) {
      this._send(encodeFrame(FrameType.Shutdown, 0));
      this._flush();
    } else {
      await this._runScript(stopCommand(relay, 'TERM'));
    }
    const deadline = Date.now() + waitMs;
    let wait: IRelayWait | null = null;
    do {
      wait = await this._wait(
        Math.max(0, Math.min(WAIT_CHUNK_MS, deadline - Date.now()))
      );
    } while (
      !ended(wait) &&
      !wait?.gone &&
      Date.now() < deadline &&
      !this._done
    );
    if (!ended(wait) && !wait?.gone && !this._done) {
      await this._runScript(stopCommand(relay, 'KILL'));
      wait = await this._wait(WAIT_CHUNK_MS);
    }
    await this._finishDetached(wait);
  }

  /** The detached relay has ended (or is given up): remove its directory, say why. */
  private async _finishDetached(wait: IRelayWait | null): Promise<void> {
    if (this._done || this._finishing) {
      return;
    }
    this._finishing = true;
    if (wait?.stderr) {
      this._stderr = (this._stderr + wait.stderr).slice(-STDERR_KEEP);
    }
    const status = wait?.status ?? null;
    let reason: string;
    if (!this._reachable) {
      reason = `The kernel relay on ${this._label} could not be reached for ${(this._lingerMs + RELINK_GRACE_MS) / 1000} s, and was given up.`;
    } else if (wait?.gone) {
      reason = `The kernel relay on ${this._label} has ended.`;
    } else if (status === null) {
      reason = `The kernel relay on ${this._label} did not end when asked, and was killed.`;
    } else if (status === 0) {
      reason = 'The kernel relay ended.';
    } else {
      reason = `The kernel relay ended with status ${status}.${this._lastWords()}`;
    }
    if (this._reachable && !wait?.gone) {
      await this._runScript(reapCommand(this._detached!.dir));
    }
    this._finish({ exitCode: status, reason });
  }

  /** `wait` of the launcher; null when it could not be asked (no connection). */
  private async _wait(waitMs: number): Promise<IRelayWait | null> {
    const out = await this._runScript(waitCommand(this._detached!.dir, waitMs));
    return out === null ? null : parseWait(out);
  }

  /** One launcher script on the cluster's shell: its stdout, or null. */
  private async _runScript(command: IRemoteCommand): Promise<string | null> {
    try {
      const out = await this._options.transport.run(command, {
        maxOutputBytes: 256 * 1024
      });
      if (out.exitCode !== 0) {
        this._stderr = (this._stderr + out.stderr.toString('utf8')).slice(
          -STDERR_KEEP
        );
        return null;
      }
      return out.stdout.toString('utf8');
    } catch (err) {
      this._stderr = (this._stderr + (err as Error).message).slice(
        -STDERR_KEEP
      );
      return null;
    }
  }

  private _onFrame(frame: IFrame): void {
    switch (frame.type) {
      case FrameType.Data: {
        const stream = this._streams.get(frame.stream);
        if (!stream || stream.closed) {
          return;
        }
        const n = frame.payload.length;
        if (
          stream.remotePort === this._kernel?.remotePorts.iopub &&
          this._iopubWaiters.length > 0
        ) {
          // The kernel's greeting: the client subscribes after one more
          // exchange of the handshake, which this leaves time for.
          const waiters = this._iopubWaiters.splice(0);
          setTimeout(() => waiters.forEach(w => w(true)), IOPUB_SETTLE_MS);
        }
        stream.socket.write(frame.payload, () => {
          // Credit goes back in large steps only: no extra frame per message.
          stream.consumed += n;
          if (!stream.closed && stream.consumed >= STREAM_WINDOW / 2) {
            this._send(encodeWindow(frame.stream, stream.consumed));
            stream.consumed = 0;
          }
        });
        return;
      }
      case FrameType.Window: {
        const stream = this._streams.get(frame.stream);
        if (stream) {
          stream.credit += windowBytes(frame);
          if (stream.credit > 0) {
            stream.socket.resume();
          }
        }
        return;
      }
      case FrameType.Close: {
        const stream = this._streams.get(frame.stream);
        if (stream) {
          stream.closed = true;
          this._streams.delete(frame.stream);
          stream.socket.end();
        }
        return;
      }
      case FrameType.Hello:
        this._helloWaiter?.resolve(controlBody<IRelayHello>(frame));
        this._helloWaiter = null;
        return;
      case FrameType.Started:
        this._pendingExit = null;
        this._startWaiter?.resolve(controlBody<IKernelStarted>(frame));
        this._startWaiter = null;
        return;
      case FrameType.Exited:
        this._kernelEnded(controlBody<IKernelExited>(frame));
        return;
      case FrameType.Error: {
        const { message } = controlBody<{ message: string }>(frame);
        const err = new SidecarError(
          'kernel-relay-failed',
          `The kernel relay on ${this._label} says: ${message}`
        );
        if (this._startWaiter) {
          this._startWaiter.reject(err);
          this._startWaiter = null;
        } else {
          this._options.onStderr?.(`relay: ${message}\n`);
        }
        return;
      }
      default:
        // Frames only the relay reads: ignore them.
        return;
    }
  }

  private _kernelEnded(exit: IKernelExited): void {
    if (!this._kernel || this._kernel.pid !== exit.pid) {
      this._pendingExit = exit;
      return;
    }
    this._pendingExit = null;
    this._closeListeners();
    this._kernel = null;
    this._exitedResolve?.(exit);
    this._exitedResolve = null;
  }

  /** A listener on this computer's 127.0.0.1 for one kernel port. */
  private _listen(remotePort: number, localPort = 0): Promise<Server> {
    const server = createServer({ noDelay: true }, socket =>
      this._accept(socket, remotePort)
    );
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(localPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  private _accept(socket: Socket, remotePort: number): void {
    if (this._done || (this._detached && !this._link)) {
      // Linking again: the client tries again in a moment.
      socket.destroy();
      return;
    }
    const id = this._nextStream++;
    const stream: IStream = {
      socket,
      credit: STREAM_WINDOW,
      consumed: 0,
      closed: false,
      remotePort
    };
    this._streams.set(id, stream);
    socket.setNoDelay(true);
    this._send(encodeOpen(id, remotePort));
    socket.on('data', (chunk: Buffer) => {
      if (stream.closed) {
        return;
      }
      for (const frame of encodeData(id, chunk)) {
        this._send(frame);
      }
      stream.credit -= chunk.length;
      if (stream.credit <= 0) {
        socket.pause();
      }
    });
    const close = (): void => {
      if (!stream.closed) {
        stream.closed = true;
        this._streams.delete(id);
        this._send(encodeFrame(FrameType.Close, id));
      }
    };
    socket.on('end', () => {
      close();
      socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', close);
  }

  /**
   * Frames queued in one turn of the event loop go out in one write: each
   * small write on a path with Nagle's algorithm (sshd's and srun's sockets)
   * can wait for a delayed ACK.
   */
  private _send(frame: Buffer): void {
    if (this._done || !this._input.writable) {
      return;
    }
    this._queued.push(frame);
    if (this._queued.length === 1) {
      setImmediate(() => this._flush());
    }
  }

  private _flush(): void {
    const frames = this._queued;
    this._queued = [];
    if (this._detached && !this._link) {
      return; // LINKED tells us what we missed
    }
    if (frames.length > 0 && !this._done && this._input.writable) {
      (this._link ?? this._input).write(
        frames.length === 1 ? frames[0] : Buffer.concat(frames)
      );
    }
  }

  private _closeListeners(): void {
    for (const server of this._servers) {
      server.close();
    }
    this._servers = [];
    for (const stream of this._streams.values()) {
      stream.closed = true;
      stream.socket.destroy();
    }
    this._streams.clear();
  }

  private _finish(end: IRelayEnd): void {
    if (this._done) {
      return;
    }
    this._done = true;
    this._end = end;
    this._closeListeners();
    this._input.end();
    this._link?.destroy();
    this._link = null;
    const err = this._failure(end.reason);
    this._helloWaiter?.reject(err);
    this._helloWaiter = null;
    this._startWaiter?.reject(err);
    this._startWaiter = null;
    if (this._kernel) {
      const pid = this._kernel.pid;
      this._kernel = null;
      this._exitedResolve?.({ pid, code: null, signal: null });
      this._exitedResolve = null;
    }
    this._endResolve(end);
  }

  private _checkOpen(): void {
    if (this._done) {
      throw this._failure(this._end?.reason ?? 'The kernel relay has ended.');
    }
  }

  private _failure(message: string): SidecarError {
    return new SidecarError('kernel-relay-failed', message);
  }

  private _lastWords(): string {
    const said = this._stderr.trim().split('\n').slice(-5).join('\n');
    return said ? ` It said: ${said}` : '';
  }

  private get _label(): string {
    return this._options.label ?? 'the cluster';
  }

  private _detached: IDetachedRelay | null = null;
  private _linkedState: IRelayLinked | null = null;
  private _lingerMs = 0;
  private _stopping = false;
  private _relinking = false;
  private _finishing = false;
  /** False once a detached relay was given up for want of a link. */
  private _reachable = true;
  private _endResolve!: (end: IRelayEnd) => void;
  private readonly _ended = new Promise<IRelayEnd>(
    resolve => (this._endResolve = resolve)
  );
  private readonly _abort = new AbortController();
  private readonly _decoder = new FrameDecoder();
  private readonly _streams = new Map<number, IStream>();
  private _queued: Buffer[] = [];
  private _iopubWaiters: ((back: boolean) => void)[] = [];
  private _link: Duplex | null = null;
  private _nextStream = 1;
  private _servers: Server[] = [];
  private _kernel: IRelayedKernel | null = null;
  private _exitedResolve: ((e: IKernelExited) => void) | null = null;
  private _pendingExit: IKernelExited | null = null;
  private _helloWaiter: Pending<IRelayHello> | null = null;
  private _startWaiter: Pending<IKernelStarted> | null = null;
  private _stderr = '';
  private _protocolError: string | null = null;
  private _end: IRelayEnd | null = null;
  private _done = false;
}
