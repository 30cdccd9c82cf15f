import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';
import { act } from 'react';

import { ISessionInfo } from '../../../src/common/api';
import { addSessionCommands } from '../../../src/lab/commands/sessions';
import { SessionList } from '../../../src/lab/sessions/session-section';
import { CommandIDs } from '../../../src/lab/tokens';
import { ended, FakeSessions, running, sessionInfo } from './session-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

// react-dom ships no types here; the two calls these tests make.
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
let sessions: FakeSessions;
let clock: number;

beforeEach(() => {
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
  commands = new CommandRegistry();
  sessions = new FakeSessions();
  addSessionCommands({ commands, trans, sessions, showLog: () => undefined });
  clock = 1_000_000;
});

afterEach(() => {
  act(() => root.unmount());
  host.remove();
  jest.useRealTimers();
});

function render(
  list: ISessionInfo[],
  clusters: string[] = ['demo']
): HTMLDivElement {
  list.forEach(s => sessions.set(s));
  act(() =>
    root.render(
      <SessionList
        sessions={list}
        clusters={clusters}
        commands={commands}
        trans={trans}
        now={() => clock}
      />
    )
  );
  return host;
}

const row = (id = 's1') =>
  host.querySelector<HTMLLIElement>(`li[data-session-id="${id}"]`)!;
const stateOf = (id = 's1') =>
  row(id).querySelector('[role="status"]')!.textContent;
const buttons = (id = 's1') =>
  Array.from(row(id).querySelectorAll('button')).map(b => [
    b.textContent,
    !b.disabled
  ]);

describe('SessionList', () => {
  it('shows a queued job with Slurm’s reason and the estimated start', () => {
    const start = new Date(clock + 90 * 60_000);
    render([
      sessionInfo({ reason: 'Resources', startTime: start.getTime() }),
      sessionInfo({ id: 's2', createdAt: 2, reason: 'None', startTime: null })
    ]);
    expect(row().textContent).toContain('demo');
    expect(row().textContent).toContain('job 42');
    expect(stateOf()).toBe('Queued (Resources)');
    expect(row().textContent).toContain(
      `starts about ${start.toLocaleTimeString(undefined, {
        hour: '2-digit',
        minute: '2-digit'
      })}`
    );
    expect(stateOf('s2')).toBe('Queued');
    expect(row('s2').textContent).toContain('start not estimated yet');
    expect(buttons()).toEqual([
      ['Log', true],
      ['Cancel', true]
    ]);
  });

  it('says which node a starting session waits on', () => {
    render([
      sessionInfo({
        phase: 'starting',
        node: 'node7',
        startTime: clock - 30_000,
        observedAt: clock
      })
    ]);
    expect(stateOf()).toBe('Starting JupyterLab on node7');
    expect(row().textContent).toContain('30 s elapsed · 1 h 00 min left');
  });

  it('counts elapsed and left time down between the polls', () => {
    jest.useFakeTimers();
    render([
      running({
        startTime: clock - 5 * 60_000,
        timeLeftSeconds: 55 * 60,
        observedAt: clock
      })
    ]);
    expect(stateOf()).toBe('Running on node1');
    expect(row().textContent).toContain('5 min elapsed · 55 min left');
    expect(row().dataset.secondsLeft).toBe(String(55 * 60));

    // No new reading from the sidecar: the clock alone moves the numbers.
    clock += 61_000;
    act(() => {
      jest.advanceTimersByTime(1000);
    });
    expect(row().textContent).toContain('6 min elapsed · 53 min left');
    expect(row().dataset.secondsLeft).toBe(String(55 * 60 - 61));
    expect(buttons()).toEqual([
      ['Open', true],
      ['Log', true],
      ['Cancel', true]
    ]);
  });

  it('says when a job has no time limit', () => {
    render([running({ timeLeftSeconds: null, startTime: clock - 1000 })]);
    expect(row().textContent).toContain('1 s elapsed · no time limit');
  });

  it('shows an unanswering scheduler as such, never as an end', () => {
    render([running({ schedulerUnreachable: true })]);
    expect(row().dataset.phase).toBe('running');
    expect(stateOf()).toBe('Running on node1');
    expect(row().querySelector('.jp-mod-warning[role="status"]')).not.toBe(
      null
    );
    expect(row().querySelector('[role="alert"]')?.textContent).toMatch(
      /^Scheduler not answering/
    );
    expect(row().textContent).not.toMatch(/Ended/);
    expect(buttons().map(([text]) => text)).toEqual(['Open', 'Log', 'Cancel']);
  });

  it('says that the forward moved to another port, and where', () => {
    render([
      running({ localPort: 8901, portMoved: { from: 8899, to: 8901, at: 1 } })
    ]);
    expect(stateOf()).toBe('Running on node1');
    expect(row().querySelector('[role="alert"]')?.textContent).toBe(
      'Port moved Another program took port 8899 while the connection was down, so JupyterLab is on port 8901 now: open it again from here; tabs still on port 8899 reach that other program.'
    );
  });

  it('shows why a session ended, and offers Dismiss instead of Cancel', () => {
    render([
      ended('timeout', {
        end: {
          outcome: 'timeout',
          message: 'The job reached its wall time.',
          at: 1
        }
      })
    ]);
    expect(stateOf()).toBe('Ended: Wall time reached');
    expect(row().textContent).toContain('The job reached its wall time.');
    expect(row().querySelector('.jp-mod-error[role="status"]')).not.toBe(null);
    expect(buttons()).toEqual([
      ['Log', true],
      ['Dismiss', true]
    ]);
  });

  it('shows a cancel in progress as such', () => {
    render([running({ phase: 'ending' })]);
    expect(stateOf()).toBe('Ending…');
    expect(buttons()).toEqual([
      ['Log', true],
      ['Cancelling…', false]
    ]);
  });

  it('says how to start a session, with a button per cluster once the launch command exists', async () => {
    render([], ['demo', 'gpu']);
    expect(host.textContent).toContain('No JupyterLab sessions.');
    expect(host.querySelectorAll('button')).toHaveLength(0);

    const launched: unknown[] = [];
    commands.addCommand(CommandIDs.launchSession, {
      label: 'Launch',
      describedBy: { args: { type: 'object', properties: {} } },
      execute: args => {
        launched.push(args);
      }
    });
    render([], ['demo', 'gpu']);
    const launch = Array.from(host.querySelectorAll('button'));
    expect(launch.map(b => b.textContent)).toEqual([
      'JupyterLab on demo…',
      'JupyterLab on gpu…'
    ]);
    act(() => launch[1].click());
    expect(launched).toEqual([{ name: 'gpu' }]);
  });

  it('says a session was attached, and from which computer it was started', () => {
    render([
      running({ attached: true, origin: { host: 'laptop-7', sidecar: 'a1' } }),
      running({ id: 's2', attached: true, origin: null }),
      running({ id: 's3', origin: { host: 'this-pc', sidecar: 'b2' } })
    ]);
    const origin = (id: string) =>
      row(id).querySelector('.jp-HpcSessions-origin')?.textContent ?? null;
    expect(origin('s1')).toBe('attached, started on laptop-7');
    expect(origin('s2')).toBe('attached, started on another computer');
    // Its own sessions say nothing of where they were started.
    expect(origin('s3')).toBeNull();
  });

  it('leads to the sessions started elsewhere once the attach command exists', () => {
    render([running()], ['demo']);
    const elsewhere = () =>
      Array.from(host.querySelectorAll('button')).find(
        b => b.textContent === 'Sessions started elsewhere…'
      );
    expect(elsewhere()).toBeUndefined();

    const asked: unknown[] = [];
    commands.addCommand(CommandIDs.attachSession, {
      label: 'Attach',
      describedBy: { args: { type: 'object', properties: {} } },
      execute: args => {
        asked.push(args);
      }
    });
    // One cluster: it is named; several: the command asks which.
    render([running()], ['demo']);
    act(() => elsewhere()!.click());
    render([], ['demo', 'gpu']);
    act(() => elsewhere()!.click());
    expect(asked).toEqual([{ name: 'demo' }, {}]);
  });
});
