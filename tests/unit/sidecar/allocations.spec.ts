/**
 * AllocationService with the cluster's transport stubbed at the command
 * boundary: a fake login node that answers sbatch (through submit.sh),
 * squeue, scancel and the restore listing the way Slurm 22.05 on the demo
 * cluster does. The real runs are in tests/integration/allocations.test.ts.
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type {
  IAllocationInfo,
  IKernelProfile
} from '../../../src/common/kernels';
import type { IJobResources, ISessionInfo } from '../../../src/common/sessions';
import { fits, memoryMiB } from '../../../src/sidecar/kernels/allocation-fit';
import {
  holdScript,
  parseAllocationList,
  parseKernelSteps,
  submitAllocationCommand
} from '../../../src/sidecar/kernels/allocation-job';
import {
  emptyAllocationState,
  parseAllocationState,
  type IAllocationState
} from '../../../src/sidecar/kernels/allocation-record';
import {
  AllocationService,
  type IProgress
} from '../../../src/sidecar/kernels/allocations';
import { createLogger } from '../../../src/sidecar/log';
import type {
  ICommandOutput,
  IRemoteCommand
} from '../../../src/sidecar/shell/remote-command';
import { StateFile } from '../../../src/sidecar/state/json-file';
import type { ITransport } from '../../../src/sidecar/transport/types';

function out(stdout: string, exitCode = 0, stderr = ''): ICommandOutput {
  return {
    nonce: 'x',
    stdout: Buffer.from(stdout),
    stderr: Buffer.from(stderr),
    exitCode,
    stdoutBytes: stdout.length,
    stderrBytes: stderr.length,
    stdoutTruncated: false,
    stderrTruncated: false
  };
}

interface IFakeJob {
  name: string;
  state: string;
  reason: string;
  node: string;
}

/** A login node: jobs numbered from 70. */
class FakeLoginNode implements ITransport {
  readonly kind = 'ssh' as const;
  jobs = new Map<string, IFakeJob>();
  /** Kernel steps (`<job>.<n>`) still there. */
  steps = new Set<string>();
  /** Steps that end by themselves after the first look. */
  dyingSteps = new Set<string>();
  /** What a new job starts as. */
  startAs: { state: string; reason: string } = {
    state: 'PENDING',
    reason: 'Priority'
  };
  refuse: string | null = null;
  metas = new Map<string, string>();
  submits: string[][] = [];
  calls: string[][] = [];
  private _next = 70;

  async run(command: IRemoteCommand): Promise<ICommandOutput> {
    const argv = command.argv;
    this.calls.push([...argv]);
    switch (argv[0]) {
      case 'date':
        return out('+0000\n');
      case 'sacct':
        return out('', 1, 'sacct: error: accounting storage is disabled\n');
      case 'scancel':
        for (const id of argv.slice(1)) {
          const job = this.jobs.get(id);
          if (job && !/CANCELLED|TIMEOUT|COMPLETED/.test(job.state)) {
            job.state = 'CANCELLED';
            job.reason = 'None';
          }
          this.steps.delete(id);
        }
        return out('');
      case 'squeue':
        return this._squeue(argv);
      case 'sh':
        if (argv[3] === 'jlhpc-submit') {
          return this._submit(argv);
        }
        if (argv[3] === 'jlhpc-allocations') {
          const lines = ['+0000'];
          for (const [id, job] of this.jobs) {
            if (
              job.name.startsWith('jlhpc-k-') &&
              /PENDING|RUNNING/.test(job.state)
            ) {
              const aid = job.name.slice(8);
              lines.push(`alloc ${id} ${aid} ${this.metas.get(aid) ?? ''}`);
            }
          }
          return out(lines.join('\n') + '\n');
        }
    }
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }

  private _submit(argv: readonly string[]): ICommandOutput {
    expect(argv[4]).toBe('allocations');
    const sbatch = argv.slice(8);
    this.submits.push(sbatch);
    if (this.refuse) {
      return out('', 1, this.refuse);
    }
    const id = String(this._next++);
    const name = sbatch.find(a => a.startsWith('--job-name='))!.slice(11);
    this.metas.set(argv[5], argv[7]);
    this.jobs.set(id, { name, node: 'n1', ...this.startAs });
    return out(`${id}\n`);
  }

  private _squeue(argv: readonly string[]): ICommandOutput {
    const ids = argv
      .find(a => a.startsWith('--jobs='))!
      .slice(7)
      .split(',');
    if (argv.includes('--steps')) {
      const lines: string[] = [];
      for (const s of this.steps) {
        if (ids.includes(s.split('.')[0])) {
          lines.push(s);
        }
      }
      this.dyingSteps.forEach(s => this.steps.delete(s));
      return out(lines.map(l => `${l}\n`).join(''));
    }
    const lines = ids
      .filter(id => this.jobs.has(id))
      .map(id => {
        const j = this.jobs.get(id)!;
        const running = j.state === 'RUNNING';
        const pending = j.state === 'PENDING';
        return `${id}|${j.state}|${j.reason}|${pending ? '2026-12-06T15:00:00' : '2026-12-06T12:00:00'}|${running ? '9:00' : '10:00'}|N/A|${pending ? '' : j.node}|${pending ? 'n/a' : j.node}|0:10`;
      });
    return lines.length > 0
      ? out(lines.join('\n') + '\n')
      : out('', 1, 'slurm_load_jobs error: Invalid job id specified\n');
  }

  run1(id: string): void {
    const j = this.jobs.get(id)!;
    j.state = 'RUNNING';
    j.reason = 'None';
  }

  async openStream(): Promise<never> {
    throw new Error('no streams here');
  }

  async close(): Promise<void> {
    // nothing
  }
}

const RESOURCES: IJobResources = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '1:00:00',
  cpus: 2,
  memory: '2G',
  gpus: { type: '', count: 0 },
  constraint: ''
};

function profile(id = 'prof0001', resources = RESOURCES): IKernelProfile {
  return {
    id,
    cluster: 'hpc',
    environment: '/envs/x',
    displayName: 'x',
    resources,
    workingDirectory: '',
    language: 'python',
    interruptMode: 'signal',
    specName: `hpc-${id}`,
    createdAt: 0,
    updatedAt: 0
  };
}

const FAST = {
  startingMs: 10,
  queuedMs: 10,
  runningMs: 30,
  hiddenFactor: 1,
  jitter: 0,
  failureMs: 10,
  maxMs: 50
};

let dir: string;
let node: FakeLoginNode;
let changes: { a: IAllocationInfo; removed?: boolean }[];
const services: AllocationService[] = [];

function state(): StateFile<IAllocationState> {
  return new StateFile({
    path: join(dir, 'allocations.json'),
    parse: parseAllocationState,
    empty: emptyAllocationState
  });
}

function service(
  o: { graceSeconds?: number; sessions?: () => ISessionInfo[] } = {}
) {
  const s = new AllocationService({
    host: { transport: async () => node, sessions: o.sessions },
    state: state(),
    log: createLogger('error'),
    onChange: (a, removed) => changes.push({ a, removed }),
    origin: 'test',
    graceSeconds: o.graceSeconds ?? 600,
    pollPolicy: FAST,
    sacctRetryMs: [],
    stepSettleMs: 20,
    resumeWaitMs: 300
  });
  services.push(s);
  return s;
}

async function until(what: string, probe: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(r => setTimeout(r, 5));
  }
}

function starter(svc: AllocationService, kernelId: string, p = profile()) {
  const progress: IProgress[] = [];
  const abort = new AbortController();
  const done = svc.acquire(p, kernelId, {
    signal: abort.signal,
    onProgress: x => progress.push(x),
    notebookPath: 'n.ipynb'
  });
  done.catch(() => undefined);
  return { progress, abort, done };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-alloc-'));
  node = new FakeLoginNode();
  changes = [];
});

afterEach(async () => {
  await Promise.all(services.splice(0).map(s => s.close()));
  jest.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('fits', () => {
  const job: IJobResources = {
    partition: 'gpu',
    account: 'phys',
    qos: 'normal',
    wallTime: '2:00:00',
    cpus: 4,
    memory: '8G',
    gpus: { type: 'tesla', count: 2 },
    constraint: 'ib'
  };
  const none: IJobResources = {
    partition: '',
    account: '',
    qos: '',
    wallTime: '',
    cpus: 0,
    memory: '',
    gpus: { type: '', count: 0 },
    constraint: ''
  };
  it.each<[string, Partial<IJobResources>, boolean]>([
    ['nothing named', {}, true],
    ['the same partition', { partition: 'gpu' }, true],
    ['another partition', { partition: 'cpu' }, false],
    ['another account', { account: 'bio' }, false],
    ['another qos', { qos: 'long' }, false],
    ['fewer cpus', { cpus: 2 }, true],
    ['as many cpus', { cpus: 4 }, true],
    ['more cpus', { cpus: 5 }, false],
    ['less memory', { memory: '4096M' }, true],
    ['as much memory', { memory: '8192' }, true],
    ['more memory', { memory: '9G' }, false],
    ['fewer gpus of any type', { gpus: { type: '', count: 1 } }, true],
    ['gpus of the same type', { gpus: { type: 'tesla', count: 2 } }, true],
    ['gpus of another type', { gpus: { type: 'a100', count: 1 } }, false],
    ['more gpus', { gpus: { type: '', count: 3 } }, false],
    ['the same constraint', { constraint: 'ib' }, true],
    ['another constraint', { constraint: 'a100' }, false]
  ])('%s', (_, wanted, expected) => {
    expect(fits({ ...none, ...wanted }, job)).toBe(expected);
  });

  it('does not count a job of default memory as enough', () => {
    expect(fits({ ...none, memory: '1G' }, { ...job, memory: '' })).toBe(false);
    expect(memoryMiB('1.5G')).toBe(1536);
    expect(memoryMiB('lots')).toBeNull();
  });
});

describe('acquire', () => {
  it('submits a hold job and reports waiting, queued, starting, then the node', async () => {
    const svc = service();
    const { progress, done } = starter(svc, 'k1');
    await until('queued', () => progress.some(p => p.state === 'queued'));
    const sbatch = node.submits[0];
    const [alloc] = svc.list();
    expect(sbatch).toEqual([
      'sbatch',
      '--parsable',
      `--job-name=jlhpc-k-${alloc.id}`,
      '--output=job.log',
      '--open-mode=append',
      '--time=01:00:00',
      '--nodes=1',
      '--ntasks=1',
      '--cpus-per-task=2',
      '--mem=2G',
      'job.sh'
    ]);
    expect(alloc).toMatchObject({
      phase: 'queued',
      jobId: '70',
      reason: 'Priority',
      profile: 'prof0001',
      kernels: [{ kernelId: 'k1', state: 'waiting', notebookPath: 'n.ipynb' }]
    });
    node.run1('70');
    await expect(done).resolves.toEqual({
      allocationId: alloc.id,
      cluster: 'hpc',
      jobId: '70',
      node: 'n1'
    });
    expect(progress.map(p => p.state)).toEqual([
      'waiting',
      'queued',
      'starting'
    ]);
    expect(progress[1]).toEqual({
      state: 'queued',
      jobId: '70',
      reason: 'Priority',
      estimatedStart: Date.parse('2026-12-06T15:00:00Z')
    });
    expect(svc.list()[0]).toMatchObject({ phase: 'running', node: 'n1' });
    svc.kernelState('k1', 'running', '70.0');
    expect(svc.list()[0].kernels[0]).toMatchObject({
      state: 'running',
      stepId: '70.0'
    });
    expect(svc.list()[0].kernels[0].startedAt).not.toBeNull();
  });

  it('shares a queued job between kernels of the same profile', async () => {
    const svc = service();
    const a = starter(svc, 'k1');
    const b = starter(svc, 'k2');
    await until('queued', () => b.progress.some(p => p.state === 'queued'));
    expect(node.submits).toHaveLength(1);
    node.run1('70');
    const [ga, gb] = await Promise.all([a.done, b.done]);
    expect(ga).toEqual(gb);
    // A third kernel goes into the running job at once.
    const c = starter(svc, 'k3');
    await expect(c.done).resolves.toEqual(ga);
    expect(node.submits).toHaveLength(1);
    expect(svc.list()[0].kernels.map(k => k.kernelId)).toEqual([
      'k1',
      'k2',
      'k3'
    ]);
  });

  it('uses a running job of another profile that covers this one, not one that does not', async () => {
    const svc = service();
    const big = starter(
      svc,
      'k1',
      profile('big00001', { ...RESOURCES, cpus: 4 })
    );
    await until('submitted', () => node.jobs.has('70'));
    node.run1('70');
    await big.done;
    const small = starter(
      svc,
      'k2',
      profile('small001', { ...RESOURCES, cpus: 1 })
    );
    await expect(small.done).resolves.toMatchObject({ jobId: '70' });
    const bigger = starter(
      svc,
      'k3',
      profile('bigger01', { ...RESOURCES, partition: 'gpu' })
    );
    await until('a second job', () => node.submits.length === 2);
    bigger.abort.abort();
    await expect(bigger.done).rejects.toMatchObject({
      code: 'kernel-start-cancelled'
    });
  });

  it('keeps waiting for the same job when a waiting kernel is started again', async () => {
    const svc = service();
    const a = starter(svc, 'k1');
    await until('queued', () => a.progress.some(p => p.state === 'queued'));
    const again = starter(svc, 'k1');
    await expect(a.done).rejects.toMatchObject({
      code: 'kernel-start-cancelled'
    });
    node.run1('70');
    await expect(again.done).resolves.toMatchObject({ jobId: '70' });
    expect(node.submits).toHaveLength(1);
    expect(node.calls.some(c => c[0] === 'scancel')).toBe(false);
    expect(svc.list()[0].kernels.map(k => k.kernelId)).toEqual(['k1']);
  });

  it('cancels the job when every kernel waiting for it gave up', async () => {
    const svc = service();
    const a = starter(svc, 'k1');
    const b = starter(svc, 'k2');
    await until('queued', () => a.progress.some(p => p.state === 'queued'));
    a.abort.abort();
    await expect(a.done).rejects.toMatchObject({
      code: 'kernel-start-cancelled'
    });
    expect(node.calls.some(c => c[0] === 'scancel')).toBe(false);
    b.abort.abort();
    await expect(b.done).rejects.toMatchObject({
      code: 'kernel-start-cancelled'
    });
    await until('ended', () => svc.list()[0]?.phase === 'ended');
    expect(node.calls).toContainEqual(['scancel', '70']);
    expect(svc.list()[0].end?.message).toMatch(/No kernel waits/);
  });

  it('cancels a job whose only kernel gave up before sbatch answered', async () => {
    const svc = service();
    let answer!: () => void;
    const gate = new Promise<void>(r => (answer = r));
    const run = node.run.bind(node);
    node.run = async c => {
      if (c.argv[3] === 'jlhpc-submit') {
        await gate;
      }
      return run(c);
    };
    const a = starter(svc, 'k1');
    await until('submitting', () => svc.list()[0]?.phase === 'submitting');
    a.abort.abort();
    await expect(a.done).rejects.toMatchObject({
      code: 'kernel-start-cancelled'
    });
    answer();
    await until('ended', () => svc.list()[0]?.phase === 'ended');
    expect(node.calls).toContainEqual(['scancel', '70']);
  });

  it('passes sbatch refusals on in its own words', async () => {
    node.refuse =
      'sbatch: error: Batch job submission failed: Invalid partition name specified\n';
    const svc = service();
    const a = starter(svc, 'k1');
    await expect(a.done).rejects.toMatchObject({
      code: 'sbatch-refused',
      message:
        'sbatch: error: Batch job submission failed: Invalid partition name specified'
    });
    expect(svc.list()).toEqual([]);
    expect(changes[changes.length - 1].removed).toBe(true);
  });

  it('fails a start whose job ended before it ran', async () => {
    const svc = service();
    const a = starter(svc, 'k1');
    await until('queued', () => a.progress.some(p => p.state === 'queued'));
    node.jobs.get('70')!.state = 'CANCELLED';
    await expect(a.done).rejects.toMatchObject({
      code: 'allocation-ended',
      message: expect.stringMatching(/cancelled \(scancel\)/)
    });
  });

  it('runs kernels in a running JupyterLab session whose job covers the profile, and never cancels it', async () => {
    const session = {
      id: 'sess0001',
      cluster: 'hpc',
      phase: 'running',
      request: { ...RESOURCES, cpus: 8, memory: '16G' },
      jobId: '60',
      jobState: 'RUNNING',
      node: 'n2',
      startTime: null,
      timeLeftSeconds: 100,
      observedAt: null
    } as unknown as ISessionInfo;
    node.jobs.set('60', {
      name: 'jlhpc-sess0001',
      state: 'RUNNING',
      reason: 'None',
      node: 'n2'
    });
    const svc = service({ graceSeconds: 0, sessions: () => [session] });
    const ended: string[] = [];
    svc.onEnded((_, reason) => ended.push(reason));
    const a = starter(svc, 'k1');
    await expect(a.done).resolves.toMatchObject({ jobId: '60', node: 'n2' });
    expect(node.submits).toHaveLength(0);
    expect(svc.list()[0]).toMatchObject({
      sessionId: 'sess0001',
      profile: null
    });
    svc.release('k1');
    expect(svc.list()).toEqual([]);
    const b = starter(svc, 'k2');
    await expect(b.done).resolves.toMatchObject({ jobId: '60' });
    node.jobs.get('60')!.state = 'TIMEOUT';
    await until('ended', () => ended.length === 1);
    expect(ended[0]).toMatch(/session/);
    expect(node.calls.some(c => c[0] === 'scancel')).toBe(false);
  });
});

describe('grace period', () => {
  it('cancels the job a grace period after its last kernel, unless a kernel comes back', async () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-06T12:00:00Z') });
    const svc = service({ graceSeconds: 60 });
    const ended: [string, string][] = [];
    svc.onEnded((id, reason) => ended.push([id, reason]));
    const a = starter(svc, 'k1');
    await jest.advanceTimersByTimeAsync(50);
    node.run1('70');
    await jest.advanceTimersByTimeAsync(50);
    await a.done;
    svc.release('k1');
    const t0 = Date.now();
    expect(svc.list()[0].releaseAt).toBe(t0 + 60_000);
    await jest.advanceTimersByTimeAsync(59_000);
    expect(node.jobs.get('70')!.state).toBe('RUNNING');
    // A kernel during the grace period keeps it.
    const b = starter(svc, 'k2');
    await jest.advanceTimersByTimeAsync(10);
    await expect(b.done).resolves.toMatchObject({ jobId: '70' });
    expect(svc.list()[0].releaseAt).toBeNull();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(node.jobs.get('70')!.state).toBe('RUNNING');
    svc.release('k2');
    await jest.advanceTimersByTimeAsync(59_999);
    expect(node.jobs.get('70')!.state).toBe('RUNNING');
    await jest.advanceTimersByTimeAsync(200);
    expect(node.calls).toContainEqual(['scancel', '70']);
    expect(svc.list()[0].phase).toBe('ended');
    expect(ended).toEqual([
      [svc.list()[0].id, expect.stringMatching(/released/)]
    ]);
    expect(node.submits).toHaveLength(1);
  });

  it('cancels again later when the cluster could not be reached at the end of the grace period', async () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-06T12:00:00Z') });
    const svc = service({ graceSeconds: 10 });
    const a = starter(svc, 'k1');
    await jest.advanceTimersByTimeAsync(50);
    node.run1('70');
    await jest.advanceTimersByTimeAsync(50);
    await a.done;
    const run = node.run.bind(node);
    let down = true;
    node.run = async c => {
      if (down && c.argv[0] === 'scancel') {
        throw new Error('connection lost');
      }
      return run(c);
    };
    svc.release('k1');
    await jest.advanceTimersByTimeAsync(10_100);
    expect(svc.list()[0].phase).toBe('running');
    expect(node.jobs.get('70')!.state).toBe('RUNNING');
    down = false;
    await jest.advanceTimersByTimeAsync(30_000);
    expect(node.jobs.get('70')!.state).toBe('CANCELLED');
    await jest.advanceTimersByTimeAsync(100);
    expect(svc.list()[0].end?.message).toMatch(/released/);
  });

  it('takes the grace period from the settings and keeps it in the state file', async () => {
    const svc = service();
    svc.setGraceSeconds(120);
    await svc.flush();
    const again = service();
    await again.restore();
    expect(again.graceSeconds).toBe(120);
  });
});

describe('ending', () => {
  async function running(svc: AllocationService) {
    const a = starter(svc, 'k1');
    await until('submitted', () => node.jobs.has('70'));
    node.run1('70');
    return a.done;
  }

  it.each([
    ['TIMEOUT', /reached its wall time/],
    ['NODE_FAIL', /node failure/],
    ['CANCELLED', /cancelled \(scancel\)/],
    ['OUT_OF_MEMORY', /ran out of memory/]
  ])('says why when the job ends as %s', async (state, reason) => {
    const svc = service();
    const ended: string[] = [];
    svc.onEnded((_, r) => ended.push(r));
    await running(svc);
    node.jobs.get('70')!.state = state;
    await until('ended', () => ended.length === 1);
    expect(ended[0]).toMatch(reason);
    expect(svc.list()[0]).toMatchObject({
      phase: 'ended',
      kernels: [{ state: 'ended' }]
    });
  });

  it('ends an allocation from the panel', async () => {
    const svc = service();
    const ended: string[] = [];
    svc.onEnded((_, r) => ended.push(r));
    const grant = await running(svc);
    const info = await svc.end(grant.allocationId);
    expect(info.phase).toBe('ending');
    await until('ended', () => ended.length === 1);
    expect(ended[0]).toMatch(/ended from the panel/);
    expect(node.calls).toContainEqual(['scancel', '70']);
    await expect(svc.end('nosuch00')).rejects.toMatchObject({
      code: 'allocation-not-found'
    });
  });

  it('releases the jobs held for kernels when the server stops, but never a session job', async () => {
    const session = {
      id: 'sess0002',
      cluster: 'hpc',
      phase: 'running',
      request: { ...RESOURCES, cpus: 8, memory: '16G' },
      jobId: '61',
      jobState: 'RUNNING',
      node: 'n2',
      startTime: null,
      timeLeftSeconds: 100,
      observedAt: null
    } as unknown as ISessionInfo;
    node.jobs.set('61', {
      name: 'jlhpc-sess0002',
      state: 'RUNNING',
      reason: 'None',
      node: 'n2'
    });
    let sessions: ISessionInfo[] = [];
    const svc = service({ sessions: () => sessions });
    await running(svc);
    sessions = [session];
    const big = profile('prof0002', { ...RESOURCES, cpus: 4 });
    const inSession = starter(svc, 'k2', big);
    // A profile the held job does not cover: it goes to the session's job.
    await expect(inSession.done).resolves.toMatchObject({ jobId: '61' });
    await svc.releaseAll();
    expect(node.calls.filter(c => c[0] === 'scancel')).toEqual([
      ['scancel', '70']
    ]);
  });

  it('forgets a job squeue no longer knows, with the reason unknown', async () => {
    const svc = service();
    const ended: string[] = [];
    svc.onEnded((_, r) => ended.push(r));
    await running(svc);
    node.jobs.delete('70');
    await until('ended', () => ended.length === 1);
    expect(ended[0]).toMatch(/no record of why/);
  });
});

describe('restore', () => {
  it('adopts the allocations of the file and those it missed, cancels leftover kernel steps, and releases them after the grace period', async () => {
    // Its grace period is the one restored (the settings' last value).
    const first = service({ graceSeconds: 1 });
    const a = starter(first, 'k1');
    await until('submitted', () => node.jobs.has('70'));
    node.run1('70');
    await a.done;
    await first.flush();
    await first.close();
    // A job the file missed (the sidecar died right after sbatch).
    node.jobs.set('80', {
      name: 'jlhpc-k-lost0001',
      state: 'RUNNING',
      reason: 'None',
      node: 'n1'
    });
    node.metas.set(
      'lost0001',
      JSON.stringify({
        id: 'lost0001',
        profile: 'prof0002',
        resources: RESOURCES,
        createdAt: 5,
        origin: 'test'
      })
    );
    // A job of ours submitted from another computer is left to it.
    node.jobs.set('85', {
      name: 'jlhpc-k-else0001',
      state: 'RUNNING',
      reason: 'None',
      node: 'n1'
    });
    node.metas.set(
      'else0001',
      JSON.stringify({
        id: 'else0001',
        profile: 'prof0003',
        resources: RESOURCES,
        createdAt: 6,
        origin: 'another-laptop'
      })
    );
    // Someone else's job of another name is none of ours.
    node.jobs.set('90', {
      name: 'other',
      state: 'RUNNING',
      reason: 'None',
      node: 'n1'
    });
    node.steps = new Set(['70.0', '70.1', '80.0', '85.0']);
    node.dyingSteps = new Set(['70.0']);
    const svc = service({ graceSeconds: 600 });
    const ended: string[] = [];
    svc.onEnded((_, r) => ended.push(r));
    await svc.restore();
    await svc.leftStepsSettled();
    expect(svc.graceSeconds).toBe(1);
    const list = svc.list();
    expect(list.map(x => x.jobId).sort()).toEqual(['70', '80']);
    expect(list.find(x => x.jobId === '80')).toMatchObject({
      id: 'lost0001',
      profile: 'prof0002',
      createdAt: 5
    });
    for (const x of list) {
      expect(x.kernels).toEqual([]);
      expect(x.releaseAt).not.toBeNull();
    }
    const cancelled = node.calls.filter(c => c[0] === 'scancel');
    expect(cancelled).toEqual([['scancel', '70.1', '80.0']]);
    await until('both released', () => ended.length === 2, 4000);
    expect(node.jobs.get('70')!.state).toBe('CANCELLED');
    expect(node.jobs.get('80')!.state).toBe('CANCELLED');
    expect(node.jobs.get('90')!.state).toBe('RUNNING');
    expect(node.jobs.get('85')!.state).toBe('RUNNING');
  });

  it('gives a kernel that a new sidecar takes up its allocation back: its step is kept, the grace stops', async () => {
    const first = service({ graceSeconds: 1 });
    const a = starter(first, 'k1');
    await until('submitted', () => node.jobs.has('70'));
    node.run1('70');
    await a.done;
    await first.flush();
    await first.close();
    // k1's relay outlived the sidecar (70.1); 70.2 is nobody's.
    node.steps = new Set(['70.1', '70.2']);
    const svc = service({ graceSeconds: 1 });
    const ended: string[] = [];
    svc.onEnded((_, r) => ended.push(r));
    await svc.restore();
    const grant = await svc.resume(profile(), 'k1', '70', 'nb.ipynb');
    expect(grant).toMatchObject({ jobId: '70', node: 'n1' });
    svc.kernelState('k1', 'running', '70.1');
    await svc.leftStepsSettled();
    expect(node.calls.filter(c => c[0] === 'scancel')).toEqual([
      ['scancel', '70.2']
    ]);
    const [allocation] = svc.list();
    expect(allocation.kernels).toMatchObject([
      { kernelId: 'k1', state: 'running', stepId: '70.1' }
    ]);
    expect(allocation.releaseAt).toBeNull();
    await new Promise(resolve => setTimeout(resolve, 1500));
    expect(ended).toEqual([]);
    await expect(svc.resume(profile(), 'k2', '99', null)).rejects.toThrow(
      /job 99 on .* is not running any more/
    );
  });

  it('drops records whose job is gone', async () => {
    const first = service();
    const a = starter(first, 'k1');
    await until('submitted', () => node.jobs.has('70'));
    node.run1('70');
    await a.done;
    await first.flush();
    await first.close();
    node.jobs.delete('70');
    const svc = service();
    const ended: string[] = [];
    svc.onEnded((_, r) => ended.push(r));
    await svc.restore();
    await until('ended', () => ended.length === 1);
    expect(svc.list()[0].phase).toBe('ended');
  });
});

describe('the hold job', () => {
  it('submits through submit.sh into the allocations directory, with a script that only waits', () => {
    const c = submitAllocationCommand(
      {
        id: 'abcdef01',
        profile: 'p1',
        resources: RESOURCES,
        createdAt: 1,
        origin: 'x'
      },
      { ...RESOURCES, partition: "it's; rm -rf ~" }
    );
    expect(c.argv.slice(3, 6)).toEqual([
      'jlhpc-submit',
      'allocations',
      'abcdef01'
    ]);
    expect(c.argv[6]).toBe(holdScript('abcdef01'));
    expect(c.argv[6]).toMatch(/\nexec sleep infinity\n$/);
    expect(JSON.parse(c.argv[7])).toMatchObject({ id: 'abcdef01' });
    // A user value is one argv word of sbatch's, never shell text.
    expect(c.argv).toContain("--partition=it's; rm -rf ~");
    expect(() => holdScript('../x')).toThrow(/allocation id/);
  });

  it('reads the restore listing, skipping what is not ours', () => {
    const listed = parseAllocationList(
      '+0100\nalloc 12 abcdef01 {"id":"abcdef01","profile":"p","resources":{"cpus":1,"gpus":{"type":"","count":0}},"createdAt":3}\nalloc 13 abcdef02 \nnoise\n'
    );
    expect(listed.utcOffsetMinutes).toBe(60);
    expect(listed.allocations).toEqual([
      {
        jobId: '12',
        id: 'abcdef01',
        meta: expect.objectContaining({ profile: 'p', createdAt: 3 })
      },
      { jobId: '13', id: 'abcdef02', meta: null }
    ]);
    expect(parseKernelSteps('12.0\n12.batch\n12.extern\n13.4\n')).toEqual([
      '12.0',
      '13.4'
    ]);
  });
});
