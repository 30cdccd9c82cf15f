/**
 * The pure parts of environment discovery and kernel registration:
 * nb_conda_kernels' naming, conda-meta record names, kernel.json reading and
 * writing, request checks, and the builder on real collector output (the
 * demo cluster's, captured by running COLLECT_SCRIPT there as its user).
 */
import { spawnSync } from 'child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { parseRegisterRequest } from '../../../src/sidecar/api/env-routes';
import {
  buildEnvironmentList,
  recordVersion
} from '../../../src/sidecar/conda/build';
import { FactsError, parseFacts } from '../../../src/sidecar/conda/facts';
import {
  buildKernelJson,
  parseKernelspec,
  REGISTER_SCRIPT,
  UNREGISTER_SCRIPT
} from '../../../src/sidecar/conda/kernelspec';
import {
  cleanKernelName,
  compareCodePoints,
  condaKernelNames
} from '../../../src/sidecar/conda/naming';
import { SidecarError } from '../../../src/sidecar/errors';

const DEMO = readFileSync(
  join(__dirname, 'fixtures', 'conda', 'demo-cluster.bin')
);

describe('cleanKernelName (nb_conda_kernels clean_kernel_name)', () => {
  it.each([
    ['conda-env-my-project-env-py', 'conda-env-my-project-env-py'],
    ['conda-env-with space-py', 'conda-env-with_space-py'],
    ["conda-env-it's-py", 'conda-env-it_s-py'],
    ['conda-env-$(rm -rf ~)-py', 'conda-env-__rm_-rf___-py'],
    ['conda-env-café-py', 'conda-env-cafe-py'],
    ['conda-env-naïve ümlaut-py', 'conda-env-naive_umlaut-py'],
    ['conda-env-环境-py', 'conda-env-__-py'],
    ['conda-env-a😀b-py', 'conda-env-a_b-py'],
    ['conda-env-new\nline-py', 'conda-env-new_line-py'],
    ['conda-env-v1.2_x-py', 'conda-env-v1.2_x-py']
  ])('%j → %j', (raw, clean) => {
    expect(cleanKernelName(raw)).toBe(clean);
  });
});

describe('condaKernelNames (nb_conda_kernels _all_envs)', () => {
  const base = '/home/u/miniforge3';
  it.each([
    ['the base env', [base], base, 'base', 'conda-base-py'],
    [
      'a named env',
      [`${base}/envs/torch`],
      `${base}/envs/torch`,
      'torch',
      'conda-env-torch-py'
    ],
    [
      'a -p env',
      ['/scratch/u/proj/.venv-x'],
      '/scratch/u/proj/.venv-x',
      '.venv-x',
      'conda-env-.venv-x-py'
    ],
    [
      'an env in another envs dir',
      ['/home/u/.conda/envs/x'],
      '/home/u/.conda/envs/x',
      '.conda-x',
      'conda-env-.conda-x-py'
    ],
    [
      'a mixed-case name (lowercased)',
      [`${base}/envs/MyEnv`],
      `${base}/envs/MyEnv`,
      'MyEnv',
      'conda-env-myenv-py'
    ]
  ])('%s', (_what, prefixes, prefix, envName, kernelName) => {
    const names = condaKernelNames(prefixes as string[], base);
    expect(names.get(prefix as string)).toEqual({
      envName,
      kernelName,
      displayName: `Python [conda env:${envName}]`
    });
  });

  it('disambiguates clashes in sorted order, as nb_conda_kernels does', () => {
    const names = condaKernelNames(
      [
        '/p/b/work',
        `${base}/envs/work`,
        '/p/a/work',
        '/q/envs/work',
        '/r/q/envs/work'
      ],
      base
    );
    const got = Object.fromEntries([...names].map(([p, n]) => [p, n.envName]));
    expect(got).toEqual({
      [base]: 'base',
      [`${base}/envs/work`]: 'work',
      '/p/a/work': 'work-2',
      '/p/b/work': 'work-3',
      '/q/envs/work': 'q-work',
      '/r/q/envs/work': 'q-work-2'
    });
  });

  it('without a base conda, nothing is base', () => {
    const names = condaKernelNames(['/x/envs/a', '/opt/root'], null);
    expect(names.get('/opt/root')?.envName).toBe('root');
    expect(names.get('/x/envs/a')?.envName).toBe('x-a');
  });

  it('sorts by code point like Python', () => {
    expect(['/b', '/\uE000', '/😀', '/a'].sort(compareCodePoints)).toEqual([
      '/a',
      '/b',
      '/\uE000',
      '/😀'
    ]);
  });
});

describe('recordVersion', () => {
  it.each([
    [['python-3.11.2-0_cpython.json'], 'python', '3.11.2'],
    [['python-3.12.1-hab00c5b_0_cpython.json'], 'python', '3.12.1'],
    [['ipykernel-6.29.3-pyhd33586a_0.json'], 'ipykernel', '6.29.3'],
    [['jupyterlab-4.6.6-pypi_0.json'], 'jupyterlab', '4.6.6'],
    [['python-dateutil-2.9.0-py_0.json'], 'python', null],
    [[], 'python', null]
  ])('%j %s → %j', (records, pkg, version) => {
    expect(recordVersion(records, pkg)).toBe(version);
  });
});

describe('parseFacts', () => {
  it('refuses output cut short or not from the script', () => {
    expect(() => parseFacts(Buffer.from(''))).toThrow(FactsError);
    expect(() => parseFacts(DEMO.subarray(0, 200))).toThrow(FactsError);
    expect(() => parseFacts(Buffer.from('hello\0world\0'))).toThrow(
      /unknown record/
    );
  });

  it('reads the kernel.json files after G whole', () => {
    const facts = parseFacts(DEMO);
    const file =
      '/home/hpcdemo/.local/miniforge/envs/jupyterlab/share/jupyter/kernels/python3/kernel.json';
    expect(JSON.parse(facts.kernelFiles.get(file)!)).toMatchObject({
      display_name: 'Python 3 (ipykernel)'
    });
    expect(facts.kernelFiles.size).toBe(3);
  });
});

describe('buildEnvironmentList on the demo cluster', () => {
  const list = buildEnvironmentList(parseFacts(DEMO), {
    target: 'demo',
    kernelsDir: null,
    jupyterEnvironment: 'jupyterlab',
    scannedAt: 1,
    durationMs: 2,
    roundTrips: 1
  });
  const M = '/home/hpcdemo/.local/miniforge';

  it.each([
    [
      'base',
      M,
      'base',
      false,
      false,
      'conda-base-py',
      ['root', 'environments.txt']
    ],
    [
      'jupyterlab',
      `${M}/envs/jupyterlab`,
      'named',
      true,
      true,
      'conda-env-jupyterlab-py',
      ['envs-dir', 'environments.txt']
    ],
    [
      'my-project-env',
      `${M}/envs/my-project-env`,
      'named',
      true,
      false,
      'conda-env-my-project-env-py',
      ['envs-dir', 'environments.txt']
    ],
    [
      'analysis',
      `${M}/envs/analysis`,
      'named',
      false,
      false,
      'conda-env-analysis-py',
      ['envs-dir', 'environments.txt']
    ],
    [
      'scratch-env',
      '/home/hpcdemo/projects/scratch-env',
      'prefix',
      true,
      false,
      'conda-env-scratch-env-py',
      ['environments.txt']
    ]
  ])('%s', (name, prefix, kind, ipykernel, jupyterlab, kernelName, sources) => {
    const e = list.envs.find(x => x.prefix === prefix);
    expect(e).toMatchObject({
      name,
      kind,
      pythonVersion: '3.11.2',
      kernelName,
      sources,
      problems: []
    });
    expect(e!.ipykernelVersion !== null).toBe(ipykernel);
    expect(e!.jupyterlabVersion !== null).toBe(jupyterlab);
  });

  it('knows the JupyterLab env and where kernels go', () => {
    expect(list.envs.map(e => e.name)).toEqual([
      'base',
      'analysis',
      'jupyterlab',
      'my-project-env',
      'scratch-env'
    ]);
    expect(list.jupyterlabPrefix).toBe(`${M}/envs/jupyterlab`);
    expect(list.kernelsDir).toBe(`${M}/envs/jupyterlab/share/jupyter/kernels`);
    expect(list.roots).toEqual([M]);
    expect(list.warnings).toEqual([]);
  });

  it('warns when the JupyterLab env is missing or lacks JupyterLab', () => {
    const facts = parseFacts(DEMO);
    const missing = buildEnvironmentList(facts, {
      target: 'demo',
      kernelsDir: null,
      jupyterEnvironment: 'nope',
      scannedAt: 1,
      durationMs: 2,
      roundTrips: 1
    });
    expect(missing.kernelsDir).toBeNull();
    expect(missing.warnings[0]).toMatch(/"nope" was not found/);
    const noLab = buildEnvironmentList(facts, {
      target: 'demo',
      kernelsDir: null,
      jupyterEnvironment: `${M}/envs/analysis/`,
      scannedAt: 1,
      durationMs: 2,
      roundTrips: 1
    });
    expect(noLab.jupyterlabPrefix).toBe(`${M}/envs/analysis`);
    expect(noLab.warnings[0]).toMatch(/JupyterLab is not installed/);
  });
});

describe('kernel.json', () => {
  it('is what ipykernel install writes, with our marker', () => {
    const text = buildKernelJson({
      prefix: "/h/envs/it's $(x)",
      displayName: "Python [conda env:it's $(x)]",
      envName: "it's $(x)",
      target: 'demo'
    });
    expect(JSON.parse(text)).toEqual({
      argv: [
        "/h/envs/it's $(x)/bin/python",
        '-m',
        'ipykernel_launcher',
        '-f',
        '{connection_file}'
      ],
      display_name: "Python [conda env:it's $(x)]",
      language: 'python',
      metadata: {
        debugger: true,
        jupyterlab_hpc: {
          envPrefix: "/h/envs/it's $(x)",
          envName: "it's $(x)",
          target: 'demo'
        }
      }
    });
    const info = parseKernelspec('/k/Conda-Env-X-py', text, new Set()).info;
    expect(info).toMatchObject({
      name: 'conda-env-x-py',
      managed: true,
      envPrefix: "/h/envs/it's $(x)",
      executable: "/h/envs/it's $(x)/bin/python"
    });
  });

  it.each([
    [
      'argv[0] in a known env',
      { argv: ['/e/envs/a/bin/python3.11', '-m', 'ipykernel'] },
      '/e/envs/a'
    ],
    [
      'the longest known prefix',
      { argv: ['/e/envs/a/envs/b/bin/python'] },
      '/e/envs/a/envs/b'
    ],
    [
      "nb_conda_kernels' runner",
      {
        argv: [
          'python',
          '-m',
          'nb_conda_kernels.runner',
          '/e',
          '/p/q',
          'python',
          '-m',
          'ipykernel_launcher'
        ]
      },
      '/p/q'
    ],
    ['a relative python', { argv: ['python', '-m', 'ipykernel'] }, null],
    ['an unknown env', { argv: ['/usr/bin/python3'] }, null]
  ])('envPrefix from %s', (_what, spec, prefix) => {
    const known = new Set(['/e/envs/a', '/e/envs/a/envs/b', '/e']);
    expect(
      parseKernelspec('/k/x', JSON.stringify(spec), known).info.envPrefix
    ).toBe(prefix);
  });

  it('marks files that are not kernelspecs', () => {
    expect(parseKernelspec('/k/x', '{', new Set()).error).toMatch(
      /not valid JSON/
    );
    expect(parseKernelspec('/k/x', '[]', new Set()).error).toMatch(
      /not a JSON object/
    );
    expect(parseKernelspec('/k/x', '{}', new Set()).error).toMatch(/argv/);
  });
});

describe('the register and unregister scripts under dash', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'jlhpc-register-'));
  });
  afterEach(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const sh = (script: string, ...args: string[]) =>
    spawnSync('dash', ['-c', script, 'jlhpc', ...args], { cwd: work });

  it('writes kernel.json and the logos once, then reports it exists', () => {
    const prefix = join(work, "env $(touch PWNED) 'q'\n");
    const res = join(
      prefix,
      'lib',
      'python3.11',
      'site-packages',
      'ipykernel',
      'resources'
    );
    mkdirSync(res, { recursive: true });
    writeFileSync(join(res, 'logo-32x32.png'), 'png');
    writeFileSync(join(res, 'logo-svg.svg'), 'svg');
    const kernels = join(work, 'share dir', 'kernels');
    const text = buildKernelJson({
      prefix,
      displayName: 'D',
      envName: 'e',
      target: 't'
    });
    const first = sh(REGISTER_SCRIPT, kernels, 'conda-env-e-py', text, prefix);
    expect(first.status).toBe(0);
    expect(first.stdout.toString()).toBe('created\0');
    const dir = join(kernels, 'conda-env-e-py');
    expect(readFileSync(join(dir, 'kernel.json'), 'utf8')).toBe(text);
    expect(readdirSync(dir).sort()).toEqual([
      'kernel.json',
      'logo-32x32.png',
      'logo-svg.svg'
    ]);
    const again = sh(REGISTER_SCRIPT, kernels, 'conda-env-e-py', '{}', prefix);
    expect(again.stdout.toString()).toBe(`exists\0${text}`);
    expect(readFileSync(join(dir, 'kernel.json'), 'utf8')).toBe(text);
    expect(existsSync(join(work, 'PWNED'))).toBe(false);

    expect(sh(UNREGISTER_SCRIPT, join(kernels, 'nothing')).status).toBe(4);
    expect(sh(UNREGISTER_SCRIPT, dir).status).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(kernels)).toBe(true);
  });

  it('fails with a status when the directory cannot be made', () => {
    writeFileSync(join(work, 'file'), '');
    const r = sh(
      REGISTER_SCRIPT,
      join(work, 'file', 'kernels'),
      'k',
      '{}',
      '/x'
    );
    expect(r.status).toBe(3);
  });
});

describe('parseRegisterRequest', () => {
  it.each([
    [{ prefix: '/e/x' }, { prefix: '/e/x' }],
    [
      { prefix: '/e/x', kernelName: 'My-Kernel.1', displayName: 'Py ✓' },
      { prefix: '/e/x', kernelName: 'my-kernel.1', displayName: 'Py ✓' }
    ]
  ])('accepts %j', (body, request) => {
    expect(parseRegisterRequest(body)).toEqual(request);
  });

  it.each([
    [{}],
    [{ prefix: 'relative' }],
    [{ prefix: '/e', kernelName: 'a/b' }],
    [{ prefix: '/e', kernelName: 'has space' }],
    [{ prefix: '/e', kernelName: '' }],
    [{ prefix: '/e', displayName: 'two\nlines' }],
    [{ prefix: '/e', displayName: 7 }]
  ])('refuses %j', body => {
    let err: unknown;
    try {
      parseRegisterRequest(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SidecarError);
    expect((err as SidecarError).code).toBe('bad-request');
  });
});
