import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';
import { act } from 'react';

import { IKernelProfile, LOCAL_TARGET } from '../../../src/common/api';
import {
  addKernelCommands,
  IConfirmation
} from '../../../src/lab/commands/kernels';
import { EnvRow } from '../../../src/lab/envs/env-section';
import { IProfileFormOptions } from '../../../src/lab/kernels/profile-dialog';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { demoList, env } from './env-fixtures';
import { until } from './fixtures';
import { FakeKernels, profileInfo } from './kernel-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createRoot } = require('react-dom/client') as {
  createRoot: (node: Element) => IRoot;
};
(
  globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
).IS_REACT_ACT_ENVIRONMENT = true;

const TORCH = env('torch');

let host: HTMLDivElement;
let root: IRoot;
let commands: CommandRegistry;
let kernels: FakeKernels;
let forms: IProfileFormOptions[];
let questions: IConfirmation[];

beforeEach(() => {
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
  commands = new CommandRegistry();
  kernels = new FakeKernels();
  forms = [];
  questions = [];
  addKernelCommands({
    commands,
    trans,
    kernels,
    sessions: {
      offer: async () => {
        throw new Error('not in this test');
      },
      check: async () => ({ problems: [], unchecked: [] })
    },
    settings: new ClusterSettings(),
    envs: null,
    showForm: async options => {
      forms.push(options);
      return null;
    },
    confirm: async q => {
      questions.push(q);
      return true;
    }
  });
});

afterEach(() => {
  act(() => root.unmount());
  host.remove();
});

function render(
  target: string,
  e = TORCH,
  profiles: IKernelProfile[] = []
): void {
  act(() =>
    root.render(
      <ul>
        <EnvRow
          env={e}
          list={demoList()}
          target={target}
          isBusy={() => false}
          installing={null}
          profiles={profiles}
          commands={commands}
          trans={trans}
        />
      </ul>
    )
  );
}

const button = (text: string) =>
  Array.from(host.querySelectorAll('button')).find(
    b => b.textContent === text
  ) ?? null;

describe('cluster kernels in the environment rows', () => {
  it('offers "Add as cluster kernel…" for a cluster environment with ipykernel', async () => {
    render('demo');
    const add = button('Add as cluster kernel…')!;
    expect(add.disabled).toBe(false);
    act(() => add.click());
    await until(() => forms.length === 1);
    expect(forms[0]).toMatchObject({
      cluster: 'demo',
      environment: TORCH.prefix,
      envName: 'torch',
      profile: null
    });
  });

  it('offers it neither on this computer nor for an environment without ipykernel', () => {
    render(LOCAL_TARGET);
    expect(button('Add as cluster kernel…')).toBeNull();
    render('demo', env('analysis', { ipykernelVersion: null }));
    expect(button('Add as cluster kernel…')).toBeNull();
  });

  it('lists the profiles of the environment with resources and a cluster working directory', async () => {
    const profile = profileInfo({ environment: TORCH.prefix });
    kernels.profiles = [profile];
    render('demo', TORCH, [profile]);
    const item = host.querySelector<HTMLLIElement>(
      'li[data-profile-id="abcd1234"]'
    )!;
    expect(item.dataset.specName).toBe('hpc-abcd1234');
    expect(item.querySelector('.jp-HpcProfile-name')?.textContent).toBe(
      'Python [conda env:torch] on demo'
    );
    expect(item.querySelector('.jp-HpcProfile-resources')?.textContent).toBe(
      'debug · 1:00:00 · 2 CPUs · 4G'
    );
    expect(item.querySelector('.jp-HpcProfile-cwd')?.textContent).toBe(
      'runs in demo:~/project'
    );

    act(() => button('Edit…')!.click());
    await until(() => forms.length === 1);
    expect(forms[0].profile).toBe(profile);

    act(() => button('Remove')!.click());
    await until(() => kernels.removed.length === 1);
    expect(questions[0].title).toBe(
      'Remove the cluster kernel "Python [conda env:torch] on demo"?'
    );
    expect(kernels.removed).toEqual(['abcd1234']);
  });

  it('shows the home directory as ~ on the cluster', () => {
    const profile = profileInfo({ workingDirectory: '' });
    kernels.profiles = [profile];
    render('demo', TORCH, [profile]);
    expect(host.querySelector('.jp-HpcProfile-cwd')?.textContent).toBe(
      'runs in demo:~'
    );
  });
});
