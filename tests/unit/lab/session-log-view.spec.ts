import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ISessionLog } from '../../../src/common/api';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import {
  createSessionLogWidget,
  SessionLogView
} from '../../../src/lab/sessions/log-view';
import { until } from './fixtures';
import { ended, FakeSessions, running, sessionInfo } from './session-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

let sessions: FakeSessions;
let view: SessionLogView | null;
/** The job's log as the cluster has it; the test appends to it. */
let file: string;

/** The sidecar's answer: bytes from `offset`, at most `chunk` of them. */
function answerFromFile(chunk = 1_000_000) {
  return async (offset: number): Promise<ISessionLog> => {
    const text = file.slice(offset, offset + chunk);
    return { size: file.length, offset, next: offset + text.length, text };
  };
}

const shown = () =>
  view!.node.querySelector('pre[aria-label="Output"]')?.textContent ?? '';
const reads = () => sessions.calls.filter(c => c.startsWith('log '));

beforeEach(() => {
  sessions = new FakeSessions();
  file = '';
  sessions.logAnswer = answerFromFile();
  view = null;
});

afterEach(() => {
  view?.dispose();
});

function open(interval = 20): SessionLogView {
  view = new SessionLogView({ sessions, id: 's1', trans, interval });
  Widget.attach(view, document.body);
  return view;
}

describe('SessionLogView', () => {
  it('follows the job’s output from where it left off', async () => {
    sessions.set(running());
    file = 'starting\n';
    open();
    await until(() => shown() === 'starting\n');
    file += 'Jupyter Server 2.21.1 is running at:\n';
    await until(() => shown().endsWith('is running at:\n'));

    expect(view!.text).toBe(file);
    // Each read starts where the last one ended.
    const offsets = reads().map(c => Number(c.split(' ')[2]));
    expect(offsets[0]).toBe(0);
    expect(offsets).toContain(9);
    expect(offsets.every(o => o === 0 || o === 9 || o === file.length)).toBe(
      true
    );
  });

  it('never shows the remote JupyterLab’s token, even split across reads', async () => {
    sessions.set(running());
    file =
      '    http://node1:41953/lab?token=e560d957d497a06e2f768d7c\n' +
      '    http://127.0.0.1:41953/lab?a=1&token=e560d957d497a06e2f768d7c#x\n';
    sessions.logAnswer = answerFromFile(35);
    open();
    await until(() => view!.text === file);
    await until(() => shown().includes('a=1&token=…#x'));
    expect(shown()).toBe(
      '    http://node1:41953/lab?token=…\n' +
        '    http://127.0.0.1:41953/lab?a=1&token=…#x\n'
    );
    expect(view!.node.textContent).not.toContain('e560d9');
  });

  it('reads a long log in chunks without waiting between them', async () => {
    sessions.set(running());
    file = 'x'.repeat(2500);
    sessions.logAnswer = answerFromFile(1000);
    open(60_000);
    await until(() => view!.text.length === 2500);
    expect(reads()).toEqual(['log s1 0', 'log s1 1000', 'log s1 2000']);
  });

  it('reads once more after the session ended, then stops', async () => {
    sessions.set(running());
    file = 'running\n';
    open(60_000);
    await until(() => shown() === 'running\n');
    file += 'jupyterlab-hpc: exiting\n';

    sessions.set(ended('cancelled'));
    await view!.following;

    expect(view!.text).toBe(file);
    const count = reads().length;
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(reads()).toHaveLength(count);
  });

  it('waits quietly for a log that does not exist yet, and says why it cannot read one later', async () => {
    sessions.set(sessionInfo());
    sessions.logAnswer = () =>
      Promise.reject(
        new SidecarRequestError('session-not-found', 'The log is not on demo.')
      );
    open();
    await until(() => reads().length >= 2);
    expect(view!.node.querySelector('[role="alert"]')).toBeNull();
    expect(view!.node.textContent).toContain(
      'Waiting for the job to write something…'
    );

    sessions.set(ended('failed'));
    await view!.following;
    await until(
      () =>
        view!.node.querySelector('[role="alert"]')?.textContent ===
        'The log could not be read: The log is not on demo.'
    );
  });

  it('names its tab after the job and follows its state', () => {
    sessions.set(sessionInfo());
    const widget = createSessionLogWidget({ sessions, id: 's1', trans });
    view = widget.content;
    expect(widget.title.label).toBe('Log: demo · job 42');
    expect(widget.title.caption).toBe('Queued (Priority)');
    sessions.set(running());
    expect(widget.title.caption).toBe('Running on node1');
    widget.dispose();
  });
});
