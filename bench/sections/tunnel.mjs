// Port forwarding through the cluster connection, against OpenSSH `ssh -L`
// and a direct connection, interleaved in one run: throughput of one big
// HTTP download, and the round trip of small keep-alive requests. Server,
// client, sidecar and ssh are separate processes; the runner only directs.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { BenchError } from '../lib/context.mjs';
import { firstJsonLine } from '../lib/process.mjs';
import {
  closeForward,
  connectCluster,
  hasClusterApi,
  NO_API,
  openForward,
  putClusters,
  startSidecar
} from '../lib/sidecar-client.mjs';
import { demoCluster, opensshVersion, writeSshHome } from '../lib/ssh-env.mjs';
import { median, quantile, summary } from '../lib/stats.mjs';

export const name = 'tunnel';
export const description =
  'a forward through the sidecar vs ssh -L vs direct: 256 MiB download MB/s, keep-alive request round trip';

const LIB = join(fileURLToPath(import.meta.url), '..', '..', 'lib');
const DOWNLOAD_BYTES = 256 * 1024 * 1024;
const WARMUP_BYTES = 32 * 1024 * 1024;
const DOWNLOAD_REPS = 3;
const RTT_REQUESTS = 2000;
const RTT_BLOCK = 500;
const RTT_WARMUP = 100;
// sidecar: its default (OpenSSH) client; sidecar_builtin: its ssh2 client.
const PATHS = ['direct', 'openssh', 'sidecar', 'sidecar_builtin'];

/** The client process: send a command, get its answer (one JSON line each). */
function startProbe(ctx) {
  const child = ctx.spawn(process.execPath, [join(LIB, 'http-probe.mjs')], {
    label: 'http probe',
    stdio: ['pipe', 'pipe', 'pipe']
  });
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', line =>
    waiting.shift()?.resolve(JSON.parse(line))
  );
  child.once('exit', code => {
    for (const w of waiting.splice(0)) {
      w.reject(
        new Error(`the http probe exited (${code}): ${child.stderrTail}`)
      );
    }
  });
  return {
    child,
    send: cmd =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(`${JSON.stringify(cmd)}\n`);
      }),
    close: async () => {
      child.stdin.end();
      await ctx.stop(child);
    }
  };
}

async function must(probe, cmd, what) {
  const answer = await probe.send(cmd);
  if (answer.error) {
    throw new Error(`${what}: ${answer.error}`);
  }
  return answer;
}

/** A port nobody listens on right now (bound once, then released). */
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

/** Poll one GET /tiny through `port` until it answers (a forward is up). */
async function waitForForward(probe, port, what, child) {
  const deadline = performance.now() + 15000;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}): ${child.stderrTail}`
      );
    }
    const answer = await probe.send({ op: 'rtt', port, count: 1 });
    if (!answer.error) {
      return;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${what} did not answer on port ${port}: ${answer.error}`
      );
    }
    await sleep(20);
  }
}

export async function run(ctx) {
  const cluster = await demoCluster();
  const home = ctx.tmpdir();
  const alias = 'bench-loopback';
  const { config } = writeSshHome(home, cluster, [
    { alias, port: cluster.port }
  ]);

  const server = ctx.spawn(process.execPath, [join(LIB, 'http-target.mjs')], {
    label: 'http server',
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const { port: serverPort } = await firstJsonLine(server);
  const probe = startProbe(ctx);

  // ssh -L, as the manual workflow opens it. -v only to learn the cipher.
  const lPort = await freePort();
  const ssh = ctx.spawn(
    'ssh',
    [
      '-F',
      config,
      '-o',
      'BatchMode=yes',
      '-o',
      'ExitOnForwardFailure=yes',
      '-v',
      '-N',
      '-L',
      `127.0.0.1:${lPort}:127.0.0.1:${serverPort}`,
      alias
    ],
    { label: 'ssh -L' }
  );
  let cipher = '';
  ssh.stderr.on('data', chunk => {
    const m = /kex: server->client cipher: (\S+)/.exec(chunk.toString());
    if (m) {
      cipher = m[1];
    }
  });
  await waitForForward(probe, lPort, 'ssh -L', ssh);

  const sidecar = await startSidecar(ctx, { home });
  const api = await hasClusterApi(sidecar);
  let forward = null;
  let builtinForward = null;
  if (api) {
    await putClusters(sidecar, [
      { name: 'loopback', host: alias, sshClient: 'auto' },
      { name: 'loopback-builtin', host: alias, sshClient: 'builtin' }
    ]);
    await connectCluster(sidecar, 'loopback');
    await connectCluster(sidecar, 'loopback-builtin');
    forward = await openForward(sidecar, 'loopback', {
      remoteHost: '127.0.0.1',
      remotePort: serverPort
    });
    await waitForForward(probe, forward.localPort, 'the sidecar forward');
    builtinForward = await openForward(sidecar, 'loopback-builtin', {
      remoteHost: '127.0.0.1',
      remotePort: serverPort
    });
    await waitForForward(
      probe,
      builtinForward.localPort,
      'the sidecar forward (built-in client)'
    );
  } else {
    ctx.log(`${NO_API}; measuring the other paths, then failing the section`);
  }
  const ports = { direct: serverPort, openssh: lPort };
  if (forward) {
    ports.sidecar = forward.localPort;
    ports.sidecar_builtin = builtinForward.localPort;
  }
  const paths = PATHS.filter(p => ports[p] !== undefined);
  ctx.log(
    `server 127.0.0.1:${serverPort}; ssh -L on ${lPort} (${opensshVersion()}, ${cipher || 'cipher unknown'})` +
      (forward
        ? `; sidecar forwards on ${forward.localPort} (OpenSSH client) and ${builtinForward.localPort} (built-in)`
        : '')
  );

  // Throughput: one untimed smaller download each, then the paths in turn.
  const reps = ctx.reps(DOWNLOAD_REPS);
  ctx.log(
    `download: ${reps} x ${DOWNLOAD_BYTES / 2 ** 20} MiB through ${paths.join(', ')}`
  );
  const mbs = Object.fromEntries(paths.map(p => [p, []]));
  for (const p of paths) {
    await must(
      probe,
      { op: 'download', port: ports[p], bytes: WARMUP_BYTES },
      `warm-up download (${p})`
    );
  }
  for (let i = 0; i < reps; i++) {
    for (let j = 0; j < paths.length; j++) {
      const p = paths[(i + j) % paths.length];
      const r = await must(
        probe,
        { op: 'download', port: ports[p], bytes: DOWNLOAD_BYTES },
        `download (${p})`
      );
      if (r.bytes !== DOWNLOAD_BYTES) {
        throw new Error(`download (${p}) got ${r.bytes} bytes`);
      }
      mbs[p].push(r.bytes / 1e6 / (r.ms / 1000));
    }
  }

  // Round trip: warm-up, then blocks of sequential keep-alive requests,
  // the paths alternating block by block.
  ctx.log(
    `round trip: ${RTT_REQUESTS} keep-alive GET /tiny each, in blocks of ${RTT_BLOCK}`
  );
  const us = Object.fromEntries(paths.map(p => [p, []]));
  for (const p of paths) {
    await must(
      probe,
      { op: 'rtt', port: ports[p], count: RTT_WARMUP },
      `warm-up requests (${p})`
    );
  }
  let connections = 0;
  for (let b = 0; b < RTT_REQUESTS / RTT_BLOCK; b++) {
    for (let j = 0; j < paths.length; j++) {
      const p = paths[(b + j) % paths.length];
      const r = await must(
        probe,
        { op: 'rtt', port: ports[p], count: RTT_BLOCK },
        `requests (${p})`
      );
      us[p].push(...r.us);
      connections = r.connections;
    }
  }

  if (forward) {
    await closeForward(sidecar, forward.id);
    await closeForward(sidecar, builtinForward.id);
  }
  await probe.close();
  await sidecar.close();
  await ctx.stop(ssh);
  await ctx.stop(server);

  if (!api) {
    const line = paths
      .map(
        p =>
          `${p} ${median(mbs[p]).toFixed(0)} MB/s, p50 ${quantile(us[p], 0.5).toFixed(0)} µs, p99 ${quantile(us[p], 0.99).toFixed(0)} µs`
      )
      .join('; ');
    throw new BenchError(`${NO_API}. Measured without it (not saved): ${line}`);
  }

  const against = {
    openssh: 'direct',
    sidecar: 'openssh',
    sidecar_builtin: 'openssh'
  };
  const label = { direct: 'direct', openssh: 'ssh -L' };
  const rows = [];
  const reused =
    connections === paths.length
      ? ''
      : ` (WARNING: ${connections} connections for ${paths.length} paths)`;
  const notes = {
    mbs: {
      direct: `GET of ${DOWNLOAD_BYTES / 2 ** 20} MiB; MB/s = 10^6 bytes per second, request sent to last byte; median of ${reps}`,
      openssh: `ssh -L through the demo sshd: ${opensshVersion()}, cipher ${cipher || 'unknown'}`,
      sidecar:
        "the sidecar's default client: an OpenSSH ControlMaster it runs, forwarding with -O forward, AES-GCM offered first (ssh -L keeps OpenSSH's order); target: at least 1x ssh -L",
      sidecar_builtin: `the sidecar's built-in client (ssh2 on node ${sidecar.node.version}, its default cipher order, aes128-gcm@openssh.com first)`
    },
    rtt_p50_us: {
      direct: `sequential GET /tiny on one keep-alive connection per path, ${RTT_REQUESTS} each after ${RTT_WARMUP} warm-up${reused}`,
      sidecar: 'target: at most 1.1x ssh -L'
    },
    rtt_p99_us: {}
  };
  const stat = {
    mbs: s => summary(s),
    rtt_p50_us: s => summary(s),
    rtt_p99_us: s => ({
      value: quantile(s, 0.99),
      min: Math.min(...s),
      n: s.length
    })
  };
  for (const [metric, samples, unit] of [
    ['mbs', mbs, 'MB/s'],
    ['rtt_p50_us', us, 'µs'],
    ['rtt_p99_us', us, 'µs']
  ]) {
    for (const p of paths) {
      const base = against[p];
      rows.push({
        id: `tunnel.${metric}.${p}`,
        unit,
        ...stat[metric](samples[p]),
        ...(base
          ? {
              baseline: {
                label: label[base],
                id: `tunnel.${metric}.${base}`,
                value: stat[metric](samples[base]).value
              }
            }
          : {}),
        ...(notes[metric][p] ? { note: notes[metric][p] } : {})
      });
    }
  }
  return rows;
}
