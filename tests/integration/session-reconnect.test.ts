/**
 * A running session when the cluster connection is cut (a TCP relay in
 * front of the demo's sshd drops every connection, as a network outage
 * would): the session shows 'connecting', comes back 'running' on the same
 * local port by itself, and answers through it again; a job that ended
 * while the connection was down ends the session as soon as it is back.
 * Once with each SSH client (OpenSSH's master re-makes its forwards, the
 * built-in client's listeners stay and open new channels).
 */
import { execFileSync } from 'child_process';
import { readFileSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';

import type {
  IClusterStateEvent,
  ISessionEvent,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import { demoCluster, demoLaunchRequest } from '../support/demo-cluster';
import { waitFor } from '../support/proc';
import {
  ISidecar,
  makeHome,
  SSH_CLIENTS,
  startSidecar
} from '../support/sidecar';
import { startTcpProxy, type ITcpProxy } from '../support/tcp-proxy';

const demo = demoCluster();
const request = demoLaunchRequest();

function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', demo.alias, command], {
    encoding: 'utf8'
  });
}

/** A home whose hpc-demo goes through the relay on `port`. */
function homeThrough(port: number): string {
  const home = makeHome('jlhpc-reconnect-');
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host hpc-demo\n  HostName ${demo.host}\n  Port ${port}\n  User ${demo.user}\n` +
      `  IdentityFile ${demo.identityFile}\n  IdentitiesOnly yes\n`,
    { mode: 0o600 }
  );
  const name = `[${demo.host}]:${demo.port}`;
  writeFileSync(
    join(home, '.ssh', 'known_hosts'),
    readFileSync(demo.knownHosts, 'utf8')
      .split('\n')
      .filter(l => l.startsWith(name + ' '))
      .map(l => `[${demo.host}]:${port}` + l.slice(name.length))
      .join('\n') + '\n',
    { mode: 0o600 }
  );
  return home;
}

/** The first event matching `match` after the event at index `after`. */
function after<T extends SidecarEvent>(
  s: ISidecar,
  index: number,
  match: (e: SidecarEvent) => e is T
): (e: SidecarEvent) => e is T {
  return (e): e is T => match(e) && s.events.indexOf(e) > index;
}

const isSession =
  (id: string, phase: ISessionInfo['phase']) =>
  (e: SidecarEvent): e is ISessionEvent =>
    e.type === 'session' && e.session.id === id && e.session.phase === phase;

const isConnected = (e: SidecarEvent): e is IClusterStateEvent =>
  e.type === 'cluster-state' && e.cluster.state === 'connected';

/** GET /api/status through the session's forward, with its token. */
async function status(s: ISidecar, id: string): Promise<number> {
  const open = await s.api<{ url: string }>(
    'GET',
    `/api/v1/sessions/${id}/open`
  );
  if (open.status !== 200) {
    return open.status;
  }
  const url = new URL(open.body.url);
  try {
    const r = await fetch(`${url.origin}/api/status`, {
      headers: { Authorization: `token ${url.searchParams.get('token')}` },
      signal: AbortSignal.timeout(2000)
    });
    return r.status;
  } catch {
    return 0;
  }
}

const jobs: string[] = [];

afterAll(() => {
  if (jobs.length > 0) {
    ssh(`scancel ${jobs.join(' ')} 2>/dev/null || true`);
  }
});

describe.each(SSH_CLIENTS)('with the %s SSH client', client => {
  let proxy: ITcpProxy;
  let home: string;
  let s: ISidecar;

  beforeAll(async () => {
    proxy = await startTcpProxy(demo.port);
    home = homeThrough(proxy.port);
    s = await startSidecar({ home, sshClient: client });
    const put = await s.api('PUT', '/api/v1/clusters', {
      clusters: [{ name: 'demo', host: 'hpc-demo' }]
    });
    expect(put.status).toBe(200);
  });

  afterAll(async () => {
    await s?.stop();
    await proxy?.close();
    rmSync(home, { recursive: true, force: true });
  });

  async function launchRunning(): Promise<ISessionInfo> {
    const r = await s.api<ISessionInfo>(
      'POST',
      '/api/v1/clusters/demo/sessions',
      request
    );
    expect(r.status).toBe(201);
    jobs.push(r.body.jobId!);
    return (await s.waitForEvent(isSession(r.body.id, 'running'), 120_000))
      .session;
  }

  it('makes the forward again after the connection is cut, on the same port', async () => {
    const running = await launchRunning();
    expect(await status(s, running.id)).toBe(200);
    const mark = s.events.length - 1;
    const cutAt = performance.now();
    proxy.cutAll();
    await s.waitForEvent(
      after(s, mark, isSession(running.id, 'connecting')),
      30_000
    );
    const back = await s.waitForEvent(
      after(s, mark, isSession(running.id, 'running')),
      60_000
    );
    expect(back.session.localPort).toBe(running.localPort);
    await waitFor(
      'the session to answer through its forward again',
      async () => (await status(s, running.id)) === 200,
      30_000
    );
    const ms = Math.round(performance.now() - cutAt);
    process.stdout.write(
      `session-reconnect (${client}): cut → GET /api/status answered again in ${ms} ms\n`
    );
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
  });

  it('ends a session whose job ended while the connection was down', async () => {
    const running = await launchRunning();
    const mark = s.events.length - 1;
    proxy.refusing = true;
    proxy.cutAll();
    await s.waitForEvent(
      after(s, mark, isSession(running.id, 'connecting')),
      30_000
    );
    ssh(`scancel ${running.jobId}`);
    await waitFor(
      'the job to leave the running state',
      () =>
        ssh(`squeue -h -j ${running.jobId} -t pending,running -o %i`).trim() ===
        '',
      30_000
    );
    proxy.refusing = false;
    const connected = await s.waitForEvent(after(s, mark, isConnected), 60_000);
    const at = s.events.indexOf(connected);
    const ended = await s.waitForEvent(
      after(s, at, isSession(running.id, 'ended')),
      5_000
    );
    expect(ended.session.end?.outcome).toBe('cancelled');
    expect(await status(s, running.id)).toBe(409);
  });
});
