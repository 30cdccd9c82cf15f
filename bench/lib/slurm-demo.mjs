// What the `session` and `slurm` sections need of the demo cluster beyond
// its sshd: Slurm's own view of what happened (sdiag's RPC counts,
// slurmctld's log), JupyterLab sessions launched through the real sidecar,
// and the guarantee that every job a section started is cancelled, however
// the run ends. The cluster runs on this machine, so its files and clocks
// are ours: Slurm's commands run here directly (as root, not as the cluster
// user, so they are not counted with the user's calls).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { BenchError } from './context.mjs';
import { describeAnswer } from './sidecar-client.mjs';

const API = '/api/v1';
export const SessionRoutes = {
  sessions: `${API}/sessions`,
  clusterSessions: name =>
    `${API}/clusters/${encodeURIComponent(name)}/sessions`,
  session: id => `${API}/sessions/${encodeURIComponent(id)}`,
  cancel: id => `${API}/sessions/${encodeURIComponent(id)}/cancel`,
  open: id => `${API}/sessions/${encodeURIComponent(id)}/open`
};

/** Where a session's files are on the cluster (batch-script.ts SESSIONS_DIR). */
export const sessionDir = (user, id) =>
  `/home/${user}/.jupyterlab-hpc/sessions/${id}`;

const SLURMCTLD_LOG = '/var/log/slurm/slurmctld.log';

/** Fail with an instruction unless Slurm's commands run here as root. */
export function requireLocalSlurm(what) {
  if (process.getuid?.() !== 0) {
    throw new BenchError(
      `${what} reads Slurm's own records (sdiag, slurmctld.log) and cancels its jobs as root on the demo cluster's machine: run it as root`
    );
  }
  try {
    execFileSync('sdiag', [], { stdio: 'ignore', timeout: 10000 });
  } catch (err) {
    throw new BenchError(
      `sdiag failed here (${err.message.split('\n')[0]}): run \`bash tests/cluster/demo-cluster.sh start\` as root`
    );
  }
}

/**
 * sdiag's remote procedure call counts since slurmctld started:
 * { byType: {REQUEST_JOB_INFO: n, …}, byUser: {hpcdemo: n, …} }.
 */
export function sdiagCounts() {
  const text = execFileSync('sdiag', [], { encoding: 'utf8', timeout: 10000 });
  const byType = {};
  const byUser = {};
  let into = null;
  for (const line of text.split('\n')) {
    if (/statistics by message type/.test(line)) {
      into = byType;
    } else if (/statistics by user/.test(line)) {
      into = byUser;
    } else if (/^\S/.test(line) && line.trim() !== '') {
      into = null;
    } else if (into) {
      const m = /^\s+(\S+)\s+\(\s*\d+\)\s+count:(\d+)/.exec(line);
      if (m) {
        into[m[1]] = Number(m[2]);
      }
    }
  }
  return { byType, byUser };
}

/**
 * Cancel these jobs (as root, here) and wait until squeue lists none of
 * them. Safe to call with ids that ended long ago.
 */
export async function cancelJobs(jobIds, { timeoutMs = 60000 } = {}) {
  const ids = [...new Set(jobIds)].filter(Boolean);
  if (!ids.length) {
    return;
  }
  cancelJobsNow(ids);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const left = execFileSync(
      'squeue',
      [
        '-h',
        '-t',
        'pending,running,suspended,completing',
        '-j',
        ids.join(','),
        '-o',
        '%i'
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }
    ).trim();
    if (!left) {
      return;
    }
    await sleep(250);
  }
  throw new Error(`jobs still in the queue ${timeoutMs} ms after scancel`);
}

/** scancel, synchronously (also from a process 'exit' handler). */
export function cancelJobsNow(jobIds) {
  const ids = [...new Set(jobIds)].filter(Boolean);
  if (ids.length) {
    try {
      execFileSync('scancel', ids, { stdio: 'ignore', timeout: 30000 });
    } catch {
      // ended already, or gone: nothing is left to cancel
    }
  }
}

/**
 * Run `fn` once at process exit too (the runner exits on SIGINT): the
 * returned function runs it now and removes the exit hook.
 */
export function onExitToo(fn) {
  let done = false;
  const once = () => {
    if (!done) {
      done = true;
      fn();
    }
  };
  process.once('exit', once);
  return () => {
    process.removeListener('exit', once);
    once();
  };
}

/**
 * Slurm's own submit and start times (epoch ms) of jobs, from slurmctld's
 * log (LogTimeFormat iso8601_ms, the machine's local time): Map id →
 * {submit, start}. Jobs it does not name are left out.
 */
export function slurmctldTimes(jobIds) {
  const out = new Map();
  if (!existsSync(SLURMCTLD_LOG)) {
    return out;
  }
  const wanted = new Set(jobIds.map(String));
  const at = ts => new Date(ts).getTime();
  for (const line of readFileSync(SLURMCTLD_LOG, 'utf8').split('\n')) {
    const submit = /^\[(\S+)\] _slurm_rpc_submit_batch_job: JobId=(\d+) /.exec(
      line
    );
    const start =
      /^\[(\S+)\] (?:sched: Allocate JobId=(\d+) |sched\/backfill: _start_job: Started JobId=(\d+) )/.exec(
        line
      );
    const id = submit?.[2] ?? start?.[2] ?? start?.[3];
    if (!id || !wanted.has(id)) {
      continue;
    }
    const rec = out.get(id) ?? {};
    if (submit) {
      rec.submit = at(submit[1]);
    } else {
      rec.start ??= at(start[1]);
    }
    out.set(id, rec);
  }
  return out;
}

/** A launch request (ILaunchRequest) with the demo's defaults. */
export function launchRequest(overrides) {
  return {
    partition: '',
    account: '',
    qos: '',
    wallTime: '10',
    cpus: 1,
    memory: '',
    gpus: { type: '', count: 0 },
    constraint: '',
    environment: '',
    workingDirectory: '',
    startTimeoutSeconds: 120,
    ...overrides
  };
}

/** POST a launch; resolves with the ISessionInfo (201), else throws. */
export async function launchSession(sidecar, cluster, req) {
  const res = await sidecar.call(
    'POST',
    SessionRoutes.clusterSessions(cluster),
    req
  );
  if (res.status !== 201) {
    throw new Error(
      `POST ${SessionRoutes.clusterSessions(cluster)}: ${describeAnswer(res)}`
    );
  }
  return res.body;
}

/** GET Routes.sessions: every ISessionInfo. */
export async function listSessions(sidecar) {
  const res = await sidecar.call('GET', SessionRoutes.sessions);
  if (res.status !== 200) {
    throw new Error(`GET ${SessionRoutes.sessions}: ${describeAnswer(res)}`);
  }
  return res.body.sessions;
}

/**
 * Wait until every session in `ids` is in `phase` (checked every 250 ms on
 * the sidecar's list, which costs the cluster nothing). A session that
 * ends first fails the wait with the sidecar's reason.
 */
export async function waitForPhase(sidecar, ids, phase, timeoutMs) {
  const want = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sessions = (await listSessions(sidecar)).filter(s => want.has(s.id));
    const ended = sessions.find(s => s.phase === 'ended' && phase !== 'ended');
    if (ended) {
      throw new Error(
        `session ${ended.id} (job ${ended.jobId}) ended before it was ${phase}: ${ended.end?.message}`
      );
    }
    const there = sessions.filter(s => s.phase === phase).length;
    if (there === want.size) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${there} of ${want.size} sessions were ${phase} after ${timeoutMs} ms`
      );
    }
    await sleep(250);
  }
}

/**
 * GET <origin><base>api/status with the token in the Authorization header,
 * on a fresh connection. Resolves with the status code; rejects with the
 * connect error (ECONNREFUSED before a forward listens, ECONNRESET when it
 * listens but cannot reach the node yet).
 */
export function jupyterStatus(port, base, token) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `${base}api/status`,
        agent: false,
        headers: { Authorization: `token ${token}` }
      },
      res => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', reject);
      }
    );
    req.setTimeout(10000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Ask jupyterStatus every `intervalMs` until it answers 200; resolves with
 * Date.now() at that answer. Any other answer fails at once.
 */
export async function firstStatus200(
  port,
  base,
  token,
  { intervalMs = 2, timeoutMs = 30000 } = {}
) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const status = await jupyterStatus(port, base, token);
      const at = nowMs();
      if (status === 200) {
        return at;
      }
      // jupyter_server answers 5xx for a moment while it starts its loop
      if (status < 500) {
        throw new BenchError(
          `GET ${base}api/status through port ${port} answered ${status}`
        );
      }
      last = `status ${status}`;
    } catch (err) {
      if (err instanceof BenchError) {
        throw err;
      }
      last = err.code ?? err.message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `GET ${base}api/status through port ${port} did not answer 200 within ${timeoutMs} ms (${last})`
      );
    }
    await sleep(intervalMs);
  }
}

/** Epoch milliseconds with sub-millisecond precision. */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}
