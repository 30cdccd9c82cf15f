/*
 * The task routes over the real HTTP server, next to the real cluster
 * routes, with a cluster whose transport is this computer: real shells run
 * the probes and the installs. The "environment" is made here; its python
 * and conda are small scripts that say what they were asked, so no network
 * is needed (the real pip and conda paths are in
 * tests/integration/install-tasks.test.ts).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { request } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';

import type { ITask, SidecarEvent } from '../../../src/common/api';
import { clusterRoutes } from '../../../src/sidecar/api/cluster-routes';
import {
  createSidecarServer,
  ISidecarServer
} from '../../../src/sidecar/api/server';
import { taskRoutes } from '../../../src/sidecar/api/task-routes';
import { ClusterManager } from '../../../src/sidecar/clusters/manager';
import { PromptBroker } from '../../../src/sidecar/clusters/prompts';
import { createLogger } from '../../../src/sidecar/log';
import { TaskManager } from '../../../src/sidecar/tasks/manager';
import { quoteArg } from '../../../src/sidecar/shell/quote';
import { LocalTransport } from '../../../src/sidecar/transport/local';

let work: string;
let home: string;
let socketPath: string;
let server: ISidecarServer;
let tasks: TaskManager;
let clusters: ClusterManager;
let local: LocalTransport;
let changed: string[];
const events: SidecarEvent[] = [];

function script(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${text}\n`);
  chmodSync(path, 0o755);
}

/** An environment whose python says what it was asked to do. */
function fakeEnv(prefix: string): string {
  mkdirSync(join(prefix, 'conda-meta'), { recursive: true });
  script(
    join(prefix, 'bin', 'python'),
    `if [ "$1 $2" = "-m pip" ]; then echo "pip was asked: $*"; exit 0; fi
if [ "$1" = -c ]; then echo "ipykernel 9.9 is installed"; exit 0; fi
exit 1`
  );
  return prefix;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-task-routes-'));
  home = join(work, 'home');
  mkdirSync(home);
  socketPath = join(work, 'sidecar.sock');
  const env = { HOME: home, SHELL: '/bin/sh', PATH: '/usr/bin:/bin' };
  const broadcast = (e: SidecarEvent) => events.push(e);
  const prompts = new PromptBroker(broadcast);
  clusters = new ClusterManager({ broadcast, prompts, home, env });
  await clusters.setClusters([
    { name: 'here', host: 'localhost', transport: 'local' }
  ]);
  tasks = new TaskManager({ broadcast, outputFlushMs: 5 });
  local = new LocalTransport({ env });
  changed = [];
  server = createSidecarServer({
    version: 'test',
    log: createLogger('error'),
    routes: [
      ...clusterRoutes(clusters, prompts),
      ...taskRoutes({
        tasks,
        transport: target =>
          target === ':local' ? local : clusters.transport(target),
        onEnvsChanged: target => {
          changed.push(target);
        }
      })
    ]
  });
  await new Promise<void>(resolve => server.http.listen(socketPath, resolve));
});

afterAll(async () => {
  await tasks.close();
  await server.close();
  await clusters.close();
  await local.close();
  rmSync(work, { recursive: true, force: true });
});

function api<T = Record<string, any>>( // eslint-disable-line @typescript-eslint/no-explicit-any
  method: string,
  path: string,
  body?: unknown
): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        agent: false,
        headers: {
          'X-Jupyterlab-Hpc': '1',
          ...(data
            ? {
                'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(data)
              }
            : {})
        }
      },
      res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', c => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(text) })
        );
      }
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('POST install-ipykernel', () => {
  it("installs with the env's pip when there is no conda, and says the envs changed", async () => {
    const prefix = fakeEnv(join(home, 'envs', "it's mine"));
    const started = await api<ITask>(
      'POST',
      '/api/v1/clusters/here/envs/install-ipykernel',
      { prefix }
    );
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      kind: 'install-ipykernel',
      target: 'here',
      state: 'running',
      step: 'Installing ipykernel with pip',
      title: `Install ipykernel into ${prefix} on here`
    });
    const done = await tasks.settled(started.body.id);
    expect(done.state).toBe('succeeded');
    const got = await api<ITask>('GET', `/api/v1/tasks/${done.id}`);
    expect(got.body.output).toContain(
      `$ ${quoteArg(`${prefix}/bin/python`)} -m pip install --progress-bar off ipykernel\npip was asked: -m pip install --progress-bar off ipykernel\n`
    );
    expect(got.body.output).toContain('ipykernel 9.9 is installed');
    expect(changed).toContain('here');
    const list = await api<ITask[]>('GET', '/api/v1/tasks');
    expect(list.body.map(t => t.id)).toContain(done.id);
  });

  it('prefers a conda it finds (here the tutorial’s ~/.local/miniforge)', async () => {
    const prefix = fakeEnv(join(work, 'elsewhere', 'env'));
    script(
      join(home, '.local', 'miniforge', 'bin', 'conda'),
      'echo "conda was asked: $*"'
    );
    try {
      const started = await api<ITask>(
        'POST',
        '/api/v1/local/envs/install-ipykernel',
        { prefix }
      );
      expect(started.status).toBe(202);
      expect(started.body.target).toBe(':local');
      const done = await tasks.settled(started.body.id);
      expect(done.state).toBe('succeeded');
      expect(done.output).toContain(
        `conda was asked: install -y -p ${prefix} ipykernel\n`
      );
    } finally {
      rmSync(join(home, '.local'), { recursive: true, force: true });
    }
  });

  it('fails the task with the last line the installer said', async () => {
    const prefix = fakeEnv(join(home, 'envs', 'broken'));
    script(
      join(prefix, 'bin', 'python'),
      'echo "Collecting ipykernel"; echo "ERROR: No matching distribution found for ipykernel" >&2; exit 1'
    );
    const started = await api<ITask>(
      'POST',
      '/api/v1/clusters/here/envs/install-ipykernel',
      { prefix }
    );
    const done = await tasks.settled(started.body.id);
    expect(done.state).toBe('failed');
    expect(done.error).toEqual({
      code: 'task-failed',
      message: `Installing ipykernel with pip failed: ${prefix}/bin/python exited with status 1: ERROR: No matching distribution found for ipykernel`
    });
  });

  it.each([
    [{ prefix: '/nonexistent/env' }, 404, 'env-not-found'],
    [{ prefix: '/' }, 404, 'env-not-found'],
    [{ prefix: 'relative' }, 400, 'bad-request'],
    [{ prefix: '/a\nb' }, 400, 'bad-request'],
    [{}, 400, 'bad-request']
  ])('answers %j with %d %s', async (body, status, code) => {
    const answer = await api(
      'POST',
      '/api/v1/clusters/here/envs/install-ipykernel',
      body
    );
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
  });

  it('refuses an unknown cluster', async () => {
    const unknown = await api(
      'POST',
      '/api/v1/clusters/nowhere/envs/install-ipykernel',
      { prefix: '/x' }
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown-cluster');
  });
});

describe('POST miniforge', () => {
  it.each([
    [{ createJupyterlabEnv: 1 }, 400, 'bad-request'],
    [{ prefix: 'x', createJupyterlabEnv: false }, 400, 'bad-request'],
    [{ installerUrl: 42, createJupyterlabEnv: false }, 400, 'installer-url'],
    [
      { installerUrl: 'ftp://h/x.sh', createJupyterlabEnv: false },
      400,
      'installer-url'
    ]
  ])('answers %j with %d %s', async (body, status, code) => {
    const answer = await api('POST', '/api/v1/clusters/here/miniforge', body);
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
  });

  it('refuses a prefix that exists (conda-exists) before starting anything', async () => {
    mkdirSync(join(home, 'taken', 'bin'), { recursive: true });
    const before = tasks.list().length;
    const answer = await api('POST', '/api/v1/clusters/here/miniforge', {
      prefix: '~/taken',
      createJupyterlabEnv: true,
      installerUrl: 'http://127.0.0.1:9/Miniforge3-Linux-{arch}.sh'
    });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('conda-exists');
    expect(answer.body.error.message).toContain(join(home, 'taken'));
    expect(tasks.list().length).toBe(before);
  });
});

describe('the task routes beside the cluster routes', () => {
  it('answers task-not-found, and leaves the cluster routes alone', async () => {
    for (const method of ['GET', 'DELETE']) {
      const answer = await api(method, '/api/v1/tasks/t-none');
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('task-not-found');
    }
    const cluster = await api('GET', '/api/v1/clusters/here');
    expect(cluster.status).toBe(200);
    expect(cluster.body.name).toBe('here');
    const wrong = await api('PUT', '/api/v1/tasks');
    expect(wrong.status).toBe(405);
    const other = await api('GET', '/api/v1/clusters/here/nothing');
    expect(other.status).toBe(404);
  });
});
