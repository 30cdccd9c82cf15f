/**
 * A session started from one computer, attached to from another: two real
 * sidecars with their own homes and state (as two laptops of one user) on
 * the demo cluster. A launches; B lists it with where it was started,
 * attaches, and reaches it through its own forward; cancelling from B ends
 * it in A within one poll.
 */
import { execFileSync } from 'child_process';
import { readFileSync, rmSync } from 'fs';
import { hostname } from 'os';
import { join } from 'path';

import type {
  IAttachableSessionList,
  ISessionEvent,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';

const demo = demoCluster();

function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', demo.alias, command], {
    encoding: 'utf8'
  });
}

const isSession =
  (id: string, phase: ISessionInfo['phase']) =>
  (e: SidecarEvent): e is ISessionEvent =>
    e.type === 'session' && e.session.id === id && e.session.phase === phase;

async function startOn(home: string): Promise<ISidecar> {
  writeDemoSshFiles(home);
  const s = await startSidecar({ home });
  const put = await s.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  expect(put.status).toBe(200);
  return s;
}

async function status(s: ISidecar, id: string): Promise<number> {
  const open = await s.api<{ url: string }>(
    'GET',
    `/api/v1/sessions/${id}/open`
  );
  expect(open.status).toBe(200);
  const url = new URL(open.body.url);
  const r = await fetch(`${url.origin}/api/status`, {
    headers: { Authorization: `token ${url.searchParams.get('token')}` }
  });
  return r.status;
}

let homeA: string;
let homeB: string;
let a: ISidecar;
let b: ISidecar;
const jobs: string[] = [];

beforeAll(async () => {
  homeA = makeHome('jlhpc-attach-a-');
  homeB = makeHome('jlhpc-attach-b-');
  [a, b] = await Promise.all([startOn(homeA), startOn(homeB)]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (jobs.length > 0) {
    ssh(`scancel ${jobs.join(' ')} 2>/dev/null || true`);
  }
  rmSync(homeA, { recursive: true, force: true });
  rmSync(homeB, { recursive: true, force: true });
});

describe('attaching to a session started elsewhere', () => {
  it('lists it, attaches, forwards, and a cancel from B ends it in A', async () => {
    const launched = await a.api<ISessionInfo>(
      'POST',
      '/api/v1/clusters/demo/sessions',
      demoLaunchRequest()
    );
    expect(launched.status).toBe(201);
    const id = launched.body.id;
    jobs.push(launched.body.jobId!);
    const inA = (await a.waitForEvent(isSession(id, 'running'), 120_000))
      .session;
    const stateA = JSON.parse(
      readFileSync(
        join(homeA, '.local/share/jupyter/jupyterlab_hpc/sessions.json'),
        'utf8'
      )
    );
    expect(inA.origin).toEqual({ host: hostname(), sidecar: stateA.sidecar });
    expect(inA.attached).toBe(false);
    // The session directory records the origin, owner-only, with no token.
    const dir = `.jupyterlab-hpc/sessions/${id}`;
    expect(ssh(`stat -c %a ${dir}/session.json`).trim()).toBe('600');
    expect(JSON.parse(ssh(`cat ${dir}/session.json`)).origin).toEqual(
      inA.origin
    );

    // A follows it already: not offered to A.
    const listA = await a.api<IAttachableSessionList>(
      'GET',
      '/api/v1/clusters/demo/sessions/attachable'
    );
    expect(listA.status).toBe(200);
    expect(listA.body.sessions.map(s => s.id)).not.toContain(id);

    const listB = await b.api<IAttachableSessionList>(
      'GET',
      '/api/v1/clusters/demo/sessions/attachable'
    );
    expect(listB.status).toBe(200);
    expect(listB.body.sessions.find(s => s.id === id)).toEqual({
      id,
      cluster: 'demo',
      jobId: inA.jobId,
      jobState: 'RUNNING',
      reason: null,
      node: inA.node,
      startTime: expect.any(Number),
      timeLeftSeconds: expect.any(Number),
      origin: inA.origin,
      createdAt: inA.createdAt,
      request: inA.request
    });

    const attached = await b.api<ISessionInfo>(
      'POST',
      `/api/v1/clusters/demo/sessions/${id}/attach`
    );
    expect(attached.status).toBe(201);
    expect(attached.body).toMatchObject({
      id,
      jobId: inA.jobId,
      attached: true,
      origin: inA.origin
    });
    const inB = (await b.waitForEvent(isSession(id, 'running'), 60_000))
      .session;
    expect(inB.localPort).not.toBe(inA.localPort);
    expect(await status(b, id)).toBe(200);
    expect(await status(a, id)).toBe(200);

    // Once followed, it is neither offered nor attached twice.
    const again = await b.api(
      'POST',
      `/api/v1/clusters/demo/sessions/${id}/attach`
    );
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('session-exists');
    const listed = await b.api<IAttachableSessionList>(
      'GET',
      '/api/v1/clusters/demo/sessions/attachable'
    );
    expect(listed.body.sessions.map(s => s.id)).not.toContain(id);
    const none = await b.api(
      'POST',
      '/api/v1/clusters/demo/sessions/0000000000000000/attach'
    );
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe('session-not-attachable');

    // Cancelled from B: B ends it, and A sees it end within one poll.
    const cancelled = await b.api('POST', `/api/v1/sessions/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    const t0 = Date.now();
    const endedB = await b.waitForEvent(isSession(id, 'ended'), 30_000);
    expect(endedB.session.end?.outcome).toBe('cancelled');
    const endedA = await a.waitForEvent(isSession(id, 'ended'), 30_000);
    process.stdout.write(
      `session-attach: cancelled in B → ended in A after ${Date.now() - t0} ms\n`
    );
    expect(endedA.session.end?.outcome).toBe('cancelled');
    expect(
      ssh(`squeue -h -j ${inA.jobId} -t pending,running -o %i`).trim()
    ).toBe('');
  });
});
