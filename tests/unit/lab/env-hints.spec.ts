import {
  condaCommand,
  createEnvCommand,
  installIpykernelCommand
} from '../../../src/lab/envs/messages';
import { demoList, env, ROOT } from './env-fixtures';

/*
 * Every hint must name a command that runs in the target's login shell:
 * a package manager by name only when the login PATH finds it, else by its
 * path, and the env's own pip when there is no package manager at all.
 */
const analysis = env('analysis', { ipykernelVersion: null });
const scratch = env('scratch-env', {
  kind: 'prefix',
  prefix: '/home/hpcdemo/projects/scratch env',
  root: null
});
const conda = `${ROOT}/bin/conda`;

describe('installIpykernelCommand', () => {
  it.each([
    [
      'conda on PATH',
      { conda, mamba: null, micromamba: null },
      ['conda'],
      analysis,
      'conda install -n analysis ipykernel'
    ],
    [
      "the env's own conda, not on PATH (Miniforge without conda init)",
      { conda, mamba: null, micromamba: null },
      [],
      analysis,
      `${ROOT}/bin/conda install -n analysis ipykernel`
    ],
    [
      'condabin/conda of the same install',
      { conda: `${ROOT}/condabin/conda`, mamba: null, micromamba: null },
      [],
      env('base', { ipykernelVersion: null }),
      `${ROOT}/condabin/conda install -n base ipykernel`
    ],
    [
      "another install's mamba, not on PATH: -n would look in its envs",
      { conda: null, mamba: '/opt/mamba/bin/mamba', micromamba: null },
      [],
      analysis,
      `/opt/mamba/bin/mamba install -p ${ROOT}/envs/analysis ipykernel`
    ],
    [
      'a path that needs quoting',
      {
        conda: "/home/o'neil/my conda/bin/conda",
        mamba: null,
        micromamba: null
      },
      [],
      analysis,
      `'/home/o'\\''neil/my conda/bin/conda' install -p ${ROOT}/envs/analysis ipykernel`
    ],
    [
      'an env made with -p',
      { conda, mamba: null, micromamba: null },
      ['conda'],
      scratch,
      "conda install -p '/home/hpcdemo/projects/scratch env' ipykernel"
    ],
    [
      'no package manager at all (the demo cluster)',
      { conda: null, mamba: null, micromamba: null },
      [],
      scratch,
      "'/home/hpcdemo/projects/scratch env/bin/python' -m pip install ipykernel"
    ]
  ] as const)('with %s', (_case, tools, onPath, target, expected) => {
    const list = demoList({ tools, toolsOnPath: [...onPath] });
    expect(installIpykernelCommand(list, target)).toBe(expected);
  });

  it('names conda before the first scan', () => {
    expect(installIpykernelCommand(null, analysis)).toBe(
      'conda install -n analysis ipykernel'
    );
  });
});

describe('condaCommand', () => {
  it('is null where there is no package manager', () => {
    expect(condaCommand(demoList(), analysis, 'ipykernel')).toBeNull();
  });
});

describe('createEnvCommand', () => {
  it('uses the path of a package manager PATH does not find', () => {
    const list = demoList({
      tools: { conda: null, mamba: null, micromamba: '/opt/mm/bin/micromamba' }
    });
    expect(createEnvCommand(list)).toBe(
      '/opt/mm/bin/micromamba create -n my-project-env python ipykernel'
    );
    expect(
      createEnvCommand(
        { ...list, toolsOnPath: ['micromamba'] },
        'jupyterlab',
        'jupyterlab ipykernel'
      )
    ).toBe('micromamba create -n jupyterlab jupyterlab ipykernel');
  });
});
