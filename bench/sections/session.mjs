// JupyterLab sessions in SLURM jobs on the demo cluster, through the real
// sidecar, side by side with the tutorial's manual workflow scripted at its
// best. The clock starts at the job's own records, read from the cluster's
// files (the cluster runs on this machine, so clocks agree): the mtime of
// the session's `started` file (job.sh writes it first thing) and of the
// `jpserver-<pid>.json` that jupyter_server writes once it listens.
//
// sidecar: POST Routes.clusterSessions → the session event saying
// `running` on the events WebSocket → GET Routes.sessionOpen → GET
// /api/status through the forward that URL names, until it answers 200.
// manual: sbatch over ssh; then every second a fresh `ssh <alias> squeue
// --name=<job> -h -o %R; cat <runtime>/jpserver-*.json` until the node is
// known and the server file is there; then `ssh -N -L` to the node's port
// and GET /api/status through it until 200 (polled every 2 ms, as
// `curl --retry-connrefused` would at best).
import { randomBytes } from 'node:crypto';
import { readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { BenchError } from '../lib/context.mjs';
import { openEvents } from '../lib/sidecar-events.mjs';
import {
  connectCluster,
  describeAnswer,
  putClusters,
  startSidecar
} from '../lib/sidecar-client.mjs';
import {
  cancelJobs,
  cancelJobsNow,
  firstStatus200,
  launchRequest,
  launchSession,
  nowMs,
  onExitToo,
  requireLocalSlurm,
  SessionRoutes,
  sessionDir,
  slurmctldTimes
} from '../lib/slurm-demo.mjs';
import { demoCluster, timedRun, writeSshHome } from '../lib/ssh-env.mjs';
import { median, summary } from '../lib/stats.mjs';

export const name = 'session';
export const description =
  'JupyterLab in a SLURM job: job listening → usable through the sidecar vs the manual squeue-every-second + ssh -L; submit → usable';

const REPS = 5;
const ALIAS = 'bench-sessions';
const READY_TARGET_MS = 150;
const OVERHEAD_TARGET_MS = 300;
const START_TIMEOUT_MS = 180000;

const q = s => `'${String(s).replace(/'/g, `'\\''`)}'`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** mtime (epoch ms, sub-ms) of the jpserver file in a runtime dir. */
function serverFileMtime(runtimeDir) {
  const f = readdirSync(runtimeDir).find(n => /^jpserver-\d+\.json$/.test(n));
  if (!f) {
    throw new Error(`no jpserver-*.json in ${runtimeDir}`);
  }
  return statSync(join(runtimeDir, f)).mtimeMs;
}

/** `ssh <alias> <command>` with `input` on its stdin. */
function sshWithInput(ctx, config, command, input) {
  return new Promise((resolve, reject) => {
    const child = ctx.spawn(
      'ssh',
      ['-F', config, '-o', 'BatchMode=yes', ALIAS, command],
      { label: 'ssh', stdio: ['pipe', 'pipe', 'pipe'] }
    );
    const out = [];
    child.stdout.on('data', c => out.push(c));
    child.once('error', reject);
    child.once('close', code =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: child.stderrTail
      })
    );
    child.stdin.end(input);
  });
}

/** One session through the sidecar, from the POST to the first 200. */
async function viaSidecar(ctx, { sidecar, events, req, user, jobs, ids }) {
  const submit = nowMs();
  const s = await launchSession(sidecar, 'demo', req);
  jobs.push(s.jobId);
  ids.push(s.id);
  const ev = await events.waitFor(
    e =>
      e.type === 'session' &&
      e.session.id === s.id &&
      (e.session.phase === 'running' || e.session.phase === 'ended'),
    START_TIMEOUT_MS
  );
  if (ev.session.phase === 'ended') {
    throw new Error(
      `session ${s.id} ended before it ran: ${ev.session.end?.message}`
    );
  }
  const eventAt = performance.timeOrigin + ev.at;
  // `connecting`: the sidecar has read the server file and makes the forward.
  const connecting = events.events.find(
    e =>
      e.type === 'session' &&
      e.session.id === s.id &&
      e.session.phase === 'connecting'
  );
  const connectingAt = connecting
    ? performance.timeOrigin + connecting.at
    : eventAt;
  const open = await sidecar.call('GET', SessionRoutes.open(s.id));
  if (open.status !== 200) {
    throw new Error(`GET ${SessionRoutes.open(s.id)}: ${describeAnswer(open)}`);
  }
  const url = new URL(open.body.url);
  const usable = await firstStatus200(
    Number(url.port),
    url.pathname.replace(/lab$/, ''),
    url.searchParams.get('token')
  );
  const dir = sessionDir(user, s.id);
  const started = statSync(join(dir, 'started')).mtimeMs;
  const listen = serverFileMtime(join(dir, 'runtime'));
  const cancel = await sidecar.call('POST', SessionRoutes.cancel(s.id));
  if (cancel.status !== 200) {
    throw new Error(`POST cancel: ${describeAnswer(cancel)}`);
  }
  await events.waitFor(
    e =>
      e.type === 'session' &&
      e.session.id === s.id &&
      e.session.phase === 'ended',
    60000
  );
  return {
    jobId: s.jobId,
    submit,
    started,
    listen,
    connectingAt,
    eventAt,
    usable
  };
}

/** One session the tutorial's way, scripted at its best. */
async function manually(ctx, { config, env, user, jobs, dirs }) {
  const tag = randomBytes(6).toString('hex');
  const job = `jlhpc-bench-manual-${tag}`;
  const dir = `/home/${user}/.jupyterlab-hpc-bench/${tag}`;
  dirs.push(dir);
  const runtime = `${dir}/runtime`;
  const script = [
    '#!/bin/bash',
    "# The tutorial's job: JupyterLab from the env, on a free port.",
    'umask 077',
    `export JUPYTER_RUNTIME_DIR=${q(runtime)}`,
    'mkdir -p "$JUPYTER_RUNTIME_DIR"',
    `port=$(${q(`${env}/bin/python`)} -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')`,
    `exec ${q(`${env}/bin/jupyter`)} lab --no-browser --ip=0.0.0.0 --port="$port" --ServerApp.port_retries=50`,
    ''
  ].join('\n');
  const sub = await sshWithInput(
    ctx,
    config,
    `umask 077; mkdir -p ${q(dir)} && cat >${q(`${dir}/job.sh`)} && cd ${q(dir)} && ` +
      `sbatch --parsable --job-name=${q(job)} --time=10 --output=job.log job.sh`,
    script
  );
  const jobId = /^(\d+)/.exec(sub.stdout.trim())?.[1];
  if (sub.code !== 0 || !jobId) {
    throw new Error(
      `sbatch over ssh failed (${sub.code}): ${sub.stdout}${sub.stderr}`
    );
  }
  jobs.push(jobId);

  // A fresh ssh every second until the node and the server file are known.
  const deadline = Date.now() + START_TIMEOUT_MS;
  let node = null;
  let server = null;
  let polls = 0;
  for (;;) {
    const t = Date.now();
    polls++;
    const r = await timedRun(ctx, 'ssh', [
      '-F',
      config,
      '-o',
      'BatchMode=yes',
      ALIAS,
      `squeue --name=${q(job)} -h -o %R; cat ${q(runtime)}/jpserver-*.json 2>/dev/null`
    ]);
    const [first = '', ...rest] = r.stdout.split('\n');
    const where = first.trim();
    if (where && !where.startsWith('(')) {
      node = where;
    }
    const json = rest.join('').trim();
    if (node && json.endsWith('}')) {
      server = JSON.parse(json);
      break;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the manual job ${jobId} did not listen within ${START_TIMEOUT_MS} ms`
      );
    }
    await sleep(Math.max(0, t + 1000 - Date.now()));
  }
  const port = await freePort();
  const forward = ctx.spawn(
    'ssh',
    [
      '-F',
      config,
      '-o',
      'BatchMode=yes',
      '-o',
      'ExitOnForwardFailure=yes',
      '-N',
      '-L',
      `127.0.0.1:${port}:${node}:${server.port}`,
      ALIAS
    ],
    { label: 'ssh -L' }
  );
  let usable;
  try {
    usable = await firstStatus200(port, server.base_url ?? '/', server.token);
  } finally {
    await ctx.stop(forward);
  }
  const listen = serverFileMtime(runtime);
  await cancelJobs([jobId]);
  return { jobId, listen, usable, polls };
}

export async function run(ctx) {
  requireLocalSlurm('the session section');
  const reps = ctx.reps(REPS);
  const cluster = await demoCluster();
  const env = cluster.envs.find(e => e.jupyterlab)?.prefix;
  if (!env) {
    throw new BenchError(
      'the demo cluster lists no environment with JupyterLab: run `bash tests/cluster/demo-cluster.sh start`'
    );
  }
  const home = ctx.tmpdir();
  const { config } = writeSshHome(home, cluster, [
    { alias: ALIAS, port: cluster.port }
  ]);
  const sidecar = await startSidecar(ctx, { home });
  await putClusters(sidecar, [{ name: 'demo', host: ALIAS }]);
  await connectCluster(sidecar, 'demo');
  const events = await openEvents(sidecar.socket);

  const jobs = [];
  const ids = [];
  const dirs = [];
  const cleanup = onExitToo(() => {
    cancelJobsNow(jobs);
    for (const id of ids) {
      rmSync(sessionDir(cluster.user, id), { recursive: true, force: true });
    }
    for (const d of dirs) {
      rmSync(d, { recursive: true, force: true });
    }
    try {
      rmdirSync(`/home/${cluster.user}/.jupyterlab-hpc-bench`);
    } catch {
      // not there, or not ours alone
    }
  });
  const req = launchRequest({ environment: env, startTimeoutSeconds: 180 });
  const opts = {
    sidecar,
    events,
    req,
    user: cluster.user,
    jobs,
    ids,
    config,
    env,
    dirs
  };
  const mine = [];
  const theirs = [];
  try {
    ctx.log(`warm-up: one session each way (JupyterLab ${env})`);
    await viaSidecar(ctx, opts);
    await manually(ctx, opts);
    for (let i = 0; i < reps; i++) {
      ctx.log(
        `round ${i + 1} of ${reps}: a session through the sidecar and one by hand`
      );
      if (i % 2) {
        theirs.push(await manually(ctx, opts));
        mine.push(await viaSidecar(ctx, opts));
      } else {
        mine.push(await viaSidecar(ctx, opts));
        theirs.push(await manually(ctx, opts));
      }
    }
  } finally {
    events.close();
    await sidecar.close();
    cleanup();
  }

  const ready = mine.map(m => m.usable - m.listen);
  const manualReady = theirs.map(m => m.usable - m.listen);
  const toConnecting = mine.map(m => m.connectingAt - m.listen);
  const forwarding = mine.map(m => m.eventAt - m.connectingAt);
  const toUsable = mine.map(m => m.usable - m.eventAt);
  const submitToUsable = mine.map(m => m.usable - m.submit);
  const dispatch = mine.map(m => m.started - m.submit);
  const startup = mine.map(m => m.listen - m.started);
  // Per session, dispatch + startup = submit → the server file; the
  // medians of the two parts need not add up to the median of the whole.
  const sum = median(mine.map(m => m.listen - m.submit));
  const slurm = slurmctldTimes(mine.map(m => m.jobId));
  const slurmDispatch = [...slurm.values()]
    .filter(t => t.submit && t.start)
    .map(t => t.start - t.submit);
  const fmt = v => v.toFixed(0);
  return [
    {
      id: 'session.ready_to_usable_ms',
      unit: 'ms',
      ...summary(ready),
      baseline: {
        label: 'squeue every 1 s + ssh -L',
        id: 'session.manual_ready_to_usable_ms',
        value: median(manualReady)
      },
      note:
        `jpserver-*.json written → first 200 of GET /api/status through the Open URL's forward (target: under ${READY_TARGET_MS} ms and below the manual). ` +
        `Of it (p50s): file → \`connecting\` event (watch.sh saw it) ${fmt(median(toConnecting))} ms, ` +
        `→ \`running\` (forward made) ${fmt(median(forwarding))} ms, → first 200 ${fmt(median(toUsable))} ms. ` +
        `Manual: p50 ${fmt(median(manualReady))} ms, min ${fmt(Math.min(...manualReady))}, max ${fmt(Math.max(...manualReady))}, ` +
        `${fmt(median(theirs.map(t => t.polls)))} ssh polls per session (p50)`
    },
    {
      id: 'session.submit_to_usable_ms',
      unit: 'ms',
      ...summary(submitToUsable),
      baseline: { label: 'dispatch + jupyter startup', value: sum },
      note:
        `POST the launch → first 200 through the forward; ${fmt(median(submitToUsable) - sum)} ms above dispatch + jupyter startup ` +
        `(p50 of their per-session sum; target: at most ${OVERHEAD_TARGET_MS} ms above)`
    },
    {
      id: 'session.dispatch_ms',
      unit: 'ms',
      ...summary(dispatch),
      note:
        'POST the launch → the job starts (mtime of its `started` record, the first thing job.sh writes)' +
        (slurmDispatch.length
          ? `; Slurm's own submit → start (slurmctld.log): p50 ${fmt(median(slurmDispatch))} ms`
          : '')
    },
    {
      id: 'session.jupyter_startup_ms',
      unit: 'ms',
      ...summary(startup),
      note: 'in the job: its `started` record → jupyter_server writes jpserver-*.json (it listens)'
    }
  ];
}
