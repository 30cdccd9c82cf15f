// Conda environment discovery for 10, 100 and 500 environments, through the
// real sidecar (GET /api/v1/.../envs?refresh=1: a full scan each time), on
// this computer and on the demo cluster over SSH, side by side with the
// floor: `ls` of the same environments' conda-meta directories (locally
// spawned from the runner; on the cluster through the same open connection,
// so it pays the same one round trip).
//
// The environments are conda-layout prefixes as conda writes them: ~40
// conda-meta records, bin/python, and for half of them ipykernel with its
// share/jupyter/kernels/python3/kernel.json. Locally they live in a private
// HOME's ~/miniforge3/envs; on the cluster in a temporary directory of the
// cluster user's home, named as an envs dir by a ~/.condarc that exists
// only while its size is measured (the demo has none; one left by someone
// else is never touched).
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { BenchError } from '../lib/context.mjs';
import {
  connectCluster,
  describeAnswer,
  putClusters,
  runOnCluster,
  startSidecar
} from '../lib/sidecar-client.mjs';
import { demoCluster, timedRun, writeSshHome } from '../lib/ssh-env.mjs';
import { median, summary } from '../lib/stats.mjs';

export const name = 'envs';
export const description =
  'conda env discovery (10/100/500 envs) via the sidecar vs `ls` of the same dirs; local and over SSH';

const SIZES = [10, 100, 500];
const ROUNDS = 11;
const WARMUP = 2;
const PACKAGES = 40;
const TARGET_MS = 150;

const KERNEL_JSON = JSON.stringify(
  {
    argv: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
    display_name: 'Python 3 (ipykernel)',
    language: 'python',
    metadata: { debugger: true }
  },
  null,
  1
);

/** `count` envs under `envsDir`, as conda lays them out. */
function makeEnvs(envsDir, count) {
  for (let i = 0; i < count; i++) {
    const prefix = join(envsDir, `env-${String(i).padStart(3, '0')}`);
    const meta = join(prefix, 'conda-meta');
    mkdirSync(meta, { recursive: true });
    writeFileSync(join(meta, 'history'), '==> 2026-01-01 <==\n');
    writeFileSync(join(meta, `python-3.11.${i % 10}-h_0_cpython.json`), '{}');
    const withKernel = i % 2 === 0;
    const extra = withKernel ? 2 : 1;
    for (let p = 0; p < PACKAGES - extra; p++) {
      writeFileSync(join(meta, `pkg${p}-1.${p}.0-py_0.json`), '{}');
    }
    mkdirSync(join(prefix, 'bin'));
    symlinkSync('/usr/bin/python3', join(prefix, 'bin', 'python'));
    if (withKernel) {
      writeFileSync(join(meta, 'ipykernel-6.29.5-pyh_0.json'), '{}');
      const k = join(prefix, 'share', 'jupyter', 'kernels', 'python3');
      mkdirSync(k, { recursive: true });
      writeFileSync(join(k, 'kernel.json'), KERNEL_JSON);
    }
  }
}

async function scan(sidecar, path, expected) {
  const res = await sidecar.call('GET', `${path}?refresh=1`);
  if (res.status !== 200) {
    throw new Error(`GET ${path}: ${describeAnswer(res)}`);
  }
  const found = res.body.envs.filter(e => e.name.startsWith('env-')).length;
  if (found !== expected) {
    throw new Error(`GET ${path} listed ${found} of ${expected} environments`);
  }
  return { ms: res.ms, body: res.body };
}

/** Alternate `a` and `b` (after a warm-up), `rounds` times each. */
async function interleave(rounds, a, b) {
  for (let i = 0; i < WARMUP; i++) {
    await a();
    await b();
  }
  const sa = [];
  const sb = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2) {
      sa.push(await a());
      sb.push(await b());
    } else {
      sb.push(await b());
      sa.push(await a());
    }
    await sleep(5);
  }
  return [sa, sb];
}

export async function run(ctx) {
  const rounds = ctx.reps(ROUNDS);
  const results = {};

  // This computer.
  for (const n of SIZES) {
    const home = ctx.tmpdir();
    const envsDir = join(home, 'miniforge3', 'envs');
    mkdirSync(join(home, 'miniforge3', 'conda-meta'), { recursive: true });
    writeFileSync(
      join(home, 'miniforge3', 'conda-meta', 'python-3.12.1-h_0_cpython.json'),
      '{}'
    );
    makeEnvs(envsDir, n);
    const sidecar = await startSidecar(ctx, { home });
    ctx.log(`local, ${n} envs: ${rounds} rounds of sidecar scan and ls`);
    const [scanMs, lsMs] = await interleave(
      rounds,
      async () => (await scan(sidecar, '/api/v1/local/envs', n)).ms,
      async () => {
        const r = await timedRun(ctx, '/bin/sh', [
          '-c',
          'exec ls -f "$1"/*/conda-meta',
          'ls',
          envsDir
        ]);
        if (r.code !== 0) {
          throw new Error(`ls failed: ${r.stderr}`);
        }
        return r.ms;
      }
    );
    results[`local.${n}`] = { scan: scanMs, floor: lsMs };
    await sidecar.close();
  }

  // The demo cluster.
  const cluster = await demoCluster();
  const user = cluster.user;
  const clusterHome = `/home/${user}`;
  const condarc = join(clusterHome, '.condarc');
  if (existsSync(condarc)) {
    throw new BenchError(
      `${condarc} exists; the envs section adds its own for the remote measurement and would not touch one it did not write`
    );
  }
  const home = ctx.tmpdir();
  writeSshHome(home, cluster, [{ alias: 'bench-envs', port: cluster.port }]);
  const sidecar = await startSidecar(ctx, { home });
  await putClusters(sidecar, [{ name: 'demo', host: 'bench-envs' }]);
  await connectCluster(sidecar, 'demo');
  const base = mkdtempSync(join(clusterHome, 'jlhpc-bench-envs-'));
  const cleanup = () => {
    rmSync(condarc, { force: true });
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  try {
    for (const n of SIZES) {
      const envsDir = join(base, `envs${n}`);
      makeEnvs(envsDir, n);
      execFileSync('chown', ['-R', `${user}:${user}`, base]);
      writeFileSync(condarc, `envs_dirs:\n  - ${envsDir}\n`);
      execFileSync('chown', [`${user}:${user}`, condarc]);
      ctx.log(
        `demo cluster, ${n} envs: ${rounds} rounds of sidecar scan and ls`
      );
      let roundTrips = null;
      const [scanMs, lsMs] = await interleave(
        rounds,
        async () => {
          const r = await scan(sidecar, '/api/v1/clusters/demo/envs', n);
          roundTrips = r.body.roundTrips;
          return r.ms;
        },
        async () => {
          const { ms, result } = await runOnCluster(sidecar, 'demo', [
            '/bin/sh',
            '-c',
            'exec ls -f "$1"/*/conda-meta',
            'ls',
            envsDir
          ]);
          if (result.exitCode !== 0) {
            throw new Error(`ls on the cluster failed: ${result.stderr}`);
          }
          return ms;
        }
      );
      results[`remote.${n}`] = { scan: scanMs, floor: lsMs, roundTrips };
      rmSync(condarc, { force: true });
    }
  } finally {
    cleanup();
    process.removeListener('exit', cleanup);
    await sidecar.close();
  }

  const rows = [];
  for (const n of SIZES) {
    const local = results[`local.${n}`];
    rows.push(
      {
        id: `envs.ls_floor_ms.${n}`,
        unit: 'ms',
        ...summary(local.floor),
        note: `\`ls -f <envs>/*/conda-meta\` of the same ${n} envs, spawned from the runner: the floor`
      },
      {
        id: `envs.local_ms.${n}`,
        unit: 'ms',
        ...summary(local.scan),
        baseline: {
          label: 'ls',
          id: `envs.ls_floor_ms.${n}`,
          value: median(local.floor)
        },
        note:
          n === 500
            ? `GET /api/v1/local/envs?refresh=1, ${n} envs (target: under ${TARGET_MS} ms)`
            : `GET /api/v1/local/envs?refresh=1, ${n} envs`
      }
    );
  }
  for (const n of SIZES) {
    const remote = results[`remote.${n}`];
    rows.push(
      {
        id: `envs.remote_ls_ms.${n}`,
        unit: 'ms',
        ...summary(remote.floor),
        note: `POST run \`ls -f <envs>/*/conda-meta\` on the demo cluster (one round trip): the floor`
      },
      {
        id: `envs.remote_ms.${n}`,
        unit: 'ms',
        ...summary(remote.scan),
        baseline: {
          label: 'ls over ssh',
          id: `envs.remote_ls_ms.${n}`,
          value: median(remote.floor)
        },
        note:
          `GET /api/v1/clusters/demo/envs?refresh=1, ${n} envs in a ~/.condarc envs dir` +
          (n === 500 ? ` (target: one round trip + under ${TARGET_MS} ms)` : '')
      }
    );
  }
  rows.push({
    id: 'envs.remote_round_trips.500',
    unit: 'round trips',
    value: results['remote.500'].roundTrips,
    note: 'remote commands one scan of 500 envs took (the sidecar counts them)'
  });
  return rows;
}
