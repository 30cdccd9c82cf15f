/**
 * The session service (from source) against the real demo cluster over the
 * sidecar's own SSH connection: launch → queued → starting → running with a
 * forward that answers, then cancel → ended; a JupyterLab shut down from its
 * own page; a restart of the service that picks a running session up again
 * on the same local port; and sbatch's refusal passed on as it is.
 *
 * The host's forwards here are plain local listeners piping to the
 * connection's `openStream`; the real ones (the cluster's forward registry)
 * are covered with the sidecar's routes.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { createServer, type Server, type Socket } from 'net';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';

import type { IForward, IForwardRequest } from '../../src/common/api';
import type { ISessionInfo } from '../../src/common/sessions';
import { SidecarError } from '../../src/sidecar/errors';
import { createLogger } from '../../src/sidecar/log';
import { checkLaunch } from '../../src/sidecar/sessions/launch-check';
import {
  emptyState,
  parseSessionState,
  type ISessionState
} from '../../src/sidecar/sessions/record';
import { SessionService } from '../../src/sidecar/sessions/service';
import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import { SshConnection } from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { StateFile } from '../../src/sidecar/state/json-file';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { waitFor } from '../support/proc';

const demo = demoCluster();

const refuse: IPrompter = {
  ask: async () => {
    throw new SidecarError('auth-cancelled', 'no questions in this test');
  }
};

let home: string;
let askpass: AskpassBridge;
let connection: SshConnection;

/** Forwards as local listeners over the connection's streams. */
class Forwards {
  servers = new Map<string, Server>();
  sockets = new Set<Socket>();
  async open(cluster: string, r: IForwardRequest): Promise<IForward> {
    const server = createServer(socket => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      connection.openStream(r.remoteHost, r.remotePort).then(
        stream => {
          socket.pipe(stream).pipe(socket);
          stream.on('error', () => socket.destroy());
          socket.on('error', () => stream.destroy());
        },
        () => socket.destroy()
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(r.localPort ?? 0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    const id = `f${port}`;
    this.servers.set(id, server);
    return {
      id,
      cluster,
      remoteHost: r.remoteHost,
      remotePort: r.remotePort,
      localPort: port,
      openConnections: null,
      totalConnections: null
    };
  }
  async close(id: string): Promise<void> {
    const s = this.servers.get(id);
    this.servers.delete(id);
    // A listener closes once its connections have: end them, as a dead
    // process's would be.
    for (const socket of this.sockets) {
      if (socket.localPort === Number(id.slice(1))) {
        socket.destroy();
      }
    }
    await new Promise<void>(resolve =>
      s ? s.close(() => resolve()) : resolve()
    );
  }
}

const request = demoLaunchRequest();

/** Every job the suite started: cancelled at the end, whatever happened. */
const jobs: string[] = [];

/** Every service and forward set made, disposed at the end even after a failure. */
const made: { service: SessionService; forwards: Forwards }[] = [];

function service(statePath: string, forwards: Forwards, seen: ISessionInfo[]) {
  const made1 = new SessionService({
    host: {
      transport: async () => connection,
      openForward: (c, r) => forwards.open(c, r),
      closeForward: id => forwards.close(id)
    },
    state: new StateFile<ISessionState>({
      path: statePath,
      parse: parseSessionState,
      empty: emptyState
    }),
    log: createLogger('warn'),
    onChange: s => {
      seen.push(s);
      if (s.jobId && !jobs.includes(s.jobId)) {
        jobs.push(s.jobId);
      }
    },
    origin: 'session-service.test.ts'
  });
  made.push({ service: made1, forwards });
  return made1;
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-sessions-'));
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
});

afterAll(async () => {
  for (const m of made) {
    m.service.dispose();
    await Promise.all(
      [...m.forwards.servers.keys()].map(id => m.forwards.close(id))
    );
  }
  if (jobs.length > 0) {
    await connection.run({ argv: ['scancel', ...jobs] }).catch(() => undefined);
  }
  await connection.close();
  askpass.close();
  rmSync(home, { recursive: true, force: true });
});

async function status(
  session: ISessionInfo,
  svc: SessionService,
  token?: boolean
) {
  const url = svc.openUrl(session.id);
  const u = new URL(url);
  const t = u.searchParams.get('token')!;
  return fetch(`${u.origin}/api/status`, {
    headers: token === false ? {} : { Authorization: `token ${t}` }
  });
}

describe('sessions on the demo cluster', () => {
  it('checks a launch against what the cluster reports', async () => {
    const svc = service(join(home, 's0.json'), new Forwards(), []);
    const facts = await svc.facts('demo');
    expect(facts.user).toBe(demo.user);
    expect(facts.partitions.map(p => p.name)).toEqual(
      demo.partitions.map(p => p.name)
    );
    expect(checkLaunch(request, facts)).toEqual([]);
    expect(
      checkLaunch(
        { ...request, account: 'nope', partition: 'gpu', wallTime: '2:00:00' },
        facts
      ).map(p => p.field)
    ).toEqual(['wallTime', 'account']);
    svc.dispose();
  });

  it('launches, runs with a working forward, and ends on cancel', async () => {
    const seen: ISessionInfo[] = [];
    const forwards = new Forwards();
    const svc = service(join(home, 's1.json'), forwards, seen);
    const started = await svc.launch('demo', request);
    expect(started.phase).toBe('queued');
    expect(started.jobId).toMatch(/^\d+$/);
    await waitFor(
      'running',
      () => svc.get(started.id).phase === 'running',
      90_000
    );
    const running = svc.get(started.id);
    expect(running.localPort).toBeGreaterThan(0);
    expect((await status(running, svc)).status).toBe(200);
    expect((await status(running, svc, false)).status).toBe(403);
    // Every phase was reported, in order.
    const phases = seen.filter(s => s.id === started.id).map(s => s.phase);
    expect([...new Set(phases)]).toEqual(
      expect.arrayContaining([
        'submitting',
        'queued',
        'starting',
        'connecting',
        'running'
      ])
    );
    await svc.cancel(started.id);
    await waitFor('ended', () => svc.get(started.id).phase === 'ended', 60_000);
    expect(svc.get(started.id).end).toMatchObject({ outcome: 'cancelled' });
    expect(forwards.servers.size).toBe(0);
    svc.dispose();
  });

  it('ends the session when JupyterLab is shut down from its own page', async () => {
    const svc = service(join(home, 's2.json'), new Forwards(), []);
    const s = await svc.launch('demo', request);
    await waitFor('running', () => svc.get(s.id).phase === 'running', 90_000);
    const u = new URL(svc.openUrl(s.id));
    await fetch(`${u.origin}/api/shutdown`, {
      method: 'POST',
      headers: { Authorization: `token ${u.searchParams.get('token')}` }
    });
    await waitFor('ended', () => svc.get(s.id).phase === 'ended', 60_000);
    expect(svc.get(s.id).end).toMatchObject({ outcome: 'shut-down' });
    svc.dispose();
  });

  it('picks a running session up again after a restart, on the same port', async () => {
    const statePath = join(home, 's3.json');
    const oldForwards = new Forwards();
    const first = service(statePath, oldForwards, []);
    const s = await first.launch('demo', request);
    await waitFor('running', () => first.get(s.id).phase === 'running', 90_000);
    const port = first.get(s.id).localPort;
    // What a process that is killed later has written by then.
    await first.flush();
    first.dispose();
    // The old process is gone, and so are its forwards.
    await Promise.all(
      [...oldForwards.servers.keys()].map(id => oldForwards.close(id))
    );
    const forwards = new Forwards();
    const second = service(statePath, forwards, []);
    const report = await second.restore();
    expect(report.source).toBe('file');
    await waitFor(
      'running again',
      () => second.get(s.id).phase === 'running',
      60_000
    );
    const again = second.get(s.id);
    expect(again.jobId).toBe(s.jobId);
    expect(again.localPort).toBe(port);
    expect((await status(again, second)).status).toBe(200);
    await second.cancel(s.id);
    await waitFor('ended', () => second.get(s.id).phase === 'ended', 60_000);
    second.dispose();
  });

  it('says why a job failed from accounting, with its exit code', async () => {
    const svc = service(join(home, 's5.json'), new Forwards(), []);
    const bare = demo.envs.find(e => !e.jupyterlab && !e.ipykernel)!;
    const s = await svc.launch('demo', {
      ...request,
      environment: bare.prefix
    });
    await waitFor('ended', () => svc.get(s.id).phase === 'ended', 60_000);
    // job.sh exits 3 ("no jupyter"); sacct has FAILED with exit code 3.
    expect(svc.get(s.id).end).toEqual({
      outcome: 'failed',
      message: 'The job failed (exit code 3: no jupyter). Its log says more.',
      at: expect.any(Number)
    });
    svc.dispose();
  });

  it("passes sbatch's refusal on as it is, and keeps no session", async () => {
    const svc = service(join(home, 's4.json'), new Forwards(), []);
    await expect(
      svc.launch('demo', { ...request, account: 'no-such-account' })
    ).rejects.toMatchObject({
      code: 'sbatch-refused',
      message: expect.stringMatching(/Invalid account/)
    });
    expect(svc.list()).toEqual([]);
    svc.dispose();
  });
});
