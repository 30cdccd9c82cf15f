/**
 * The demo cluster's sshd (tests/cluster/demo-cluster.sh starts it from its
 * pid file's config), stopped and started again as a restart of the login
 * node's sshd would: the listener goes, and with it the connections it
 * served. The caller holds /tmp/hpc-heavy-tests.lock (every reliability run
 * does); `ensureDemoSshd` puts it back for everyone else whatever happened.
 */
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { connect } from 'net';
import { join } from 'path';

import { waitFor } from '../../support/proc';

const PID_FILE = '/run/jupyterlab-hpc-demo/sshd.pid';
const CONFIG = '/etc/jupyterlab-hpc-demo/ssh/sshd_config';
const LOG = '/var/log/jupyterlab-hpc-demo/sshd.log';
const DEMO_SCRIPT = join(__dirname, '..', '..', 'cluster', 'demo-cluster.sh');

export function demoSshdPid(): number | null {
  if (!existsSync(PID_FILE)) {
    return null;
  }
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** SIGTERM the listener (its connections stay, as sshd leaves them). */
export async function stopDemoSshd(port: number): Promise<void> {
  const pid = demoSshdPid();
  if (pid === null) {
    throw new Error(`the demo sshd is not running (${PID_FILE})`);
  }
  process.kill(pid, 'SIGTERM');
  await waitFor(
    'the demo sshd to stop listening',
    async () => !(await listening(port)),
    10_000
  );
}

/** Start it as demo-cluster.sh's `launch` does: sshd daemonizes and writes its pid file. */
export async function startDemoSshd(port: number): Promise<void> {
  execFileSync(
    'env',
    [
      '-i',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      'LANG=C.UTF-8',
      '/usr/sbin/sshd',
      '-f',
      CONFIG,
      '-E',
      LOG
    ],
    { cwd: '/', stdio: 'ignore' }
  );
  await waitFor('the demo sshd to listen', () => listening(port), 10_000);
}

/** Make sure the demo sshd listens again (demo-cluster.sh start as the last resort). */
export async function ensureDemoSshd(port: number): Promise<void> {
  if (await listening(port)) {
    return;
  }
  try {
    await startDemoSshd(port);
  } catch {
    spawnSync('bash', [DEMO_SCRIPT, 'start'], { stdio: 'ignore' });
  }
}
