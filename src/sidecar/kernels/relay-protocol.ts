/**
 * The framed protocol between the sidecar and the node-side kernel relay
 * (relay.py), carried over the stdin and stdout of one `srun` step, or over
 * the relay's link (a TCP connection through the cluster's SSH connection,
 * opened with the one-time token of HELLO; relay.py says why). Pure:
 * encoding and decoding only.
 *
 * A frame is a 9-byte header, then the payload:
 *
 *     type (u8) | stream id (u32, big-endian) | payload length (u32) | payload
 *
 * Streams are TCP connections to the kernel's ports on the node, opened by
 * the sidecar (ids are the sidecar's, never 0). Stream 0 carries control
 * frames whose payload is UTF-8 JSON. Data frames are flow-controlled with
 * credit: each side may send at most STREAM_WINDOW bytes of a stream that
 * the other side has not yet handed on (plus one read's worth), so one slow
 * reader stalls only its own stream, never the step's stdio. Credit comes
 * back in WINDOW frames of at least half the window, so small messages cost
 * no extra frame.
 *
 * relay.py holds the same numbers; tests/unit/sidecar/kernel-relay.spec.ts
 * runs both ends against each other.
 */

export const FRAME_HEADER_BYTES = 9;

/** Largest payload of one frame; longer data is cut into several. */
export const MAX_FRAME_PAYLOAD = 256 * 1024;

/** Credit per stream and direction, in bytes. */
export const STREAM_WINDOW = 1024 * 1024;

/** Sent in HELLO by the relay; the sidecar refuses any other. */
export const RELAY_PROTOCOL_VERSION = 2;

export enum FrameType {
  /** sidecar → relay: connect a new stream; payload: the port (u16). */
  Open = 1,
  /** Both ways: bytes of a stream. */
  Data = 2,
  /**
   * Both ways: the stream is over (after its last Data). Payload: an
   * optional UTF-8 reason (a connect error).
   */
  Close = 3,
  /** Both ways: credit given back; payload: the byte count (u32). */
  Window = 4,
  /** relay → sidecar, once at start: {version, pid, host, python}. */
  Hello = 16,
  /** sidecar → relay: start a kernel (IStartKernel). */
  Start = 17,
  /** relay → sidecar: the kernel runs and listens on every port (IKernelStarted). */
  Started = 18,
  /** relay → sidecar: the kernel ended (IKernelExited). */
  Exited = 19,
  /** sidecar → relay: send a signal to the kernel's process group ({signal}). */
  Signal = 20,
  /** sidecar → relay: stop the kernel and the relay. */
  Shutdown = 21,
  /** relay → sidecar: a request could not be done ({message}). */
  Error = 22,
  /**
   * relay → sidecar, on the link: the token was right; frames go here now.
   * A detached relay adds what runs (IRelayLinked): after a cut, the frames
   * it could not send are lost, and this is what they would have said.
   */
  Linked = 23,
  /**
   * relay → sidecar, on stdio: nothing. Ends a write whose end could be
   * the start of the command runner's end marker ('##jlhpc:…'): the runner
   * holds such an end back until more output comes, which in a request and
   * answer protocol may be never.
   */
  Pad = 24
}

export interface IFrame {
  type: FrameType;
  stream: number;
  payload: Buffer;
}

/** What the relay says when it starts. */
export interface IRelayHello {
  version: number;
  /** The relay's pid on the node. */
  pid: number;
  /** The node's host name. */
  host: string;
  /** The interpreter running the relay (sys.executable). */
  python: string;
  /** The Slurm step running the relay (`<job>.<step>`); null outside Slurm. */
  step?: string | null;
  /** Slurm's name of the node (SLURMD_NODENAME); null outside Slurm. */
  node?: string | null;
  /**
   * Where the relay waits for the link: a TCP port on every address of the
   * node, and the one-time token a connection must send first. Null when it
   * could not listen (then stdio only).
   */
  link?: IRelayLinkOffer | null;
}

export interface IRelayLinkOffer {
  port: number;
  /** Hex; sent back as its ASCII bytes, nothing before it. */
  token: string;
}

/**
 * Start one kernel. The key travels only in this frame: never in argv, the
 * environment or a file others can read.
 */
export interface IStartKernel {
  /** The HMAC key, as in a connection file. */
  key: string;
  signature_scheme: string;
  /**
   * The kernel's command; `{connection_file}` is replaced by the file's
   * path. Default: the relay's own Python with `-m ipykernel_launcher -f`.
   */
  argv?: string[];
  /** Working directory (default: the relay's, i.e. the step's). */
  cwd?: string;
  /** Variables added to the step's environment. */
  env?: Record<string, string>;
  /**
   * How the kernel listens on the node: 'ipc' (default) on Unix sockets in
   * the relay's 0700 directory, which only the user can reach; 'tcp' on
   * 127.0.0.1, which every user of the same node can reach (and read iopub
   * through), for kernels that cannot use ipc.
   */
  transport?: 'tcp' | 'ipc';
}

export type KernelChannel = 'shell' | 'iopub' | 'stdin' | 'control' | 'hb';

export const KERNEL_CHANNELS: readonly KernelChannel[] = [
  'shell',
  'iopub',
  'stdin',
  'control',
  'hb'
];

export interface IKernelStarted {
  pid: number;
  /**
   * The kernel's ports on the node's 127.0.0.1, or with 'ipc' the numbers
   * of its sockets (`<dir>/kernel-<n>`); Open frames name these.
   */
  ports: Record<KernelChannel, number>;
  transport: 'tcp' | 'ipc';
}

/** The body of a detached relay's LINKED. */
export interface IRelayLinked {
  /** The running kernel, as its STARTED said; null when none runs. */
  started: IKernelStarted | null;
  /** How the last kernel ended, when it has. */
  exited: IKernelExited | null;
  /** A kernel is starting (its STARTED or ERROR is still to come). */
  starting: boolean;
}

export interface IKernelExited {
  pid: number;
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  /** The signal number that ended it, or null. */
  signal: number | null;
}

export class RelayProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayProtocolError';
  }
}

const MAX_STREAM_ID = 0xffffffff;

/** One frame, header and payload, as one buffer. */
export function encodeFrame(
  type: FrameType,
  stream: number,
  payload: Buffer = EMPTY
): Buffer {
  if (!Number.isInteger(stream) || stream < 0 || stream > MAX_STREAM_ID) {
    throw new RelayProtocolError(`bad stream id ${stream}`);
  }
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new RelayProtocolError(
      `a frame payload of ${payload.length} bytes is over ${MAX_FRAME_PAYLOAD}`
    );
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32BE(stream, 1);
  frame.writeUInt32BE(payload.length, 5);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Data of any length as Data frames of at most MAX_FRAME_PAYLOAD each. */
export function encodeData(stream: number, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_FRAME_PAYLOAD) {
    frames.push(
      encodeFrame(
        FrameType.Data,
        stream,
        data.subarray(at, at + MAX_FRAME_PAYLOAD)
      )
    );
  }
  return frames;
}

export function encodeControl(type: FrameType, body: unknown): Buffer {
  return encodeFrame(type, 0, Buffer.from(JSON.stringify(body), 'utf8'));
}

export function encodeOpen(stream: number, port: number): Buffer {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RelayProtocolError(`bad port ${port}`);
  }
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(port, 0);
  return encodeFrame(FrameType.Open, stream, payload);
}

export function encodeWindow(stream: number, bytes: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(bytes, 0);
  return encodeFrame(FrameType.Window, stream, payload);
}

/** The count of a Window frame. */
export function windowBytes(frame: IFrame): number {
  if (frame.payload.length !== 4) {
    throw new RelayProtocolError('a window frame carries 4 bytes');
  }
  return frame.payload.readUInt32BE(0);
}

/** The JSON body of a control frame. */
export function controlBody<T>(frame: IFrame): T {
  try {
    return JSON.parse(frame.payload.toString('utf8')) as T;
  } catch (err) {
    throw new RelayProtocolError(
      `control frame ${frame.type} is not JSON: ${(err as Error).message}`
    );
  }
}

const KNOWN_TYPES = new Set<number>(
  Object.values(FrameType).filter((v): v is number => typeof v === 'number')
);

/**
 * Turns a byte stream cut anywhere into frames. Throws RelayProtocolError on
 * an unknown type or an oversized length: the stream is then garbage (the
 * relay died mid-frame, or something else wrote to its stdout).
 */
export class FrameDecoder {
  /** Feed bytes; returns the frames they complete, in order. */
  push(chunk: Buffer): IFrame[] {
    if (chunk.length === 0) {
      return [];
    }
    this._chunks.push(chunk);
    this._buffered += chunk.length;
    const frames: IFrame[] = [];
    for (;;) {
      if (this._buffered < FRAME_HEADER_BYTES) {
        break;
      }
      const head = this._peek(FRAME_HEADER_BYTES);
      const type = head.readUInt8(0);
      const length = head.readUInt32BE(5);
      if (!KNOWN_TYPES.has(type)) {
        throw new RelayProtocolError(`unknown frame type ${type}`);
      }
      if (length > MAX_FRAME_PAYLOAD) {
        throw new RelayProtocolError(
          `frame length ${length} is over ${MAX_FRAME_PAYLOAD}`
        );
      }
      if (this._buffered < FRAME_HEADER_BYTES + length) {
        break;
      }
      const whole = this._take(FRAME_HEADER_BYTES + length);
      frames.push({
        type: type as FrameType,
        stream: whole.readUInt32BE(1),
        payload: whole.subarray(FRAME_HEADER_BYTES)
      });
    }
    return frames;
  }

  /** Bytes held that do not yet make a whole frame. */
  get pending(): number {
    return this._buffered;
  }

  private _peek(n: number): Buffer {
    if (this._chunks[0].length >= n) {
      return this._chunks[0].subarray(0, n);
    }
    this._merge();
    return this._chunks[0].subarray(0, n);
  }

  private _take(n: number): Buffer {
    if (this._chunks[0].length < n) {
      this._merge();
    }
    const first = this._chunks[0];
    const out = first.subarray(0, n);
    if (first.length === n) {
      this._chunks.shift();
    } else {
      this._chunks[0] = first.subarray(n);
    }
    this._buffered -= n;
    return out;
  }

  private _merge(): void {
    this._chunks = [Buffer.concat(this._chunks, this._buffered)];
  }

  private _chunks: Buffer[] = [];
  private _buffered = 0;
}

const EMPTY = Buffer.alloc(0);
