/**
 * Sessions through the real sidecar on the demo's second cluster, which has
 * no Slurm accounting (tests/cluster/demo-cluster.sh: no slurmdbd, squeue
 * forgets an ended job after MinJobAge): the launch form is told why and
 * takes free text, account and QOS go to sbatch unchecked (and sbatch, not
 * the sidecar, judges them: it labels the job with the account and drops the
 * QOS), a session runs with a working forward, and a job cancelled from a
 * shell ends with what the cluster can truthfully say: squeue's CANCELLED
 * while it lasts, the job's own record once it is gone.
 * The first cluster, beside it, still reports its accounting.
 */
import { execFileSync } from 'child_process';
import { rmSync } from 'fs';

import type {
  ILaunchCheck,
  ILaunchOffer,
  ILaunchRequest,
  ISessionEvent,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  noAccountingCluster,
  writeBothClustersSshFiles
} from '../support/demo-cluster';
import { waitFor } from '../support/proc';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';

const demo = demoCluster();
const noacct = noAccountingCluster(demo);
const SESSIONS = '/api/v1/clusters/noacct/sessions';

/** Free text the cluster cannot check: sbatch takes it as it is. */
const request = demoLaunchRequest(
  { account: 'any-project', qos: 'any-qos', wallTime: '10' },
  noacct
);

/** A command on the cluster without accounting, as its user. */
function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', noacct.alias, command], {
    encoding: 'utf8'
  });
}

let home: string;
let sidecar: ISidecar;
const jobs: string[] = [];

async function start(): Promise<void> {
  sidecar = await startSidecar({ home });
  const put = await sidecar.api('PUT', '/api/v1/clusters', {
    clusters: [
      { name: 'noacct', host: noacct.alias },
      { name: 'demo', host: demo.alias }
    ]
  });
  expect(put.status).toBe(200);
}

const isSession =
  (id: string, phase: ISessionInfo['phase']) =>
  (e: SidecarEvent): e is ISessionEvent =>
    e.type === 'session' && e.session.id === id && e.session.phase === phase;

async function launchRunning(req: ILaunchRequest): Promise<ISessionInfo> {
  const r = await sidecar.api<ISessionInfo>('POST', SESSIONS, req);
  expect(r.status).toBe(201);
  jobs.push(r.body.jobId!);
  return (await sidecar.waitForEvent(isSession(r.body.id, 'running'), 120_000))
    .session;
}

async function reachable(id: string): Promise<number> {
  const open = await sidecar.api<{ url: string }>(
    'GET',
    `/api/v1/sessions/${id}/open`
  );
  expect(open.status).toBe(200);
  const url = new URL(open.body.url);
  expect(url.hostname).toBe('127.0.0.1');
  const r = await fetch(`${url.origin}/api/status`, {
    headers: { Authorization: `token ${url.searchParams.get('token')}` }
  });
  return r.status;
}

beforeAll(async () => {
  home = makeHome('jlhpc-sessions-noacct-');
  writeBothClustersSshFiles(home, demo);
  await start();
});

afterAll(async () => {
  await sidecar?.stop();
  if (jobs.length > 0) {
    ssh(`scancel ${jobs.join(' ')} 2>/dev/null || true`);
  }
  rmSync(home, { recursive: true, force: true });
});

describe('sessions on a cluster without accounting', () => {
  it('is a cluster of its own, reached through SLURM_CONF', () => {
    expect(ssh('echo $SLURM_CONF; sinfo -h -o "%R %N"')).toBe(
      `${noacct.slurmConf}\n${noacct.partition} ${noacct.node}\n`
    );
    expect(
      execFileSync('ssh', ['-o', 'BatchMode=yes', demo.alias, 'sinfo -h -o %R'])
        .toString()
        .split('\n')
    ).not.toContain(noacct.partition);
  });

  it('offers free text: no accounting, with the reason, no accounts', async () => {
    const r = await sidecar.api<ILaunchOffer>(
      'GET',
      '/api/v1/clusters/noacct/launch-offer'
    );
    expect(r.status).toBe(200);
    expect(r.body.user).toBe(noacct.user);
    expect(r.body.partitions.map(p => [p.name, p.isDefault])).toEqual(
      noacct.partitions.map(p => [p.name, p.default])
    );
    expect(r.body.accounting).toEqual({
      enabled: false,
      reason: expect.stringMatching(/accounting_storage/),
      accounts: [],
      defaultAccount: null,
      qosByAccount: {},
      qosMaxWallSeconds: {}
    });
    // The cluster beside it still has its accounting.
    const first = await sidecar.api<ILaunchOffer>(
      'GET',
      '/api/v1/clusters/demo/launch-offer'
    );
    expect(first.status).toBe(200);
    expect(first.body.accounting).toMatchObject({
      enabled: true,
      defaultAccount: demo.defaultAccount
    });
    expect([...first.body.accounting.accounts].sort()).toEqual(
      [...demo.accounts].sort()
    );
  });

  it('passes a free-text account and QOS on unchecked, and says so', async () => {
    const check = await sidecar.api<ILaunchCheck>(
      'POST',
      '/api/v1/clusters/noacct/launch-check',
      request
    );
    expect(check.status).toBe(200);
    expect(check.body.problems).toEqual([]);
    expect(check.body.unchecked!.map(p => p.field)).toEqual(['account', 'qos']);
    expect(check.body.unchecked![0].message).toMatch(/no accounting/);
    expect(check.body.unchecked![1].message).toMatch(/any-qos and ignores it/);
    // Limits the cluster does report still hold, and shapes still matter.
    const tooLong = await sidecar.api<ILaunchCheck>(
      'POST',
      '/api/v1/clusters/noacct/launch-check',
      { ...request, wallTime: '5:00:00' }
    );
    expect(tooLong.body.problems.map(p => p.field)).toEqual(['wallTime']);
    const hostile = await sidecar.api('POST', SESSIONS, {
      ...request,
      account: '$(touch /tmp/jlhpc-noacct-canary)'
    });
    expect(hostile.status).toBe(400);
    expect(hostile.body.error.problems[0].field).toBe('account');
    // The same account on the cluster with accounting is refused.
    const first = await sidecar.api<ILaunchCheck>(
      'POST',
      '/api/v1/clusters/demo/launch-check',
      demoLaunchRequest({ account: request.account })
    );
    expect(first.body.problems.map(p => p.field)).toEqual(['account']);
    expect(first.body.unchecked).toEqual([]);
  });

  it('runs a session under the free-text account, cancelled from a shell', async () => {
    const s = await launchRunning(request);
    expect(await reachable(s.id)).toBe(200);
    // On this cluster's node, and sbatch took the account and QOS as they are.
    const job = ssh(`scontrol show job ${s.jobId}`);
    expect(job).toMatch(new RegExp(`\\bNodeList=${noacct.node}\\b`));
    expect(job).toMatch(/\bAccount=any-project\b/);
    // Without accounting there are no QOS: the name is accepted and dropped.
    expect(job).toMatch(/\bQOS=\(null\)/);

    ssh(`scancel ${s.jobId}`);
    const ended = await sidecar.waitForEvent(isSession(s.id, 'ended'), 90_000);
    // Noticed while squeue still knows the job: its own word.
    expect(ended.session.end?.outcome).toBe('cancelled');
    expect(
      ssh(`squeue -h -j ${s.jobId} -t pending,running -o %i || true`).trim()
    ).toBe('');
  });

  it("ends a session squeue forgot from the job's own record", async () => {
    const s = await launchRunning(request);
    sidecar.child.kill('SIGKILL');
    await new Promise(resolve => sidecar.child.once('exit', resolve));
    ssh(`scancel ${s.jobId}`);
    // slurmctld purges ended jobs once a minute, after MinJobAge.
    await waitFor(
      'squeue to forget the job',
      async () => {
        const gone =
          ssh(`squeue -h -t all -j ${s.jobId} -o %i 2>/dev/null || true`) ===
          '';
        if (!gone) {
          await new Promise(resolve => setTimeout(resolve, 2000));
        }
        return gone;
      },
      noacct.minJobAgeSeconds * 1000 + 90_000
    );
    expect(ssh('sacct -X -n -j ' + s.jobId + ' 2>&1 || true')).toMatch(
      /accounting storage is disabled/i
    );
    await start();
    const ended = await sidecar.waitForEvent(isSession(s.id, 'ended'), 60_000);
    // All the job recorded is the signal that stopped JupyterLab.
    expect(ended.session.end).toMatchObject({
      outcome: 'unknown',
      message: expect.stringMatching(
        /stopped by SIGTERM.*cancelled, reached its wall time or was preempted/
      )
    });
  }, 240_000);
});
