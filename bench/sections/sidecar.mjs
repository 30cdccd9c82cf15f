// The sidecar process: how fast it starts, how much memory it holds idle,
// how fast it answers — each next to the same node running a minimal
// http.createServer on a unix socket (the floor no sidecar can beat).
import { existsSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { BenchError } from '../lib/context.mjs';
import { cpuMs, getOnce, rssKiB, waitForHttp } from '../lib/process.mjs';
import { median, summary } from '../lib/stats.mjs';

export const name = 'sidecar';
export const description =
  'sidecar cold start, idle RSS and health round trip vs a minimal node http server on a unix socket';

const HEALTH = '/api/v1/health';

// The floor: what `node` alone costs to listen on a unix socket and answer.
const FLOOR_JS =
  "require('http').createServer((q,s)=>{s.writeHead(200,{'Content-Type':'application/json','Content-Length':11});" +
  's.end(\'{"ok":true}\')}).listen(process.argv[1])';

const COLD_REPS = 20;
const RSS_REPS = 4;
const RSS_PER_BATCH = 2;
const IDLE_MS = 2000;
const RTT_WARMUP = 50;
const RTT_REQUESTS = 500;
const RTT_BLOCK = 100;

export async function run(ctx) {
  const sidecarJs = join(ctx.root, 'jupyterlab_hpc', 'sidecar', 'sidecar.js');
  if (!existsSync(sidecarJs)) {
    throw new BenchError(
      `${relative(process.cwd(), sidecarJs)} is missing: run \`bash scripts/setup.sh\` first (it builds the sidecar)`
    );
  }
  const product = ctx.productNode();
  if (product.note) {
    ctx.log(`warning: ${product.note}`);
  }
  const system = ctx.systemNode();
  const dataDir = ctx.tmpdir();
  const env = { ...process.env, JUPYTERLAB_HPC_DATA_DIR: dataDir };
  // What the caller's shell sets for node would change what is measured.
  // NODE_EXTRA_CA_CERTS in particular: node 20 parses that file at startup
  // (~60 ms for a 144-certificate bundle), node 24 only on first TLS use.
  for (const v of [
    'NODE_OPTIONS',
    'NODE_COMPILE_CACHE',
    'NODE_EXTRA_CA_CERTS'
  ]) {
    delete env[v];
  }

  const variant = (key, node, kind) => ({
    key,
    node,
    kind,
    label: `${kind} on node ${node.version}`,
    args: sock =>
      kind === 'sidecar'
        ? [sidecarJs, '--socket', sock]
        : ['-e', FLOOR_JS, sock]
  });
  let variants = [
    variant('sidecar', product, 'sidecar'),
    variant('floor', product, 'floor')
  ];
  if (system) {
    variants.push(
      variant('sidecar_sys', system, 'sidecar'),
      variant('floor_sys', system, 'floor')
    );
  }

  /** Start one server; resolve when its health answer is in. */
  const start = async v => {
    const dir = ctx.tmpdir(); // mkdtemp: 0700, as the sidecar demands
    const sock = join(dir, 's');
    const t0 = performance.now();
    const child = ctx.spawn(v.node.path, v.args(sock), { env, label: v.label });
    const { at, body } = await waitForHttp(child, sock, HEALTH);
    return { ms: at - t0, cpu: cpuMs(child.pid), at, child, sock, dir, body };
  };
  const finish = async s => {
    await ctx.stop(s.child);
    rmSync(s.dir, { recursive: true, force: true });
  };

  // Warm-up (page cache, first exec of each binary), and check that each
  // server is what it claims to be.
  ctx.log(`product node ${product.path} ${product.version}`);
  if (system) {
    ctx.log(`system node  ${system.path} ${system.version}`);
  }
  for (const v of [...variants]) {
    let s;
    try {
      s = await start(v);
    } catch (err) {
      if (v.node === product) {
        throw err;
      }
      ctx.log(`dropping ${v.label}: ${err.message}`);
      variants = variants.filter(x => x !== v);
      continue;
    }
    if (v.kind === 'sidecar') {
      const h = JSON.parse(s.body);
      if (h.name !== 'jupyterlab-hpc-sidecar' || h.node !== v.node.version) {
        throw new Error(`unexpected health answer from ${v.label}: ${s.body}`);
      }
    }
    await finish(s);
  }
  const has = key => variants.some(v => v.key === key);

  // Cold start, alternating the variants and rotating who goes first.
  const coldReps = ctx.reps(COLD_REPS);
  ctx.log(`cold start: ${coldReps} x ${variants.map(v => v.key).join(', ')}`);
  const cold = Object.fromEntries(variants.map(v => [v.key, []]));
  const coldCpu = Object.fromEntries(variants.map(v => [v.key, []]));
  for (let i = 0; i < coldReps; i++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(i + j) % variants.length];
      const s = await start(v);
      cold[v.key].push(s.ms);
      coldCpu[v.key].push(s.cpu);
      await finish(s);
    }
  }

  // Idle RSS: a few of each variant alive at once, each idle >= 2 s after
  // its one health answer, then read VmRSS.
  const rssReps = ctx.reps(RSS_REPS);
  ctx.log(
    `idle RSS: ${rssReps} x ${variants.map(v => v.key).join(', ')}, ${IDLE_MS} ms idle`
  );
  const rss = Object.fromEntries(variants.map(v => [v.key, []]));
  for (let done = 0; done < rssReps;) {
    const batch = Math.min(RSS_PER_BATCH, rssReps - done);
    const live = [];
    try {
      for (let i = 0; i < batch; i++) {
        for (let j = 0; j < variants.length; j++) {
          const v = variants[(done + i + j) % variants.length];
          live.push({ v, s: await start(v) });
        }
      }
      await sleep(
        Math.max(
          0,
          Math.max(...live.map(l => l.s.at)) + IDLE_MS - performance.now()
        )
      );
      for (const { v, s } of live) {
        rss[v.key].push(rssKiB(s.child.pid) / 1024);
      }
    } finally {
      await Promise.all(live.map(l => finish(l.s)));
    }
    done += batch;
  }

  // Health round trip: sequential requests on one keep-alive connection,
  // in alternating blocks so drift hits both servers alike.
  ctx.log(
    `health round trip: ${RTT_REQUESTS} keep-alive requests each, in blocks of ${RTT_BLOCK}`
  );
  const rttOf = {};
  const servers = [];
  try {
    for (const key of ['sidecar', 'floor']) {
      const s = await start(variants.find(v => v.key === key));
      servers.push({
        key,
        s,
        agent: new Agent({ keepAlive: true, maxSockets: 1 }),
        fresh: 0
      });
      rttOf[key] = [];
    }
    const one = async srv => {
      const t0 = performance.now();
      const res = await getOnce(srv.s.sock, HEALTH, srv.agent);
      const us = (performance.now() - t0) * 1000;
      if (res.status !== 200) {
        throw new Error(`health answered ${res.status}`);
      }
      if (!res.reused) {
        srv.fresh++;
      }
      return us;
    };
    for (const srv of servers) {
      for (let i = 0; i < RTT_WARMUP; i++) {
        await one(srv);
      }
    }
    for (let b = 0; b < RTT_REQUESTS / RTT_BLOCK; b++) {
      for (const srv of b % 2 ? [...servers].reverse() : servers) {
        for (let i = 0; i < RTT_BLOCK; i++) {
          rttOf[srv.key].push(await one(srv));
        }
      }
    }
  } finally {
    for (const srv of servers) {
      srv.agent.destroy();
      await finish(srv.s);
    }
  }
  const reconnects = servers
    .filter(s => s.fresh > 1)
    .map(s => `${s.key} opened ${s.fresh} connections`);

  // Every figure is compared with one baseline: the sidecar with the minimal
  // server on the product's node, the system node's runs with the product's.
  const floorLabel = `minimal server, node ${product.version}`;
  const sidecarLabel = `sidecar, node ${product.version}`;
  const metrics = [
    {
      id: 'sidecar.cold_start_ms',
      unit: 'ms',
      of: cold,
      note: `spawn to first 200 of GET ${HEALTH} on the product's node ${product.path}`,
      systemNote: `the sidecar on ${system.path} ${system.version} instead of the product's node`,
      floorSystem: true
    },
    {
      id: 'sidecar.cold_start_cpu_ms',
      unit: 'ms',
      of: coldCpu,
      note: 'CPU time (all threads) the process used up to its first answer: steadier than wall clock on a loaded machine'
    },
    {
      id: 'sidecar.idle_rss_mb',
      unit: 'MiB',
      of: rss,
      note: `VmRSS after one health answer and ${IDLE_MS / 1000} s idle`,
      floorSystem: true
    }
  ];
  const rows = [];
  const row = (id, unit, samples, label, baseId, baseSamples, note) =>
    rows.push({
      id,
      unit,
      ...summary(samples),
      baseline: { label, id: baseId, value: median(baseSamples) },
      ...(note ? { note } : {})
    });
  for (const m of metrics) {
    row(
      m.id,
      m.unit,
      m.of.sidecar,
      floorLabel,
      `${m.id}.floor`,
      m.of.floor,
      m.note
    );
    if (has('sidecar_sys')) {
      row(
        `${m.id}.system_node`,
        m.unit,
        m.of.sidecar_sys,
        sidecarLabel,
        m.id,
        m.of.sidecar,
        m.systemNote
      );
    }
    if (m.floorSystem && has('floor_sys')) {
      row(
        `${m.id}.floor_system_node`,
        m.unit,
        m.of.floor_sys,
        floorLabel,
        `${m.id}.floor`,
        m.of.floor
      );
    }
  }
  row(
    'sidecar.health_rtt_us',
    'µs',
    rttOf.sidecar,
    floorLabel,
    'sidecar.health_rtt_us.floor',
    rttOf.floor,
    `sequential GET ${HEALTH} on one keep-alive unix-socket connection, client node ${process.version}` +
      (reconnects.length ? ` (WARNING: ${reconnects.join(', ')})` : '')
  );
  return rows;
}
