// Cluster kernels (issue 12) beside local ones, through a real `jupyter lab`
// from the project's venv (its server extension starts the sidecar, its
// provisioner holds a lease per cluster kernel), on the demo cluster.
//
// start / restart: a local ipykernel (kernelspec python3 of the venv) and a
// cluster kernel of a profile for the demo's my-project-env, whose
// allocation already runs (a first cluster kernel holds it), interleaved:
// POST /api/kernels {name} (or …/restart) → the kernel WebSocket opened →
// the first kernel_info_reply on it, as JupyterLab starts a kernel.
//
// execute round trip, at the ZMQ level with a connection file
// (bench/lib/kernel_rtt.py, jupyter_client): the local kernel's and the
// cluster kernel's files in the server's runtime dir (the cluster one names
// the relay's 127.0.0.1 ports), and the way the existing tools reach a
// kernel on a node: an ipykernel started in the same allocation (`srun
// --overlap`) on the node's network address, reached through one `ssh -N`
// with five `-L` via the login node.
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { BenchError } from '../lib/context.mjs';
import { openKernelChannels, openLabEvents } from '../lib/kernel-ws.mjs';
import { sidecarEnv } from '../lib/sidecar-client.mjs';
import {
  cancelJobs,
  cancelJobsNow,
  onExitToo,
  requireLocalSlurm
} from '../lib/slurm-demo.mjs';
import { demoCluster, timedRun, writeSshHome } from '../lib/ssh-env.mjs';
import { median, quantile, summary } from '../lib/stats.mjs';

export const name = 'kernel';
export const description =
  'cluster kernel (allocation running) vs local ipykernel: start, restart; execute round trip local vs relay vs ssh -L';

const STARTS = 5;
const RTT_ROUNDS = 100;
const ALIAS = 'bench-kernels';
const ENV_NAME = 'my-project-env';
const SIDECAR = 'jupyterlab-hpc/api/v1';
const RTT_PY = join(
  fileURLToPath(import.meta.url),
  '..',
  '..',
  'lib',
  'kernel_rtt.py'
);
const CHANNELS = ['shell', 'iopub', 'stdin', 'control', 'hb'];
const PACED_GAP_S = 0.2;

const q = s => `'${String(s).replace(/'/g, `'\\''`)}'`;
const fmt = v => v.toFixed(0);
const fmt1 = v => v.toFixed(1);

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

function tcpOpen(port) {
  return new Promise(resolve => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The venv the product is installed in: $JUPYTERLAB_HPC_VENV, else <root>/.venv. */
function productVenv(root) {
  const venv = process.env.JUPYTERLAB_HPC_VENV ?? join(root, '.venv');
  if (!existsSync(join(venv, 'bin', 'jupyter'))) {
    throw new BenchError(
      `${venv}/bin/jupyter is missing: run \`bash scripts/setup.sh\` (or set JUPYTERLAB_HPC_VENV to the venv jupyterlab-hpc is installed in)`
    );
  }
  return venv;
}

/**
 * `jupyter lab` from `venv`, isolated as tests/support/jupyter-lab.ts does
 * it (JUPYTER_* dirs under `home`), with HOME=`home` (the demo's ssh
 * config), in a process group of its own. Resolves once /api/status
 * answers with { url, token, home, runtime, api(), stop() }.
 */
async function startLab(ctx, { venv, home }) {
  const dirs = {
    JUPYTER_CONFIG_DIR: join(home, 'config'),
    JUPYTER_DATA_DIR: join(home, 'data'),
    JUPYTER_RUNTIME_DIR: join(home, 'runtime'),
    JUPYTERLAB_SETTINGS_DIR: join(home, 'settings'),
    JUPYTERLAB_WORKSPACES_DIR: join(home, 'workspaces')
  };
  Object.values(dirs).forEach(d => mkdirSync(d, { recursive: true }));
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const args = [
    'lab',
    '--no-browser',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.port=${port}`,
    '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${home}`,
    '--LabApp.news_url=None',
    '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'
  ];
  if (process.getuid?.() === 0) {
    args.push('--allow-root');
  }
  // The token in a config file of the 0700 home, not in argv (`ps` shows
  // it) nor in the environment (every local kernel would inherit it).
  writeFileSync(
    join(dirs.JUPYTER_CONFIG_DIR, 'jupyter_server_config.json'),
    JSON.stringify({ IdentityProvider: { token } }),
    { mode: 0o600 }
  );
  const child = ctx.spawn(join(venv, 'bin', 'jupyter'), args, {
    label: 'jupyter lab',
    cwd: home,
    detached: true,
    env: sidecarEnv({ ...dirs, HOME: home })
  });
  const url = `http://127.0.0.1:${port}/`;
  const api = async (method, path, body) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        Authorization: `token ${token}`,
        'Content-Type': 'application/json'
      },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.status, body: parsed };
  };
  const group = sig => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // gone
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(r => child.once('exit', r));
      group('SIGTERM');
      const timer = setTimeout(() => group('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    group('SIGKILL'); // the kernels and the sidecar, if any outlived it
  };
  const deadline = Date.now() + 90000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`jupyter lab exited early: ${child.stderrTail}`);
    }
    try {
      if ((await api('GET', 'api/status')).status === 200) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `jupyter lab did not answer in 90 s: ${child.stderrTail}`
      );
    }
    await sleep(250);
  }
  return {
    url,
    token,
    home,
    runtime: dirs.JUPYTER_RUNTIME_DIR,
    child,
    api,
    stop,
    killNow: () => group('SIGKILL')
  };
}

function expectStatus(r, status, what) {
  if (r.status !== status) {
    throw new Error(
      `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`
    );
  }
  return r.body;
}

/** POST /api/kernels → WebSocket → kernel_info_reply, timed in parts. */
async function timedStart(lab, spec) {
  const t0 = performance.now();
  const r = await lab.api('POST', 'api/kernels', { name: spec });
  const { id } = expectStatus(r, 201, `POST /api/kernels {name: ${spec}}`);
  const t1 = performance.now();
  const ch = await openKernelChannels(lab.url, lab.token, id);
  const t2 = performance.now();
  const t3 = await ch.kernelInfo(120000);
  // Once more, untimed in the figure: one round trip of a kernel that is up.
  const t4 = performance.now();
  const again = (await ch.kernelInfo(60000)) - t4;
  ch.close();
  return {
    id,
    t0,
    total: t3 - t0,
    post: t1 - t0,
    ws: t2 - t1,
    info: t3 - t2,
    again
  };
}

/** POST …/restart → a new WebSocket → kernel_info_reply. */
async function timedRestart(lab, id) {
  const t0 = performance.now();
  const r = await lab.api('POST', `api/kernels/${id}/restart`);
  expectStatus(r, 200, `POST /api/kernels/${id}/restart`);
  const t1 = performance.now();
  const ch = await openKernelChannels(lab.url, lab.token, id);
  const t3 = await ch.kernelInfo(120000);
  ch.close();
  return { t0, total: t3 - t0, post: t1 - t0 };
}

async function shutdown(lab, id) {
  expectStatus(
    await lab.api('DELETE', `api/kernels/${id}`),
    204,
    `DELETE /api/kernels/${id}`
  );
}

/** The round trips kernel_rtt.py measured on `file` (n after 20 warm-up). */
async function rtt(
  ctx,
  python,
  file,
  n,
  { gap = 0, shutdownAfter = false } = {}
) {
  const r = await timedRun(
    ctx,
    python,
    [
      RTT_PY,
      file,
      String(n),
      ...(gap ? ['--gap', String(gap)] : []),
      ...(shutdownAfter ? ['--shutdown'] : [])
    ],
    { label: 'kernel_rtt.py' }
  );
  const line = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !line) {
    throw new Error(`kernel_rtt.py ${file} exited ${r.code}: ${r.stderr}`);
  }
  return JSON.parse(line).ms;
}

/** `ssh <alias> <command>` with `input` on its stdin. */
function sshWithInput(ctx, ssh, command, input) {
  return new Promise((resolve, reject) => {
    const child = ctx.spawn('ssh', [...ssh, ALIAS, command], {
      label: 'ssh',
      stdio: ['pipe', 'pipe', 'pipe']
    });
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

// Run on the node in a step of the allocation: its first IPv4 network
// address and five ports free on it, as a person would pick them.
const PICK_PORTS = `
import json, socket, subprocess
addr = [a for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split() if "." in a][0]
socks = []
for _ in range(5):
    s = socket.socket()
    s.bind((addr, 0))
    socks.append(s)
print(json.dumps({"ip": addr, "ports": [s.getsockname()[1] for s in socks]}))
`;

/**
 * The existing tools' way: an ipykernel started in the allocation
 * (`srun --overlap`) listening on the node's address, and `ssh -N` with one
 * `-L` per channel via the login node. Resolves with { file (the local
 * connection file), node: {ip, ports}, close() }.
 */
async function sshTunnelledKernel(ctx, { ssh, jobId, python, user }) {
  const srun = `srun --overlap --jobid=${q(jobId)} --ntasks=1`;
  const pick = await timedRun(ctx, 'ssh', [
    ...ssh,
    ALIAS,
    `${srun} ${q(python)} -c ${q(PICK_PORTS)}`
  ]);
  if (pick.code !== 0) {
    throw new Error(`picking the node's ports failed: ${pick.stderr}`);
  }
  const node = JSON.parse(pick.stdout.trim().split('\n').pop());
  const key = randomBytes(32).toString('hex');
  const remote = {
    ip: node.ip,
    transport: 'tcp',
    signature_scheme: 'hmac-sha256',
    key,
    kernel_name: ''
  };
  CHANNELS.forEach((c, i) => (remote[`${c}_port`] = node.ports[i]));
  // The key in a 0600 file in the cluster user's home: how these tools do it.
  const dir = `/home/${user}/.jlhpc-bench-kernel-${randomBytes(6).toString('hex')}`;
  const wrote = await sshWithInput(
    ctx,
    ssh,
    `umask 077 && mkdir ${q(dir)} && cat >${q(`${dir}/kernel.json`)}`,
    JSON.stringify(remote)
  );
  if (wrote.code !== 0) {
    throw new Error(`writing the connection file failed: ${wrote.stderr}`);
  }
  const kernel = ctx.spawn(
    'ssh',
    [
      ...ssh,
      ALIAS,
      `exec ${srun} ${q(python)} -m ipykernel_launcher -f ${q(`${dir}/kernel.json`)}`
    ],
    { label: 'srun ipykernel (ssh -L baseline)' }
  );
  const local = {};
  const forwards = [];
  for (const [i, c] of CHANNELS.entries()) {
    local[c] = await freePort();
    forwards.push('-L', `127.0.0.1:${local[c]}:${node.ip}:${node.ports[i]}`);
  }
  const tunnel = ctx.spawn(
    'ssh',
    [...ssh, '-N', '-o', 'ExitOnForwardFailure=yes', ...forwards, ALIAS],
    { label: 'ssh -N -L ×5' }
  );
  const file = join(ctx.tmpdir(), 'ssh-l.json');
  const conn = { ...remote, ip: '127.0.0.1' };
  CHANNELS.forEach(c => (conn[`${c}_port`] = local[c]));
  writeFileSync(file, JSON.stringify(conn), { mode: 0o600 });
  const deadline = Date.now() + 30000;
  for (;;) {
    for (const p of [kernel, tunnel]) {
      if (p.exitCode !== null) {
        throw new Error(`${p.benchLabel} exited: ${p.stderrTail}`);
      }
    }
    const open = await Promise.all(CHANNELS.map(c => tcpOpen(local[c])));
    if (open.every(Boolean)) {
      break;
    }
    if (Date.now() > deadline) {
      throw new Error(`ssh -L did not listen in 30 s: ${tunnel.stderrTail}`);
    }
    await sleep(50);
  }
  return {
    file,
    node,
    close: async () => {
      await ctx.stop(tunnel);
      await ctx.stop(kernel);
      await timedRun(ctx, 'ssh', [...ssh, ALIAS, `rm -rf ${q(dir)}`]);
    }
  };
}

/** The kernel-start events of one kernel: state → `at` of its first event. */
function startPhases(events, kernelId, since) {
  const out = {};
  for (const e of events) {
    if (
      e.type === 'kernel-start' &&
      e.start.kernelId === kernelId &&
      e.at >= since &&
      out[e.start.state] === undefined
    ) {
      out[e.start.state] = e.at;
    }
  }
  return out;
}

export async function run(ctx) {
  requireLocalSlurm('the kernel section');
  const venv = productVenv(ctx.root);
  const python = join(venv, 'bin', 'python');
  const cluster = await demoCluster();
  const env = cluster.envs.find(e => e.name === ENV_NAME && e.ipykernel);
  if (!env) {
    throw new BenchError(
      `the demo cluster lists no ${ENV_NAME} with ipykernel: run \`bash tests/cluster/demo-cluster.sh start\``
    );
  }
  const starts = ctx.reps(STARTS);
  const rounds = ctx.reps(RTT_ROUNDS);
  const home = ctx.tmpdir();
  const { config } = writeSshHome(home, cluster, [
    { alias: ALIAS, port: cluster.port }
  ]);
  const ssh = ['-F', config, '-o', 'BatchMode=yes'];

  ctx.log(`jupyter lab from ${venv}`);
  const lab = await startLab(ctx, { venv, home });
  const jobs = new Set();
  const cleanup = onExitToo(() => {
    lab.killNow();
    cancelJobsNow([...jobs]);
  });
  let events = null;
  let baseline = null;
  const local = [];
  const remote = [];
  const localRestart = [];
  const remoteRestart = [];
  const rttMs = { local: [], cluster: [], openssh: [] };
  const pacedMs = { cluster: [], openssh: [] };
  let jobId;
  let hold;
  let nodeIp = 'the node address';
  try {
    events = await openLabEvents(lab.url, lab.token);
    expectStatus(
      await lab.api('PUT', `${SIDECAR}/clusters`, {
        clusters: [{ name: 'demo', host: ALIAS }],
        allocationGraceMinutes: 0.1
      }),
      200,
      'PUT clusters'
    );
    const profile = expectStatus(
      await lab.api('POST', `${SIDECAR}/kernel-profiles`, {
        cluster: 'demo',
        environment: env.prefix,
        resources: {
          partition: '',
          account: '',
          qos: '',
          wallTime: '15',
          cpus: 1,
          memory: '',
          gpus: { type: '', count: 0 },
          constraint: ''
        },
        workingDirectory: '',
        displayName: ''
      }),
      201,
      'POST kernel-profiles'
    );
    const spec = profile.specName;

    // The allocation: a first cluster kernel submits it and holds it while
    // the others start and stop. Its job id is taken from the events as
    // soon as it is known, so the cleanup cancels it whatever happens.
    ctx.log(
      `holding an allocation for ${spec} (the first kernel waits for it)`
    );
    const watch = setInterval(() => {
      for (const e of events.events) {
        if (e.type === 'kernel-start' && e.start.jobId) {
          jobs.add(e.start.jobId);
        }
      }
    }, 200);
    try {
      hold = await timedStart(lab, spec);
    } finally {
      clearInterval(watch);
    }
    const allocs = expectStatus(
      await lab.api('GET', `${SIDECAR}/kernel-allocations`),
      200,
      'GET kernel-allocations'
    ).allocations;
    const alloc = allocs.find(a => a.kernels.some(k => k.kernelId === hold.id));
    if (!alloc?.jobId) {
      throw new Error(
        `no allocation lists the holding kernel: ${JSON.stringify(allocs)}`
      );
    }
    jobId = alloc.jobId;
    jobs.add(jobId);
    ctx.log(
      `allocation job ${jobId} running (first kernel: ${fmt(hold.total)} ms, queueing included)`
    );

    ctx.log('warm-up: one start of each');
    await shutdown(lab, (await timedStart(lab, 'python3')).id);
    await shutdown(lab, (await timedStart(lab, spec)).id);

    const phases = [];
    for (let i = 0; i < starts; i++) {
      ctx.log(`start ${i + 1} of ${starts}: local and cluster`);
      const order = i % 2 ? ['cluster', 'local'] : ['local', 'cluster'];
      for (const which of order) {
        const s = await timedStart(lab, which === 'local' ? 'python3' : spec);
        if (which === 'local') {
          local.push(s);
        } else {
          remote.push(s);
          phases.push({ s, p: startPhases(events.events, s.id, s.t0) });
        }
        // The last of each is kept for the restarts and round trips.
        if (i < starts - 1) {
          await shutdown(lab, s.id);
        }
      }
    }
    const localId = local.at(-1).id;
    const remoteId = remote.at(-1).id;
    const restartPhases = [];
    for (let i = 0; i < starts; i++) {
      ctx.log(`restart ${i + 1} of ${starts}: local and cluster`);
      const order = i % 2 ? ['cluster', 'local'] : ['local', 'cluster'];
      for (const which of order) {
        if (which === 'local') {
          localRestart.push(await timedRestart(lab, localId));
        } else {
          const r = await timedRestart(lab, remoteId);
          remoteRestart.push(r);
          restartPhases.push({
            s: r,
            p: startPhases(events.events, remoteId, r.t0)
          });
        }
      }
    }

    const fileOf = id => {
      const f = readdirSync(lab.runtime).find(
        n => n.includes(id) && n.endsWith('.json')
      );
      if (!f) {
        throw new Error(`no connection file of kernel ${id} in ${lab.runtime}`);
      }
      return join(lab.runtime, f);
    };
    const files = { local: fileOf(localId), cluster: fileOf(remoteId) };
    const clusterConn = JSON.parse(readFileSync(files.cluster, 'utf8'));
    ctx.log('an ipykernel in the same allocation, reached through ssh -L');
    baseline = await sshTunnelledKernel(ctx, {
      ssh,
      jobId,
      python: join(env.prefix, 'bin', 'python'),
      user: cluster.user
    });
    files.openssh = baseline.file;
    nodeIp = baseline.node.ip;
    const half = Math.ceil(rounds / 2);
    const kinds = ['local', 'cluster', 'openssh'];
    for (let i = 0; i < 2; i++) {
      for (const k of i ? [...kinds].reverse() : kinds) {
        ctx.log(`round trips, ${k}: ${half} (after 20 warm-up)`);
        rttMs[k].push(...(await rtt(ctx, python, files[k], half)));
      }
    }
    // Cells a person runs come seconds apart: no earlier small write is
    // still waiting for its ACK (Nagle), unlike back to back.
    const paced = Math.max(1, Math.ceil(rounds / 4));
    for (const k of ['cluster', 'openssh']) {
      ctx.log(`round trips ${PACED_GAP_S} s apart, ${k}: ${paced}`);
      pacedMs[k].push(
        ...(await rtt(ctx, python, files[k], paced, { gap: PACED_GAP_S }))
      );
    }
    // The baseline kernel has no manager: ask it to exit.
    await rtt(ctx, python, files.openssh, 1, { shutdownAfter: true });
    await baseline.close();
    baseline = null;

    const fmtPhases = (list, firstLabel) => {
      const at = (p, a, b) =>
        p[a] !== undefined && p[b] !== undefined ? p[b] - p[a] : null;
      const med = f => {
        const v = list.map(f).filter(x => x !== null);
        return v.length ? fmt(median(v)) : '?';
      };
      const first = p => p.waiting ?? p.starting;
      return (
        `${firstLabel} ${med(({ s, p }) => (first(p) !== undefined ? first(p) - s.t0 : null))} ms, ` +
        `→ \`starting\` (allocation granted, relay step launched) ${med(({ p }) => at(p, 'waiting', 'starting'))} ms, ` +
        `→ \`started\` (kernel listening, relay ports bound) ${med(({ p }) => at(p, 'starting', 'started'))} ms, ` +
        `→ POST answered ${med(({ s, p }) => (p.started !== undefined ? s.t0 + s.post - p.started : null))} ms`
      );
    };
    const clusterStart = median(remote.map(s => s.total));
    const localStart = median(local.map(s => s.total));
    const startTarget = 1.5 * localStart + 25;
    const rttRatio = median(rttMs.cluster) / median(rttMs.openssh);
    const parts = list =>
      `POST ${fmt(median(list.map(s => s.post)))} ms, WebSocket ${fmt(median(list.map(s => s.ws)))} ms, kernel_info ${fmt(median(list.map(s => s.info)))} ms (a second one right after: ${fmt1(median(list.map(s => s.again)))} ms)`;
    return [
      {
        id: 'kernel.start_ms.cluster',
        unit: 'ms',
        ...summary(remote.map(s => s.total)),
        baseline: {
          label: 'local ipykernel',
          id: 'kernel.start_ms.local',
          value: localStart
        },
        note:
          `POST /api/kernels → first kernel_info_reply on the kernel WebSocket, allocation ${jobId} already running. ` +
          `Target: ≤ 1.5x local + 25 ms = ${fmt(startTarget)} ms: ${clusterStart <= startTarget ? 'met' : 'MISSED'}. ` +
          `Cluster (p50s): ${parts(remote)}; ${fmtPhases(phases, 'POST → first `kernel-start` event')}. Local: ${parts(local)}`
      },
      {
        id: 'kernel.restart_ms.cluster',
        unit: 'ms',
        ...summary(remoteRestart.map(s => s.total)),
        baseline: {
          label: 'local ipykernel',
          id: 'kernel.restart_ms.local',
          value: median(localRestart.map(s => s.total))
        },
        note:
          `POST …/restart (answered once the server saw a kernel_info_reply) → a new WebSocket → kernel_info_reply. ` +
          `POST p50: cluster ${fmt(median(remoteRestart.map(s => s.post)))} ms, local ${fmt(median(localRestart.map(s => s.post)))} ms; ` +
          `cluster: ${fmtPhases(restartPhases, 'POST → the old kernel reported gone (the first `kernel-start` event of the restart)')}`
      },
      {
        id: 'kernel.exec_rtt_ms.cluster',
        unit: 'ms',
        ...summary(rttMs.cluster),
        baseline: {
          label: 'ssh -L ×5 to the node',
          id: 'kernel.exec_rtt_ms.openssh',
          value: median(rttMs.openssh)
        },
        note:
          `execute_request → execute_reply with jupyter_client, through the relay's ports (${clusterConn.ip}) vs an ipykernel on ${nodeIp} of the same allocation via ssh -L. ` +
          `Target: ≤ 1.25x: ${rttRatio <= 1.25 ? 'met' : 'MISSED'} (${rttRatio.toFixed(2)}x). ` +
          `Local kernel: p50 ${fmt1(median(rttMs.local))} ms`
      },
      {
        id: 'kernel.exec_rtt_paced_ms.cluster',
        unit: 'ms',
        ...summary(pacedMs.cluster),
        baseline: {
          label: 'ssh -L ×5 to the node',
          id: 'kernel.exec_rtt_paced_ms.openssh',
          value: median(pacedMs.openssh)
        },
        note: `the same, cells ${PACED_GAP_S * 1000} ms apart (as a person runs them); p90: cluster ${fmt1(quantile(pacedMs.cluster, 0.9))} ms, ssh -L ${fmt1(quantile(pacedMs.openssh, 0.9))} ms`
      },
      {
        id: 'kernel.exec_rtt_ms.local',
        unit: 'ms',
        ...summary(rttMs.local),
        note: "the local ipykernel's connection file (the floor: no network, no ssh)"
      }
    ];
  } finally {
    events?.close();
    if (baseline) {
      await baseline.close().catch(() => undefined);
    }
    await lab.stop();
    await cancelJobs([...jobs]).catch(err =>
      ctx.log(`cleanup: ${err.message}`)
    );
    cleanup();
  }
}
