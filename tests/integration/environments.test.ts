/**
 * Conda environments and kernels end to end: the real sidecar bundle, on
 * this computer (conda-layout envs in a temporary HOME, checked with the
 * real `jupyter kernelspec list` and a real kernel) and on the demo cluster
 * over its real sshd (its five envs, plus awkward and broken ones made for
 * the test in a temporary directory of the cluster user's home and listed
 * in its environments.txt only while the tests run).
 */
import { execFileSync, spawnSync } from 'child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { join, resolve } from 'path';

import type {
  ICondaEnvironment,
  IConnectionTest,
  IEnvironmentList,
  IRegisterKernelResult,
  IRunResult,
  SidecarEvent
} from '../../src/common/api';
import { installIpykernelCommand } from '../../src/lab/envs/messages';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';
import { demoCluster } from '../support/demo-cluster';

const demo = demoCluster();
const VENV = resolve(__dirname, '..', '..', '.venv');
const JUPYTER = join(VENV, 'bin', 'jupyter');
const VENV_PYTHON = join(VENV, 'bin', 'python');

const AWKWARD = [
  'with space',
  "it's",
  'say "hi"',
  '$(touch pwned)',
  '`touch pwned`',
  'new\nline',
  'ünï ✓ 环境',
  'glob[*]?',
  '-dash'
];

/** A conda-layout env: conda-meta records and bin/python. */
function makeEnv(
  prefix: string,
  options: { ipykernel?: boolean; python?: string | null } = {}
): void {
  mkdirSync(join(prefix, 'conda-meta'), { recursive: true });
  writeFileSync(join(prefix, 'conda-meta', 'history'), '');
  for (let i = 0; i < 30; i++) {
    writeFileSync(join(prefix, 'conda-meta', `pkg${i}-1.0-0.json`), '{}');
  }
  writeFileSync(
    join(prefix, 'conda-meta', 'python-3.11.2-0_cpython.json'),
    '{}'
  );
  if (options.ipykernel) {
    writeFileSync(
      join(prefix, 'conda-meta', 'ipykernel-6.29.5-pyh3099207_0.json'),
      '{}'
    );
  }
  if (options.python === VENV_PYTHON) {
    // Through a symlink the venv's python would not find its pyvenv.cfg.
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    writeFileSync(
      join(prefix, 'bin', 'python'),
      `#!/bin/sh\nexec '${VENV_PYTHON}' "$@"\n`,
      { mode: 0o755 }
    );
  } else if (options.python !== null) {
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    symlinkSync(
      options.python ?? '/usr/bin/python3',
      join(prefix, 'bin', 'python')
    );
  }
}

function byPrefix(list: IEnvironmentList, prefix: string): ICondaEnvironment {
  const env = list.envs.find(e => e.prefix === prefix);
  if (!env) {
    throw new Error(
      `${JSON.stringify(prefix)} is not listed: ${JSON.stringify(list.envs.map(e => e.prefix))}`
    );
  }
  return env;
}

const envsChanged =
  (target: string, kernelsChanged?: boolean) =>
  (e: SidecarEvent): e is Extract<SidecarEvent, { type: 'envs-changed' }> =>
    e.type === 'envs-changed' &&
    e.target === target &&
    (kernelsChanged === undefined || e.kernelsChanged === kernelsChanged);

let sidecar: ISidecar | null = null;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await sidecar?.stop();
  sidecar = null;
  for (const clean of cleanups.splice(0).reverse()) {
    clean();
  }
});

describe('this computer', () => {
  let home: string;
  let root: string;

  beforeEach(async () => {
    home = makeHome('jlhpc-envs-home-');
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    root = join(home, 'miniforge3');
    makeEnv(root);
    // Runs for real: its python is the test venv's, which has ipykernel.
    makeEnv(join(root, 'envs', 'real'), {
      ipykernel: true,
      python: VENV_PYTHON
    });
    makeEnv(join(root, 'envs', 'no-ipykernel'));
    for (const name of AWKWARD) {
      makeEnv(join(root, 'envs', name), { ipykernel: true });
    }
    makeEnv(join(home, 'projects', 'scratch env'), { ipykernel: true });
    mkdirSync(join(home, '.conda'));
    writeFileSync(
      join(home, '.conda', 'environments.txt'),
      `${root}\n${join(home, 'projects', 'scratch env')}\n${join(home, 'gone')}\n`
    );
  });

  it('lists the envs, registers a kernel Jupyter can start, and removes it', async () => {
    sidecar = await startSidecar({ home });
    const s = sidecar;
    const first = await s.api<IEnvironmentList>('GET', '/api/v1/local/envs');
    expect(first.status).toBe(200);
    const list = first.body;
    expect(list).toMatchObject({
      target: ':local',
      roots: [root],
      kernelsDir: join(home, '.local', 'share', 'jupyter', 'kernels'),
      roundTrips: 0,
      cached: false
    });
    expect(list.envs.map(e => e.name).sort()).toEqual(
      ['base', 'real', 'no-ipykernel', 'scratch env', 'gone', ...AWKWARD].sort()
    );
    for (const name of AWKWARD) {
      expect(byPrefix(list, join(root, 'envs', name))).toMatchObject({
        name,
        kind: 'named',
        ipykernelVersion: '6.29.5',
        displayName: `Python [conda env:${name}]`,
        problems: []
      });
    }
    expect(byPrefix(list, join(home, 'gone')).problems[0].code).toBe(
      'missing-prefix'
    );
    expect(existsSync(join(home, 'pwned'))).toBe(false);

    const cached = await s.api<IEnvironmentList>('GET', '/api/v1/local/envs');
    expect(cached.body.cached).toBe(true);
    expect(cached.body.scannedAt).toBe(list.scannedAt);

    // Refused: no ipykernel.
    const refused = await s.api('POST', '/api/v1/local/kernels', {
      prefix: join(root, 'envs', 'no-ipykernel')
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('ipykernel-missing');
    const unknown = await s.api('POST', '/api/v1/local/kernels', {
      prefix: join(home, 'nowhere')
    });
    expect(unknown.body.error.code).toBe('env-not-found');

    const reg = await s.api<IRegisterKernelResult>(
      'POST',
      '/api/v1/local/kernels',
      { prefix: join(root, 'envs', 'real') }
    );
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({
      created: true,
      kernel: {
        name: 'conda-env-real-py',
        displayName: 'Python [conda env:real]',
        envPrefix: join(root, 'envs', 'real'),
        managed: true
      }
    });
    await s.waitForEvent(envsChanged(':local', true));

    // Jupyter itself lists it and starts it.
    const jupyterEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete jupyterEnv.JUPYTER_DATA_DIR;
    delete jupyterEnv.JUPYTER_PATH;
    const specs = JSON.parse(
      execFileSync(JUPYTER, ['kernelspec', 'list', '--json'], {
        env: jupyterEnv,
        encoding: 'utf8'
      })
    ).kernelspecs;
    expect(specs['conda-env-real-py'].spec).toMatchObject({
      argv: [
        join(root, 'envs', 'real', 'bin', 'python'),
        '-m',
        'ipykernel_launcher',
        '-f',
        '{connection_file}'
      ],
      display_name: 'Python [conda env:real]',
      language: 'python'
    });
    const ran = spawnSync(
      VENV_PYTHON,
      [
        '-c',
        [
          'from jupyter_client.manager import start_new_kernel',
          "km, kc = start_new_kernel(kernel_name='conda-env-real-py')",
          "r = kc.execute_interactive('print(6 * 7)', timeout=60, output_hook=lambda m: m['msg_type'] == 'stream' and print('OUT', m['content']['text'].strip()))",
          'kc.stop_channels(); km.shutdown_kernel(now=True)'
        ].join('\n')
      ],
      { env: jupyterEnv, encoding: 'utf8', timeout: 90_000 }
    );
    expect(`${ran.stdout}${ran.stderr.slice(-2000)}`).toContain('OUT 42');

    // Again: kept, not duplicated.
    const again = await s.api<IRegisterKernelResult>(
      'POST',
      '/api/v1/local/kernels',
      { prefix: join(root, 'envs', 'real') }
    );
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);

    const after = await s.api<IEnvironmentList>('GET', '/api/v1/local/envs');
    expect(
      byPrefix(after.body, join(root, 'envs', 'real')).registered?.name
    ).toBe('conda-env-real-py');

    // An awkward name: written safely, executing nothing.
    const odd = join(root, 'envs', '$(touch pwned)');
    const oddReg = await s.api<IRegisterKernelResult>(
      'POST',
      '/api/v1/local/kernels',
      { prefix: odd }
    );
    expect(oddReg.status).toBe(201);
    expect(oddReg.body.kernel.name).toBe('conda-env-__touch_pwned_-py');
    const oddSpec = JSON.parse(
      readFileSync(
        join(
          home,
          '.local/share/jupyter/kernels/conda-env-__touch_pwned_-py/kernel.json'
        ),
        'utf8'
      )
    );
    expect(oddSpec.argv[0]).toBe(join(odd, 'bin', 'python'));
    expect(existsSync(join(home, 'pwned'))).toBe(false);

    // A name taken by a kernel of another env.
    const clash = await s.api('POST', '/api/v1/local/kernels', {
      prefix: join(root, 'envs', "it's"),
      kernelName: 'conda-env-real-py'
    });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('kernel-exists');

    // Only kernels that run conda envs are removed.
    mkdirSync(join(home, '.local/share/jupyter/kernels/foreign'));
    writeFileSync(
      join(home, '.local/share/jupyter/kernels/foreign/kernel.json'),
      JSON.stringify({ argv: ['/usr/bin/python3', '-m', 'ipykernel'] })
    );
    const foreign = await s.api('DELETE', '/api/v1/local/kernels/foreign');
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('kernel-not-managed');
    const missing = await s.api('DELETE', '/api/v1/local/kernels/nope');
    expect(missing.body.error.code).toBe('kernel-not-found');

    const removed = await s.api(
      'DELETE',
      '/api/v1/local/kernels/conda-env-real-py'
    );
    expect(removed.status).toBe(200);
    expect(removed.body.kernel.name).toBe('conda-env-real-py');
    expect(
      existsSync(join(home, '.local/share/jupyter/kernels/conda-env-real-py'))
    ).toBe(false);
    const gone = await s.api<IEnvironmentList>('GET', '/api/v1/local/envs');
    expect(
      byPrefix(gone.body, join(root, 'envs', 'real')).registered
    ).toBeNull();
  });

  it('uses the Jupyter paths it is given and detects kernels registered there', async () => {
    const data = join(home, 'jupyter-data');
    const other = join(home, 'other-kernels');
    mkdirSync(join(other, 'my-own-name'), { recursive: true });
    writeFileSync(
      join(other, 'my-own-name', 'kernel.json'),
      JSON.stringify({
        argv: [
          join(root, 'envs', 'real', 'bin', 'python'),
          '-m',
          'ipykernel_launcher',
          '-f',
          '{connection_file}'
        ],
        display_name: 'Mine',
        language: 'python'
      })
    );
    sidecar = await startSidecar({
      home,
      env: {
        JUPYTERLAB_HPC_JUPYTER_DATA_DIR: data,
        JUPYTERLAB_HPC_KERNEL_PATH: `${other}:${join(data, 'kernels')}`
      }
    });
    const list = await sidecar.api<IEnvironmentList>(
      'GET',
      '/api/v1/local/envs'
    );
    expect(list.body.kernelsDir).toBe(join(data, 'kernels'));
    expect(
      byPrefix(list.body, join(root, 'envs', 'real')).registered
    ).toMatchObject({
      name: 'my-own-name',
      managed: false
    });
    const reg = await sidecar.api<IRegisterKernelResult>(
      'POST',
      '/api/v1/local/kernels',
      { prefix: join(root, 'envs', 'real') }
    );
    expect(reg.body).toMatchObject({
      created: false,
      kernel: { name: 'my-own-name' }
    });
    expect(existsSync(join(data, 'kernels'))).toBe(false);
  });

  it('merges what conda env list knows, after answering without it', async () => {
    const hidden = join(home, 'elsewhere', 'only-conda-knows');
    makeEnv(hidden, { ipykernel: true });
    // conda is on no registry this machine reaches: a stand-in at the
    // place conda lives, answering `env list --json` as conda does.
    writeFileSync(
      join(root, 'bin', 'conda'),
      `#!/bin/sh\n[ "$1 $2 $3" = "env list --json" ] || exit 2\nsleep 1\nprintf '%s\\n' '${JSON.stringify({ envs: [root, hidden] })}'\n`,
      { mode: 0o755 }
    );
    sidecar = await startSidecar({ home });
    const s = sidecar;
    const first = await s.api<IEnvironmentList>('GET', '/api/v1/local/envs');
    expect(first.body.tools.conda).toBe(join(root, 'bin', 'conda'));
    expect(first.body.envs.some(e => e.prefix === hidden)).toBe(false);
    const seen = s.events.length;
    await s.waitForEvent(
      (e): e is Extract<SidecarEvent, { type: 'envs-changed' }> =>
        s.events.indexOf(e) >= seen && envsChanged(':local')(e),
      20_000
    );
    const merged = await s.api<IEnvironmentList>('GET', '/api/v1/local/envs');
    expect(byPrefix(merged.body, hidden)).toMatchObject({
      sources: ['conda'],
      ipykernelVersion: '6.29.5'
    });
  });
});

// -------------------------------------------------------------------------
// The demo cluster

function demoKnownHosts(): string {
  const name = `[${demo.host}]:${demo.port}`;
  return (
    readFileSync(demo.knownHosts, 'utf8')
      .split('\n')
      .filter(l => l.startsWith(name + ' '))
      .join('\n') + '\n'
  );
}

async function startWithCluster(jupyterEnvironment = ''): Promise<ISidecar> {
  const home = makeHome('jlhpc-envs-client-');
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host hpc-demo\n  HostName ${demo.host}\n  Port ${demo.port}\n  User ${demo.user}\n  IdentityFile ${demo.identityFile}\n  IdentitiesOnly yes\n`,
    { mode: 0o600 }
  );
  writeFileSync(join(home, '.ssh', 'known_hosts'), demoKnownHosts(), {
    mode: 0o600
  });
  sidecar = await startSidecar({ home });
  const put = await sidecar.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo', jupyterEnvironment }]
  });
  expect(put.status).toBe(200);
  return sidecar;
}

const clusterHome = `/home/${demo.user}`;
const envsTxt = join(clusterHome, '.conda', 'environments.txt');
const jupyterlabEnv = demo.envs.find(e => e.name === 'jupyterlab')!.prefix;

/** `jupyter kernelspec list --json` of the cluster's JupyterLab env, as its user. */
function remoteKernelspecs(): Record<string, { spec: { argv: string[] } }> {
  const out = execFileSync(
    'runuser',
    [
      '-u',
      demo.user,
      '--',
      'env',
      `HOME=${clusterHome}`,
      join(jupyterlabEnv, 'bin', 'jupyter'),
      'kernelspec',
      'list',
      '--json'
    ],
    { encoding: 'utf8', cwd: '/' }
  );
  return JSON.parse(out).kernelspecs;
}

describe('the demo cluster', () => {
  it('lists its five envs in one round trip, as conda names them', async () => {
    const s = await startWithCluster();
    const r = await s.api<IEnvironmentList>(
      'GET',
      '/api/v1/clusters/demo/envs'
    );
    expect(r.status).toBe(200);
    const list = r.body;
    expect(list).toMatchObject({
      target: 'demo',
      roots: [demo.condaRoot],
      roundTrips: 1,
      jupyterlabPrefix: jupyterlabEnv,
      kernelsDir: join(jupyterlabEnv, 'share', 'jupyter', 'kernels')
    });
    for (const d of demo.envs) {
      const env = byPrefix(list, d.prefix);
      expect(env.name).toBe(d.name);
      expect(env.ipykernelVersion !== null).toBe(d.ipykernel);
      expect(env.kernelName).toBe(
        d.name === 'base' ? 'conda-base-py' : `conda-env-${d.name}-py`
      );
      expect(env.problems).toEqual([]);
    }
    expect(byPrefix(list, '/home/hpcdemo/projects/scratch-env').kind).toBe(
      'prefix'
    );
    const refreshed = await s.api<IEnvironmentList>(
      'GET',
      '/api/v1/clusters/demo/envs?refresh=1'
    );
    expect(refreshed.body.cached).toBe(false);
    expect(refreshed.body.scannedAt).toBeGreaterThanOrEqual(list.scannedAt);
    const unknown = await s.api('GET', '/api/v1/clusters/nope/envs');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown-cluster');
  });

  describe('package managers and the hints that name them', () => {
    const analysis = demo.envs.find(e => e.name === 'analysis')!.prefix;

    /** Runs a hint's command line in the cluster's login shell. */
    async function runThere(s: ISidecar, line: string) {
      const r = await s.api<IRunResult>('POST', '/api/v1/clusters/demo/run', {
        argv: ['/bin/sh', '-c', line]
      });
      expect(r.status).toBe(200);
      return r.body;
    }

    it("finds no conda on the demo, says so, and hints at the env's own pip, which runs there", async () => {
      const s = await startWithCluster();
      const test = await s.api<IConnectionTest>(
        'POST',
        '/api/v1/clusters/demo/test'
      );
      expect(test.body.tools).toEqual({
        conda: null,
        mamba: null,
        micromamba: null
      });
      const list = (
        await s.api<IEnvironmentList>('GET', '/api/v1/clusters/demo/envs')
      ).body;
      expect(list.tools).toEqual(test.body.tools);
      const hint = installIpykernelCommand(list, byPrefix(list, analysis));
      expect(hint).toBe(`${analysis}/bin/python -m pip install ipykernel`);
      // The same program, asked for its version instead of installing.
      const ran = await runThere(
        s,
        hint.replace(/ install ipykernel$/, ' --version')
      );
      expect(ran.exitCode).toBe(0);
      expect(ran.stdout).toMatch(/^pip \d/);
    });

    it('finds the mamba of an install root the login PATH lacks, and hints with its path', async () => {
      // micromamba's and mamba's default root, never `conda init`ed.
      const root = join(clusterHome, '.local', 'share', 'mamba');
      expect(existsSync(root)).toBe(false);
      cleanups.push(() => rmSync(root, { recursive: true, force: true }));
      mkdirSync(join(root, 'conda-meta'), { recursive: true });
      mkdirSync(join(root, 'bin'));
      const mamba = join(root, 'bin', 'mamba');
      // Answers the scan's `env list --json`; otherwise says what it was asked.
      writeFileSync(
        mamba,
        `#!/bin/sh\n[ "$*" = "env list --json" ] && { echo '{"envs": []}'; exit 0; }\nprintf 'asked:%s\\n' "$@"\n`,
        { mode: 0o755 }
      );
      execFileSync('chown', ['-R', `${demo.user}:${demo.user}`, root]);

      const s = await startWithCluster();
      const test = await s.api<IConnectionTest>(
        'POST',
        '/api/v1/clusters/demo/test'
      );
      expect(test.body.tools.mamba).toBe(mamba);
      expect(test.body.toolsOnPath).toEqual([]);
      expect((await runThere(s, 'command -v mamba')).exitCode).not.toBe(0);

      const list = (
        await s.api<IEnvironmentList>('GET', '/api/v1/clusters/demo/envs')
      ).body;
      expect(list.tools.mamba).toBe(mamba);
      const hint = installIpykernelCommand(list, byPrefix(list, analysis));
      // analysis belongs to the Miniforge install: -p, not this mamba's -n.
      expect(hint).toBe(`${mamba} install -p ${analysis} ipykernel`);
      const ran = await runThere(s, hint);
      expect(ran.exitCode).toBe(0);
      expect(ran.stdout).toBe(
        ['install', '-p', analysis, 'ipykernel']
          .map(a => `asked:${a}\n`)
          .join('')
      );
    });
  });

  describe('with awkward and broken envs added', () => {
    let dir: string;
    let added: string[] = [];
    const canary = join(clusterHome, 'pwned');

    beforeEach(() => {
      dir = mkdtempSync(join(clusterHome, 'jlhpc-envs-test-'));
      // Other tests may add and remove their own lines meanwhile: take out
      // exactly ours, never write back an old copy.
      cleanups.push(() => {
        const ours = new Set(added);
        const now = readFileSync(envsTxt, 'utf8').split('\n');
        writeFileSync(envsTxt, now.filter(l => !ours.has(l)).join('\n'));
        rmSync(dir, { recursive: true, force: true });
      });
      for (const name of AWKWARD) {
        makeEnv(join(dir, 'envs', name), { ipykernel: true });
      }
      makeEnv(join(dir, 'envs', 'jupyterlab'));
      makeEnv(join(dir, 'no python'), { python: null, ipykernel: true });
      makeEnv(join(dir, 'locked'));
      execFileSync('chown', ['-R', `${demo.user}:${demo.user}`, dir]);
      chmodSync(join(dir, 'locked', 'conda-meta'), 0o000);
      added = [
        ...AWKWARD.filter(n => !n.includes('\n')).map(n =>
          join(dir, 'envs', n)
        ),
        join(dir, 'envs', 'jupyterlab'),
        join(dir, 'no python'),
        join(dir, 'locked'),
        join(dir, 'gone')
      ];
      const before = readFileSync(envsTxt, 'utf8');
      writeFileSync(
        envsTxt,
        (before === '' || before.endsWith('\n') ? before : before + '\n') +
          added.join('\n') +
          '\n'
      );
    });

    it('lists them all exactly, broken ones with their problems, executing nothing', async () => {
      const s = await startWithCluster();
      const list = (
        await s.api<IEnvironmentList>('GET', '/api/v1/clusters/demo/envs')
      ).body;
      for (const name of AWKWARD.filter(n => !n.includes('\n'))) {
        expect(byPrefix(list, join(dir, 'envs', name))).toMatchObject({
          name,
          kind: 'named',
          ipykernelVersion: '6.29.5',
          problems: []
        });
      }
      // The demo's own envs are all still there.
      for (const d of demo.envs) {
        expect(byPrefix(list, d.prefix).problems).toEqual([]);
      }
      // Same name, another envs dir: nb_conda_kernels' disambiguation.
      expect(byPrefix(list, join(dir, 'envs', 'jupyterlab')).kernelName).toBe(
        `conda-env-${dir.split('/').pop()!.toLowerCase()}-jupyterlab-py`
      );
      expect(byPrefix(list, jupyterlabEnv).kernelName).toBe(
        'conda-env-jupyterlab-py'
      );
      expect(
        byPrefix(list, join(dir, 'no python')).problems.map(p => p.code)
      ).toEqual(['missing-python']);
      expect(
        byPrefix(list, join(dir, 'locked')).problems.map(p => p.code)
      ).toEqual(['unreadable']);
      expect(
        byPrefix(list, join(dir, 'gone')).problems.map(p => p.code)
      ).toEqual(['missing-prefix']);
      expect(list.jupyterlabPrefix).toBe(jupyterlabEnv);
      expect(existsSync(canary)).toBe(false);
    });

    it('registers kernels into the JupyterLab env, which lists them, and removes them', async () => {
      const s = await startWithCluster();
      const kernels = join(jupyterlabEnv, 'share', 'jupyter', 'kernels');
      const written: string[] = [];
      cleanups.push(() => {
        for (const k of written) {
          rmSync(join(kernels, k), { recursive: true, force: true });
        }
      });
      const project = demo.envs.find(e => e.name === 'my-project-env')!.prefix;
      const reg = await s.api<IRegisterKernelResult>(
        'POST',
        '/api/v1/clusters/demo/kernels',
        { prefix: project }
      );
      written.push('conda-env-my-project-env-py');
      expect(reg.status).toBe(201);
      expect(reg.body.kernel).toMatchObject({
        name: 'conda-env-my-project-env-py',
        path: join(kernels, 'conda-env-my-project-env-py'),
        envPrefix: project,
        managed: true
      });
      await s.waitForEvent(envsChanged('demo', true));

      const odd = join(dir, 'envs', 'say "hi"');
      const oddReg = await s.api<IRegisterKernelResult>(
        'POST',
        '/api/v1/clusters/demo/kernels',
        { prefix: odd }
      );
      expect(oddReg.status).toBe(201);
      const oddName = oddReg.body.kernel.name;
      written.push(oddName);
      expect(oddName).toBe(
        `conda-env-${dir.split('/').pop()!.toLowerCase()}-say__hi_-py`
      );

      const remote = remoteKernelspecs();
      expect(remote['conda-env-my-project-env-py'].spec.argv).toEqual([
        join(project, 'bin', 'python'),
        '-m',
        'ipykernel_launcher',
        '-f',
        '{connection_file}'
      ]);
      expect(remote[oddName].spec.argv[0]).toBe(join(odd, 'bin', 'python'));
      expect(existsSync(canary)).toBe(false);

      const list = (
        await s.api<IEnvironmentList>('GET', '/api/v1/clusters/demo/envs')
      ).body;
      expect(byPrefix(list, project).registered?.name).toBe(
        'conda-env-my-project-env-py'
      );
      const refused = await s.api('POST', '/api/v1/clusters/demo/kernels', {
        prefix: demo.envs.find(e => e.name === 'analysis')!.prefix
      });
      expect(refused.body.error.code).toBe('ipykernel-missing');
      // ipykernel's own python3 kernel in the JupyterLab env is not ours.
      const notOurs = await s.api(
        'DELETE',
        '/api/v1/clusters/demo/kernels/python3'
      );
      expect(notOurs.body.error.code).toBe('kernel-not-managed');

      for (const name of ['conda-env-my-project-env-py', oddName]) {
        const del = await s.api(
          'DELETE',
          `/api/v1/clusters/demo/kernels/${encodeURIComponent(name)}`
        );
        expect(del.status).toBe(200);
        expect(existsSync(join(kernels, name))).toBe(false);
      }
      expect(Object.keys(remoteKernelspecs())).not.toContain(
        'conda-env-my-project-env-py'
      );
    });

    it('says where kernels cannot go when the JupyterLab env does not exist', async () => {
      const s = await startWithCluster('no-such-env');
      const list = (
        await s.api<IEnvironmentList>('GET', '/api/v1/clusters/demo/envs')
      ).body;
      expect(list.kernelsDir).toBeNull();
      expect(list.warnings.join(' ')).toMatch(/no-such-env/);
      const reg = await s.api('POST', '/api/v1/clusters/demo/kernels', {
        prefix: demo.envs.find(e => e.name === 'my-project-env')!.prefix
      });
      expect(reg.status).toBe(409);
      expect(reg.body.error.code).toBe('kernels-dir-unknown');
    });
  });
});
