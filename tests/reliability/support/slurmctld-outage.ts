/**
 * Stop the demo cluster's slurmctld for a while and always bring it back.
 * While it is down the demo cluster's own lock is held, so that a
 * `demo-cluster.sh start` elsewhere does not restart it early; it is started
 * again by `demo-cluster.sh start` (the one way the cluster starts its
 * daemons), and `back` resolves once `squeue` answers.
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'child_process';
import { promisify } from 'util';
import { readFileSync } from 'fs';
import { join } from 'path';

import { demoCluster } from '../../support/demo-cluster';
import { REPO } from '../../support/jupyter-lab';
import { isAlive, waitFor } from '../../support/proc';

const LOCK_FILE = '/run/lock/jupyterlab-hpc-demo.lock';
const PID_FILE = '/run/jupyterlab-hpc-demo/slurmctld.pid';
const DEMO_CLUSTER = join(REPO, 'tests', 'cluster', 'demo-cluster.sh');

export interface ISlurmctldOutage {
  /** When slurmctld was seen gone (performance.now()). */
  stoppedAt: number;
  /** Start it again; resolves when squeue answers, with that time. */
  back(): Promise<number>;
}

const execFileAsync = promisify(execFile);

/** `argv` ran and exited 0 (within `timeoutMs`). Never blocks the loop. */
async function succeeds(
  argv: string[],
  timeoutMs: number,
  cwd?: string
): Promise<boolean> {
  try {
    await execFileAsync(argv[0], argv.slice(1), { timeout: timeoutMs, cwd });
    return true;
  } catch {
    return false;
  }
}

/** A new step starts in a running job of the demo user (or none runs). */
export async function stepsStart(): Promise<boolean> {
  const { user } = demoCluster();
  let job: string;
  try {
    const { stdout } = await execFileAsync(
      'squeue',
      ['-h', '-u', user, '-t', 'running', '-o', '%i'],
      { encoding: 'utf8', timeout: 30_000 }
    );
    job = stdout.trim().split('\n')[0];
  } catch {
    return false;
  }
  if (!job) {
    return true;
  }
  return succeeds(
    [
      'runuser',
      '-u',
      user,
      '--',
      'srun',
      '--overlap',
      `--jobid=${job}`,
      '-n1',
      'true'
    ],
    15_000,
    '/'
  );
}

/** squeue answers (blocks: for clean-up, where nothing else runs). */
export function squeueAnswers(): boolean {
  try {
    execFileSync('squeue', ['-h', '-o', '%i'], {
      stdio: 'ignore',
      timeout: 30_000
    });
    return true;
  } catch {
    return false;
  }
}

async function holdLock(): Promise<ChildProcess> {
  const holder = spawn(
    'flock',
    ['-w', '300', LOCK_FILE, 'sh', '-c', 'echo locked; exec sleep 3600'],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true }
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', code =>
      reject(new Error(`could not take ${LOCK_FILE} (flock exited ${code})`))
    );
  });
  return holder;
}

function release(holder: ChildProcess): void {
  try {
    process.kill(-holder.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
}

export async function stopSlurmctld(): Promise<ISlurmctldOutage> {
  const holder = await holdLock();
  let restarted = false;
  const back = async (): Promise<number> => {
    if (restarted) {
      throw new Error('slurmctld was started again already');
    }
    restarted = true;
    release(holder);
    // Nothing here blocks the event loop: the sidecar's events that come
    // meanwhile are timed as they arrive, not when the loop is free again
    // (a blocking wait for steps had added up to 17 s to the recovery).
    const started = execFileAsync('bash', [DEMO_CLUSTER, 'start'], {
      timeout: 300_000
    });
    await waitFor(
      'squeue to answer',
      () => succeeds(['squeue', '-h', '-o', '%i'], 30_000),
      120_000
    );
    const at = performance.now();
    await started;
    // Slurm itself may hold new job steps for a while after its controller
    // is back (srun waits): wait for that here, so that the next fault's
    // kernel start is not measured against Slurm's own recovery.
    await waitFor('job steps to start again', stepsStart, 180_000);
    return at;
  };
  try {
    const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
    process.kill(pid, 'SIGTERM');
    await waitFor('slurmctld to stop', () => !isAlive(pid), 20_000);
    return { stoppedAt: performance.now(), back };
  } catch (err) {
    await back();
    throw err;
  }
}
