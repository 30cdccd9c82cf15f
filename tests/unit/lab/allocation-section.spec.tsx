import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';
import { act } from 'react';

import { IAllocationInfo } from '../../../src/common/api';
import {
  addKernelCommands,
  IConfirmation
} from '../../../src/lab/commands/kernels';
import { AllocationList } from '../../../src/lab/kernels/allocation-section';
import { AllocationRunningManager } from '../../../src/lab/kernels/running';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { CommandIDs } from '../../../src/lab/tokens';
import {
  allocationInfo,
  FakeKernels,
  kernelInfo,
  profileInfo
} from './kernel-fixtures';
import { until } from './fixtures';

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

let host: HTMLDivElement;
let root: IRoot;
let commands: CommandRegistry;
let kernels: FakeKernels;
let questions: IConfirmation[];
let answer: boolean;
let clock: number;

beforeEach(() => {
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
  commands = new CommandRegistry();
  kernels = new FakeKernels();
  kernels.profiles = [profileInfo()];
  questions = [];
  answer = true;
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
    confirm: async q => {
      questions.push(q);
      return answer;
    }
  });
  clock = 1_000_000;
});

afterEach(() => {
  act(() => root.unmount());
  host.remove();
  jest.useRealTimers();
});

function render(list: IAllocationInfo[]): void {
  kernels.allocations = list;
  act(() =>
    root.render(
      <AllocationList
        allocations={list}
        profiles={kernels.profiles}
        commands={commands}
        trans={trans}
        now={() => clock}
      />
    )
  );
}

const row = (id = 'a1') =>
  host.querySelector<HTMLLIElement>(`li[data-allocation-id="${id}"]`)!;
const stateOf = (id = 'a1') =>
  row(id).querySelector('[role="status"]')!.textContent;
const endButton = (id = 'a1') =>
  row(id).querySelector<HTMLButtonElement>('button.jp-HpcAllocation-end')!;

describe('AllocationList', () => {
  it('shows a running allocation: node, job, time left counting down, its kernels', () => {
    jest.useFakeTimers();
    render([
      allocationInfo({
        timeLeftSeconds: 55 * 60,
        observedAt: clock,
        kernels: [
          kernelInfo(),
          kernelInfo({
            kernelId: 'k-3333',
            notebookPath: null,
            state: 'starting'
          }),
          kernelInfo({ kernelId: 'k-gone', state: 'ended' })
        ]
      })
    ]);
    expect(stateOf()).toBe('Running on node1');
    expect(row().textContent).toContain('job 42');
    expect(row().textContent).toContain('55 min left');
    expect(row().textContent).toContain('Python [conda env:torch] on demo');
    const kernelRows = Array.from(
      row().querySelectorAll<HTMLLIElement>('li.jp-HpcAllocation-kernel')
    ).map(li => [li.dataset.kernelId, li.textContent]);
    expect(kernelRows).toEqual([
      ['k-1111-2222', 'work/analysis.ipynbrunning'],
      ['k-3333', 'kernel k-3333starting']
    ]);

    clock += 61_000;
    act(() => {
      jest.advanceTimersByTime(1000);
    });
    expect(row().textContent).toContain('53 min left');
    expect(row().dataset.secondsLeft).toBe(String(55 * 60 - 61));
  });

  it("shows a queued allocation with Slurm's reason and no time left yet", () => {
    render([
      allocationInfo({
        phase: 'queued',
        reason: 'Priority',
        node: null,
        startTime: null,
        kernels: [kernelInfo({ state: 'waiting' })]
      })
    ]);
    expect(stateOf()).toBe('Queued (Priority)');
    expect(row().textContent).toContain('start not estimated yet');
    expect(row().dataset.secondsLeft).toBeUndefined();
  });

  it('counts the grace period down once no kernel is left', () => {
    jest.useFakeTimers();
    render([allocationInfo({ kernels: [], releaseAt: clock + 5 * 60_000 })]);
    const release = () =>
      row().querySelector('.jp-HpcAllocation-release')?.textContent;
    expect(release()).toBe('No kernel left: released in 5 min');
    expect(row().dataset.releaseSeconds).toBe('300');
    clock += 4 * 60_000 + 30_000;
    act(() => {
      jest.advanceTimersByTime(1000);
    });
    expect(release()).toBe('No kernel left: released in less than a minute');
  });

  it('asks before ending the allocation, naming the kernels that stop', async () => {
    render([
      allocationInfo({
        kernels: [
          kernelInfo(),
          kernelInfo({ kernelId: 'k-2', notebookPath: 'b.ipynb' })
        ]
      })
    ]);
    answer = false;
    act(() => endButton().click());
    await until(() => questions.length === 1);
    expect(questions[0].title).toBe('End job 42 on demo?');
    expect(questions[0].body).toContain('Its 2 kernels stop');
    expect(questions[0].body).toContain('work/analysis.ipynb, b.ipynb');
    expect(questions[0].act).toBe('End allocation');
    await new Promise(r => setTimeout(r, 0));
    expect(kernels.ended).toEqual([]);

    answer = true;
    act(() => endButton().click());
    await until(() => kernels.ended.length === 1);
    expect(kernels.ended).toEqual(['a1']);
  });

  it('offers no End for an allocation that is ending or ended', () => {
    render([
      allocationInfo({ phase: 'ending' }),
      allocationInfo({
        id: 'a2',
        phase: 'ended',
        end: { outcome: 'timeout', message: 'Wall time reached.', at: 1 }
      })
    ]);
    expect(endButton().disabled).toBe(true);
    expect(endButton().textContent).toBe('Ending…');
    expect(endButton('a2')).toBeNull();
    expect(row('a2').textContent).toContain('Wall time reached.');
  });

  it('says how to get cluster kernels when there are none', () => {
    kernels.profiles = [];
    render([]);
    expect(host.textContent).toContain('Add as cluster kernel…');
  });
});

describe('AllocationRunningManager', () => {
  it('lists live allocations with kernels and time left, and ends one through the command', async () => {
    kernels.allocations = [
      allocationInfo({ timeLeftSeconds: 600, observedAt: clock }),
      allocationInfo({ id: 'a2', phase: 'ended' })
    ];
    const manager = new AllocationRunningManager({
      kernels,
      commands,
      trans,
      now: () => clock
    });
    expect(manager.name).toBe('HPC Kernel Allocations');
    const items = manager.running();
    expect(items).toHaveLength(1);
    expect(items[0].label()).toBe('Job 42 on demo');
    expect(items[0].detail?.()).toBe('1 kernel · 10 min left');
    expect(items[0].labelTitle?.()).toContain('work/analysis.ipynb');
    items[0].shutdown?.();
    await until(() => kernels.ended.length === 1);
    expect(questions).toHaveLength(1);
    expect(manager.shutdownAllConfirmationText()).toContain('job 42 on demo');
    manager.dispose();
  });
});

it('names the End command after the allocation', () => {
  kernels.allocations = [allocationInfo()];
  expect(commands.caption(CommandIDs.endAllocation, { id: 'a1' })).toBe(
    'Cancel job 42 on demo; the kernels in it stop'
  );
});
