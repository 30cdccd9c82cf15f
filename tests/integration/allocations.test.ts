/**
 * AllocationService (from source) against the real demo cluster over the
 * sidecar's own SSH connection, and on this computer (":local") with the
 * local transport: a hold job that runs, kernels of one profile sharing it,
 * release after a short grace period, a job kept waiting by a full node and
 * given up, scancel from the command line, a restart that adopts the jobs
 * (and cancels a kernel step left behind) then releases them, and another
 * cluster user who can read nothing of an allocation's directory.
 */
import { execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';

import { LOCAL_TARGET } from '../../src/common/api';
import type { IKernelProfile } from '../../src/common/kernels';
import type { IJobResources } from '../../src/common/sessions';
import { SidecarError } from '../../src/sidecar/errors';
import {
  emptyAllocationState,
  parseAllocationState
} from '../../src/sidecar/kernels/allocation-record';
import {
  AllocationService,
  type IProgress
} from '../../src/sidecar/kernels/allocations';
import { createLogger } from '../../src/sidecar/log';
import { asText } from '../../src/sidecar/sessions/offer';
import { SharedJobPollers } from '../../src/sidecar/slurm/shared-pollers';
import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import { SshConnection } from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { StateFile } from '../../src/sidecar/state/json-file';
import { LocalTransport } from '../../src/sidecar/transport/local';
import type { ITransport } from '../../src/sidecar/transport/types';
import { demoCluster, writeDemoSshFiles } from '../support/demo-cluster';
import { waitFor } from '../support/proc';

const demo = demoCluster();

const refuse: IPrompter = {
  ask: async () => {
    throw new SidecarError('auth-cancelled', 'no questions in this test');
  }
};

const RESOURCES: IJobResources = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '10',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: ''
};

function profile(id: string, cluster = 'demo'): IKernelProfile {
  return {
    id,
    cluster,
    environment: demo.envs.find(e => e.ipykernel)!.prefix,
    displayName: id,
    resources: RESOURCES,
    workingDirectory: '',
    language: 'python',
    interruptMode: 'signal',
    specName: `hpc-${id}`,
    createdAt: 0,
    updatedAt: 0
  };
}

const POLL_POLICY = {
  startingMs: 300,
  queuedMs: 500,
  runningMs: 1000,
  hiddenFactor: 1,
  jitter: 0,
  failureMs: 500,
  maxMs: 5000
};

let home: string;
let localHome: string;
let askpass: AskpassBridge;
let connection: SshConnection;
let local: LocalTransport;
const made: AllocationService[] = [];
/** Every job the suite saw: cancelled at the end, whatever happened. */
const jobs = new Set<string>();
const localJobs = new Set<string>();

function service(statePath: string, graceSeconds = 2) {
  const transport = async (name: string): Promise<ITransport> =>
    name === LOCAL_TARGET ? local : connection;
  const s = new AllocationService({
    host: { transport },
    // As the sidecar does (services.ts): polling shared with the sessions.
    pollers: new SharedJobPollers({
      run: async (cluster, argv) =>
        asText(
          await (await transport(cluster)).run({ argv, timeoutSeconds: 30 })
        ),
      policy: POLL_POLICY
    }),
    state: new StateFile({
      path: statePath,
      parse: parseAllocationState,
      empty: emptyAllocationState
    }),
    log: createLogger('warn'),
    onChange: a => {
      if (a.jobId) {
        (a.cluster === LOCAL_TARGET ? localJobs : jobs).add(a.jobId);
      }
    },
    origin: 'allocations.test.ts',
    graceSeconds,

    stepSettleMs: 1500
  });
  made.push(s);
  return s;
}

async function sh(script: string) {
  const out = await connection.run({ argv: ['sh', '-c', script] });
  return {
    code: out.exitCode,
    stdout: out.stdout.toString(),
    stderr: out.stderr.toString()
  };
}

/** squeue's state word of the job, or '' once squeue forgot it. */
async function jobState(jobId: string): Promise<string> {
  const s = await sh(`squeue -h -t all -j ${jobId} -o %T 2>/dev/null`);
  return s.stdout.trim();
}

const over = (state: string) => state === '' || /CANCELLED/.test(state);

function start(svc: AllocationService, kernelId: string, p: IKernelProfile) {
  const progress: IProgress[] = [];
  const abort = new AbortController();
  const done = svc.acquire(p, kernelId, {
    signal: abort.signal,
    onProgress: x => progress.push(x),
    notebookPath: null
  });
  done.catch(() => undefined);
  return { progress, abort, done };
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-alloc-it-'));
  localHome = mkdtempSync(join(tmpdir(), 'jlhpc-alloc-local-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeDemoSshFiles(home);
  askpass = new AskpassBridge();
  const env = { PATH: process.env.PATH, HOME: home };
  connection = new SshConnection({
    resolve: () =>
      resolveRoute('hpc-demo', {
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
  local = new LocalTransport({
    env: { ...process.env, HOME: localHome }
  });
});

afterAll(async () => {
  await Promise.all(made.map(s => s.close()));
  if (jobs.size > 0) {
    await connection.run({ argv: ['scancel', ...jobs] }).catch(() => undefined);
  }
  if (localJobs.size > 0) {
    await local.run({ argv: ['scancel', ...localJobs] }).catch(() => undefined);
  }
  await connection.close();
  await local.close();
  askpass.close();
  rmSync(home, { recursive: true, force: true });
  rmSync(localHome, { recursive: true, force: true });
});

describe('allocations on the demo cluster', () => {
  it('runs a hold job, shares it between kernels of a profile, and cancels it a grace period after the last one', async () => {
    const svc = service(join(home, 'a1.json'), 2);
    const p = profile('share001');
    const a = start(svc, 'k1', p);
    const b = start(svc, 'k2', p);
    const [ga, gb] = await Promise.all([a.done, b.done]);
    expect(ga).toEqual(gb);
    expect(ga.node).toBeTruthy();
    expect(await jobState(ga.jobId)).toBe('RUNNING');
    const c = start(svc, 'k3', p);
    await expect(c.done).resolves.toEqual(ga);
    const mine = await sh(
      `squeue -h -u ${demo.user} -o %j | grep -c '^jlhpc-k-${ga.allocationId}$'`
    );
    expect(mine.stdout.trim()).toBe('1');
    expect(a.progress.map(x => x.state)).toContain('starting');

    // Owner-only: another user of the cluster reads nothing of it.
    const dir = `.jupyterlab-hpc/allocations/${ga.allocationId}`;
    const modes = await sh(
      `stat -c '%a %n' "$HOME/.jupyterlab-hpc" "$HOME/.jupyterlab-hpc/allocations" "$HOME/${dir}" "$HOME/${dir}/job.log" "$HOME/${dir}/allocation.json"`
    );
    expect(modes.stdout.split('\n').map(l => l.split(' ')[0])).toEqual([
      '700',
      '700',
      '700',
      '600',
      '600',
      ''
    ]);
    const path = `/home/${demo.user}/${dir}`;
    for (const argv of [
      ['ls', path],
      ['cat', `${path}/job.log`],
      ['cat', `${path}/allocation.json`]
    ]) {
      let refused = false;
      try {
        execFileSync('runuser', ['-u', demo.otherUser, '--', ...argv], {
          stdio: 'pipe',
          cwd: '/'
        });
      } catch (err) {
        refused = /Permission denied/.test(
          String((err as { stderr?: Buffer }).stderr)
        );
      }
      expect(refused).toBe(true);
    }

    for (const k of ['k1', 'k2']) {
      svc.release(k);
    }
    expect(svc.list()[0].releaseAt).toBeNull();
    svc.release('k3');
    expect(svc.list()[0].releaseAt).not.toBeNull();
    // Within the grace period it still runs.
    expect(await jobState(ga.jobId)).toBe('RUNNING');
    await waitFor(
      'the release',
      async () => over(await jobState(ga.jobId)),
      20_000
    );
    await waitFor(
      'the allocation to end',
      () => svc.list()[0].phase === 'ended',
      10_000
    );
    expect(svc.list()[0].end?.message).toMatch(/released/);
  });

  it('shows a job kept waiting by a full node with its reason, and cancels it when its only kernel gives up', async () => {
    const blocker = await sh(
      'sbatch --parsable --job-name=jlhpc-alloc-blocker --exclusive --time=5 --wrap "sleep 300"'
    );
    expect(blocker).toMatchObject({ code: 0 });
    const blockerId = blocker.stdout.trim().split(';')[0];
    jobs.add(blockerId);
    try {
      await waitFor(
        'the blocker to run',
        async () => (await jobState(blockerId)) === 'RUNNING',
        60_000
      );
      const svc = service(join(home, 'a2.json'));
      const a = start(svc, 'k1', profile('queue001'));
      await waitFor(
        'queued with a reason',
        () => a.progress.some(x => x.state === 'queued' && x.reason !== null),
        30_000
      );
      const queued = a.progress.find(x => x.state === 'queued')!;
      expect(queued.jobId).toMatch(/^\d+$/);
      expect(queued.reason).toMatch(/Resources|Priority/);
      expect(svc.list()[0]).toMatchObject({
        phase: 'queued',
        jobState: 'PENDING'
      });
      a.abort.abort();
      await expect(a.done).rejects.toMatchObject({
        code: 'kernel-start-cancelled'
      });
      await waitFor(
        'the cancel',
        async () => over(await jobState(queued.jobId!)),
        20_000
      );
    } finally {
      await sh(`scancel ${blockerId}`);
    }
  });

  it('reports a job cancelled from the command line as ended, with the reason', async () => {
    const svc = service(join(home, 'a3.json'));
    const ended: string[] = [];
    svc.onEnded((_, reason) => ended.push(reason));
    const g = await start(svc, 'k1', profile('scan0001')).done;
    expect(await sh(`scancel ${g.jobId}`)).toMatchObject({ code: 0 });
    await waitFor('onEnded', () => ended.length === 1, 20_000);
    expect(ended[0]).toMatch(/cancelled \(scancel\)/);
    expect(svc.list()[0].kernels[0].state).toBe('ended');
  });

  it('adopts its jobs after a restart, cancels a kernel step left behind, and releases them after the grace period', async () => {
    const statePath = join(home, 'a4.json');
    // 20 s: the step must be gone well before the job is released.
    const first = service(statePath, 20);
    const g = await start(first, 'k1', profile('restore1')).done;
    // A kernel step whose srun outlived the old sidecar.
    const step = await sh(
      `setsid srun --overlap --jobid=${g.jobId} --ntasks=1 sleep 600 </dev/null >/dev/null 2>&1 & sleep 2; squeue -h -s -j ${g.jobId} -o %i`
    );
    expect(step.stdout).toMatch(new RegExp(`^${g.jobId}\\.0$`, 'm'));
    await first.flush();
    await first.close();

    const again = service(statePath, 600);
    const ended: string[] = [];
    again.onEnded((_, reason) => ended.push(reason));
    await again.restore();
    const [adopted] = again.list();
    expect(adopted).toMatchObject({
      id: g.allocationId,
      jobId: g.jobId,
      profile: 'restore1',
      kernels: []
    });
    expect(adopted.releaseAt).not.toBeNull();
    // Cancelled by the restore (scancel returns before the step is gone).
    await waitFor(
      'the step to go',
      async () =>
        !/\.0$/m.test((await sh(`squeue -h -s -j ${g.jobId} -o %i`)).stdout),
      10_000
    );
    expect(ended).toEqual([]);
    expect(again.graceSeconds).toBe(20);
    await waitFor('the release', () => ended.length === 1, 30_000);
    expect(ended[0]).toMatch(/released/);
    await waitFor(
      'the job to end',
      async () => over(await jobState(g.jobId)),
      20_000
    );
  });

  it('adopts a job of ours that the state file never recorded', async () => {
    const first = service(join(home, 'a5.json'), 600);
    const g = await start(first, 'k1', profile('lost0001')).done;
    await first.close();
    const again = service(join(home, 'a5-empty.json'), 1);
    // Only clusters with records are asked: give it one that is gone.
    const seed = new StateFile({
      path: join(home, 'a5-empty.json'),
      parse: parseAllocationState,
      empty: emptyAllocationState
    });
    await seed.save({
      version: 1,
      allocations: [
        {
          id: 'gone0001',
          cluster: 'demo',
          profile: null,
          resources: RESOURCES,
          createdAt: 1,
          jobId: null
        }
      ],
      graceSeconds: 1
    });
    await again.restore();
    expect(again.list().map(a => a.id)).toEqual([g.allocationId]);
    expect(again.list()[0].profile).toBe('lost0001');
    await waitFor(
      'the job to end',
      async () => over(await jobState(g.jobId)),
      20_000
    );
  });
});

describe('allocations on this computer (":local")', () => {
  it('submits, runs and ends the hold job with the local transport', async () => {
    const svc = service(join(localHome, 'state.json'), 600);
    const g = await start(svc, 'k1', profile('local001', LOCAL_TARGET)).done;
    const state = await local.run({
      argv: ['squeue', '-h', '-j', g.jobId, '-o', '%T|%j']
    });
    expect(state.stdout.toString().trim()).toBe(
      `RUNNING|jlhpc-k-${g.allocationId}`
    );
    const info = await svc.end(g.allocationId);
    expect(info.phase).toBe('ending');
    await waitFor('ended', () => svc.list()[0].phase === 'ended', 20_000);
    expect(svc.list()[0].end?.message).toMatch(/ended from the panel/);
  });
});
