// One small cluster command (`squeue`), four ways, interleaved in one run:
// through the sidecar's open connection (its OpenSSH master, and its
// built-in ssh2 client), a fresh `ssh` per command (the manual workflow),
// OpenSSH ControlMaster multiplexing, and locally (the floor) — on loopback,
// and again behind a proxy that delays every byte by 10 ms each way (a
// cluster one 20 ms round trip away).
import { setTimeout as sleep } from 'node:timers/promises';

import { BenchError } from '../lib/context.mjs';
import { measureProxyRtt, spawnDelayProxy } from '../lib/delay-proxy.mjs';
import {
  connectCluster,
  hasClusterApi,
  NO_API,
  putClusters,
  runOnCluster,
  startSidecar
} from '../lib/sidecar-client.mjs';
import {
  demoCluster,
  opensshVersion,
  startControlMaster,
  timedRun,
  writeSshHome
} from '../lib/ssh-env.mjs';
import { median, summary } from '../lib/stats.mjs';

export const name = 'ssh';
export const description =
  'squeue via the sidecar vs a fresh ssh, ssh ControlMaster and locally; loopback and +10 ms each way';

const ROUNDS = 12;
const WARMUP = 1;
const DELAY_MS = 10;
const COMMAND = 'squeue';
// The floor: the same command through the same kind of shell sshd uses for
// an exec request (`$SHELL -c <command>`), spawned from this process like
// the ssh clients are. Not a login shell: the machine's root login files may
// be slow (pyenv), which says nothing about the cluster's.
const LOCAL = ['/bin/sh', ['-c', COMMAND]];
// sidecar: its default (OpenSSH) client; sidecar_builtin: its ssh2 client.
const APPROACHES = [
  'local',
  'sidecar',
  'sidecar_builtin',
  'controlmaster',
  'fresh_ssh'
];
// Pause between two measurements: a finished `ssh` leaves sshd tearing its
// session down (through the proxy, a round trip later), which would land on
// the next approach's time.
const SETTLE_MS = { loopback: 10, delayed: 30 };

function checkOutput(what, code, stdout, stderr) {
  if (code !== 0 || !stdout.includes('JOBID')) {
    throw new Error(
      `${what} failed (exit ${code}): ${(stderr || stdout).trim().slice(-500)}`
    );
  }
}

export async function run(ctx) {
  const cluster = await demoCluster();
  ctx.log(
    `demo cluster ${cluster.user}@${cluster.host}:${cluster.port}; ${opensshVersion()}`
  );
  const proxy = await spawnDelayProxy(ctx, {
    targetHost: cluster.host,
    targetPort: cluster.port,
    delayMs: DELAY_MS
  });
  const rttMs = await measureProxyRtt(ctx, { delayMs: DELAY_MS });
  ctx.log(
    `delay proxy on 127.0.0.1:${proxy.port}; one round trip through it: ${rttMs.toFixed(1)} ms`
  );

  const home = ctx.tmpdir();
  const { config } = writeSshHome(home, cluster, [
    { alias: 'bench-loopback', port: cluster.port },
    { alias: 'bench-delay10', port: proxy.port }
  ]);
  const variants = [
    { key: 'cmd', alias: 'bench-loopback', cluster: 'loopback' },
    {
      key: `cmd_delay${DELAY_MS}`,
      alias: 'bench-delay10',
      cluster: `delay${DELAY_MS}`
    }
  ];

  const sidecar = await startSidecar(ctx, { home });
  const api = await hasClusterApi(sidecar);
  if (api) {
    await putClusters(
      sidecar,
      variants.flatMap(v => [
        { name: v.cluster, host: v.alias, sshClient: 'auto' },
        { name: `${v.cluster}-builtin`, host: v.alias, sshClient: 'builtin' }
      ])
    );
  } else {
    ctx.log(
      `${NO_API}; measuring the other approaches, then failing the section`
    );
  }
  const approaches = api
    ? APPROACHES
    : APPROACHES.filter(a => !a.startsWith('sidecar'));

  const rounds = ctx.reps(ROUNDS);
  const results = {};
  for (const v of variants) {
    const cm = await startControlMaster(ctx, {
      config,
      alias: v.alias,
      dir: ctx.tmpdir()
    });
    if (api) {
      await connectCluster(sidecar, v.cluster);
      await connectCluster(sidecar, `${v.cluster}-builtin`);
    }
    const once = {
      local: async () => {
        const r = await timedRun(ctx, LOCAL[0], LOCAL[1], { label: 'local' });
        checkOutput(`local ${COMMAND}`, r.code, r.stdout, r.stderr);
        return r.ms;
      },
      fresh_ssh: async () => {
        const r = await timedRun(
          ctx,
          'ssh',
          ['-F', config, '-o', 'BatchMode=yes', v.alias, COMMAND],
          { label: 'fresh ssh' }
        );
        checkOutput(`ssh ${v.alias} ${COMMAND}`, r.code, r.stdout, r.stderr);
        return r.ms;
      },
      controlmaster: async () => {
        const r = await timedRun(ctx, 'ssh', [...cm.args(), v.alias, COMMAND], {
          label: 'ssh via ControlMaster'
        });
        checkOutput(
          `ssh (ControlMaster) ${v.alias} ${COMMAND}`,
          r.code,
          r.stdout,
          r.stderr
        );
        return r.ms;
      },
      sidecar: async () => {
        const { ms, result } = await runOnCluster(sidecar, v.cluster, [
          COMMAND
        ]);
        checkOutput(
          `sidecar run ${COMMAND}`,
          result.exitCode,
          result.stdout,
          result.stderr
        );
        return ms;
      },
      sidecar_builtin: async () => {
        const { ms, result } = await runOnCluster(
          sidecar,
          `${v.cluster}-builtin`,
          [COMMAND]
        );
        checkOutput(
          `sidecar (built-in client) run ${COMMAND}`,
          result.exitCode,
          result.stdout,
          result.stderr
        );
        return ms;
      }
    };
    ctx.log(
      `${v.key}: ${WARMUP} warm-up + ${rounds} rounds of ${approaches.join(', ')}`
    );
    const settle = v.key === 'cmd' ? SETTLE_MS.loopback : SETTLE_MS.delayed;
    for (let i = 0; i < WARMUP; i++) {
      for (const a of approaches) {
        await once[a]();
        await sleep(settle);
      }
    }
    const samples = Object.fromEntries(approaches.map(a => [a, []]));
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < approaches.length; j++) {
        const a = approaches[(i + j) % approaches.length];
        samples[a].push(await once[a]());
        await sleep(settle);
      }
    }
    // Had the master died, `ControlMaster=no` clients would have connected
    // afresh without a word: check it served every one of them.
    if (cm.child.exitCode !== null || cm.child.signalCode !== null) {
      throw new Error(
        `the ControlMaster for ${v.alias} died while measuring: ${cm.child.stderrTail}`
      );
    }
    await cm.close();
    results[v.key] = samples;
  }
  await sidecar.close();
  await proxy.close();

  if (!api) {
    const lines = variants.map(
      v =>
        `${v.key}: ` +
        approaches
          .map(a => `${a} ${median(results[v.key][a]).toFixed(1)} ms`)
          .join(', ')
    );
    throw new BenchError(
      `${NO_API}. Measured without it (not saved): ${lines.join('; ')}`
    );
  }

  const rows = [];
  for (const v of variants) {
    const s = results[v.key];
    const id = a => `ssh.${v.key}.${a}_ms`;
    const base = (a, label) => ({
      label,
      id: id(a),
      value: median(s[a])
    });
    const delayed = v.key !== 'cmd';
    const extra = median(s.sidecar) - median(s.local);
    const extraBuiltin = median(s.sidecar_builtin) - median(s.local);
    rows.push(
      {
        id: id('local'),
        unit: 'ms',
        ...summary(s.local),
        note:
          `\`${LOCAL[0]} ${LOCAL[1].join(' ')}\` on this machine, spawned from the runner: the floor` +
          (delayed
            ? ''
            : '; every time runs from spawn (or request) to the whole output')
      },
      {
        id: id('sidecar'),
        unit: 'ms',
        ...summary(s.sidecar),
        baseline: base('local', 'local'),
        note: delayed
          ? `sidecar − local = ${extra.toFixed(1)} ms = ${(extra / rttMs).toFixed(2)} round trips of ${rttMs.toFixed(1)} ms (target: at most 1)`
          : `POST run {argv:['${COMMAND}']} on the open connection (the default client: an OpenSSH ControlMaster the sidecar runs) (target: at most 1.25x local)`
      },
      {
        id: id('sidecar_builtin'),
        unit: 'ms',
        ...summary(s.sidecar_builtin),
        baseline: base('local', 'local'),
        note: delayed
          ? `built-in − local = ${extraBuiltin.toFixed(1)} ms = ${(extraBuiltin / rttMs).toFixed(2)} round trips`
          : `the same through the built-in client (ssh2 on node ${sidecar.node.version})`
      },
      {
        id: id('controlmaster'),
        unit: 'ms',
        ...summary(s.controlmaster),
        baseline: base('sidecar', 'sidecar')
      },
      {
        id: id('fresh_ssh'),
        unit: 'ms',
        ...summary(s.fresh_ssh),
        baseline: base('sidecar', 'sidecar'),
        note: `a new \`ssh ${v.alias} ${COMMAND}\` each time (target: at least 10x the sidecar)`
      }
    );
    if (delayed) {
      rows.push({
        id: `ssh.${v.key}.rtt_ms`,
        unit: 'ms',
        value: rttMs,
        note: `one TCP round trip through the delay proxy (${DELAY_MS} ms each way plus timer slack), median of 20 pings`
      });
    }
  }
  return rows;
}
