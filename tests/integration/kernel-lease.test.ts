/**
 * Kernel leases on the demo cluster: the sidecar's API server (in this
 * process, on a unix socket), a `ws` client playing the kernel provisioner,
 * KernelLeases with the real relay over the sidecar's own SSH connection,
 * a real ipykernel of a cluster environment, and a real Jupyter client
 * (tests/support/kernel_driver.py) on the connection the lease returns.
 *
 * The allocations come from a small provider in this file that submits a
 * real hold job (`sbatch --wrap 'sleep …'`) per kernel and waits for it to
 * run: real Slurm, not the sidecar's AllocationService (built beside this).
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { request } from 'http';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';
import { createInterface } from 'readline';

import WebSocket from 'ws';

import {
  LEASE_PROTOCOL_VERSION,
  REQUEST_HEADER,
  Routes,
  type IKernelProfile,
  type LeaseReply,
  type SidecarEvent
} from '../../src/common/api';
import { kernelStartRoutes } from '../../src/sidecar/api/kernel-start-routes';
import {
  createSidecarServer,
  type ISidecarServer
} from '../../src/sidecar/api/server';
import { SidecarError } from '../../src/sidecar/errors';
import {
  KernelLeases,
  type IAllocationGrant,
  type IAllocationProgress,
  type ILeaseAllocations
} from '../../src/sidecar/kernels/lease';
import { createLogger } from '../../src/sidecar/log';
import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import { SshConnection } from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { demoCluster, writeDemoSshFiles } from '../support/demo-cluster';
import { VENV } from '../support/jupyter-lab';

const demo = demoCluster();
const ENV = demo.envs.find(e => e.ipykernel && e.name === 'my-project-env')!;
const CLIENT_PYTHON = join(VENV, 'bin', 'python');
const DRIVER = join(__dirname, '..', 'support', 'kernel_driver.py');
const CLUSTER = 'hpc-demo';

const refuse: IPrompter = {
  ask: async () => {
    throw new SidecarError('auth-cancelled', 'no questions in this test');
  }
};

let home: string;
let askpass: AskpassBridge;
let connection: SshConnection;
let server: ISidecarServer;
let leases: KernelLeases;
let socketPath: string;
let workDir: string;
const logLines: string[] = [];
const events: SidecarEvent[] = [];
const keys: string[] = [];
const children: ChildProcess[] = [];
const sockets: WebSocket[] = [];

async function sh(script: string) {
  const out = await connection.run({ argv: ['sh', '-c', script] });
  return {
    code: out.exitCode,
    stdout: out.stdout.toString(),
    stderr: out.stderr.toString()
  };
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * One hold job per kernel, as a stand-in for the AllocationService: real
 * sbatch, squeue and scancel through the sidecar's connection.
 */
class HoldJobs implements ILeaseAllocations {
  /** Submit the next job with a start an hour away: it stays queued. */
  holdNext = false;
  jobs: string[] = [];
  aborted: string[] = [];
  released: string[] = [];
  states: [string, string][] = [];
  private _byKernel = new Map<string, IAllocationGrant>();
  private _listeners: ((id: string, reason: string) => void)[] = [];

  /** The allocation a kernel had (this stand-in outlives no sidecar). */
  async resume(
    _profile: IKernelProfile,
    kernelId: string,
    jobId: string
  ): Promise<IAllocationGrant> {
    const grant = this._byKernel.get(kernelId);
    if (!grant || grant.jobId !== jobId) {
      throw new SidecarError('allocation-not-found', `No job ${jobId} here.`);
    }
    return grant;
  }

  async acquire(
    _profile: IKernelProfile,
    kernelId: string,
    o: { signal: AbortSignal; onProgress(p: IAllocationProgress): void }
  ): Promise<IAllocationGrant> {
    const begin = this.holdNext ? ' --begin=now+3600' : '';
    this.holdNext = false;
    const out = await sh(
      `sbatch --parsable --job-name=jlhpc-k-lease-test --time=20${begin} --wrap 'sleep 1200'`
    );
    if (out.code !== 0) {
      throw new SidecarError(
        'sbatch-refused',
        `Slurm refused the job: ${out.stderr.trim()}`
      );
    }
    const jobId = out.stdout.trim().split(';')[0];
    this.jobs.push(jobId);
    const allocationId = `alloc-${jobId}`;
    for (;;) {
      if (o.signal.aborted) {
        await sh(`scancel ${jobId}`);
        this.aborted.push(kernelId);
        throw new SidecarError('sbatch-refused', 'aborted');
      }
      const s = await sh(`squeue -h -j ${jobId} -o '%T|%r|%N'`);
      const [state, reason, node] = s.stdout.trim().split('|');
      if (state === 'RUNNING') {
        const grant = { allocationId, cluster: CLUSTER, jobId, node };
        this._byKernel.set(kernelId, grant);
        return grant;
      }
      o.onProgress({
        state: 'queued',
        jobId,
        reason: reason ?? null,
        estimatedStart: null
      });
      await sleep(300);
    }
  }

  kernelState(kernelId: string, state: string): void {
    this.states.push([kernelId, state]);
  }

  release(kernelId: string): void {
    this.released.push(kernelId);
  }

  onEnded(listener: (id: string, reason: string) => void): () => void {
    this._listeners.push(listener);
    return () => undefined;
  }

  /** scancel the kernel's job and say so, as the service does after squeue. */
  async end(kernelId: string, noticeAfterMs = 0): Promise<void> {
    const grant = this._byKernel.get(kernelId)!;
    await sh(`scancel ${grant.jobId}`);
    await sleep(noticeAfterMs);
    const reason = `The job ${grant.jobId} was cancelled.`;
    this._listeners.forEach(l => l(grant.allocationId, reason));
  }
}

let allocations: HoldJobs;

const PROFILE = (): IKernelProfile => ({
  id: 'leasetest01',
  cluster: CLUSTER,
  environment: ENV.prefix,
  displayName: `Python [conda env:${ENV.name}] on ${CLUSTER}`,
  resources: {} as IKernelProfile['resources'],
  workingDirectory: workDir,
  language: 'python',
  interruptMode: 'signal',
  specName: 'hpc-leasetest01',
  createdAt: 0,
  updatedAt: 0
});

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-lease-it-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeDemoSshFiles(home);
  askpass = new AskpassBridge();
  const env = { PATH: process.env.PATH, HOME: home };
  connection = new SshConnection({
    resolve: () =>
      resolveRoute(CLUSTER, {
        home,
        localUser: userInfo().username,
        env,
        systemConfigPath: null
      }),
    prompter: refuse,
    keys: new KeyCache(),
    home,
    env,
    askpass,
    client: 'openssh'
  });
  const made = await sh('mktemp -d "$HOME/jlhpc-lease-wd.XXXXXX"');
  expect(made.code).toBe(0);
  workDir = made.stdout.trim();

  allocations = new HoldJobs();
  const log = createLogger('debug', line => logLines.push(line));
  leases = new KernelLeases({
    profiles: {
      get: async id => (id === PROFILE().id ? PROFILE() : null)
    },
    allocations,
    transport: async () => connection,
    broadcast: e => events.push(e),
    log,
    sidecarId: randomUUID()
  });
  server = createSidecarServer({
    version: 'test',
    log,
    routes: kernelStartRoutes(leases),
    kernelLeases: async () => leases
  });
  socketPath = join(home, 'sidecar.sock');
  await new Promise<void>(r => server.http.listen(socketPath, r));
});

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
  }
  sockets.forEach(ws => ws.terminate());
  await leases?.close();
  await server?.close();
  if (allocations?.jobs.length) {
    await sh(`scancel ${allocations.jobs.join(' ')}`).catch(() => undefined);
  }
  if (workDir) {
    await sh(`rm -rf '${workDir}'`).catch(() => undefined);
  }
  await connection?.close();
  askpass?.close();
  rmSync(home, { recursive: true, force: true });
  // Neither a log line nor an event carried a kernel's key.
  const said = [...logLines, ...events.map(e => JSON.stringify(e))].join('\n');
  for (const key of keys) {
    expect(said).not.toContain(key);
  }
});

/** The provisioner's side of one lease. */
class Lease {
  constructor(readonly kernelId = randomUUID()) {
    this.ws = new WebSocket(`ws+unix://${socketPath}:${Routes.kernelLease}`, {
      headers: { [REQUEST_HEADER]: '1' }
    });
    sockets.push(this.ws);
    this.ws.on('message', data => {
      const reply = JSON.parse(String(data)) as LeaseReply;
      this.seen.push(reply);
      const waiter = this._waiters.shift();
      if (waiter) {
        waiter(reply);
      } else {
        this._queue.push(reply);
      }
    });
  }

  async until<T extends LeaseReply['type']>(
    type: T,
    timeoutMs = 120_000
  ): Promise<Extract<LeaseReply, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const reply = await Promise.race([
        this._next(),
        new Promise<null>(r => {
          timer = setTimeout(() => r(null), Math.max(0, deadline - Date.now()));
        })
      ]);
      clearTimeout(timer);
      if (reply === null) {
        throw new Error(
          `no ${type} in time; saw ${JSON.stringify(this.seen.map(s => s.type))}`
        );
      }
      if (reply.type === type) {
        return reply as Extract<LeaseReply, { type: T }>;
      }
      if (reply.type === 'failed' && type !== 'failed') {
        throw new Error(`the start failed: ${reply.message}`);
      }
    }
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  start(restart = false): string {
    const key = randomBytes(32).toString('hex');
    keys.push(key);
    this.send({
      type: 'start',
      version: LEASE_PROTOCOL_VERSION,
      kernelId: this.kernelId,
      profile: PROFILE().id,
      key,
      signatureScheme: 'hmac-sha256',
      notebookPath: 'lease-test.ipynb',
      restart
    });
    return key;
  }

  private _next(): Promise<LeaseReply> {
    const queued = this._queue.shift();
    if (queued) {
      return Promise.resolve(queued);
    }
    return new Promise(r => this._waiters.push(r));
  }

  readonly ws: WebSocket;
  readonly seen: LeaseReply[] = [];
  private _queue: LeaseReply[] = [];
  private _waiters: ((r: LeaseReply) => void)[] = [];
}

/** A connection file for the driver: the lease's connection and the key. */
function connectionFile(
  started: Extract<LeaseReply, { type: 'started' }>,
  key: string
): string {
  const dir = mkdtempSync(join(home, 'conn-'));
  const file = join(dir, 'kernel.json');
  writeFileSync(file, JSON.stringify({ ...started.connection, key }), {
    mode: 0o600
  });
  return file;
}

function drive(
  args: string[],
  onStep: (step: Record<string, unknown>) => void = () => undefined
): Promise<Record<string, unknown>[]> {
  const child = spawn(CLIENT_PYTHON, [DRIVER, ...args]);
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const steps: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', line => {
    const step = JSON.parse(line) as Record<string, unknown>;
    steps.push(step);
    onStep(step);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', code =>
      code === 0
        ? resolve(steps)
        : reject(
            new Error(
              `driver ${args[0]} exited ${code}: ${stderr.slice(-2000)}\nsteps: ${JSON.stringify(steps)}`
            )
          )
    );
  });
}

const WHERE =
  "import os, socket; print(socket.gethostname(), os.environ.get('SLURM_JOB_ID'), os.getcwd())";

/** Steps of a job other than its batch and extern steps. */
async function kernelSteps(jobId: string): Promise<string[]> {
  const out = await sh(`squeue -h -s -j ${jobId} -o %i`);
  return out.stdout.split('\n').filter(s => s && !/\.(batch|extern)$/.test(s));
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(300);
  }
}

describe('a cluster kernel through its lease', () => {
  const lease = () => shared.lease!;
  const shared: {
    lease?: Lease;
    key?: string;
    started?: Extract<LeaseReply, { type: 'started' }>;
  } = {};

  it('starts in a running hold job: hello, progress, started', async () => {
    shared.lease = new Lease();
    const hello = await lease().until('hello', 10_000);
    expect(hello.version).toBe(LEASE_PROTOCOL_VERSION);
    shared.key = lease().start();
    shared.started = await lease().until('started');
    const started = shared.started;
    expect(started.jobId).toBe(allocations.jobs[0]);
    expect(started.connection).toMatchObject({
      ip: '127.0.0.1',
      transport: 'tcp'
    });
    expect(JSON.stringify(started)).not.toContain(shared.key);
    expect(await kernelSteps(started.jobId)).toEqual([started.stepId]);
    const states = events
      .filter(e => e.type === 'kernel-start')
      .map(e => (e.type === 'kernel-start' ? e.start.state : ''));
    expect(states[0]).toBe('waiting');
    expect(states.at(-1)).toBe('started');
  });

  it('runs code on the node, in the job, in the profile working directory; the key shows nowhere', async () => {
    const { started, key } = shared;
    const [ran] = await drive(['exec', connectionFile(started!, key!), WHERE]);
    expect(ran).toMatchObject({ status: 'ok' });
    const [host, job, cwd] = String(ran.stream).trim().split(' ');
    expect(host).toBeTruthy();
    expect(job).toBe(started!.jobId);
    expect(cwd).toBe(workDir);
    const shown = await sh(
      `scontrol show step ${started!.jobId}; squeue -s -j ${started!.jobId} -o '%i %j %o'; ps -eo args`
    );
    expect(shown.stdout).toContain('srun');
    expect(shown.stdout).not.toContain(key);
  });

  it('interrupts a running loop through the lease, and the kernel survives; shutdown_request ends it: exited, not fatal', async () => {
    const { started, key } = shared;
    const results = await drive(
      ['channels', connectionFile(started!, key!)],
      step => {
        if (step.step === 'interrupt-me') {
          lease().send({ type: 'signal', signal: 'SIGINT' });
        }
      }
    );
    const by = Object.fromEntries(results.map(r => [r.step, r]));
    expect(by.execute).toMatchObject({
      status: 'ok',
      stream: 'hello from the node\n'
    });
    expect(by.stdin).toMatchObject({ status: 'ok', stream: 'got world\n' });
    expect(by.interrupted).toMatchObject({
      status: 'error',
      ename: 'KeyboardInterrupt'
    });
    expect(by['after-interrupt']).toMatchObject({
      status: 'ok',
      result: ['42']
    });
    expect(by.shutdown).toMatchObject({ status: 'ok' });
    // The kernel ended on its own (shutdown_request): the provisioner hears it.
    expect(await lease().until('exited', 30_000)).toMatchObject({
      exitCode: 0,
      fatal: false
    });
    // A signal to the kernel that is gone: no error, the lease stays.
    lease().send({ type: 'signal', signal: 'SIGINT' });
    await sleep(300);
    expect(lease().ws.readyState).toBe(WebSocket.OPEN);
    expect(lease().seen.at(-1)!.type).toBe('exited');
  });

  it('stops and restarts in the same job, without a new one', async () => {
    lease().send({ type: 'stop' });
    await lease().until('stopped', 30_000);
    const jobId = shared.started!.jobId;
    await waitFor('no kernel step left', async () =>
      (await kernelSteps(jobId)).length === 0 ? true : false
    );
    shared.key = lease().start(true);
    const again = await lease().until('started');
    expect(again.jobId).toBe(jobId);
    expect(again.allocationId).toBe(shared.started!.allocationId);
    expect(allocations.jobs).toHaveLength(1);
    const [ran] = await drive([
      'exec',
      connectionFile(again, shared.key),
      WHERE
    ]);
    expect(String(ran.stream).trim().split(' ')[1]).toBe(jobId);
    shared.started = again;
  });

  it('release ends the kernel step and gives the kernel back; the job stays for the service', async () => {
    const jobId = shared.started!.jobId;
    expect(await kernelSteps(jobId)).toHaveLength(1);
    lease().send({ type: 'release' });
    await waitFor('the release', async () => allocations.released.length > 0);
    expect(allocations.released).toEqual([lease().kernelId]);
    await waitFor('no kernel step left', async () =>
      (await kernelSteps(jobId)).length === 0 ? true : false
    );
    const job = await sh(`squeue -h -j ${jobId} -o %T`);
    expect(job.stdout.trim()).toBe('RUNNING');
  });
});

describe('a start that is given up', () => {
  it('when the socket closes while the job is queued: the acquire is aborted, the job cancelled', async () => {
    const lease = new Lease();
    await lease.until('hello', 10_000);
    allocations.holdNext = true;
    lease.start();
    const queued = await lease.until('progress');
    expect(queued.state).toBe('queued');
    const jobId = queued.jobId!;
    lease.ws.close();
    await waitFor('the acquire to be aborted', async () =>
      allocations.aborted.includes(lease.kernelId)
    );
    expect(allocations.released).toContain(lease.kernelId);
    await waitFor('the queued job to go', async () => {
      const s = await sh(`squeue -h -j ${jobId} -o %T 2>/dev/null`);
      return s.stdout.trim() === '';
    });
  });

  it('when the notebook cancels it (POST kernel-starts/<id>/cancel): failed, cancelled', async () => {
    const lease = new Lease();
    await lease.until('hello', 10_000);
    allocations.holdNext = true;
    lease.start();
    await lease.until('progress');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath,
          method: 'POST',
          path: Routes.kernelStartCancel(lease.kernelId),
          headers: { [REQUEST_HEADER]: '1' }
        },
        res => {
          res.resume();
          resolve(res.statusCode!);
        }
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(await lease.until('failed', 30_000)).toEqual({
      type: 'failed',
      message: 'Cancelled: the kernel start was cancelled from JupyterLab.',
      cancelled: true
    });
    await waitFor('the acquire to be aborted', async () =>
      allocations.aborted.includes(lease.kernelId)
    );
    lease.ws.close();
  });
});

describe('a kernel whose step or job ends', () => {
  const shared = {} as { lease: Lease };
  it('a step cancelled alone is not fatal: the kernel restarts in the same job', async () => {
    const lease = new Lease();
    await lease.until('hello', 10_000);
    lease.start();
    const started = await lease.until('started');
    const [step] = await kernelSteps(started.jobId);
    expect(step).toMatch(new RegExp(`^${started.jobId}\\.\\d+$`));
    await sh(`scancel ${step}`);
    expect(await lease.until('exited', 30_000)).toMatchObject({
      fatal: false
    });
    lease.send({ type: 'stop' });
    await lease.until('stopped', 30_000);
    const key = lease.start(true);
    const again = await lease.until('started');
    expect(again.jobId).toBe(started.jobId);
    const [ran] = await drive(['exec', connectionFile(again, key), WHERE]);
    expect(String(ran.stream).trim().split(' ')[1]).toBe(started.jobId);
    shared.lease = lease;
  });

  it("a job that ends is fatal, with the allocation service's reason, though it hears of it late", async () => {
    const lease = shared.lease;
    const jobId = allocations.jobs.at(-1)!;
    // As the service would: it notices at its next squeue poll, seconds
    // after Slurm has killed the kernel.
    await allocations.end(lease.kernelId, 4000);
    expect(await lease.until('exited', 30_000)).toEqual({
      type: 'exited',
      reason: `The job ${jobId} was cancelled.`,
      exitCode: null,
      fatal: true
    });
    expect(lease.seen.filter(r => r.type === 'exited')).toHaveLength(2);
    await waitFor('the job to leave squeue', async () => {
      const s = await sh(`squeue -h -j ${jobId} -o %T 2>/dev/null`);
      return s.stdout.trim() === '';
    });
    lease.ws.close();
  });
});
