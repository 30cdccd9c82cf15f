/**
 * JupyterLab sessions through the real sidecar (the bundle setup.sh builds)
 * on the demo cluster: what the launch form is offered, checks and hostile
 * values refused before anything reaches the cluster, two sessions at once
 * with real forwards, a job cancelled from a shell, and the sidecar killed
 * with SIGKILL and started again: the running session comes back on the
 * same local port, neither orphaned nor duplicated.
 */
import { execFileSync } from 'child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'fs';
import { join } from 'path';

import type {
  IForward,
  ILaunchOffer,
  ILaunchRequest,
  ISessionEvent,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { waitFor } from '../support/proc';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';

const demo = demoCluster();

const request = demoLaunchRequest();

function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', demo.alias, command], {
    encoding: 'utf8'
  });
}

let home: string;
let sidecar: ISidecar;
/** Every job this suite started, cancelled at the end whatever happened. */
const jobs: string[] = [];

async function start(sync = true): Promise<ISidecar> {
  sidecar = await startSidecar({ home });
  if (!sync) {
    return sidecar;
  }
  const put = await sidecar.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  expect(put.status).toBe(200);
  return sidecar;
}

const isSession =
  (id: string, phase: ISessionInfo['phase']) =>
  (e: SidecarEvent): e is ISessionEvent =>
    e.type === 'session' && e.session.id === id && e.session.phase === phase;

async function launch(req: ILaunchRequest): Promise<ISessionInfo> {
  const r = await sidecar.api<ISessionInfo>(
    'POST',
    '/api/v1/clusters/demo/sessions',
    req
  );
  expect(r.status).toBe(201);
  jobs.push(r.body.jobId!);
  return r.body;
}

async function running(id: string): Promise<ISessionInfo> {
  return (await sidecar.waitForEvent(isSession(id, 'running'), 120_000))
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

beforeAll(() => {
  home = makeHome('jlhpc-sessions-api-');
  writeDemoSshFiles(home);
});

afterAll(async () => {
  await sidecar?.stop();
  if (jobs.length > 0) {
    ssh(`scancel ${jobs.join(' ')} 2>/dev/null || true`);
  }
  rmSync(home, { recursive: true, force: true });
});

describe('sessions through the sidecar', () => {
  it('offers the partitions, accounts and QOS the cluster reports', async () => {
    await start();
    const r = await sidecar.api<ILaunchOffer>(
      'GET',
      '/api/v1/clusters/demo/launch-offer'
    );
    expect(r.status).toBe(200);
    expect(r.body.user).toBe(demo.user);
    expect(r.body.partitions.map(p => [p.name, p.isDefault])).toEqual(
      demo.partitions.map(p => [p.name, p.default])
    );
    expect(r.body.partitions[1].gres).toEqual([
      { name: 'gpu', type: 'tesla', count: 2 }
    ]);
    expect(r.body.accounting).toMatchObject({
      enabled: true,
      defaultAccount: demo.defaultAccount,
      qosMaxWallSeconds: { short: 1800 }
    });
    expect([...r.body.accounting.accounts].sort()).toEqual(
      [...demo.accounts].sort()
    );
  });

  it('refuses hostile and impossible values before the cluster sees them', async () => {
    const canary = `/tmp/jlhpc-canary-${process.pid}`;
    const hostile = [
      { partition: `debug;touch ${canary}` },
      { account: `$(touch ${canary})` },
      { qos: '`touch ' + canary + '`' },
      { constraint: `a' ; touch ${canary} ; '` },
      { wallTime: `10\ntouch ${canary}` },
      { memory: '1G --wrap=id' },
      { environment: `relative/${canary}` },
      { workingDirectory: `x\0y` },
      { partition: 'p'.repeat(5000) },
      { account: 'fysik\u2713' },
      { qos: '--qos=normal' },
      { constraint: '\u202e' + 'a'.repeat(5000) }
    ];
    for (const change of hostile) {
      const r = await sidecar.api('POST', '/api/v1/clusters/demo/sessions', {
        ...request,
        ...change
      });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('launch-invalid');
      expect(r.body.error.problems[0].field).toBe(Object.keys(change)[0]);
    }
    // Past what any field may hold: refused as a malformed body.
    const huge = await sidecar.api('POST', '/api/v1/clusters/demo/sessions', {
      ...request,
      environment: `/${'e'.repeat(100_000)}`
    });
    expect(huge.status).toBe(400);
    expect(huge.body.error.code).toBe('bad-request');
    const impossible = await sidecar.api(
      'POST',
      '/api/v1/clusters/demo/sessions',
      { ...request, partition: 'gpu', wallTime: '2:00:00', account: 'nope' }
    );
    expect(impossible.status).toBe(400);
    expect(
      impossible.body.error.problems.map((p: { field: string }) => p.field)
    ).toEqual(['wallTime', 'account']);
    expect(existsSync(canary)).toBe(false);
    expect(ssh(`test -e ${canary} && echo yes || echo no`).trim()).toBe('no');
    const list = await sidecar.api('GET', '/api/v1/sessions');
    expect(list.body.sessions).toEqual([]);
  });

  it('passes a hostile path that is a valid path to the job quoted: the job fails for it, nothing runs', async () => {
    const canary = `/tmp/jlhpc-canary-path-${process.pid}`;
    const dir = `~/no such dir $(touch ${canary}) \`touch ${canary}\` 'q' "d" ; touch ${canary} \u00fc\u2603`;
    const r = await sidecar.api<ISessionInfo>(
      'POST',
      '/api/v1/clusters/demo/sessions',
      { ...request, workingDirectory: dir }
    );
    expect(r.status).toBe(201);
    jobs.push(r.body.jobId!);
    const ended = (
      await sidecar.waitForEvent(isSession(r.body.id, 'ended'), 120_000)
    ).session;
    expect(ended.end!.outcome).toBe('failed');
    const log = await sidecar.api(
      'GET',
      `/api/v1/sessions/${r.body.id}/log?offset=0`
    );
    // The job names the directory exactly as given: it reached it whole.
    expect(log.body.text).toContain(
      `the working directory ${dir.replace('~', ssh('printf %s "$HOME"'))} does not exist`
    );
    expect(existsSync(canary)).toBe(false);
    expect(ssh(`test -e ${canary} && echo yes || echo no`).trim()).toBe('no');
    await sidecar.api('DELETE', `/api/v1/sessions/${r.body.id}`);
  });

  it('runs two sessions at once, each with its own forward', async () => {
    const a = await launch(request);
    const b = await launch(request);
    const [ra, rb] = await Promise.all([running(a.id), running(b.id)]);
    expect(ra.localPort).not.toBe(rb.localPort);
    expect(await reachable(a.id)).toBe(200);
    expect(await reachable(b.id)).toBe(200);
    // The job's log, from the start and from where it was left.
    const log = await sidecar.api('GET', `/api/v1/sessions/${a.id}/log`);
    expect(log.status).toBe(200);
    expect(log.body.text).toContain('Jupyter Server');
    const more = await sidecar.api(
      'GET',
      `/api/v1/sessions/${a.id}/log?offset=${log.body.next}`
    );
    expect(more.body.offset).toBe(log.body.next);
    expect(more.body.size).toBeGreaterThanOrEqual(log.body.next);
    const forwards = await sidecar.api<IForward[]>('GET', '/api/v1/forwards');
    expect((forwards.body as IForward[]).map(f => f.localPort).sort()).toEqual(
      [ra.localPort, rb.localPort].sort()
    );
    // The state file is owner-only and holds no token.
    const state = join(
      home,
      '.local/share/jupyter/jupyterlab_hpc/sessions.json'
    );
    expect(statSync(state).mode & 0o777).toBe(0o600);
    const open = await sidecar.api<{ url: string }>(
      'GET',
      `/api/v1/sessions/${a.id}/open`
    );
    const token = new URL(open.body.url).searchParams.get('token')!;
    expect(readFileSync(state, 'utf8')).not.toContain(token);
    expect(sidecar.log()).not.toContain(token);

    // b ends with scancel from a shell: noticed within a poll.
    ssh(`scancel ${rb.jobId}`);
    const ended = await sidecar.waitForEvent(isSession(b.id, 'ended'), 60_000);
    expect(ended.session.end?.outcome).toBe('cancelled');
    // From accounting, which knows who cancelled it.
    expect(ended.session.end?.message).toMatch(
      /^The job was cancelled \(by user id \d+\)\.$/
    );
    await waitFor(
      'the forward of b to close',
      async () =>
        !(
          (await sidecar.api<IForward[]>('GET', '/api/v1/forwards'))
            .body as IForward[]
        ).some(f => f.localPort === rb.localPort),
      10_000
    );
  });

  it('comes back after the sidecar is killed, on the same port', async () => {
    const before = (
      await sidecar.api<{ sessions: ISessionInfo[] }>('GET', '/api/v1/sessions')
    ).body.sessions.find(s => s.phase === 'running')!;
    sidecar.child.kill('SIGKILL');
    await new Promise(resolve => sidecar.child.once('exit', resolve));
    // Without a page to send the clusters: it has the last list given.
    await start(false);
    await waitFor(
      'the last cluster list given',
      async () =>
        (
          await sidecar.api<{ clusters: { name: string }[] }>(
            'GET',
            '/api/v1/clusters'
          )
        ).body.clusters.some(c => c.name === 'demo'),
      10_000
    );
    const list = (
      await sidecar.api<{ sessions: ISessionInfo[] }>('GET', '/api/v1/sessions')
    ).body.sessions;
    // Neither lost nor duplicated.
    expect(list.filter(s => s.id === before.id)).toHaveLength(1);
    const again = await running(before.id);
    expect(again.jobId).toBe(before.jobId);
    expect(again.localPort).toBe(before.localPort);
    expect(await reachable(before.id)).toBe(200);
    const cancelled = await sidecar.api(
      'POST',
      `/api/v1/sessions/${before.id}/cancel`
    );
    expect(cancelled.status).toBe(200);
    const ended = await sidecar.waitForEvent(
      isSession(before.id, 'ended'),
      60_000
    );
    expect(ended.session.end?.outcome).toBe('cancelled');
    expect(
      ssh(`squeue -h -j ${before.jobId} -t pending,running -o %i`).trim()
    ).toBe('');
  });

  it('ends the job when JupyterLab is shut down from its own page', async () => {
    const s = await launch(request);
    const r = await running(s.id);
    const open = await sidecar.api<{ url: string }>(
      'GET',
      `/api/v1/sessions/${s.id}/open`
    );
    const url = new URL(open.body.url);
    // File → Shut Down: token auth needs no XSRF cookie.
    const shutdown = await fetch(`${url.origin}/api/shutdown`, {
      method: 'POST',
      headers: { Authorization: `token ${url.searchParams.get('token')}` }
    });
    expect(shutdown.status).toBe(200);
    const t0 = Date.now();
    // Seen from the job's own record at once, not at the next running poll
    // (20 s): well within one.
    const ended = await sidecar.waitForEvent(isSession(s.id, 'ended'), 10_000);
    process.stdout.write(
      `sessions-api: shut down → session ended in ${Date.now() - t0} ms\n`
    );
    expect(ended.session.end?.outcome).toBe('shut-down');
    expect(ssh(`squeue -h -j ${r.jobId} -t pending,running -o %i`).trim()).toBe(
      ''
    );
    await waitFor(
      'the local port to close',
      () =>
        fetch(`${url.origin}/api/status`).then(
          () => false,
          () => true
        ),
      10_000
    );
  });

  it("passes sbatch's refusal on in its own words", async () => {
    const r = await sidecar.api('POST', '/api/v1/clusters/demo/sessions', {
      ...request,
      qos: 'normal',
      account: demo.accounts[0],
      partition: 'debug',
      constraint: 'no-such-feature'
    });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('sbatch-refused');
    expect(r.body.error.message).toMatch(/Invalid feature specification/);
  });
});
