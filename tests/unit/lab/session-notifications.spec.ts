import { Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { SessionNotifier } from '../../../src/lab/sessions/notifications';
import { CommandIDs } from '../../../src/lab/tokens';
import { ended, FakeSessions, running, sessionInfo } from './session-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

let sessions: FakeSessions;
let commands: CommandRegistry;
let notifier: SessionNotifier;
let executed: [string, unknown][];

/** Every toast shown, oldest first: [type, message]. */
const toasts = () =>
  [...Notification.manager.notifications]
    .reverse()
    .map(n => [n.type, n.message]);

function setUp(minutes: number[] = [10, 2]): void {
  sessions = new FakeSessions();
  commands = new CommandRegistry();
  executed = [];
  for (const id of [CommandIDs.openSession, CommandIDs.showSessionLog]) {
    commands.addCommand(id, {
      describedBy: { args: { type: 'object', properties: {} } },
      execute: args => {
        executed.push([id, args]);
      }
    });
  }
  notifier = new SessionNotifier({
    sessions,
    commands,
    trans,
    minutesBeforeWallTime: minutes
  });
}

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
  Notification.manager.dismiss();
});

afterEach(() => {
  notifier?.dispose();
  jest.useRealTimers();
});

describe('SessionNotifier', () => {
  it('tells once that a session runs, with Open', () => {
    setUp();
    sessions.set(sessionInfo());
    expect(toasts()).toEqual([]);

    sessions.set(sessionInfo({ phase: 'starting', node: 'node1' }));
    sessions.set(running({ phase: 'connecting' }));
    sessions.set(running({ timeLeftSeconds: null }));
    // A new reading of the running session: no new toast.
    sessions.set(running({ timeLeftSeconds: null, observedAt: 3_000 }));

    expect(toasts()).toEqual([
      ['success', 'JupyterLab on demo (job 42) is running on node1.']
    ]);
    const [toast] = Notification.manager.notifications;
    expect(toast.options.actions?.map(a => a.label)).toEqual(['Open']);
    toast.options.actions![0].callback(new MouseEvent('click'));
    expect(executed).toEqual([[CommandIDs.openSession, { id: 's1' }]]);
  });

  it('warns, with Open, when the forward moved to another port', () => {
    setUp();
    sessions.set(running({ localPort: 8899 }));
    sessions.set(running({ phase: 'connecting' }));
    const moved = { from: 8899, to: 8901, at: 5_000 };
    sessions.set(running({ localPort: 8901, portMoved: moved }));
    // Later readings of the same move: no new toast.
    sessions.set(
      running({ localPort: 8901, portMoved: moved, observedAt: 9_000 })
    );
    expect(toasts()).toEqual([
      [
        'warning',
        'JupyterLab on demo · job 42: another program took port 8899 while the connection was down. The session is on port 8901 now; tabs still on port 8899 reach that other program: close them and open it again.'
      ]
    ]);
    const [toast] = Notification.manager.notifications;
    expect(toast.options.actions?.map(a => a.label)).toEqual(['Open']);
  });

  it('does not tell a restarted sidecar’s running → starting → running twice', () => {
    setUp();
    sessions.set(sessionInfo({ phase: 'connecting', timeLeftSeconds: null }));
    sessions.set(running({ timeLeftSeconds: null }));
    sessions.set(running({ phase: 'starting', timeLeftSeconds: null }));
    sessions.set(running({ timeLeftSeconds: null }));
    expect(toasts()).toHaveLength(1);
  });

  it('says nothing about sessions it first sees (a reload)', () => {
    setUp();
    sessions.set(running({ timeLeftSeconds: null }));
    sessions.set(ended('completed', { id: 's2' }));
    expect(toasts()).toEqual([]);
  });

  it('tells a failure before running as an error with the log', () => {
    setUp();
    sessions.set(sessionInfo({ phase: 'starting' }));
    sessions.set(
      ended('failed', {
        end: {
          outcome: 'failed',
          message: 'The job failed: no jupyter (status 3). Its log says more.',
          at: 1
        }
      })
    );
    expect(toasts()).toEqual([
      [
        'error',
        'JupyterLab on demo · job 42 failed before it ran: The job failed: no jupyter (status 3). Its log says more.'
      ]
    ]);
    const [toast] = Notification.manager.notifications;
    expect(toast.options.autoClose).toBe(false);
    toast.options.actions![0].callback(new MouseEvent('click'));
    expect(executed).toEqual([[CommandIDs.showSessionLog, { id: 's1' }]]);
  });

  it('replaces the running toast by the end, with its reason', () => {
    setUp();
    sessions.set(sessionInfo({ phase: 'connecting', timeLeftSeconds: null }));
    sessions.set(running({ timeLeftSeconds: null }));
    sessions.set(running({ phase: 'ending', timeLeftSeconds: null }));
    sessions.set(
      ended('cancelled', {
        end: {
          outcome: 'cancelled',
          message: 'Cancelled from JupyterLab.',
          at: 1
        }
      })
    );
    // One toast about the session: the newer replaced the older.
    expect(toasts()).toEqual([
      ['info', 'JupyterLab on demo · job 42 ended: Cancelled from JupyterLab.']
    ]);
    // An ended session's later views tell nothing more.
    sessions.set(ended('cancelled', { observedAt: 9_999 }));
    expect(toasts()).toHaveLength(1);
  });

  it('tells a failure after running (out of memory) as an error', () => {
    setUp();
    sessions.set(sessionInfo({ phase: 'connecting', timeLeftSeconds: null }));
    sessions.set(running({ timeLeftSeconds: null }));
    sessions.set(ended('out-of-memory'));
    expect(toasts()).toEqual([
      [
        'error',
        'JupyterLab on demo · job 42 ended: The job ended: out-of-memory.'
      ]
    ]);
  });

  it('warns 10 and 2 minutes before the wall time, at those times', () => {
    setUp();
    const now = Date.now();
    sessions.set(sessionInfo({ phase: 'connecting' }));
    sessions.set(running({ timeLeftSeconds: 15 * 60, observedAt: now }));
    Notification.manager.dismiss();

    jest.advanceTimersByTime(5 * 60_000 - 1000);
    expect(toasts()).toEqual([]);
    jest.advanceTimersByTime(1000);
    expect(toasts()).toEqual([
      [
        'warning',
        expect.stringMatching(
          /^JupyterLab on demo · job 42 reaches its wall time in 10 min \(at .+\): save your work/
        )
      ]
    ]);

    Notification.manager.dismiss();
    jest.advanceTimersByTime(8 * 60_000);
    expect(toasts()).toEqual([
      ['warning', expect.stringContaining('reaches its wall time in 2 min')]
    ]);
    jest.advanceTimersByTime(10 * 60_000);
    expect(toasts()).toHaveLength(1);
  });

  it('reschedules from each new reading (the time left can change)', () => {
    setUp();
    const now = Date.now();
    sessions.set(sessionInfo({ phase: 'connecting' }));
    sessions.set(running({ timeLeftSeconds: 15 * 60, observedAt: now }));
    Notification.manager.dismiss();

    // A minute later the scheduler says 30 minutes are left (scontrol
    // update TimeLimit=…): the 10-minute warning moves 15 minutes on.
    jest.advanceTimersByTime(60_000);
    sessions.set(running({ timeLeftSeconds: 30 * 60, observedAt: Date.now() }));
    jest.advanceTimersByTime(5 * 60_000);
    expect(toasts()).toEqual([]);
    jest.advanceTimersByTime(15 * 60_000);
    expect(toasts()).toEqual([
      ['warning', expect.stringContaining('in 10 min')]
    ]);
    // Readings after the warning do not repeat it.
    sessions.set(running({ timeLeftSeconds: 9 * 60, observedAt: Date.now() }));
    expect(toasts()).toHaveLength(1);
  });

  it('warns at once about a threshold passed already, once', () => {
    setUp();
    sessions.set(running({ timeLeftSeconds: 5 * 60, observedAt: Date.now() }));
    expect(toasts()).toEqual([
      ['warning', expect.stringContaining('reaches its wall time in 5 min')]
    ]);
    sessions.set(
      running({ timeLeftSeconds: 4 * 60, observedAt: Date.now() + 1 })
    );
    expect(toasts()).toHaveLength(1);
    jest.advanceTimersByTime(2 * 60_000);
    expect(toasts()).toHaveLength(1);
    expect(toasts()[0][1]).toContain('in 2 min');
  });

  it('never warns a session without a time limit, or one that ended', () => {
    setUp();
    sessions.set(sessionInfo({ phase: 'connecting', timeLeftSeconds: null }));
    sessions.set(running({ timeLeftSeconds: null }));
    sessions.set(
      running({ id: 's2', timeLeftSeconds: 11 * 60, observedAt: Date.now() })
    );
    sessions.set(ended('cancelled', { id: 's2' }));
    Notification.manager.dismiss();
    jest.advanceTimersByTime(24 * 3600_000);
    expect(toasts()).toEqual([]);
  });

  it('follows the setting: other minutes, or none', () => {
    setUp([]);
    sessions.set(running({ timeLeftSeconds: 20 * 60, observedAt: Date.now() }));
    jest.advanceTimersByTime(19 * 60_000);
    expect(toasts()).toEqual([]);

    notifier.setMinutesBeforeWallTime([0.5]);
    jest.advanceTimersByTime(29_000);
    expect(toasts()).toEqual([]);
    jest.advanceTimersByTime(1000);
    expect(toasts()).toEqual([['warning', expect.stringContaining('in 30 s')]]);
  });
});

describe('SessionNotifier: the state files', () => {
  const damaged = {
    code: 'state-damaged' as const,
    file: 'sessions' as const,
    message:
      'The sessions file ~/.local/share/jupyter/jupyterlab_hpc/sessions.json was damaged (Unexpected end of JSON input): it was set aside as sessions.json.bad-1, and its last good copy was used.'
  };
  const full = {
    code: 'state-unwritable' as const,
    file: 'sessions' as const,
    message:
      'The sessions file ~/x/sessions.json cannot be written (ENOSPC: no space left on device): it keeps the last state written.'
  };

  it('shows a damaged file as an error that stays, once', () => {
    setUp();
    sessions.setStateProblems([damaged]);
    sessions.setStateProblems([damaged]);
    expect(toasts()).toEqual([['error', damaged.message]]);
    expect(Notification.manager.notifications[0].options.autoClose).toBe(false);
  });

  it('shows a full disk until it is over, then says the file is written again', () => {
    setUp();
    sessions.setStateProblems([full]);
    expect(toasts()).toEqual([['error', full.message]]);
    sessions.setStateProblems([]);
    expect(toasts()).toEqual([
      ['success', 'The sessions file is written again.']
    ]);
  });
});
