/*
 * The install tasks' probes and helper scripts, run for real by dash and bash
 * against directories made to look like conda installs, and the pure checks
 * of prefixes and installer URLs.
 */
import { spawn, spawnSync } from 'child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  killTaggedCommand,
  RUN_TAG_VARIABLE
} from '../../../src/sidecar/ssh/command-runner';
import {
  checkMiniforgePrefix,
  displayUrl,
  IPYKERNEL_PROBE_SCRIPT,
  ipykernelInstallArgv,
  MAKE_TEMP_DIR_SCRIPT,
  MINIFORGE_PROBE_SCRIPT,
  parseIpykernelProbe,
  parseMiniforgeProbe,
  REMOVE_PARTIAL_SCRIPT,
  resolveInstallerUrl,
  TEMP_DIR
} from '../../../src/sidecar/tasks/scripts';
import { skipMissing } from '../../support/skip';

const installed = (s: string) => spawnSync(s, ['-c', 'true']).status === 0;
const SHELLS = ['/bin/sh', '/bin/bash'].filter(installed);
skipMissing(
  'install scripts with',
  ['/bin/sh', '/bin/bash'].filter(s => !installed(s))
);

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-scripts-'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function program(path: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
  return path;
}

function run(
  shell: string,
  script: string,
  args: string[],
  env: Record<string, string>
): string {
  const r = spawnSync(shell, ['-c', script, 'jlhpc', ...args], {
    env: { PATH: '/usr/bin:/bin', ...env },
    encoding: 'utf8'
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe.each(SHELLS)('IPYKERNEL_PROBE_SCRIPT with %s', shell => {
  let root: string;
  let home: string;
  let bin: string;

  beforeAll(() => {
    const base = mkdtempSync(join(work, `ipk "it's" `));
    root = join(base, 'mini forge');
    home = join(base, 'home');
    bin = join(base, 'bin');
    mkdirSync(join(root, 'conda-meta'), { recursive: true });
    program(join(root, 'bin', 'python'));
    program(join(root, 'bin', 'conda'));
    program(join(root, 'condabin', 'conda'));
    mkdirSync(join(root, 'envs', 'no kernel', 'conda-meta'), {
      recursive: true
    });
    program(join(root, 'envs', 'no kernel', 'bin', 'python'));
    mkdirSync(join(root, 'envs', 'plain'), { recursive: true });
    program(join(bin, 'mamba'));
    program(join(home, '.local', 'miniforge', 'bin', 'micromamba'));
    // A directory named like a tool is not one.
    mkdirSync(join(home, '.local', 'miniforge', 'bin', 'conda'));
  });

  const probe = (prefix: string, env: Record<string, string> = {}) =>
    parseIpykernelProbe(
      run(shell, IPYKERNEL_PROBE_SCRIPT, [prefix], {
        HOME: home,
        PATH: `${bin}:/usr/bin:/bin`,
        ...env
      })
    );

  it("lists the env's own root first, then PATH, CONDA_EXE, ~/.local/miniforge", () => {
    const env = join(root, 'envs', 'no kernel');
    const conda = program(join(work, 'elsewhere', 'conda'));
    expect(probe(env, { CONDA_EXE: conda })).toEqual({
      state: 'env',
      python: join(env, 'bin', 'python'),
      tools: [
        join(root, 'bin', 'conda'),
        join(root, 'condabin', 'conda'),
        join(bin, 'mamba'),
        conda,
        join(home, '.local', 'miniforge', 'bin', 'micromamba')
      ]
    });
  });

  it('takes a base env as its own root', () => {
    expect(probe(root).tools[0]).toBe(join(root, 'bin', 'conda'));
  });

  it('tells a missing directory from one that is not an env', () => {
    expect(probe(join(root, 'envs', 'plain')).state).toBe('not-env');
    expect(probe(join(root, 'envs', 'gone')).state).toBe('missing');
  });
});

describe('ipykernelInstallArgv', () => {
  it('uses the first conda-like tool, else the env pip', () => {
    const prefix = '/p/envs/x';
    expect(
      ipykernelInstallArgv(prefix, {
        state: 'env',
        python: `${prefix}/bin/python`,
        tools: ['/r/bin/mamba', '/r/bin/conda']
      })
    ).toEqual({
      argv: ['/r/bin/mamba', 'install', '-y', '-p', prefix, 'ipykernel'],
      env: {},
      via: 'mamba'
    });
    expect(
      ipykernelInstallArgv(prefix, { state: 'env', python: null, tools: [] })
    ).toMatchObject({
      argv: [
        `${prefix}/bin/python`,
        '-m',
        'pip',
        'install',
        '--progress-bar',
        'off',
        'ipykernel'
      ],
      via: 'pip'
    });
  });

  it('ignores what is not an absolute path in the probe', () => {
    expect(
      parseIpykernelProbe(
        'state=env\ntool=conda\ntool=/a/conda\ntool=/a/conda\n'
      ).tools
    ).toEqual(['/a/conda']);
  });
});

describe.each(SHELLS)('MINIFORGE_PROBE_SCRIPT with %s', shell => {
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(join(work, `home "$(x)" `));
    mkdirSync(join(home, 'empty'));
    mkdirSync(join(home, 'full'));
    writeFileSync(join(home, 'full', '.hidden'), '');
    writeFileSync(join(home, 'file'), '');
  });

  const probe = (prefix: string) =>
    parseMiniforgeProbe(
      run(shell, MINIFORGE_PROBE_SCRIPT, [prefix], { HOME: home })
    );

  it.each([
    ['~/.local/miniforge', '.local/miniforge', 'no'],
    ['~/empty', 'empty', 'empty'],
    ['~/full', 'full', 'nonempty'],
    ['~/file', 'file', 'file']
  ])('resolves %s against $HOME (%s: %s)', (asked, under, exists) => {
    const found = probe(asked);
    expect(found.prefix).toBe(join(home, under));
    expect(found.exists).toBe(exists);
    expect(found.arch).toBe(
      spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim()
    );
    expect(found.bash).toMatch(/^\/.*\/bash$/);
  });

  it('takes ~ and absolute paths as they are meant', () => {
    expect(probe('~').prefix).toBe(home);
    expect(probe('/opt/~/x').prefix).toBe('/opt/~/x');
  });
});

describe('MAKE_TEMP_DIR_SCRIPT and REMOVE_PARTIAL_SCRIPT', () => {
  it('makes a private directory under $TMPDIR that TEMP_DIR accepts', () => {
    const tmp = mkdtempSync(join(work, 'tmp '));
    const dir = run('/bin/sh', MAKE_TEMP_DIR_SCRIPT, [], {
      TMPDIR: tmp
    }).trim();
    expect(dir.startsWith(tmp + '/')).toBe(true);
    expect(TEMP_DIR.test(dir)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(TEMP_DIR.test('/')).toBe(false);
    expect(TEMP_DIR.test('/home/u')).toBe(false);
    expect(TEMP_DIR.test('/tmp/jlhpc-miniforge.*')).toBe(false);
  });

  it('removes a partial prefix, making an empty one again when asked', () => {
    const made = join(work, 'partial new');
    const empty = join(work, 'partial empty');
    for (const dir of [made, empty]) {
      mkdirSync(join(dir, 'bin'), { recursive: true });
    }
    run('/bin/sh', REMOVE_PARTIAL_SCRIPT, [made, 'new'], {});
    run('/bin/sh', REMOVE_PARTIAL_SCRIPT, [empty, 'empty'], {});
    expect(readdirSync(work)).not.toContain('partial new');
    expect(readdirSync(empty)).toEqual([]);
  });
});

describe('killTaggedCommand', () => {
  it('kills what ignores SIGTERM a few seconds later', async () => {
    const tag = 'a'.repeat(32);
    const stubborn = spawn('sh', ['-c', 'trap "" TERM; exec sleep 30'], {
      env: { PATH: '/usr/bin:/bin', [RUN_TAG_VARIABLE]: tag }
    });
    const gone = new Promise(resolve => stubborn.once('exit', resolve));
    try {
      await new Promise(r => setTimeout(r, 200));
      const started = Date.now();
      const r = spawnSync('/bin/sh', killTaggedCommand(tag).argv.slice(1), {
        timeout: 10_000
      });
      expect(r.status).toBe(0);
      await gone;
      expect(stubborn.signalCode).toBe('SIGKILL');
      expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    } finally {
      stubborn.kill('SIGKILL');
    }
  });

  it('kills the processes with the tag in their environment, and only them', async () => {
    const tag = 'f'.repeat(32);
    const tagged = spawn('sleep', ['30'], {
      env: { PATH: '/usr/bin:/bin', [RUN_TAG_VARIABLE]: tag }
    });
    const other = spawn('sleep', ['30'], {
      env: { PATH: '/usr/bin:/bin', [RUN_TAG_VARIABLE]: 'e'.repeat(32) }
    });
    const gone = new Promise(resolve => tagged.once('exit', resolve));
    try {
      const r = spawnSync('/bin/sh', killTaggedCommand(tag).argv.slice(1), {
        encoding: 'utf8',
        timeout: 10_000
      });
      expect(r.status).toBe(0);
      await gone;
      expect(tagged.signalCode).toBe('SIGTERM');
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      tagged.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });
});

describe('checkMiniforgePrefix', () => {
  it.each([
    ['~/.local/miniforge', '~/.local/miniforge'],
    ['~/mf/', '~/mf'],
    ['/opt/conda', '/opt/conda']
  ])('accepts %j as %j', (prefix, checked) => {
    expect(checkMiniforgePrefix(prefix)).toBe(checked);
  });

  it.each([
    '',
    'relative',
    '~user/x',
    '~/with space',
    '/a\nb',
    '~/../x',
    '/',
    '~',
    '~/'
  ])('refuses %j', prefix => {
    expect(() => checkMiniforgePrefix(prefix)).toThrow(
      expect.objectContaining({ code: 'bad-request' })
    );
  });
});

describe('resolveInstallerUrl', () => {
  const DEFAULT =
    'https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-{arch}.sh';

  it('puts uname -m where {arch} is', () => {
    expect(resolveInstallerUrl(DEFAULT, 'aarch64')).toBe(
      'https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-aarch64.sh'
    );
    expect(
      resolveInstallerUrl('http://mirror:8080/{arch}/{arch}.sh?t=1', 'x86_64')
    ).toBe('http://mirror:8080/x86_64/x86_64.sh?t=1');
  });

  it.each([
    ['ftp://h/x.sh', 'x86_64', /http:\/\/ or https:\/\//],
    ['file:///etc/passwd', 'x86_64', /http:\/\/ or https:\/\//],
    ['https://h/a b.sh', 'x86_64', /without spaces/],
    ['https://h/x.sh\n-o/tmp/x', 'x86_64', /without spaces/],
    ['//h/x.sh', 'x86_64', /not a URL/],
    [DEFAULT, 'x86_64; rm -rf ~', /uname -m said/],
    [DEFAULT, '', /uname -m said/]
  ])('refuses %j for arch %j', (url, arch, why) => {
    let error: unknown = null;
    try {
      resolveInstallerUrl(url, arch);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'installer-url' });
    expect((error as Error).message).toMatch(why);
  });
});

describe('displayUrl', () => {
  it('leaves out credentials, query and fragment', () => {
    expect(displayUrl('https://u:secret@h:8443/p/x.sh?token=abc#f')).toBe(
      'https://h:8443/p/x.sh?…'
    );
    expect(displayUrl('http://h/x.sh')).toBe('http://h/x.sh');
    expect(displayUrl('not a url?token=abc')).toBe('not a url');
  });
});
