import { Dialog } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import {
  addSessionCommands,
  openSessionTab
} from '../../../src/lab/commands/sessions';
import { hpcIcon } from '../../../src/lab/icons';
import { SessionRunningManager } from '../../../src/lab/sessions/running';
import { CommandIDs } from '../../../src/lab/tokens';
import { dialogButton, openDialog } from './dom';
import { until } from './fixtures';
import { ended, FakeSessions, running, sessionInfo } from './session-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

let sessions: FakeSessions;
let commands: CommandRegistry;
let shown: string[];
let opened: {
  url: string;
  target: string;
  features?: string;
  tab: FakeTab | null;
}[];

/** The part of a browser tab `window.open` returns that Open uses. */
class FakeTab {
  opener: unknown = 'the opener';
  closed = false;
  replaced: string | null = null;
  location = { replace: (url: string) => (this.replaced = url) };
  close() {
    this.closed = true;
  }
}

let blockPopups = false;

beforeEach(() => {
  sessions = new FakeSessions();
  commands = new CommandRegistry();
  shown = [];
  opened = [];
  blockPopups = false;
  addSessionCommands({
    commands,
    trans,
    sessions,
    showLog: id => shown.push(id),
    openWindow: (url, target, features) => {
      const tab = blockPopups ? null : new FakeTab();
      opened.push({ url, target, features, tab });
      return tab as unknown as Window | null;
    }
  });
});

afterEach(() => {
  Dialog.flush();
});

describe('session commands', () => {
  it('opens the tab inside the click, then sends it to the URL, cut from this page', async () => {
    sessions.set(running());
    let answer!: (url: string) => void;
    sessions.openAnswer = () => new Promise(resolve => (answer = resolve));

    const done = commands.execute(CommandIDs.openSession, { id: 's1' });
    // Synchronously, before the URL is known: popup blockers allow this.
    expect(opened).toHaveLength(1);
    expect(opened[0].url).toBe('');
    const tab = opened[0].tab!;
    expect(tab.opener).toBeNull();

    answer('http://127.0.0.1:40001/lab?token=secret');
    await done;
    expect(tab.replaced).toBe('http://127.0.0.1:40001/lab?token=secret');
    expect(opened).toHaveLength(1);
  });

  it('closes the blank tab when the URL cannot be had', async () => {
    const tab = new FakeTab();
    sessions.set(running());
    sessions.openAnswer = () => Promise.reject(new Error('not running'));
    await expect(
      openSessionTab(sessions, 's1', () => tab as unknown as Window)
    ).rejects.toThrow('not running');
    expect(tab.closed).toBe(true);
  });

  it('tries once more with noopener when the blank tab was blocked', async () => {
    blockPopups = true;
    sessions.set(running());
    await commands.execute(CommandIDs.openSession, { id: 's1' });
    expect(opened.map(o => [o.url, o.target, o.features])).toEqual([
      ['', '_blank', undefined],
      ['http://127.0.0.1:40001/lab?token=secret', '_blank', 'noopener']
    ]);
  });

  it('offers Open only while running, Dismiss only once ended', () => {
    sessions.set(sessionInfo());
    const enabled = (id: string) => commands.isEnabled(id, { id: 's1' });
    expect(enabled(CommandIDs.openSession)).toBe(false);
    expect(enabled(CommandIDs.cancelSession)).toBe(true);
    expect(enabled(CommandIDs.dismissSession)).toBe(false);
    sessions.set(running());
    expect(enabled(CommandIDs.openSession)).toBe(true);
    sessions.set(ended());
    expect(enabled(CommandIDs.openSession)).toBe(false);
    expect(enabled(CommandIDs.cancelSession)).toBe(false);
    expect(enabled(CommandIDs.dismissSession)).toBe(true);
    expect(enabled(CommandIDs.showSessionLog)).toBe(true);
  });

  it('cancels only after the user confirmed, naming the job and cluster', async () => {
    sessions.set(running());
    const kept = commands.execute(CommandIDs.cancelSession, { id: 's1' });
    let dialog = await openDialog('.jp-Dialog-button');
    expect(dialog.textContent).toContain('Cancel job 42 on demo?');
    dialogButton(dialog, 'Keep it running').click();
    await kept;
    expect(sessions.calls).toEqual([]);

    const cancelled = commands.execute(CommandIDs.cancelSession, { id: 's1' });
    dialog = await openDialog('.jp-Dialog-button');
    dialogButton(dialog, 'Cancel job').click();
    await cancelled;
    expect(sessions.calls).toEqual(['cancel s1']);
  });

  it('dismisses an ended session and shows a log', async () => {
    sessions.set(ended());
    await commands.execute(CommandIDs.showSessionLog, { id: 's1' });
    await commands.execute(CommandIDs.dismissSession, { id: 's1' });
    expect(shown).toEqual(['s1']);
    expect(sessions.calls).toEqual(['dismiss s1']);
    expect(sessions.get('s1')).toBeNull();
  });
});

describe('SessionRunningManager', () => {
  let manager: SessionRunningManager;
  const clock = 5_000_000;

  beforeEach(() => {
    manager = new SessionRunningManager({
      sessions,
      commands,
      trans,
      now: () => clock
    });
  });

  afterEach(() => manager.dispose());

  it('lists the sessions that have not ended, with their state', () => {
    sessions.set(
      running({ observedAt: clock - 60_000, timeLeftSeconds: 3600 })
    );
    sessions.set(sessionInfo({ id: 's2', jobId: '43', createdAt: 2 }));
    sessions.set(ended('completed', { id: 's3', jobId: '44' }));
    const items = manager.running();

    expect(manager.name).toBe('HPC Sessions');
    expect(items.map(i => i.label())).toEqual([
      'Job 42 on demo',
      'Job 43 on demo'
    ]);
    expect(items.map(i => i.detail!())).toEqual(['59 min left', 'queued']);
    expect(items[0].labelTitle!()).toMatch(/^Running on node1\n/);
    expect(items[0].icon()).toBe(hpcIcon);
  });

  it('tells the sidebar of every change, and says when the scheduler is silent', () => {
    let changes = 0;
    manager.runningChanged.connect(() => changes++);
    sessions.set(running());
    sessions.set(running({ schedulerUnreachable: true }));
    expect(changes).toBe(2);
    expect(manager.running()[0].detail!()).toBe('scheduler not answering');
  });

  it('opens a running session, shows the log of one that does not run yet', async () => {
    sessions.set(running());
    sessions.set(sessionInfo({ id: 's2', jobId: '43' }));
    const [run, queued] = manager.running();
    run.open!();
    queued.open!();
    await until(() => shown.length === 1 && opened.length === 1);
    expect(shown).toEqual(['s2']);
  });

  it('shuts down through the confirmed cancel, and all at once without it', async () => {
    sessions.set(running());
    sessions.set(sessionInfo({ id: 's2', jobId: '43' }));
    manager.running()[0].shutdown!();
    const dialog = await openDialog('.jp-Dialog-button');
    dialogButton(dialog, 'Cancel job').click();
    await until(() => sessions.calls.includes('cancel s1'));

    // The sidebar asked already (with this text).
    expect(manager.shutdownAllConfirmationText()).toContain(
      'demo · job 42, demo · job 43'
    );
    manager.shutdownAll();
    await until(() => sessions.calls.includes('cancel s2'));
    // s1 is ending already: not cancelled twice.
    expect(sessions.calls).toEqual(['cancel s1', 'cancel s2']);
  });

  it('asks the sidecar again on refresh', () => {
    manager.refreshRunning();
    expect(sessions.calls).toEqual(['refresh']);
  });
});
