/**
 * The collector script run for real by dash and bash against conda-layout
 * trees in a temporary home, its output read back by parseFacts and
 * buildEnvironmentList: awkward names, broken envs, .condarc forms, kernels.
 */
import { spawnSync } from 'child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type {
  ICondaEnvironment,
  IEnvironmentList
} from '../../../src/common/api';
import { buildEnvironmentList } from '../../../src/sidecar/conda/build';
import {
  COLLECT_SCRIPT,
  collectCommand,
  type ICollectHints
} from '../../../src/sidecar/conda/collect-script';
import { parseFacts } from '../../../src/sidecar/conda/facts';

let work: string;
let home: string;
let canary: string;

/** A conda-layout env: conda-meta records, bin/python, optional kernels. */
function makeEnv(
  prefix: string,
  options: {
    python?: string | null;
    packages?: string[];
    noPython?: boolean;
    kernels?: Record<string, string>;
  } = {}
): void {
  mkdirSync(join(prefix, 'conda-meta'), { recursive: true });
  writeFileSync(join(prefix, 'conda-meta', 'history'), '');
  const python = options.python === undefined ? '3.11.7' : options.python;
  if (python !== null) {
    writeFileSync(
      join(prefix, 'conda-meta', `python-${python}-hab00c5b_0_cpython.json`),
      '{}'
    );
  }
  // Neighbours that must not be taken for python/ipykernel/jupyterlab.
  for (const decoy of [
    'python-dateutil-2.9.0-pyhd8ed1ab_0.json',
    'ipython-8.20.0-pyh707e725_0.json',
    'jupyterlab_server-2.25.2-pyhd8ed1ab_0.json',
    'jupyterlab-pygments-0.3.0-pyhd8ed1ab_1.json',
    'pip-24.0-pyhd8ed1ab_0.json'
  ]) {
    writeFileSync(join(prefix, 'conda-meta', decoy), '{}');
  }
  for (const pkg of options.packages ?? []) {
    writeFileSync(join(prefix, 'conda-meta', pkg), '{}');
  }
  if (!options.noPython) {
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    symlinkSync('/usr/bin/python3', join(prefix, 'bin', 'python'));
  }
  for (const [name, text] of Object.entries(options.kernels ?? {})) {
    mkdirSync(join(prefix, 'share', 'jupyter', 'kernels', name), {
      recursive: true
    });
    writeFileSync(
      join(prefix, 'share', 'jupyter', 'kernels', name, 'kernel.json'),
      text
    );
  }
}

const AWKWARD = [
  'with space',
  "it's",
  'say "hi"',
  '$(touch CANARY)',
  '`touch CANARY`',
  'new\nline',
  'ünï ✓ 环境',
  'glob[*]?',
  'semi;colon&amp|pipe',
  '-dash'
];

function run(
  shell: string,
  hints: ICollectHints = {},
  env: Record<string, string> = {}
): Buffer {
  const argv = collectCommand(hints).argv;
  expect(argv.slice(0, 3)).toEqual(['/bin/sh', '-c', COLLECT_SCRIPT]);
  const r = spawnSync(shell, ['-c', COLLECT_SCRIPT, ...argv.slice(3)], {
    cwd: home,
    env: { HOME: home, PATH: '/usr/bin:/bin', ...env }
  });
  expect(r.status).toBe(0);
  return r.stdout;
}

function build(stdout: Buffer, jupyterEnvironment: string | null = null) {
  return buildEnvironmentList(parseFacts(stdout), {
    target: 'test',
    kernelsDir: jupyterEnvironment === null ? join(home, 'kernels') : null,
    jupyterEnvironment,
    scannedAt: 0,
    durationMs: 0,
    roundTrips: 0
  });
}

function env(list: IEnvironmentList, prefix: string): ICondaEnvironment {
  const found = list.envs.find(e => e.prefix === prefix);
  if (!found) {
    throw new Error(
      `${JSON.stringify(prefix)} not listed; got ${JSON.stringify(list.envs.map(e => e.prefix))}`
    );
  }
  return found;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-collect-'));
  home = join(work, 'home');
  canary = join(home, 'CANARY');
  const root = join(home, '.local', 'miniforge');
  makeEnv(root, { python: '3.12.1' });
  makeEnv(join(root, 'envs', 'jupyterlab'), {
    packages: [
      'ipykernel-6.29.3-pyhd33586a_0.json',
      'jupyterlab-4.1.2-pyhd8ed1ab_0.json'
    ]
  });
  for (const name of AWKWARD) {
    makeEnv(join(root, 'envs', name), {
      packages: ['ipykernel-6.29.3-pyhd33586a_0.json']
    });
  }
  // ipykernel (and jupyterlab) added with pip: dist-info only, no record.
  makeEnv(join(root, 'envs', 'pip-kernel'), {});
  for (const dist of [
    'ipykernel-6.29.5',
    'jupyterlab-4.2.0',
    'jupyterlab_server-2.27.1'
  ]) {
    mkdirSync(
      join(
        root,
        'envs',
        'pip-kernel',
        'lib',
        'python3.11',
        'site-packages',
        `${dist}.dist-info`
      ),
      { recursive: true }
    );
  }
  makeEnv(join(root, 'envs', 'no-python'), { noPython: true });
  mkdirSync(join(root, 'envs', 'not-an-env', 'bin'), { recursive: true });
  makeEnv(join(root, 'envs', 'kernels'), {
    packages: ['ipykernel-6.29.3-pyhd33586a_0.json'],
    kernels: {
      python3: JSON.stringify({
        argv: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name: 'Python 3 (ipykernel)',
        language: 'python'
      }),
      broken: '{"argv": ["python", '
    }
  });
  // A second install with an env of a name the first one has too.
  makeEnv(join(home, 'miniconda3'), { python: '3.9.18' });
  makeEnv(join(home, 'miniconda3', 'envs', 'jupyterlab'), {
    python: '3.10.13'
  });
  // `conda create -p`, outside any envs dir, with awkward names.
  const projects = join(home, 'projects');
  makeEnv(join(projects, 'scratch-env'), {
    packages: ['ipykernel-6.29.3-pyhd33586a_0.json']
  });
  makeEnv(join(projects, 'p $(touch CANARY) `x`'), {});
  // envs dirs from .condarc (both YAML list forms) and CONDA_ENVS_PATH.
  makeEnv(join(home, 'rc-block', 'blockenv'), {});
  makeEnv(join(home, "rc flow's", 'flowenv'), {});
  makeEnv(join(home, 'from-var', 'varenv'), {});
  writeFileSync(
    join(home, '.condarc'),
    [
      'channels:',
      '  - conda-forge',
      'envs_dirs:',
      '  # where my envs live',
      '  - ~/rc-block   # trailing comment',
      '  - "~/missing dir"',
      'pkgs_dirs:',
      '  - ~/pkgs',
      'auto_activate_base: false',
      ''
    ].join('\r\n')
  );
  mkdirSync(join(home, '.config', 'conda'), { recursive: true });
  writeFileSync(
    join(home, '.config', 'conda', '.condarc'),
    `envs_path: ["$HOME/rc flow's", '/nonexistent']\n`
  );
  mkdirSync(join(home, '.conda'), { recursive: true });
  writeFileSync(
    join(home, '.conda', 'environments.txt'),
    [
      root,
      join(root, 'envs', 'jupyterlab'),
      join(root, 'envs', 'gone'),
      join(projects, 'scratch-env') + '/',
      '  ' + join(projects, 'p $(touch CANARY) `x`') + '  ',
      join(projects, 'vanished'),
      'relative/path',
      ''
    ].join('\n')
  );
  // The user's kernels dir: one kernel of ours, one foreign.
  const kernels = join(home, '.local', 'share', 'jupyter', 'kernels');
  mkdirSync(join(kernels, 'conda-env-scratch-env-py'), { recursive: true });
  writeFileSync(
    join(kernels, 'conda-env-scratch-env-py', 'kernel.json'),
    JSON.stringify({
      argv: [
        join(projects, 'scratch-env', 'bin', 'python'),
        '-m',
        'ipykernel_launcher',
        '-f',
        '{connection_file}'
      ],
      display_name: 'Python [conda env:scratch-env]',
      language: 'python'
    })
  );
  mkdirSync(join(kernels, 'ir'), { recursive: true });
  writeFileSync(
    join(kernels, 'ir', 'kernel.json'),
    JSON.stringify({ argv: ['R', '--slave'], display_name: 'R', language: 'R' })
  );
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe.each(['/bin/sh', 'dash', 'bash'])('the collector under %s', shell => {
  let list: IEnvironmentList;
  const root = () => join(home, '.local', 'miniforge');

  beforeAll(() => {
    list = build(
      run(shell, {}, { CONDA_ENVS_PATH: `${join(home, 'from-var')}:relative` }),
      'jupyterlab'
    );
  });

  it('executes nothing it reads', () => {
    expect(existsSync(canary)).toBe(false);
  });

  it('finds the roots, the main one first and named base', () => {
    expect(list.roots).toEqual([root(), join(home, 'miniconda3')]);
    expect(list.envs[0]).toMatchObject({
      name: 'base',
      prefix: root(),
      kind: 'base',
      pythonVersion: '3.12.1',
      kernelName: 'conda-base-py',
      displayName: 'Python [conda env:base]'
    });
    expect(env(list, join(home, 'miniconda3'))).toMatchObject({
      name: 'miniconda3',
      kind: 'base',
      kernelName: 'conda-env-miniconda3-py'
    });
  });

  it('lists every awkward name exactly, with its versions', () => {
    for (const name of AWKWARD) {
      expect(env(list, join(root(), 'envs', name))).toMatchObject({
        name,
        kind: 'named',
        root: root(),
        pythonVersion: '3.11.7',
        ipykernelVersion: '6.29.3',
        jupyterlabVersion: null,
        displayName: `Python [conda env:${name}]`,
        problems: []
      });
    }
    expect(env(list, join(root(), 'envs', 'ünï ✓ 环境')).kernelName).toBe(
      'conda-env-uni_____-py'
    );
    expect(env(list, join(root(), 'envs', "it's")).kernelName).toBe(
      'conda-env-it_s-py'
    );
  });

  it('sees ipykernel and jupyterlab that pip installed into an env', () => {
    expect(env(list, join(root(), 'envs', 'pip-kernel'))).toMatchObject({
      pythonVersion: '3.11.7',
      ipykernelVersion: '6.29.5',
      jupyterlabVersion: '4.2.0'
    });
  });

  it('does not take python-dateutil, ipython or jupyterlab_server for the real ones', () => {
    expect(env(list, join(root(), 'envs', 'jupyterlab'))).toMatchObject({
      pythonVersion: '3.11.7',
      ipykernelVersion: '6.29.3',
      jupyterlabVersion: '4.1.2'
    });
    expect(env(list, root()).ipykernelVersion).toBeNull();
  });

  it('tells duplicate names apart as nb_conda_kernels does', () => {
    expect(env(list, join(root(), 'envs', 'jupyterlab')).kernelName).toBe(
      'conda-env-jupyterlab-py'
    );
    expect(
      env(list, join(home, 'miniconda3', 'envs', 'jupyterlab'))
    ).toMatchObject({
      name: 'jupyterlab',
      root: join(home, 'miniconda3'),
      kernelName: 'conda-env-miniconda3-jupyterlab-py',
      displayName: 'Python [conda env:miniconda3-jupyterlab]'
    });
  });

  it('lists -p envs from environments.txt under their last path component', () => {
    expect(env(list, join(home, 'projects', 'scratch-env'))).toMatchObject({
      name: 'scratch-env',
      kind: 'prefix',
      root: null,
      kernelName: 'conda-env-scratch-env-py',
      sources: ['environments.txt']
    });
    expect(
      env(list, join(home, 'projects', 'p $(touch CANARY) `x`'))
    ).toMatchObject({ kind: 'prefix', problems: [] });
  });

  it('keeps broken envs and says what is wrong, without hiding the others', () => {
    expect(
      env(list, join(root(), 'envs', 'no-python')).problems.map(p => p.code)
    ).toEqual(['missing-python']);
    expect(
      env(list, join(root(), 'envs', 'gone')).problems.map(p => p.code)
    ).toEqual(['missing-prefix']);
    expect(
      env(list, join(home, 'projects', 'vanished')).problems.map(p => p.code)
    ).toEqual(['missing-prefix']);
    // A directory in an envs dir without conda-meta is not an env.
    expect(list.envs.some(e => e.name === 'not-an-env')).toBe(false);
    expect(list.envs.some(e => e.prefix.includes('relative'))).toBe(false);
  });

  it('reads envs_dirs from .condarc (block and flow lists) and $CONDA_ENVS_PATH', () => {
    // In an envs dir, so `conda activate blockenv` finds it by name.
    expect(env(list, join(home, 'rc-block', 'blockenv'))).toMatchObject({
      kind: 'named',
      sources: ['envs-dir']
    });
    expect(env(list, join(home, "rc flow's", 'flowenv')).sources).toEqual([
      'envs-dir'
    ]);
    expect(env(list, join(home, 'from-var', 'varenv')).sources).toEqual([
      'envs-dir'
    ]);
  });

  it('reads kernelspecs in envs, with bad ones as problems', () => {
    const withKernels = env(list, join(root(), 'envs', 'kernels'));
    expect(withKernels.kernelspecs.map(k => k.name)).toEqual([
      'broken',
      'python3'
    ]);
    expect(withKernels.problems.map(p => p.code)).toEqual(['bad-kernelspec']);
    expect(withKernels.kernelspecs[1]).toMatchObject({
      displayName: 'Python 3 (ipykernel)',
      executable: 'python',
      envPrefix: null,
      managed: false
    });
  });

  it('finds the JupyterLab env by name and the kernels registered in the Jupyter path', () => {
    expect(list.jupyterlabPrefix).toBe(join(root(), 'envs', 'jupyterlab'));
    expect(list.kernelsDir).toBe(
      join(root(), 'envs', 'jupyterlab', 'share', 'jupyter', 'kernels')
    );
    expect(list.kernelspecs.map(k => k.name)).toEqual([
      'conda-env-scratch-env-py',
      'ir'
    ]);
    expect(
      env(list, join(home, 'projects', 'scratch-env')).registered
    ).toMatchObject({
      name: 'conda-env-scratch-env-py',
      envPrefix: join(home, 'projects', 'scratch-env')
    });
    expect(list.kernelspecs[1].envPrefix).toBeNull();
  });
});

describe('the collector with hints', () => {
  it('scans the prefixes and kernels dirs it is given', () => {
    const extra = join(work, 'elsewhere', 'env\nwith newline');
    makeEnv(extra, { packages: ['ipykernel-6.0.0-py_0.json'] });
    const kdir = join(work, 'kernel dir');
    mkdirSync(join(kdir, 'k1'), { recursive: true });
    writeFileSync(
      join(kdir, 'k1', 'kernel.json'),
      JSON.stringify({
        argv: [join(extra, 'bin', 'python')],
        display_name: 'K'
      })
    );
    const list = build(
      run('dash', {
        condaPrefixes: [extra, 'not/absolute'],
        kernelDirs: [kdir]
      })
    );
    expect(env(list, extra)).toMatchObject({
      name: 'env\nwith newline',
      sources: ['conda'],
      ipykernelVersion: '6.0.0'
    });
    expect(list.kernelspecs.map(k => [k.name, k.envPrefix])).toEqual([
      ['k1', extra]
    ]);
    expect(env(list, extra).registered?.name).toBe('k1');
  });

  it('reports tools and roots from $CONDA_EXE and $MAMBA_EXE', () => {
    const root = join(work, 'opt-conda');
    makeEnv(root, {});
    mkdirSync(join(root, 'condabin'), { recursive: true });
    writeFileSync(join(root, 'condabin', 'conda'), '#!/bin/sh\n', {
      mode: 0o755
    });
    const mamba = join(work, 'bin', 'micromamba');
    mkdirSync(join(work, 'bin'), { recursive: true });
    writeFileSync(mamba, '#!/bin/sh\n', { mode: 0o755 });
    const facts = parseFacts(
      run(
        'dash',
        {},
        {
          CONDA_EXE: join(root, 'condabin', 'conda'),
          MAMBA_EXE: mamba,
          PATH: `${join(work, 'bin')}:/usr/bin:/bin`
        }
      )
    );
    expect(facts.roots[0]).toEqual({ path: root, origin: 'env-var' });
    expect(facts.tools).toContainEqual({
      tool: 'conda',
      path: join(root, 'condabin', 'conda')
    });
    expect(facts.tools).toContainEqual({ tool: 'micromamba', path: mamba });
    expect(facts.vars.MAMBA_EXE).toBe(mamba);
  });
});

describe('package managers', () => {
  let own: string;
  const miniforge = () => join(own, '.local', 'miniforge');
  const runIn = (hints: ICollectHints, path: string) =>
    spawnSync(
      'dash',
      ['-c', COLLECT_SCRIPT, ...collectCommand(hints).argv.slice(3)],
      {
        env: { HOME: own, PATH: path }
      }
    );

  beforeAll(() => {
    // The tutorial's Miniforge before `conda init`: conda is not on PATH.
    own = join(work, 'tools-home');
    makeEnv(miniforge(), {});
    makeEnv(join(miniforge(), 'envs', 'analysis'), {});
    for (const exe of ['bin/conda', 'condabin/conda', 'bin/mamba']) {
      mkdirSync(join(miniforge(), exe, '..'), { recursive: true });
      writeFileSync(join(miniforge(), exe), '#!/bin/sh\n', { mode: 0o755 });
    }
  });

  it("finds an install root's conda and mamba, and that PATH does not", () => {
    const r = runIn({}, '/usr/bin:/bin');
    expect(r.status).toBe(0);
    const list = build(r.stdout);
    expect(list.tools).toEqual({
      conda: join(miniforge(), 'condabin', 'conda'),
      mamba: join(miniforge(), 'bin', 'mamba'),
      micromamba: null
    });
    expect(list.toolsOnPath).toEqual([]);
  });

  it('says which of them the login PATH finds by name', () => {
    const r = runIn({}, `${join(miniforge(), 'bin')}:/usr/bin:/bin`);
    const list = build(r.stdout);
    expect(list.tools.conda).toBe(join(miniforge(), 'bin', 'conda'));
    expect(list.toolsOnPath).toEqual(['conda', 'mamba']);
  });

  it('stops after the package managers when asked for them only', () => {
    const r = runIn({ toolsOnly: true }, '/usr/bin:/bin');
    expect(r.status).toBe(0);
    const facts = parseFacts(r.stdout);
    expect(facts.roots).toEqual([{ path: miniforge(), origin: 'default' }]);
    expect(facts.tools.map(t => t.path)).toContain(
      join(miniforge(), 'bin', 'conda')
    );
    expect(facts.prefixes).toEqual([]);
    expect(facts.envsDirs).toEqual([]);
  });
});
