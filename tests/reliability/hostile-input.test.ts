/**
 * Hostile input (issue 13, point 2): generated strings (shell metacharacters,
 * newlines, NUL, unicode, 64 KiB+, option-looking values, path traversal,
 * mixtures; tests/reliability/support/hostile-strings.ts) sent through the
 * real boundaries — the sidecar's API over its socket, on the real demo
 * cluster's sshd, shell and Slurm, and a real JupyterLab's settings API and
 * proxy — into every field that reaches a remote command, a job script or a
 * file. Each payload that would run a command touches a canary file on this
 * computer and on the cluster; none may exist at the end. A refusal must
 * carry an error code and a sentence, and leave what was saved intact.
 *
 * Fixed seed in CI; JLHPC_FUZZ_SEED / JLHPC_FUZZ_INPUTS for the long run.
 */
import { spawnSync } from 'child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'fs';
import { basename, join } from 'path';

import WebSocket from 'ws';

import type { IKernelProfile } from '../../src/common/api';
import type { ILaunchRequest } from '../../src/common/sessions';
import {
  buildJobScript,
  sbatchArgv
} from '../../src/sidecar/sessions/batch-script';
import { submitCommand } from '../../src/sidecar/sessions/remote';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { IRunningLab, startLab } from '../support/jupyter-lab';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';
import { IFuzzRecord, recordFuzz } from './report';
import { errorOf, pool, show, Tally } from './support/fuzz-run';
import {
  fuzzCount,
  fuzzSeed,
  HostileStrings,
  ICanaryDirs,
  makeCanaryDirs,
  Rng,
  WRONG_TYPES
} from './support/hostile-strings';

const demo = demoCluster();
const SEED = fuzzSeed();
const jlabEnv = demo.envs.find(e => e.jupyterlab)!;
const kernelEnv = demo.envs.find(e => e.name === 'my-project-env')!;
const CLUSTER_HOME = `/home/${demo.user}`;
const DEMO_ENTRY = { name: 'demo', host: 'hpc-demo' };

let canary: ICanaryDirs;
let home: string;
let data: string;
let sidecar: ISidecar;
let lab: IRunningLab;
let labUserHome: string;
const started = Date.now();

/** One seeded generator per surface, so surfaces do not shift each other. */
function surface(n: number): { rng: Rng; gen: HostileStrings } {
  const rng = new Rng((SEED ^ Math.imul(n, 0x9e3779b1)) >>> 0);
  return { rng, gen: new HostileStrings(rng, canary, n) };
}

/**
 * Records wait for the canary search at the end, which gives each surface
 * the canary files its own inputs made.
 */
const records = new Map<
  string,
  { prefix: string; rec: Omit<IFuzzRecord, 'injections'> }
>();

function record(
  id: string,
  gen: HostileStrings,
  rec: Omit<IFuzzRecord, 'injections'>
): void {
  records.set(id, { prefix: gen.prefix, rec });
}

/** A path segment for any string: lone surrogates go as U+FFFD. */
function encodePath(v: string): string {
  return [...Buffer.from(v, 'utf8')]
    .map(b =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
    )
    .join('');
}

function notes(t: Tally, extra = ''): string {
  return `seed ${SEED}; refusals: ${t.codeSummary() || 'none'}${extra ? `; ${extra}` : ''}`;
}

async function clustersNow(): Promise<unknown> {
  const r = await sidecar.api('GET', '/api/v1/clusters');
  expect(r.status).toBe(200);
  return (r.body.clusters as { name: string; config?: unknown }[]).map(c => ({
    name: c.name,
    config: c.config
  }));
}

beforeAll(async () => {
  canary = makeCanaryDirs(demo.user);
  home = makeHome('jlhpc-fuzz-');
  writeDemoSshFiles(home);
  // Where hostile cluster entries go: a port nothing listens on.
  appendFileSync(
    join(home, '.ssh', 'config'),
    'Host dead-end\n  HostName 127.0.0.1\n  Port 1\n  ConnectTimeout 3\n'
  );
  data = join(home, 'jupyter-data');
  labUserHome = makeHome('jlhpc-fuzz-lab-');
  // Both start at once; each is kept as soon as it runs, so afterAll stops
  // it even when the other failed to start.
  await Promise.all([
    startSidecar({
      home,
      env: {
        JUPYTERLAB_HPC_JUPYTER_DATA_DIR: data,
        JUPYTERLAB_HPC_KERNEL_PATH: join(data, 'kernels'),
        JUPYTERLAB_HPC_LOG_LEVEL: 'info'
      }
    }).then(s => (sidecar = s)),
    startLab({ env: { HOME: labUserHome } }).then(l => (lab = l))
  ]);
  const put = await sidecar.api('PUT', '/api/v1/clusters', {
    clusters: [DEMO_ENTRY]
  });
  expect(put.status).toBe(200);
}, 120_000);

afterAll(async () => {
  // Job directories a failed check left behind (each check removes its own).
  // A sidecar that broke must not keep its process (and jest) running.
  if (sidecar && canary) {
    await sidecar
      .api('POST', '/api/v1/clusters/demo/run', {
        argv: [
          'sh',
          '-c',
          'rm -rf "$HOME"/.jupyterlab-hpc/sessions/fz"$1"*',
          'jlhpc-clean',
          canary.tag
        ]
      })
      .catch(err => console.warn(`clean-up on the cluster: ${err}`));
  }
  await sidecar?.stop();
  await lab?.stop();
  canary?.remove();
  for (const dir of [home, labUserHome]) {
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`hostile-input: ${Math.round((Date.now() - started) / 1000)} s`);
});

describe('hostile input through the sidecar', () => {
  it('the canaries work: payloads pasted into a shell, here and on the cluster, leave files the search finds', async () => {
    const { gen } = surface(0);
    const controls = gen.controls();
    const line = controls.map(c => `echo x${c.value}`).join('\n');
    // On the cluster, over SSH as its user: only the cluster's canaries
    // are writable there.
    const there = await sidecar.api('POST', '/api/v1/clusters/demo/run', {
      argv: ['bash', '-c', line]
    });
    expect(there.status).toBe(200);
    const onCluster = canary.found([]);
    expect(onCluster).toEqual(
      controls.map(c => join(canary.cluster, c.id)).sort()
    );
    onCluster.forEach(f => rmSync(f));
    // Here, as the user running the lab: both.
    const here = spawnSync('bash', ['-c', line], { stdio: 'ignore' });
    expect(here.status).not.toBeNull();
    const found = canary.found([]);
    for (const c of controls) {
      expect(found).toContain(join(canary.here, c.id));
      expect(found).toContain(join(canary.cluster, c.id));
    }
    found.forEach(f => rmSync(f));
    expect(canary.found([])).toEqual([]);
  });

  it('cluster entries (name, host, user, jump host, identity file, port) are refused or fail to connect, running nothing', async () => {
    const { rng, gen } = surface(1);
    const t = new Tally();
    const before = await clustersNow();
    const fields = ['name', 'host', 'user', 'jumpHost', 'identityFile', 'port'];
    const bases: Record<string, string> = {
      name: 'fz',
      host: 'dead-end',
      user: 'hpcdemo',
      jumpHost: 'dead-end',
      identityFile: '/tmp/'
    };
    const n = fuzzCount(200);
    for (let i = 0; i < n; i++) {
      const field = rng.pick(fields);
      const input = gen.next(bases[field] ?? '');
      const value =
        field === 'port' || rng.chance(0.1)
          ? rng.pick(WRONG_TYPES)
          : input.value;
      const name = field === 'name' ? value : `fz${i}`;
      const entry = {
        name,
        host: 'dead-end',
        sshClient: rng.pick(['openssh', 'builtin']),
        [field]: value
      };
      t.inputs++;
      const put = await sidecar.api('PUT', '/api/v1/clusters', {
        clusters: [DEMO_ENTRY, entry]
      });
      if (put.status !== 200) {
        const e = errorOf(put.body);
        if (put.status !== 400 || !e) {
          t.unclear.push(`PUT ${field}=${show(value)} → ${put.status}`);
          continue;
        }
        t.refuse(e.code);
        // All or nothing: the saved list is as it was.
        expect(await clustersNow()).toEqual(before);
        continue;
      }
      // Accepted by the settings check: connecting must fail clearly.
      const c = await sidecar.api(
        'POST',
        `/api/v1/clusters/${encodePath(String(name))}/connect`
      );
      const e = errorOf(c.body);
      if (c.status < 400 || !e || c.status === 500) {
        t.unclear.push(`connect ${field}=${show(value)} → ${c.status}`);
      } else {
        t.refuse(e.code);
      }
      await sidecar.api(
        'POST',
        `/api/v1/clusters/${encodePath(String(name))}/disconnect`
      );
      const back = await sidecar.api('PUT', '/api/v1/clusters', {
        clusters: [DEMO_ENTRY]
      });
      expect(back.status).toBe(200);
    }
    expect(await clustersNow()).toEqual(before);
    // The saved cluster still works.
    const ok = await sidecar.api('POST', '/api/v1/clusters/demo/run', {
      argv: ['true']
    });
    expect(ok.status).toBe(200);
    record('fuzz-cluster-config', gen, {
      surface:
        'cluster entries (name, host, user, jumpHost, identityFile, port) → settings check → ssh argv/config on connect (OpenSSH and built-in)',
      inputs: t.inputs,
      refused: t.refused,
      notes: notes(t)
    });
    expect(t.unclear).toEqual([]);
    expect(t.refused).toBe(t.inputs);
  });

  it('launch form fields are refused with the field named, or reach sbatch and the job script verbatim', async () => {
    const { rng, gen } = surface(2);
    const t = new Tally();
    const sessionsBefore = await sidecar.api('GET', '/api/v1/sessions');
    const text = [
      'partition',
      'account',
      'qos',
      'constraint',
      'wallTime',
      'memory',
      'environment',
      'environment',
      'workingDirectory',
      'workingDirectory',
      'gpus.type'
    ] as const;
    const bases: Record<string, string> = {
      environment: `${jlabEnv.prefix}/`,
      workingDirectory: rng.pick(['~/', '/tmp/']),
      partition: demo.partition,
      constraint: 'a'
    };
    const typed = ['cpus', 'gpus', 'startTimeoutSeconds', 'wallTime'];
    const accepted: { id: string; req: ILaunchRequest }[] = [];
    const n = fuzzCount(300);
    const inputs = Array.from({ length: n }, () => {
      const input = gen.next();
      const wrongType = rng.chance(0.12);
      const field = wrongType ? rng.pick(typed) : rng.pick(text);
      const value = wrongType
        ? rng.pick(WRONG_TYPES)
        : (rng.chance(0.5) ? (bases[field] ?? '') : '') + input.value;
      const req: Record<string, unknown> = { ...demoLaunchRequest() };
      if (field === 'gpus.type') {
        req.gpus = { type: value, count: 0 };
      } else {
        req[field] = value;
      }
      return { id: input.id, field, value, req };
    });
    await pool(inputs, 4, async ({ id, field, value, req }) => {
      t.inputs++;
      const check = await sidecar.api(
        'POST',
        '/api/v1/clusters/demo/launch-check',
        req
      );
      if (check.status === 400) {
        const e = errorOf(check.body);
        if (e) {
          t.refuse(e.code);
        } else {
          t.unclear.push(`check ${field}=${show(value)} → 400 without code`);
        }
        return;
      }
      if (check.status !== 200) {
        t.unclear.push(`check ${field}=${show(value)} → ${check.status}`);
        return;
      }
      const problems = check.body.problems as {
        field: string;
        message: string;
      }[];
      if (problems.length > 0) {
        // The launch itself refuses the same way, naming the field.
        const launch = await sidecar.api(
          'POST',
          '/api/v1/clusters/demo/sessions',
          req
        );
        const e = errorOf(launch.body);
        if (launch.status !== 400 || e?.code !== 'launch-invalid') {
          t.unclear.push(`launch ${field}=${show(value)} → ${launch.status}`);
          return;
        }
        const fieldName = field === 'gpus.type' ? 'gpus.type' : field;
        if (
          !problems.some(
            p => p.field === fieldName || p.field.startsWith(fieldName)
          )
        ) {
          t.unclear.push(
            `${field}=${show(value)} refused naming ${problems.map(p => p.field)}`
          );
        }
        t.refuse(e.code);
        return;
      }
      t.accepted++;
      accepted.push({ id, req: req as unknown as ILaunchRequest });
    });

    // What the launch check accepts goes to the cluster as launch() sends
    // it (submit.sh, the job script, sbatch's argv) — with --test-only, so
    // nothing is queued — and the written job script is parsed and its
    // assignments run: each value must come back as sent.
    const mismatches: string[] = [];
    let sbatchAccepted = 0;
    await pool(accepted, 3, async ({ id: canaryId, req }, i) => {
      const id = `fz${canary.tag}${i}`.toLowerCase();
      const argv = sbatchArgv(id, req);
      const cmd = submitCommand(
        id,
        buildJobScript({ sessionId: id, request: req, idleShutdownSeconds: 0 }),
        JSON.stringify({ id, request: req }),
        ['sbatch', '--test-only', ...argv.slice(1)]
      );
      const submit = await sidecar.api('POST', '/api/v1/clusters/demo/run', {
        argv: cmd.argv,
        timeoutSeconds: 60
      });
      expect(submit.status).toBe(200);
      if (submit.body.exitCode === 0) {
        sbatchAccepted++;
      } else {
        // sbatch's own refusal, in its words (which the user sees as is).
        expect(`${submit.body.stdout}${submit.body.stderr}`.trim()).not.toBe(
          ''
        );
      }
      const check = await sidecar.api('POST', '/api/v1/clusters/demo/run', {
        argv: [
          'bash',
          '-c',
          CHECK_JOB_SCRIPT,
          'jlhpc-check',
          `.jupyterlab-hpc/sessions/${id}`
        ],
        timeoutSeconds: 30
      });
      expect(check.status).toBe(200);
      const [env, work, h] = String(check.body.stdout).split('\0');
      const wantWork =
        req.workingDirectory === '' || req.workingDirectory === '~'
          ? h
          : req.workingDirectory.startsWith('~/')
            ? `${h}/${req.workingDirectory.slice(2)}`
            : req.workingDirectory;
      if (
        check.body.exitCode !== 0 ||
        env !== req.environment ||
        work !== wantWork
      ) {
        mismatches.push(
          `${canaryId}: exit ${check.body.exitCode} ${show(env)} vs ${show(req.environment)}, ${show(work)} vs ${show(wantWork)}: ${check.body.stderr}`
        );
      }
    });
    const sessionsAfter = await sidecar.api('GET', '/api/v1/sessions');
    expect(sessionsAfter.body).toEqual(sessionsBefore.body);
    record('fuzz-launch-fields', gen, {
      surface:
        'launch form fields (partition, account, QOS, constraint, wall time, memory, GPU type, environment, working directory; wrong types) → launch check → submit.sh, job script, sbatch --test-only on the cluster',
      inputs: t.inputs,
      refused: t.refused,
      notes: notes(
        t,
        `${t.accepted} accepted ran through submit.sh with sbatch --test-only (${sbatchAccepted} passed sbatch, the rest refused by it), each job script parsed (bash -n) and its assignments read back verbatim`
      )
    });
    expect(t.unclear).toEqual([]);
    expect(mismatches).toEqual([]);
  });

  it('command arguments, environment and working directory reach the remote program verbatim or are refused', async () => {
    const { rng, gen } = surface(3);
    const t = new Tally();
    const wrong: string[] = [];
    const tooLong: string[] = [];
    const n = fuzzCount(200);
    const inputs = Array.from({ length: n }, () => ({
      mode: rng.pick(['argv', 'argv', 'argv', 'env-name', 'env-value', 'cwd']),
      input: gen.next(rng.pick(['', '/tmp/', 'x']))
    }));
    await pool(inputs, 4, async ({ mode, input }) => {
      t.inputs++;
      const v = input.value;
      const body =
        mode === 'argv'
          ? { argv: ['printf', '%s\\0', v, 'end'] }
          : mode === 'env-name'
            ? { argv: ['true'], env: { [v]: 'x' } }
            : mode === 'env-value'
              ? { argv: ['printenv', 'FZ_VALUE'], env: { FZ_VALUE: v } }
              : { argv: ['pwd'], cwd: v };
      const r = await sidecar.api('POST', '/api/v1/clusters/demo/run', body);
      if (r.status !== 200) {
        const e = errorOf(r.body);
        if (!e || r.status === 500 || r.status < 400) {
          t.unclear.push(
            `${mode} ${show(v)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`
          );
        } else {
          t.refuse(e.code);
        }
        return;
      }
      const out = String(r.body.stdout);
      if (r.body.exitCode !== 0) {
        // Refused by the cluster's kernel (an argument over 128 KiB:
        // "Argument list too long"), in its words on stderr.
        if (String(r.body.stderr).trim() === '') {
          t.unclear.push(
            `${mode} ${show(v)} → exit ${r.body.exitCode} and no word why`
          );
        } else {
          t.refuse(`exit-${r.body.exitCode}`);
          tooLong.push(String(r.body.stderr).trim().split('\n')[0]);
        }
        return;
      }
      t.accepted++;
      if (mode === 'argv' && out !== `${v}\0end\0`) {
        wrong.push(`argv ${show(v)} came back as ${show(out)}`);
      }
      if (mode === 'env-value' && out !== `${v}\n`) {
        wrong.push(`env value ${show(v)} came back as ${show(out)}`);
      }
      if (mode === 'env-name' && r.body.exitCode !== 0) {
        wrong.push(`env name ${show(v)} accepted but exit ${r.body.exitCode}`);
      }
      if (mode === 'cwd' && r.body.exitCode === 0 && out.trim() === '') {
        wrong.push(`cwd ${show(v)}: pwd printed nothing`);
      }
    });
    record('fuzz-run-argv', gen, {
      surface:
        "remote command argv, environment names and values, working directory → quote.ts → the cluster user's login shell",
      inputs: t.inputs,
      refused: t.refused,
      notes: notes(
        t,
        `${t.accepted} ran; every argument and value came back byte for byte; refused by the remote program: ${[...new Set(tooLong)].join(' | ') || 'none'}`
      )
    });
    expect(t.unclear).toEqual([]);
    expect(wrong).toEqual([]);
  });

  it('environment paths and kernel names for kernel registration are refused or written verbatim', async () => {
    const { rng, gen } = surface(4);
    const t = new Tally();
    const written: string[] = [];
    const wrong: string[] = [];
    const n = fuzzCount(150);
    for (let i = 0; i < n; i++) {
      const mode = rng.pick([
        'prefix',
        'prefix',
        'kernelName',
        'delete',
        'displayName'
      ]);
      const target = rng.chance(0.7) ? 'clusters/demo' : 'local';
      const input = gen.next(mode === 'prefix' ? `${kernelEnv.prefix}/` : '');
      const v = rng.chance(0.08) ? rng.pick(WRONG_TYPES) : input.value;
      t.inputs++;
      let r;
      if (mode === 'delete') {
        const path = `/api/v1/${target}/kernels/${encodePath(String(v))}`;
        // (Errors of Node's own modules are not `instanceof Error` in jest.)
        const answer = await sidecar
          .api('DELETE', path)
          .catch((err: Error) => ({ failed: String(err.message) }));
        // A request line over Node's 16 KiB: 431 request-header-too-large,
        // then the sidecar closes, which a client still writing may see as
        // a reset; the sidecar lives on (checked below).
        if ('failed' in answer) {
          if (path.length > 16 * 1024) {
            t.refuse('reset-request-line-too-long');
          } else {
            t.unclear.push(`delete ${show(v)}: ${answer.failed}`);
          }
          continue;
        }
        r = answer;
      } else {
        const body: Record<string, unknown> =
          mode === 'prefix'
            ? { prefix: v }
            : mode === 'kernelName'
              ? { prefix: kernelEnv.prefix, kernelName: v }
              : {
                  prefix: kernelEnv.prefix,
                  kernelName: `fz${canary.tag}${i}`,
                  displayName: v
                };
        r = await sidecar.api('POST', `/api/v1/${target}/kernels`, body);
      }
      if (r.status >= 400) {
        const e = errorOf(r.body);
        if (!e || r.status === 500) {
          t.unclear.push(
            `${mode} ${show(v)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`
          );
        } else {
          t.refuse(e.code);
        }
        continue;
      }
      t.accepted++;
      if (target === 'local' || mode !== 'displayName') {
        wrong.push(`${target} ${mode} ${show(v)} accepted: ${r.status}`);
        continue;
      }
      // A display name on the cluster: kernel.json says it verbatim.
      const kernel = r.body.kernel as { name: string; path: string };
      written.push(kernel.name);
      const cat = await sidecar.api('POST', '/api/v1/clusters/demo/run', {
        argv: ['cat', `${kernel.path}/kernel.json`]
      });
      const spec = JSON.parse(String(cat.body.stdout));
      if (spec.display_name !== v) {
        wrong.push(
          `display name ${show(v)} written as ${show(spec.display_name)}`
        );
      }
      const del = await sidecar.api(
        'DELETE',
        `/api/v1/clusters/demo/kernels/${encodeURIComponent(kernel.name)}`
      );
      expect(del.status).toBe(200);
    }
    expect((await sidecar.api('GET', '/api/v1/health')).status).toBe(200);
    record('fuzz-env-kernels', gen, {
      surface:
        'environment paths, kernel names and display names (register / unregister a kernel, this computer and the cluster) → register-kernel.sh, kernel.json',
      inputs: t.inputs,
      refused: t.refused,
      notes: notes(
        t,
        `${written.length} display names written to a kernel.json on the cluster verbatim, then removed`
      )
    });
    expect(t.unclear).toEqual([]);
    expect(wrong).toEqual([]);
  });

  it('kernel profiles are refused with their fields named, or written to kernel.json verbatim', async () => {
    const { rng, gen } = surface(5);
    const t = new Tally();
    const wrong: string[] = [];
    const resources = {
      partition: '',
      account: '',
      qos: '',
      wallTime: '30:00',
      cpus: 1,
      memory: '',
      gpus: { type: '', count: 0 },
      constraint: ''
    };
    const good = {
      cluster: 'demo',
      environment: kernelEnv.prefix,
      workingDirectory: '',
      displayName: 'kept',
      resources
    };
    const keep = await sidecar.api('POST', '/api/v1/kernel-profiles', good);
    expect(keep.status).toBe(201);
    const kept = keep.body as IKernelProfile;
    const keptFile = join(data, 'kernels', kept.specName, 'kernel.json');
    const fields = [
      'cluster',
      'environment',
      'workingDirectory',
      'displayName',
      'displayName',
      'resources.partition',
      'resources.constraint',
      'resources.memory',
      'resources.wallTime',
      'resources.gpus'
    ];
    const n = fuzzCount(150);
    for (let i = 0; i < n; i++) {
      const field = rng.pick(fields);
      const input = gen.next(
        field === 'environment'
          ? `${kernelEnv.prefix}/`
          : field === 'workingDirectory'
            ? '~/'
            : ''
      );
      const v = rng.chance(0.1) ? rng.pick(WRONG_TYPES) : input.value;
      const req: Record<string, unknown> = {
        ...good,
        resources: { ...resources }
      };
      if (field.startsWith('resources.')) {
        (req.resources as Record<string, unknown>)[field.slice(10)] = v;
      } else {
        req[field] = v;
      }
      t.inputs++;
      // Half as new profiles, half as changes to the kept one.
      const update = rng.chance(0.5);
      const keptText = readFileSync(keptFile, 'utf8');
      const r = update
        ? await sidecar.api('PUT', `/api/v1/kernel-profiles/${kept.id}`, req)
        : await sidecar.api('POST', '/api/v1/kernel-profiles', req);
      if (r.status >= 400) {
        const e = errorOf(r.body);
        if (!e || r.status === 500) {
          t.unclear.push(
            `${field} ${show(v)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`
          );
        } else {
          t.refuse(e.code);
        }
        if (update && readFileSync(keptFile, 'utf8') !== keptText) {
          wrong.push(
            `refused change ${field}=${show(v)} altered the kept profile`
          );
        }
        continue;
      }
      t.accepted++;
      const p = r.body as IKernelProfile;
      const file = join(data, 'kernels', p.specName, 'kernel.json');
      const spec = JSON.parse(readFileSync(file, 'utf8'));
      const marker = spec.metadata.jupyterlab_hpc;
      const sent =
        field === 'displayName'
          ? spec.display_name
          : field.startsWith('resources.')
            ? marker.resources[field.slice(10)]
            : marker[field];
      if (
        JSON.stringify(sent) !== JSON.stringify(v) &&
        !(field === 'displayName' && v === '')
      ) {
        wrong.push(`${field} ${show(v)} written as ${show(sent)}`);
      }
      if (update) {
        const back = await sidecar.api(
          'PUT',
          `/api/v1/kernel-profiles/${kept.id}`,
          good
        );
        expect(back.status).toBe(200);
      } else {
        const del = await sidecar.api(
          'DELETE',
          `/api/v1/kernel-profiles/${p.id}`
        );
        expect(del.status).toBe(200);
      }
    }
    record('fuzz-kernel-profiles', gen, {
      surface:
        'kernel profile fields (cluster, environment, working directory, display name, resources; new and changed) → kernelspec files',
      inputs: t.inputs,
      refused: t.refused,
      notes: notes(
        t,
        `${t.accepted} accepted and written verbatim to kernel.json, then removed; refused changes left the saved profile byte for byte`
      )
    });
    expect(t.unclear).toEqual([]);
    expect(wrong).toEqual([]);
    // Nothing but the kept profile's spec is left; its file as it was.
    expect(readdirSync(join(data, 'kernels'))).toEqual([kept.specName]);
    expect(JSON.parse(readFileSync(keptFile, 'utf8')).display_name).toBe(
      'kept'
    );
    expect(
      (await sidecar.api('DELETE', `/api/v1/kernel-profiles/${kept.id}`)).status
    ).toBe(200);
  });
});

/** Reads back what a written job script assigns (cwd: the cluster home). */
const CHECK_JOB_SCRIPT = [
  'set -u',
  'dir=$HOME/$1',
  'cd "$dir" || exit 3',
  'bash -n job.sh || exit 4',
  "sed -n '1,/^IDLE_SHUTDOWN_SECONDS=/p' job.sh >pre.sh",
  // Only the assignments run, in a child bash: never job.sh's body.
  `bash -c '. ./pre.sh && printf "%s\\0%s\\0%s\\0" "$ENV_PREFIX" "$WORK_DIR" "$HOME"'`,
  'status=$?',
  'cd / && rm -rf "$dir"',
  'exit $status'
].join('\n');

describe('hostile settings through JupyterLab', () => {
  const SETTINGS = 'lab/api/settings/jupyterlab-hpc:plugin';
  const auth = () => ({ Authorization: `token ${lab.token}` });
  const baseline = {
    clusters: [{ name: 'keep', host: 'hpc-demo' }],
    sessionPresets: [{ name: 'keep', partition: 'debug' }]
  };

  async function saved(): Promise<string> {
    const r = await fetch(lab.url + SETTINGS, { headers: auth() });
    expect(r.status).toBe(200);
    return ((await r.json()) as { raw: string }).raw;
  }

  async function save(raw: string): Promise<Response> {
    return fetch(lab.url + SETTINGS, {
      method: 'PUT',
      headers: { ...auth(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ raw })
    });
  }

  it('settings JSON of wrong types or hostile values is refused by the schema, or stored verbatim and refused by the sidecar', async () => {
    const { rng, gen } = surface(6);
    const t = new Tally();
    const goodRaw = JSON.stringify(baseline, null, 2);
    expect((await save(goodRaw)).status).toBe(204);
    const places: [string, string][] = [
      ['clusters', 'name'],
      ['clusters', 'host'],
      ['clusters', 'user'],
      ['clusters', 'port'],
      ['clusters', 'identityFile'],
      ['clusters', 'jumpHost'],
      ['clusters', 'transport'],
      ['clusters', 'sshClient'],
      ['clusters', 'jupyterEnvironment'],
      ['jobDefaults', 'partition'],
      ['jobDefaults', 'cpus'],
      ['jobDefaults', 'workingDirectory'],
      ['jobDefaults', 'constraint'],
      ['sessionPresets', 'name'],
      ['sessionPresets', 'cluster'],
      ['sessionPresets', 'account'],
      ['sessionPresets', 'workingDirectory'],
      ['sessionPresets', 'cpus'],
      ['conda', 'installerUrl'],
      ['sessionWarnings', 'minutesBeforeWallTime'],
      ['clusterKernels', 'allocationGraceMinutes'],
      ['', 'clusters'],
      ['', 'unknownKey']
    ];
    let sidecarRefused = 0;
    const n = fuzzCount(150);
    for (let i = 0; i < n; i++) {
      const [section, key] = rng.pick(places);
      const input = gen.next();
      const v = rng.chance(0.4) ? rng.pick(WRONG_TYPES) : input.value;
      const settings: Record<string, unknown> = JSON.parse(
        JSON.stringify(baseline)
      );
      if (section === '') {
        settings[key] = v;
      } else if (section === 'clusters' || section === 'sessionPresets') {
        const list = settings[section] as Record<string, unknown>[];
        list[0][key] = v;
      } else {
        settings[section] = { [key]: v };
      }
      // Some as broken JSON text, the rest as JSON.
      const broken = rng.chance(0.1);
      const raw = broken
        ? JSON.stringify(settings).slice(0, -1 - rng.int(5))
        : JSON.stringify(settings);
      t.inputs++;
      const r = await save(raw);
      if (broken && r.status === 500) {
        // jupyterlab_server answers text it cannot parse with a bare 500
        // ("Unhandled error"), not ours to fix; what matters is that the
        // saved settings are kept.
        t.refuse('jupyter-500-unparsable');
        expect(await saved()).toBe(goodRaw);
        continue;
      }
      if (r.status === 400) {
        const text = await r.text();
        if (text.trim().length < 10) {
          t.unclear.push(`${section}.${key}=${show(v)} → 400 without a reason`);
        }
        t.refuse('jupyter-settings-invalid');
        expect(await saved()).toBe(goodRaw);
        continue;
      }
      if (r.status !== 204) {
        t.unclear.push(
          `${section}.${key}=${show(v)} → ${r.status} ${(await r.text()).slice(0, 300)}`
        );
        continue;
      }
      // Stored verbatim; the frontend hands the clusters to the sidecar,
      // which checks them against the same schema.
      expect(await saved()).toBe(raw);
      t.accepted++;
      if (section === 'clusters') {
        const put = await sidecar.api('PUT', '/api/v1/clusters', {
          clusters: settings.clusters
        });
        if (put.status === 400 && errorOf(put.body)) {
          sidecarRefused++;
        } else if (put.status === 200) {
          await sidecar.api('PUT', '/api/v1/clusters', {
            clusters: [DEMO_ENTRY]
          });
        } else {
          t.unclear.push(`sidecar PUT ${key}=${show(v)} → ${put.status}`);
        }
      }
      expect((await save(goodRaw)).status).toBe(204);
    }
    record('fuzz-settings', gen, {
      surface:
        'settings JSON (clusters, job defaults, presets, conda, warnings, cluster kernels; wrong types, hostile text, broken JSON) → JupyterLab settings API (schema/plugin.json) → the sidecar',
      inputs: t.inputs,
      refused: t.refused,
      notes: notes(
        t,
        `${t.accepted} valid by the schema were stored verbatim (${sidecarRefused} of their cluster lists then refused by the sidecar's own check); every refusal left the saved settings byte for byte`
      )
    });
    expect(t.unclear).toEqual([]);
  });
});

describe("the sidecar's HTTP and WebSocket surface through JupyterLab", () => {
  const BASE = 'jupyterlab-hpc/api/v1';
  const auth = () => ({ Authorization: `token ${lab.token}` });
  const JSON_HEADERS = {
    'Content-Type': 'application/json',
    'X-Jupyterlab-Hpc': '1'
  };

  interface ICase {
    what: string;
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string | Buffer;
    /** Statuses that count as the right refusal. */
    expect: number[];
  }

  /** Routes that take a parameter, with the method that changes something. */
  const ROUTES: [string, (p: string) => string][] = [
    ['GET', p => `clusters/${p}`],
    ['POST', p => `clusters/${p}/connect`],
    ['POST', p => `clusters/${p}/run`],
    ['POST', p => `clusters/${p}/sessions`],
    ['POST', p => `clusters/demo/sessions/${p}/attach`],
    ['GET', p => `sessions/${p}`],
    ['POST', p => `sessions/${p}/cancel`],
    ['GET', p => `sessions/${p}/log`],
    ['DELETE', p => `forwards/${p}`],
    ['POST', p => `prompts/${p}`],
    ['GET', p => `tasks/${p}`],
    ['DELETE', p => `kernel-profiles/${p}`],
    ['DELETE', p => `clusters/${p}/kernels/x`],
    ['DELETE', p => `local/kernels/${p}`],
    ['POST', p => `clusters/${p}/kernels`]
  ];
  const BODY_ROUTES: [string, string][] = [
    ['PUT', 'clusters'],
    ['POST', 'clusters/demo/run'],
    ['POST', 'clusters/demo/launch-check'],
    ['POST', 'kernel-profiles'],
    ['PUT', 'visibility'],
    ['POST', 'local/kernels']
  ];

  function cases(): ICase[] {
    const { rng, gen } = surface(7);
    const out: ICase[] = [];
    const cred = auth();
    // Parameters: traversal, encoded NUL and slashes, bad encoding, long ids, generated.
    const params = [
      '..',
      '%2e%2e',
      '..%2f..%2f..%2fetc%2fpasswd',
      '%2e%2e%2f%2e%2e%2fapi%2fcontents',
      '%00',
      'a%00b',
      '%ff%fe',
      '%',
      'x'.repeat(8000),
      '%2f',
      'local'
    ];
    for (let i = 0; i < 20; i++) {
      params.push(encodePath(gen.next().value.slice(0, 2000)));
    }
    for (const p of params) {
      const [method, path] = rng.pick(ROUTES);
      out.push({
        what: `traversal ${show(p)}`,
        method,
        path: path(p),
        headers: { ...cred, ...JSON_HEADERS },
        body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
        expect: [400, 404]
      });
    }
    for (const [method, path] of [
      ...BODY_ROUTES,
      ...ROUTES.map(([m, f]) => [m, f('demo')] as [string, string])
    ]) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      out.push(
        {
          what: 'no credentials',
          method,
          path,
          headers: { ...JSON_HEADERS },
          body,
          expect: [302, 403]
        },
        {
          what: 'wrong token',
          method,
          path,
          headers: { Authorization: 'token x', ...JSON_HEADERS },
          body,
          expect: [302, 403]
        },
        {
          what: 'foreign Origin',
          method,
          path,
          headers: {
            ...cred,
            ...JSON_HEADERS,
            Origin: rng.pick([
              'http://evil.example',
              'null',
              'http://127.0.0.1.evil.example',
              'file://'
            ])
          },
          body,
          expect: [403]
        }
      );
      if (method !== 'GET') {
        const type = rng.pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/jsonx',
          'text/json'
        ]);
        out.push({
          what: `no custom header, ${type}`,
          method,
          path,
          headers: { ...cred, 'Content-Type': type },
          // jupyter-server-proxy cannot pass a DELETE with a body on (500).
          body: method === 'DELETE' ? undefined : '{}',
          // Jupyter's own form parsing may refuse a multipart body first.
          expect: type.startsWith('multipart/') ? [400, 403] : [403]
        });
      }
    }
    for (const [method, path] of BODY_ROUTES) {
      for (const body of [
        '{',
        '{"a":',
        'null',
        '[]',
        '"x"',
        '1',
        '\u0000',
        '{"clusters": 5}',
        '{"argv": "rm -rf /"}',
        '\xff\xfe'
      ]) {
        out.push({
          what: `body ${show(body)}`,
          method,
          path,
          headers: { ...cred, ...JSON_HEADERS },
          body,
          expect: [400]
        });
      }
      out.push({
        what: 'oversized body',
        method,
        path,
        headers: { ...cred, ...JSON_HEADERS },
        body: Buffer.alloc(1024 * 1024 + 1 + rng.int(1024), 0x20),
        expect: [413]
      });
    }
    return out;
  }

  function openWs(
    path: string,
    headers: Record<string, string>
  ): Promise<string> {
    return new Promise(resolve => {
      const socket = new WebSocket(lab.url.replace('http', 'ws') + path, {
        headers
      });
      const done = (what: string) => {
        socket.terminate();
        resolve(what);
      };
      socket.once('message', () => done('message'));
      socket.once('unexpected-response', (_req, res) =>
        done(`HTTP ${res.statusCode}`)
      );
      socket.once('error', err => done(`error ${err.message}`));
      socket.once('close', () => done('closed'));
    });
  }

  it('refuses what it must with the right status, and keeps serving in the same process', async () => {
    const t = new Tally();
    const health = async () => {
      const r = await fetch(`${lab.url}${BASE}/health`, { headers: auth() });
      expect(r.status).toBe(200);
      return ((await r.json()) as { pid: number }).pid;
    };
    const pid = await health();
    const wrong: string[] = [];
    await pool(cases(), 4, async c => {
      t.inputs++;
      let status: number;
      let text = '';
      try {
        const r = await fetch(`${lab.url}${BASE}/${c.path}`, {
          method: c.method,
          headers: c.headers,
          body: c.body,
          redirect: 'manual'
        });
        status = r.status;
        text = await r.text();
      } catch (err) {
        wrong.push(
          `${c.what} ${c.method} ${c.path.slice(0, 80)}: ${(err as Error).message}`
        );
        return;
      }
      if (!c.expect.includes(status)) {
        wrong.push(
          `${c.what} ${c.method} ${c.path.slice(0, 80)} → ${status} ${text.slice(0, 160)}`
        );
        return;
      }
      t.refuse(String(status));
    });
    const ws: [string, Record<string, string>, string][] = [
      [`${BASE}/events`, {}, 'no credentials'],
      [`${BASE}/events`, { Authorization: 'token x' }, 'wrong token'],
      [
        `${BASE}/events`,
        { ...auth(), Origin: 'http://evil.example' },
        'foreign Origin'
      ],
      [`${BASE}/events`, { ...auth(), Origin: 'null' }, 'null Origin'],
      [
        `${BASE}/kernels/lease`,
        { ...auth(), Origin: lab.url.replace(/\/$/, '') },
        'lease from a browser'
      ],
      [`${BASE}/kernels/lease`, { ...auth() }, 'lease without the header'],
      [`${BASE}/sessions`, { ...auth() }, 'not a WebSocket route'],
      [`${BASE}/events/..%2fhealth`, { ...auth() }, 'traversal']
    ];
    for (const [path, headers, what] of ws) {
      t.inputs++;
      const got = await openWs(path, headers);
      if (got === 'message') {
        wrong.push(`WebSocket ${what}: delivered a message`);
      } else {
        t.refuse('ws');
      }
    }
    // A proper WebSocket still works, and a proper request too, same pid.
    expect(await openWs(`${BASE}/events`, auth())).toBe('message');
    expect(await health()).toBe(pid);
    const vis = await fetch(`${lab.url}${BASE}/visibility`, {
      method: 'PUT',
      headers: { ...auth(), ...JSON_HEADERS },
      body: JSON.stringify({ visible: true })
    });
    expect(vis.status).toBe(200);
    recordFuzz('http-surface', {
      surface:
        "the sidecar's HTTP and WebSocket API through JupyterLab (credentials, custom header, Origin, path traversal, oversized, malformed and wrongly typed bodies)",
      inputs: t.inputs,
      injections: 0,
      refused: t.refused,
      notes: `seed ${SEED}; statuses: ${t.codeSummary()}; afterwards health answered from the same pid and a normal request worked`
    });
    expect(wrong).toEqual([]);
  });
});

describe('canaries', () => {
  it('no input ran a command, on this computer or on the cluster', () => {
    // Canary paths are absolute; a payload whose quoting went half wrong
    // could still touch a file relative to some working directory.
    const found = canary.found([home, lab.home, labUserHome, CLUSTER_HOME]);
    const tmp = canary.found(['/tmp']);
    const all = [...new Set([...found, ...tmp])];
    for (const [id, { prefix, rec }] of records) {
      const mine = all.filter(f => basename(f).startsWith(prefix));
      recordFuzz(id, {
        ...rec,
        injections: mine.length,
        notes:
          mine.length > 0
            ? `${rec.notes}; canaries: ${mine.join(', ')}`
            : rec.notes
      });
    }
    expect(all).toEqual([]);
  });
});
