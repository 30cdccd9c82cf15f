// How often the sidecar asks the scheduler about the jobs it tracks, with
// 1, 10 and 100 of them, while they start and once they run: counted by
// Slurm itself (sdiag's RPC counts), not by our code.
//
// The jobs are real sessions launched through the real sidecar (POST
// Routes.clusterSessions), so its own JobPoller tracks them, with a
// placeholder for JupyterLab: an environment whose bin/jupyter waits until
// a `go` file appears in its working directory (the session is `starting`
// until then), then writes a jpserver-<pid>.json as jupyter_server does
// (the sidecar makes its forward and the session is `running`) and sleeps.
// So that 100 one-CPU jobs run at once on the demo's 8-CPU node, they go to
// a partition of their own, `jlhpc-bench` (OverSubscribe=FORCE:128), which
// exists only while this section runs.
//
// The rate: sdiag is read here every 250 ms; each squeue the poller runs is
// one job query (REQUEST_JOB_INFO_SINGLE for one job id, REQUEST_JOB_INFO
// for several) plus REQUEST_PARTITION_INFO (and REQUEST_FED_INFO for one
// id) from the cluster user (see measureRate for how they are told apart
// from other users' calls). Once all N sessions are in the phase, the rate is measured over K
// whole intervals between job queries: 60 000 · K / (time of the
// last − time of the first), which does not depend on where a fixed window
// would fall between jittered polls.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  connectCluster,
  putClusters,
  startSidecar
} from '../lib/sidecar-client.mjs';
import {
  cancelJobs,
  cancelJobsNow,
  launchRequest,
  launchSession,
  onExitToo,
  requireLocalSlurm,
  sdiagCounts,
  sessionDir,
  waitForPhase
} from '../lib/slurm-demo.mjs';
import { demoCluster, writeSshHome } from '../lib/ssh-env.mjs';

export const name = 'slurm';
export const description =
  'scheduler calls per minute (sdiag) with 1/10/100 sessions tracked by the sidecar, starting and running';

const SIZES = [1, 10, 100];
const PARTITION = 'jlhpc-bench';
const ALIAS = 'bench-slurm';
// Whole poll intervals measured: ~2 s each while starting, ~20 s running.
const INTERVALS = { starting: 8, running: 3 };
const SAMPLE_MS = 250;
const JOB_QUERIES = [
  'REQUEST_JOB_INFO',
  'REQUEST_JOB_INFO_SINGLE',
  'REQUEST_JOB_USER_INFO'
];
const RUNNING_TARGET = 6;
const LAUNCH_CONCURRENCY = 3;

const PLACEHOLDER = `#!/bin/sh
# Stands in for \`jupyter lab\` in bench/sections/slurm.mjs: waits until
# ./go exists (job.sh runs it in the session's working directory), then
# writes its server file as jupyter_server does, and sleeps.
port=0
for a in "$@"; do
  case $a in --port=*) port=\${a#--port=} ;; esac
done
while [ ! -e go ]; do sleep 1; done
f="$JUPYTER_RUNTIME_DIR/jpserver-$$.json"
printf '{"base_url": "/", "pid": %s, "port": %s, "token": "placeholder", "version": "placeholder"}\\n' "$$" "$port" >"$f.tmp" &&
  mv "$f.tmp" "$f"
exec sleep 1800
`;

function scontrol(args) {
  return execFileSync('scontrol', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe']
  });
}

function partitionExists() {
  try {
    scontrol(['show', 'partition', PARTITION]);
    return true;
  } catch {
    return false;
  }
}

function jobsIn(partition) {
  return execFileSync('squeue', ['-h', '-p', partition, '-o', '%i'], {
    encoding: 'utf8'
  })
    .split('\n')
    .filter(Boolean);
}

/**
 * The job queries among sdiag's counts: one per squeue. squeue asks with
 * REQUEST_JOB_INFO_SINGLE for one job id and REQUEST_JOB_INFO (the whole
 * queue, filtered by squeue) for several; REQUEST_JOB_USER_INFO for --user.
 */
function jobQueries(counts) {
  return JOB_QUERIES.reduce((sum, t) => sum + (counts.byType[t] ?? 0), 0);
}

/**
 * Read sdiag every SAMPLE_MS until `intervals` whole intervals between the
 * cluster user's squeue calls are seen. sdiag counts RPCs by type and by
 * user, not both: a call is counted in a sample where the job queries and
 * the user's RPCs both rose (each squeue makes 2 or 3), so another user's
 * squeue (other suites on this machine run them as root) or another RPC of
 * this user does not count. Returns the rate, and the job queries left out.
 */
async function measureRate(user, intervals, timeoutMs) {
  const calls = [];
  let others = 0;
  let prev = sdiagCounts();
  const deadline = performance.now() + timeoutMs;
  while (calls.length < intervals + 1) {
    await sleep(SAMPLE_MS);
    const now = sdiagCounts();
    const at = performance.now();
    const queries = jobQueries(now) - jobQueries(prev);
    const userRpcs = (now.byUser[user] ?? 0) - (prev.byUser[user] ?? 0);
    if (queries < 0 || userRpcs < 0) {
      throw new Error(
        'sdiag counts went down (slurmctld restarted?) while measuring'
      );
    }
    const ours = Math.min(queries, Math.floor(userRpcs / 2));
    others += queries - ours;
    for (let i = 0; i < ours; i++) {
      calls.push(at);
    }
    prev = now;
    if (performance.now() > deadline) {
      throw new Error(
        `only ${calls.length} squeue calls of ${user} within ${timeoutMs} ms (wanted ${intervals + 1})`
      );
    }
  }
  const minutes = (calls[intervals] - calls[0]) / 60000;
  return { perMin: intervals / minutes, seconds: minutes * 60, others };
}

/** One size: N sessions launched, measured starting, then running, then cancelled. */
async function measureSize(ctx, { cluster, home, base, env, n }) {
  const sidecar = await startSidecar(ctx, { home });
  const jobs = [];
  const ids = [];
  const cleanup = onExitToo(() => {
    cancelJobsNow(jobs);
    for (const id of ids) {
      rmSync(sessionDir(cluster.user, id), { recursive: true, force: true });
    }
  });
  try {
    await putClusters(sidecar, [{ name: 'demo', host: ALIAS }]);
    await connectCluster(sidecar, 'demo');
    const work = join(base, `w${n}`);
    mkdirSync(work);
    execFileSync('chown', [`${cluster.user}:${cluster.user}`, work]);
    const req = launchRequest({
      partition: PARTITION,
      environment: env,
      workingDirectory: work,
      startTimeoutSeconds: 900
    });
    ctx.log(`${n} sessions: launching`);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(LAUNCH_CONCURRENCY, n) }, async () => {
        while (next < n) {
          next++;
          const s = await launchSession(sidecar, 'demo', req);
          jobs.push(s.jobId);
          ids.push(s.id);
        }
      })
    );
    await waitForPhase(sidecar, ids, 'starting', 180000);
    ctx.log(`${n} sessions starting: ${INTERVALS.starting} poll intervals`);
    const starting = await measureRate(cluster.user, INTERVALS.starting, 60000);
    writeFileSync(join(work, 'go'), '');
    await waitForPhase(sidecar, ids, 'running', 180000);
    ctx.log(
      `${n} sessions running: ${INTERVALS.running} poll intervals (about a minute)`
    );
    const running = await measureRate(cluster.user, INTERVALS.running, 150000);
    return { starting, running };
  } finally {
    await sidecar.close();
    await cancelJobs(jobs);
    cleanup();
  }
}

export async function run(ctx) {
  requireLocalSlurm('the slurm section');
  const cluster = await demoCluster();
  const home = ctx.tmpdir();
  writeSshHome(home, cluster, [{ alias: ALIAS, port: cluster.port }]);

  // The placeholder environment, in the cluster user's home.
  const base = mkdtempSync(`/home/${cluster.user}/jlhpc-bench-slurm-`);
  const env = join(base, 'env');
  mkdirSync(join(env, 'bin'), { recursive: true });
  writeFileSync(join(env, 'bin', 'jupyter'), PLACEHOLDER);
  chmodSync(join(env, 'bin', 'jupyter'), 0o755);
  symlinkSync('/usr/bin/python3', join(env, 'bin', 'python'));
  execFileSync('chown', ['-R', `${cluster.user}:${cluster.user}`, base]);

  if (partitionExists()) {
    // Left by a run that was killed: its jobs are ours too.
    ctx.log(`removing the ${PARTITION} partition an earlier run left`);
    cancelJobsNow(jobsIn(PARTITION));
    scontrol(['delete', `PartitionName=${PARTITION}`]);
  }
  scontrol([
    'create',
    `PartitionName=${PARTITION}`,
    'Nodes=ALL',
    'OverSubscribe=FORCE:128',
    'MaxTime=30',
    'Default=NO',
    'State=UP'
  ]);
  const cleanup = onExitToo(() => {
    cancelJobsNow(jobsIn(PARTITION));
    try {
      scontrol(['delete', `PartitionName=${PARTITION}`]);
    } catch {
      // gone already
    }
    rmSync(base, { recursive: true, force: true });
  });
  const results = {};
  try {
    for (const n of SIZES) {
      results[n] = await measureSize(ctx, { cluster, home, base, env, n });
    }
  } finally {
    const left = jobsIn(PARTITION);
    if (left.length) {
      await cancelJobs(left);
    }
    cleanup();
  }

  const rows = [];
  for (const phase of ['starting', 'running']) {
    for (const n of SIZES) {
      const r = results[n][phase];
      const one = results[1][phase];
      rows.push({
        id: `slurm.squeue_per_min.${phase}.${n}`,
        unit: '/min',
        value: r.perMin,
        n: INTERVALS[phase],
        ...(n === 1
          ? {}
          : {
              baseline: { label: `${phase}, 1 job`, value: one.perMin }
            }),
        note:
          `${cluster.user}'s job queries (sdiag) over ${INTERVALS[phase]} intervals (${r.seconds.toFixed(1)} s); ` +
          `${r.others} job queries of other users while measuring, left out` +
          (phase === 'running' && n === 100
            ? ` (target: the same for 1, 10 and 100; at most ${RUNNING_TARGET}/min once all run)`
            : '')
      });
    }
  }
  return rows;
}
