/**
 * The jupyterlab_hpc server extension owns the sidecar (jupyterlab_hpc/
 * extension.py); jupyter-server-proxy only proxies to its socket. Against a
 * real `jupyter server` from the project's venv: the sidecar runs before any
 * request, answers only through Jupyter's authentication, comes back after a
 * crash, and leaves nothing behind when the server stops.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { basename, dirname } from 'path';

import { IHealth } from '../../src/common/api';
import { IRunningLab, startLab } from '../support/jupyter-lab';
import { cmdline, isAlive, unixListenPaths, waitFor } from '../support/proc';

const HEALTH = 'jupyterlab-hpc/api/v1/health';

let lab: IRunningLab;

/** The server's child processes running the bundled sidecar. */
function sidecarChildren(): number[] {
  const server = lab.process.pid!;
  return readdirSync('/proc')
    .filter(d => /^\d+$/.test(d))
    .map(Number)
    .filter(pid => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(
          stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]
        );
        return (
          ppid === server &&
          cmdline(pid).some(a => a.endsWith('sidecar/sidecar.js'))
        );
      } catch {
        return false; // gone meanwhile
      }
    });
}

async function health(): Promise<IHealth> {
  const res = await fetch(lab.url + HEALTH, {
    headers: { Authorization: `token ${lab.token}` }
  });
  expect(res.status).toBe(200);
  return (await res.json()) as IHealth;
}

beforeAll(async () => {
  lab = await startLab();
});

afterAll(async () => {
  await lab?.stop();
});

describe('the sidecar owned by the server extension', () => {
  it('is running before any request reaches its route', async () => {
    await waitFor('the sidecar process', () => sidecarChildren().length === 1);
    expect(lab.log()).not.toMatch(/GET \/jupyterlab-hpc\//);
    const [pid] = sidecarChildren();
    const h = await health();
    expect(h.pid).toBe(pid);
  });

  it('answers through the proxy only with Jupyter credentials', async () => {
    const res = await fetch(lab.url + HEALTH, { redirect: 'manual' });
    expect([302, 403]).toContain(res.status);
    expect(await res.text()).not.toContain('jupyterlab-hpc-sidecar');
  });

  it('listens on sidecar.sock in a private directory of its own', async () => {
    const { pid } = await health();
    const [socketPath] = unixListenPaths(pid);
    expect(basename(socketPath)).toBe('sidecar.sock');
    expect(basename(dirname(socketPath))).toMatch(/^jupyterlab-hpc-/);
    expect(Buffer.byteLength(socketPath)).toBeLessThan(100);
    expect(statSync(dirname(socketPath)).mode & 0o777).toBe(0o700);
  });

  it('is started again on the same socket after kill -9', async () => {
    const before = await health();
    const [socketPath] = unixListenPaths(before.pid);
    process.kill(before.pid, 'SIGKILL');
    await waitFor('the old sidecar to die', () => !isAlive(before.pid));
    let after: IHealth | null = null;
    await waitFor(
      'a new sidecar answering',
      async () => {
        const res = await fetch(lab.url + HEALTH, {
          headers: { Authorization: `token ${lab.token}` }
        });
        if (res.status !== 200) {
          return false;
        }
        after = (await res.json()) as IHealth;
        return true;
      },
      30_000
    );
    expect(after!.pid).not.toBe(before.pid);
    expect(unixListenPaths(after!.pid)).toEqual([socketPath]);
    expect(lab.log()).toMatch(/the sidecar exited with code -9/);
  });

  it('stops the sidecar and removes its socket directory when the server stops', async () => {
    const { pid } = await health();
    const [socketPath] = unixListenPaths(pid);
    // The server alone (not its process group): the extension must end Node.
    process.kill(lab.process.pid!, 'SIGTERM');
    await waitFor(
      'the server to exit',
      () => lab.process.exitCode !== null || lab.process.signalCode !== null,
      20_000
    );
    await waitFor('the sidecar to exit', () => !isAlive(pid), 10_000);
    expect(existsSync(dirname(socketPath))).toBe(false);
    expect(lab.log()).toContain('stopping: SIGTERM');
    // The server's own stop ran: simpervisor's signal handler, which exits
    // at once, did not replace it.
    expect(lab.log()).toMatch(/received signal 15, stopping/);
    expect(lab.log()).toMatch(/Shutting down \d+ extensions/);
  });
});
