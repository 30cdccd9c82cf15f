/**
 * KernelLeases over real WebSockets (a ws server and client in this
 * process), with the boundary below stubbed: the allocation service, the
 * profile store, the transport and the relay starter.
 */
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';

import WebSocket, { WebSocketServer } from 'ws';

import {
  LEASE_PROTOCOL_VERSION,
  type IKernelProfile,
  type LeaseReply,
  type SidecarEvent
} from '../../../src/common/api';
import { SidecarError } from '../../../src/sidecar/errors';
import {
  CANCELLED_MESSAGE,
  KernelLeases,
  type IAllocationGrant,
  type IAllocationProgress,
  type ILeaseAllocations,
  type ILeaseRelay,
  type RelayResumer
} from '../../../src/sidecar/kernels/lease';
import { parseLeaseRequest } from '../../../src/sidecar/kernels/lease-request';
import type {
  IKernelRelayOptions,
  IRelayEnd,
  IRelayedKernel
} from '../../../src/sidecar/kernels/relay';
import type {
  IKernelExited,
  IStartKernel
} from '../../../src/sidecar/kernels/relay-protocol';
import { createLogger } from '../../../src/sidecar/log';
import type { ITransport } from '../../../src/sidecar/transport/types';

const KEY = 'c0ffee-secret-hmac-key-3f9a';

const PROFILE: IKernelProfile = {
  id: 'abcd1234',
  cluster: 'hpc',
  environment: '/home/u/envs/torch',
  displayName: 'Python [conda env:torch] on hpc',
  resources: {} as IKernelProfile['resources'],
  workingDirectory: '/scratch/u/project',
  language: 'python',
  interruptMode: 'signal',
  specName: 'hpc-abcd1234',
  createdAt: 1,
  updatedAt: 1
};

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface IAcquire {
  kernelId: string;
  signal: AbortSignal;
  onProgress(p: IAllocationProgress): void;
  notebookPath: string | null;
  result: ReturnType<typeof deferred<IAllocationGrant>>;
}

class FakeAllocations implements ILeaseAllocations {
  acquires: IAcquire[] = [];
  states: [string, string, (string | null | undefined)?][] = [];
  released: string[] = [];
  listeners: ((id: string, reason: string) => void)[] = [];
  acquire(
    _profile: IKernelProfile,
    kernelId: string,
    o: {
      signal: AbortSignal;
      onProgress(p: IAllocationProgress): void;
      notebookPath: string | null;
    }
  ): Promise<IAllocationGrant> {
    const result = deferred<IAllocationGrant>();
    this.acquires.push({ kernelId, ...o, result });
    return result.promise;
  }
  kernelState(kernelId: string, state: string, stepId?: string | null) {
    this.states.push([kernelId, state, stepId]);
  }
  release(kernelId: string) {
    this.released.push(kernelId);
  }
  resumes: [string, string, string | null][] = [];
  resumeError: Error | null = null;
  async resume(
    _profile: IKernelProfile,
    kernelId: string,
    jobId: string,
    notebookPath: string | null
  ): Promise<IAllocationGrant> {
    this.resumes.push([kernelId, jobId, notebookPath]);
    if (this.resumeError) {
      throw this.resumeError;
    }
    return { ...GRANT, jobId };
  }
  onEnded(listener: (id: string, reason: string) => void) {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter(l => l !== listener);
    };
  }
  end(id: string, reason: string) {
    this.listeners.forEach(l => l(id, reason));
  }
}

class FakeRelay implements ILeaseRelay {
  constructor(readonly options: IKernelRelayOptions) {
    this.ended = new Promise(r => (this._endResolve = r));
  }
  requests: IStartKernel[] = [];
  signals: string[] = [];
  shutdowns = 0;
  kernelExit = deferred<IKernelExited>();
  startResult: Promise<void> = Promise.resolve();
  signalThrows = false;
  readonly hello = { step: '123.0' };
  readonly handle = RELAY_HANDLE;
  kernel: IRelayedKernel | null = null;
  readonly ended: Promise<IRelayEnd>;

  async startKernel(request: IStartKernel): Promise<IRelayedKernel> {
    this.requests.push(request);
    await this.startResult;
    const port = 40000 + (fakeRelays.indexOf(this) + 1) * 10;
    return {
      pid: 4242,
      remotePorts: { shell: 1, iopub: 2, stdin: 3, control: 4, hb: 5 },
      remoteTransport: 'ipc',
      localPorts: {
        shell: port,
        iopub: port + 1,
        stdin: port + 2,
        control: port + 3,
        hb: port + 4
      },
      connection: {
        ip: '127.0.0.1',
        transport: 'tcp',
        key: request.key,
        signature_scheme: request.signature_scheme,
        shell_port: port,
        iopub_port: port + 1,
        stdin_port: port + 2,
        control_port: port + 3,
        hb_port: port + 4
      },
      exited: this.kernelExit.promise
    };
  }
  signal(signal: NodeJS.Signals): void {
    if (this.signalThrows) {
      throw new SidecarError(
        'kernel-relay-failed',
        'The kernel relay has ended.'
      );
    }
    this.signals.push(signal);
  }
  async shutdown(): Promise<IRelayEnd> {
    this.shutdowns++;
    this.endWith({ exitCode: 0, reason: 'The kernel relay ended.' });
    return this.ended;
  }
  endWith(end: IRelayEnd): void {
    this._endResolve(end);
  }
  private _endResolve!: (e: IRelayEnd) => void;
}

const RELAY_HANDLE = {
  dir: '/home/u/.jupyterlab-hpc/relays/r.abc123',
  pid: 777
};

let fakeRelays: FakeRelay[];
let relayStarter: (o: IKernelRelayOptions) => Promise<FakeRelay>;
/** What KernelRelay.resume was asked; it answers with a FakeRelay. */
let resumed: Parameters<RelayResumer>[0][];
let resumeError: Error | null;
let allocations: FakeAllocations;
let events: SidecarEvent[];
let logLines: string[];
let leases: KernelLeases;
let http: Server;
let wss: WebSocketServer;
let clients: WebSocket[];
/** What squeue says of the job: the transport's only command here. */
let squeue: { state: string; commands: string[][] };
const transport = {
  kind: 'ssh',
  run: async (command: { argv: string[] }) => {
    squeue.commands.push(command.argv);
    return {
      exitCode: 0,
      stdout: Buffer.from(squeue.state + '\n'),
      stderr: Buffer.alloc(0)
    };
  }
} as unknown as ITransport;

function makeLeases(stepEndWaitMs = 50): KernelLeases {
  return new KernelLeases({
    profiles: {
      get: async id => (id === PROFILE.id ? PROFILE : null)
    },
    allocations,
    transport: async () => transport,
    broadcast: e => events.push(e),
    log: createLogger('debug', line => logLines.push(line)),
    sidecarId: 'sidecar-1',
    startRelay: o => relayStarter(o),
    resumeRelay: async o => {
      resumed.push(o);
      if (resumeError) {
        throw resumeError;
      }
      const relay = new FakeRelay(o);
      fakeRelays.push(relay);
      relay.kernel = await relay.startKernel({
        key: '',
        signature_scheme: o.signatureScheme
      });
      return relay;
    },
    keepFinishedMs: 200,
    stepEndWaitMs,
    jobEndWaitMs: 400
  });
}

beforeEach(async () => {
  fakeRelays = [];
  resumed = [];
  resumeError = null;
  squeue = { state: 'RUNNING', commands: [] };
  relayStarter = async o => {
    const relay = new FakeRelay(o);
    fakeRelays.push(relay);
    return relay;
  };
  allocations = new FakeAllocations();
  events = [];
  logLines = [];
  clients = [];
  leases = makeLeases();
  wss = new WebSocketServer({ noServer: true });
  http = createServer();
  http.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, ws => leases.accept(ws))
  );
  await new Promise<void>(r => http.listen(0, '127.0.0.1', r));
});

afterEach(async () => {
  await leases.close();
  clients.forEach(c => c.terminate());
  wss.close();
  await new Promise(r => http.close(r));
  // Nothing secret reached a log line or an event.
  for (const text of [...logLines, ...events.map(e => JSON.stringify(e))]) {
    expect(text).not.toContain(KEY);
  }
});

/** A provisioner's end of a lease: queues every reply. */
class Provisioner {
  constructor() {
    const port = (http.address() as AddressInfo).port;
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    clients.push(this.ws);
    this.ws.on('message', data => {
      const reply = JSON.parse(String(data)) as LeaseReply;
      const waiter = this._waiters.shift();
      if (waiter) {
        waiter(reply);
      } else {
        this._queue.push(reply);
      }
    });
    this.closed = new Promise(r => this.ws.on('close', () => r()));
  }

  async open(): Promise<LeaseReply> {
    await new Promise(r => this.ws.once('open', r));
    return this.next();
  }

  next(): Promise<LeaseReply> {
    const queued = this._queue.shift();
    if (queued) {
      return Promise.resolve(queued);
    }
    return new Promise(r => this._waiters.push(r));
  }

  /** Replies until one of `type`, which is returned; the others are dropped. */
  async until<T extends LeaseReply['type']>(
    type: T
  ): Promise<Extract<LeaseReply, { type: T }>> {
    for (;;) {
      const reply = await this.next();
      if (reply.type === type) {
        return reply as Extract<LeaseReply, { type: T }>;
      }
    }
  }

  /** Nothing arrives within `ms`. */
  async quiet(ms = 100): Promise<LeaseReply[]> {
    await new Promise(r => setTimeout(r, ms));
    return this._queue.splice(0);
  }

  send(message: unknown): void {
    this.ws.send(
      typeof message === 'string' ? message : JSON.stringify(message)
    );
  }

  start(o: { restart?: boolean; profile?: string; version?: number } = {}) {
    this.send({
      type: 'start',
      version: o.version ?? LEASE_PROTOCOL_VERSION,
      kernelId: 'k1',
      profile: o.profile ?? PROFILE.id,
      key: KEY,
      signatureScheme: 'hmac-sha256',
      notebookPath: 'work/analysis.ipynb',
      restart: o.restart ?? false
    });
  }

  readonly ws: WebSocket;
  readonly closed: Promise<void>;
  private _queue: LeaseReply[] = [];
  private _waiters: ((r: LeaseReply) => void)[] = [];
}

const GRANT: IAllocationGrant = {
  allocationId: 'a1',
  cluster: 'hpc',
  jobId: '123',
  node: 'node7'
};

async function waitFor<T>(
  probe: () => T | undefined | null | false
): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = probe();
    if (v) {
      return v;
    }
    await new Promise(r => setTimeout(r, 5));
  }
  throw new Error('timed out');
}

/** A started kernel on a fresh lease. */
async function started() {
  const p = new Provisioner();
  await p.open();
  p.start();
  const acquire = await waitFor(() => allocations.acquires[0]);
  acquire.result.resolve(GRANT);
  const reply = await p.until('started');
  return { p, acquire, reply, relay: fakeRelays[fakeRelays.length - 1] };
}

const startStates = () =>
  events
    .filter(e => e.type === 'kernel-start')
    .map(e => (e.type === 'kernel-start' ? e.start.state : null));

describe('a kernel lease', () => {
  it('says hello first, with the protocol version and this sidecar', async () => {
    const p = new Provisioner();
    expect(await p.open()).toEqual({
      type: 'hello',
      version: LEASE_PROTOCOL_VERSION,
      sidecar: 'sidecar-1'
    });
  });

  it('starts a kernel: queued, starting, then started with a connection that has no key', async () => {
    const p = new Provisioner();
    await p.open();
    p.start();
    const acquire = await waitFor(() => allocations.acquires[0]);
    expect(acquire.kernelId).toBe('k1');
    expect(acquire.notebookPath).toBe('work/analysis.ipynb');
    acquire.onProgress({
      state: 'queued',
      jobId: '123',
      reason: 'Priority',
      estimatedStart: 5000
    });
    expect(await p.next()).toEqual({
      type: 'progress',
      state: 'queued',
      jobId: '123',
      reason: 'Priority',
      estimatedStart: 5000
    });
    expect(leases.starts()).toMatchObject([
      {
        kernelId: 'k1',
        profile: PROFILE.id,
        specName: 'hpc-abcd1234',
        notebookPath: 'work/analysis.ipynb',
        state: 'queued',
        reason: 'Priority',
        estimatedStart: 5000,
        restart: false
      }
    ]);
    acquire.result.resolve(GRANT);
    expect(await p.next()).toMatchObject({
      type: 'progress',
      state: 'starting',
      jobId: '123'
    });
    const reply = await p.next();
    expect(reply).toEqual({
      type: 'started',
      connection: {
        transport: 'tcp',
        ip: '127.0.0.1',
        shell_port: 40010,
        iopub_port: 40011,
        stdin_port: 40012,
        control_port: 40013,
        hb_port: 40014,
        signature_scheme: 'hmac-sha256'
      },
      allocationId: 'a1',
      jobId: '123',
      node: 'node7',
      stepId: '123.0',
      relay: RELAY_HANDLE
    });
    // The relay: a step of job 123 running the env's Python; the key only
    // in its start request; the profile's working directory.
    const relay = fakeRelays[0];
    expect(relay.options.transport).toBe(transport);
    const argv = relay.options.command.argv;
    expect(argv.slice(0, 3)).toEqual(['srun', '--overlap', '--jobid=123']);
    expect(argv).toContain('/home/u/envs/torch/bin/python');
    expect(argv.join(' ')).not.toContain(KEY);
    expect(relay.requests).toEqual([
      { key: KEY, signature_scheme: 'hmac-sha256', cwd: '/scratch/u/project' }
    ]);
    expect(startStates()).toEqual(['waiting', 'queued', 'starting', 'started']);
    expect(allocations.states).toEqual([
      ['k1', 'starting', undefined],
      ['k1', 'running', '123.0']
    ]);
  });

  it('refuses a start for a profile that is gone, in words the user can act on', async () => {
    const p = new Provisioner();
    await p.open();
    p.start({ profile: 'gone0000' });
    expect(await p.next()).toEqual({
      type: 'failed',
      message:
        "The cluster kernel's profile gone0000 no longer exists; remove and add it again from the HPC panel.",
      cancelled: false
    });
    expect(allocations.acquires).toEqual([]);
  });

  it('refuses a start of another lease protocol version', async () => {
    const p = new Provisioner();
    await p.open();
    p.start({ version: LEASE_PROTOCOL_VERSION + 1 });
    const reply = await p.until('failed');
    expect(reply.message).toMatch(/restart the Jupyter server/);
    expect(allocations.acquires).toEqual([]);
  });

  it('answers a malformed message with an error and keeps the lease', async () => {
    const p = new Provisioner();
    await p.open();
    p.send('not json');
    expect(await p.next()).toMatchObject({ type: 'error' });
    p.send({
      type: 'start',
      version: 1,
      kernelId: 'k1',
      profile: 'x',
      key: KEY
    });
    const reply = await p.next();
    expect(reply).toMatchObject({ type: 'error' });
    expect(JSON.stringify(reply)).not.toContain(KEY);
    p.send({ type: 'signal', signal: 'SIGINT' });
    expect(await p.quiet()).toEqual([]);
    expect(p.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('passes the refusal of the allocation on verbatim, and gives the kernel back', async () => {
    const p = new Provisioner();
    await p.open();
    p.start();
    const acquire = await waitFor(() => allocations.acquires[0]);
    const refusal =
      'Slurm refused the job: sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified';
    acquire.result.reject(new SidecarError('sbatch-refused', refusal));
    expect(await p.next()).toEqual({
      type: 'failed',
      message: refusal,
      cancelled: false
    });
    expect(allocations.released).toEqual(['k1']);
    expect(leases.starts()).toMatchObject([
      { state: 'failed', message: refusal }
    ]);
    expect(fakeRelays).toEqual([]);
  });

  it('says why when the relay cannot start the kernel', async () => {
    relayStarter = async () => {
      throw new SidecarError(
        'kernel-relay-failed',
        'The kernel relay ended with status 1. It said: srun: error: Unable to create step for job 123: Memory required by task is not available'
      );
    };
    const p = new Provisioner();
    await p.open();
    p.start();
    (await waitFor(() => allocations.acquires[0])).result.resolve(GRANT);
    const reply = await p.until('failed');
    expect(reply.message).toMatch(/Unable to create step for job 123/);
    expect(allocations.released).toEqual(['k1']);
  });

  it('hides an unexpected error behind a sentence and logs it', async () => {
    relayStarter = async () => {
      throw new TypeError('boom');
    };
    const p = new Provisioner();
    await p.open();
    p.start();
    (await waitFor(() => allocations.acquires[0])).result.resolve(GRANT);
    const reply = await p.until('failed');
    expect(reply.message).toMatch(/error in the jupyterlab-hpc sidecar/);
    expect(logLines.some(l => l.includes('ERROR') && l.includes('boom'))).toBe(
      true
    );
  });

  it('refuses a second start while one is in progress', async () => {
    const p = new Provisioner();
    await p.open();
    p.start();
    await waitFor(() => allocations.acquires[0]);
    p.start();
    expect(await p.next()).toEqual({
      type: 'error',
      message: 'The kernel is already starting.'
    });
    expect(allocations.acquires).toHaveLength(1);
  });

  it('interrupts through the relay, and says nothing when the kernel is gone', async () => {
    const { p, relay } = await started();
    p.send({ type: 'signal', signal: 'SIGINT' });
    await waitFor(() => relay.signals.length === 1);
    expect(relay.signals).toEqual(['SIGINT']);
    relay.signalThrows = true;
    p.send({ type: 'signal', signal: 'SIGINT' });
    expect(await p.quiet()).toEqual([]);
    p.send({ type: 'stop' });
    await p.until('stopped');
    p.send({ type: 'signal', signal: 'SIGKILL' });
    expect(await p.quiet()).toEqual([]);
    expect(p.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('stops the kernel step and restarts in the same allocation, without a second acquire', async () => {
    const { p, relay } = await started();
    p.send({ type: 'stop' });
    expect(await p.next()).toEqual({ type: 'stopped' });
    expect(relay.shutdowns).toBe(1);
    expect(allocations.released).toEqual([]);
    p.start({ restart: true });
    const again = await p.until('started');
    expect(again).toMatchObject({ allocationId: 'a1', jobId: '123' });
    expect(allocations.acquires).toHaveLength(1);
    expect(fakeRelays).toHaveLength(2);
    expect(fakeRelays[1].options.command.argv).toContain('--jobid=123');
    expect(allocations.states.slice(-2)).toEqual([
      ['k1', 'restarting', undefined],
      ['k1', 'running', '123.0']
    ]);
    expect(leases.starts()).toMatchObject([
      { state: 'started', restart: true }
    ]);
    p.send({ type: 'release' });
    await waitFor(() => allocations.released.length === 1);
    expect(fakeRelays[1].shutdowns).toBe(1);
    expect(allocations.released).toEqual(['k1']);
  });

  it('a start without a stop before it ends the running kernel first', async () => {
    const { p, relay } = await started();
    p.start({ restart: true });
    await p.until('started');
    expect(relay.shutdowns).toBe(1);
    expect(allocations.acquires).toHaveLength(1);
  });

  it('a closed socket ends the kernel step and gives the kernel back', async () => {
    const { p, relay } = await started();
    p.ws.close();
    await waitFor(() => allocations.released.length === 1);
    expect(relay.shutdowns).toBe(1);
    expect(allocations.released).toEqual(['k1']);
  });

  it('a closed socket during a queued start aborts the acquire', async () => {
    const p = new Provisioner();
    await p.open();
    p.start();
    const acquire = await waitFor(() => allocations.acquires[0]);
    acquire.onProgress({
      state: 'queued',
      jobId: '9',
      reason: 'Priority',
      estimatedStart: null
    });
    expect(acquire.signal.aborted).toBe(false);
    p.ws.close();
    await waitFor(() => acquire.signal.aborted);
    await waitFor(() => allocations.released.length === 1);
    expect(allocations.released).toEqual(['k1']);
    // The grant that comes anyway starts nothing.
    acquire.result.resolve(GRANT);
    await new Promise(r => setTimeout(r, 20));
    expect(fakeRelays).toEqual([]);
  });

  it('a closed socket while the relay starts the kernel ends the step', async () => {
    const gate = deferred<void>();
    const p = new Provisioner();
    await p.open();
    relayStarter = async o => {
      const relay = new FakeRelay(o);
      relay.startResult = gate.promise;
      fakeRelays.push(relay);
      return relay;
    };
    p.start();
    (await waitFor(() => allocations.acquires[0])).result.resolve(GRANT);
    const relay = await waitFor(() =>
      fakeRelays[0]?.requests.length ? fakeRelays[0] : null
    );
    p.ws.close();
    await waitFor(() => relay.shutdowns > 0);
    gate.resolve();
    await waitFor(() => allocations.released.length === 1);
  });

  it('cancel (the notebook button) fails the start as cancelled', async () => {
    const p = new Provisioner();
    await p.open();
    p.start();
    const acquire = await waitFor(() => allocations.acquires[0]);
    expect(leases.cancel('other')).toBe(false);
    expect(leases.cancel('k1')).toBe(true);
    expect(acquire.signal.aborted).toBe(true);
    expect(await p.until('failed')).toEqual({
      type: 'failed',
      message: CANCELLED_MESSAGE,
      cancelled: true
    });
    expect(leases.starts()).toMatchObject([
      { state: 'cancelled', message: CANCELLED_MESSAGE }
    ]);
    expect(leases.cancel('k1')).toBe(false);
    expect(allocations.released).toEqual(['k1']);
  });

  it('keeps a finished start listed for a moment, then drops it', async () => {
    await started();
    expect(leases.starts()).toHaveLength(1);
    await waitFor(() => leases.starts().length === 0);
  });

  it('reports a kernel that died, not fatal: its allocation lives on', async () => {
    const { p, relay } = await started();
    relay.kernelExit.resolve({ pid: 4242, code: 1, signal: null });
    expect(await p.next()).toEqual({
      type: 'exited',
      reason: 'The kernel exited with status 1.',
      exitCode: 1,
      fatal: false
    });
    await waitFor(() => relay.shutdowns === 1);
    expect(allocations.released).toEqual([]);
    expect(allocations.states.at(-1)).toEqual(['k1', 'ended', undefined]);
  });

  it('reports a kernel that exited with status 0 (asked to, by Jupyter) at once, without waiting for its step', async () => {
    await leases.close();
    // A step that never ends would hold the answer a whole minute.
    leases = makeLeases(60_000);
    const { p, relay } = await started();
    relay.kernelExit.resolve({ pid: 4242, code: 0, signal: null });
    expect(await p.next()).toMatchObject({
      type: 'exited',
      exitCode: 0,
      fatal: false
    });
  });

  it('reports a kernel killed by a signal', async () => {
    const { p, relay } = await started();
    relay.kernelExit.resolve({ pid: 4242, code: null, signal: 9 });
    expect(await p.next()).toMatchObject({
      type: 'exited',
      reason: 'The kernel was ended by signal SIGKILL.',
      fatal: false
    });
  });

  it('reports a step that ended under the kernel with the relay reason', async () => {
    const { p, relay } = await started();
    relay.endWith({
      exitCode: null,
      reason:
        'The kernel relay ended with status 143. It said: srun: error: *** STEP 123.1 CANCELLED ***'
    });
    relay.kernelExit.resolve({ pid: 4242, code: null, signal: null });
    const reply = await p.until('exited');
    expect(reply.reason).toMatch(/STEP 123.1 CANCELLED/);
    expect(reply.fatal).toBe(false);
  });

  it('reports fatal when the allocation ended, to the kernels in it only', async () => {
    const a = await started();
    const other = new Provisioner();
    await other.open();
    other.send({
      type: 'start',
      version: LEASE_PROTOCOL_VERSION,
      kernelId: 'k2',
      profile: PROFILE.id,
      key: KEY,
      signatureScheme: 'hmac-sha256',
      notebookPath: null,
      restart: false
    });
    const acquire2 = await waitFor(() => allocations.acquires[1]);
    acquire2.result.resolve({ ...GRANT, allocationId: 'a2', jobId: '124' });
    await other.until('started');

    allocations.end('a1', 'The job 123 reached its wall time.');
    expect(await a.p.next()).toEqual({
      type: 'exited',
      reason: 'The job 123 reached its wall time.',
      exitCode: null,
      fatal: true
    });
    expect(a.relay.shutdowns).toBe(1);
    expect(await other.quiet()).toEqual([]);
    expect(allocations.released).toEqual(['k1']);
    // A late exit of the kernel says nothing more.
    a.relay.kernelExit.resolve({ pid: 4242, code: null, signal: null });
    expect(await a.p.quiet()).toEqual([]);
  });

  it('fails a restart whose allocation ends while it starts, with the reason', async () => {
    const { p } = await started();
    p.send({ type: 'stop' });
    await p.until('stopped');
    const gate = deferred<void>();
    relayStarter = async o => {
      await gate.promise;
      const relay = new FakeRelay(o);
      fakeRelays.push(relay);
      return relay;
    };
    p.start({ restart: true });
    await waitFor(() => leases.starts()[0]?.state === 'starting');
    allocations.end('a1', 'The job 123 was cancelled (scancel).');
    gate.resolve();
    const reply = await p.until('failed');
    expect(reply).toEqual({
      type: 'failed',
      message: 'The job 123 was cancelled (scancel).',
      cancelled: false
    });
    // The relay that came up anyway was ended.
    await waitFor(() => fakeRelays.at(-1)!.shutdowns === 1);
  });

  it('a step cancelled alone (its job runs on) is not fatal', async () => {
    const { p, relay } = await started();
    relay.endWith({
      exitCode: null,
      reason: 'The kernel relay ended with status 143.'
    });
    relay.kernelExit.resolve({ pid: 4242, code: null, signal: 15 });
    expect(await p.next()).toMatchObject({
      type: 'exited',
      reason: 'The kernel was ended by signal SIGTERM.',
      fatal: false
    });
    expect(squeue.commands).toEqual([
      ['squeue', '-h', '-j', '123', '-o', '%T']
    ]);
  });

  it('a kernel killed with its job waits for the allocation service and is fatal, once', async () => {
    const { p, relay } = await started();
    squeue.state = '';
    relay.endWith({
      exitCode: null,
      reason: 'The kernel relay ended with status 143.'
    });
    relay.kernelExit.resolve({ pid: 4242, code: null, signal: 15 });
    await waitFor(() => squeue.commands.length === 1);
    expect(await p.quiet(100)).toEqual([]);
    allocations.end('a1', 'The job 123 reached its wall time.');
    expect(await p.next()).toEqual({
      type: 'exited',
      reason: 'The job 123 reached its wall time.',
      exitCode: null,
      fatal: true
    });
    expect(await p.quiet(500)).toEqual([]);
    expect(allocations.released).toEqual(['k1']);
  });

  it('a kernel killed with its job is fatal even when the service says nothing', async () => {
    const { p, relay } = await started();
    squeue.state = '';
    relay.endWith({
      exitCode: null,
      reason: 'The kernel relay ended with status 143.'
    });
    relay.kernelExit.resolve({ pid: 4242, code: null, signal: 15 });
    expect(await p.next()).toEqual({
      type: 'exited',
      reason:
        'The job 123 is not running any more. The kernel was ended by signal SIGTERM.',
      exitCode: null,
      fatal: true
    });
    expect(allocations.released).toEqual(['k1']);
  });

  it('close() ends every kernel step and every lease', async () => {
    const { p, relay } = await started();
    await leases.close();
    expect(relay.shutdowns).toBe(1);
    await p.closed;
    // The sidecar's exit is not a release: the next sidecar reconciles.
    expect(allocations.released).toEqual([]);
  });
});

const CONNECTION = {
  transport: 'tcp',
  ip: '127.0.0.1',
  shell_port: 41000,
  iopub_port: 41001,
  stdin_port: 41002,
  control_port: 41003,
  hb_port: 41004,
  signature_scheme: 'hmac-sha256'
} as const;

function resumeMessage(o: { relay?: unknown; jobId?: string } = {}) {
  return {
    type: 'resume',
    version: LEASE_PROTOCOL_VERSION,
    kernelId: 'k1',
    profile: PROFILE.id,
    notebookPath: 'work/analysis.ipynb',
    jobId: o.jobId ?? '123',
    relay: 'relay' in o ? o.relay : RELAY_HANDLE,
    connection: CONNECTION
  };
}

describe('a kernel taken up by a new sidecar', () => {
  it('gets its allocation back and its relay linked on the ports its clients know', async () => {
    const p = new Provisioner();
    await p.open();
    p.send(resumeMessage());
    const reply = await p.until('started');
    expect(reply).toEqual({
      type: 'started',
      connection: CONNECTION,
      allocationId: 'a1',
      jobId: '123',
      node: 'node7',
      stepId: '123.0',
      relay: RELAY_HANDLE
    });
    expect(allocations.resumes).toEqual([['k1', '123', 'work/analysis.ipynb']]);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({
      handle: RELAY_HANDLE,
      ports: {
        shell: 41000,
        iopub: 41001,
        stdin: 41002,
        control: 41003,
        hb: 41004
      },
      signatureScheme: 'hmac-sha256',
      label: 'hpc'
    });
    expect(allocations.states).toContainEqual(['k1', 'running', '123.0']);
    // From here it is a kernel like any other: its end is told.
    const relay = fakeRelays[0];
    relay.kernelExit.resolve({ pid: 4242, code: 0, signal: null });
    expect(await p.until('exited')).toMatchObject({ fatal: false });
  });

  it('says why it cannot be taken up, and the allocation forgets it', async () => {
    allocations.resumeError = new SidecarError(
      'allocation-not-found',
      "The kernel's job 123 on hpc is not running any more."
    );
    const p = new Provisioner();
    await p.open();
    p.send(resumeMessage());
    expect(await p.until('failed')).toEqual({
      type: 'failed',
      message: "The kernel's job 123 on hpc is not running any more.",
      cancelled: false
    });
    expect(resumed).toEqual([]);
    expect(allocations.released).toEqual(['k1']);
  });

  it('ends what it linked when the relay has no kernel any more', async () => {
    resumeError = new SidecarError(
      'kernel-relay-failed',
      'The kernel ended while the sidecar was away.'
    );
    const p = new Provisioner();
    await p.open();
    p.send(resumeMessage());
    expect((await p.until('failed')).message).toBe(
      'The kernel ended while the sidecar was away.'
    );
    expect(allocations.released).toEqual(['k1']);
  });

  it('is refused on a lease that has a kernel already', async () => {
    const { p } = await started();
    p.send(resumeMessage());
    expect(await p.until('error')).toEqual({
      type: 'error',
      message: 'Only a new lease can take up a kernel.'
    });
    expect(resumed).toEqual([]);
  });

  it('reads only a relay directory and a real pid from the message', () => {
    expect(parseLeaseRequest(JSON.stringify(resumeMessage()))).toEqual(
      resumeMessage()
    );
    for (const relay of [
      { dir: '/home/u/.jupyterlab-hpc/relays/r.x; rm -rf ~', pid: 7 },
      { dir: 'relative/r.abc', pid: 7 },
      { dir: '/home/u/r.abc\n/etc', pid: 7 },
      { dir: '/home/u/.jupyterlab-hpc/relays/r.abc', pid: 1 },
      { dir: '/home/u/.jupyterlab-hpc/relays/r.abc', pid: '7' },
      null
    ]) {
      expect(
        typeof parseLeaseRequest(JSON.stringify(resumeMessage({ relay })))
      ).toBe('string');
    }
    expect(
      typeof parseLeaseRequest(
        JSON.stringify(resumeMessage({ jobId: '123; scancel -u me' }))
      )
    ).toBe('string');
  });
});

describe('parseLeaseRequest', () => {
  it('never repeats the key in what it says', () => {
    const bad = parseLeaseRequest(
      JSON.stringify({
        type: 'start',
        version: 1,
        kernelId: 'k',
        profile: 'p',
        key: KEY,
        signatureScheme: 'md5; rm -rf',
        notebookPath: null,
        restart: false
      })
    );
    expect(typeof bad).toBe('string');
    expect(bad).not.toContain(KEY);
  });

  it('reads each message type', () => {
    expect(parseLeaseRequest('{"type":"stop"}')).toEqual({ type: 'stop' });
    expect(parseLeaseRequest('{"type":"release"}')).toEqual({
      type: 'release'
    });
    expect(parseLeaseRequest('{"type":"signal","signal":"SIGINT"}')).toEqual({
      type: 'signal',
      signal: 'SIGINT'
    });
    expect(
      typeof parseLeaseRequest('{"type":"signal","signal":"SIGSTOP"}')
    ).toBe('string');
    expect(typeof parseLeaseRequest('[]')).toBe('string');
    expect(typeof parseLeaseRequest('{"type":"nope"}')).toBe('string');
  });
});
