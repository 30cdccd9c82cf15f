import { Dialog, Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import { ISessionInfo } from '../../../src/common/api';
import { IClusterConfig } from '../../../src/common/settings';
import { addAttachCommand } from '../../../src/lab/commands/sessions-attach';
import { IClusterSettings } from '../../../src/lab/settings/model';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import { CommandIDs } from '../../../src/lab/tokens';
import { dialogButton, dialogs, dialogTitle, openDialog } from './dom';
import { until } from './fixtures';
import { attachable, FakeSessions } from './session-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

let commands: CommandRegistry;
let sessions: FakeSessions;
let revealed: ISessionInfo[];

beforeEach(() => {
  commands = new CommandRegistry();
  sessions = new FakeSessions();
  revealed = [];
  const clusters: IClusterConfig[] = [
    { name: 'demo', host: 'hpc-demo' },
    { name: 'swc', host: 'hpc-gw1' }
  ];
  addAttachCommand({
    commands,
    trans,
    settings: {
      clusters,
      changed: new Signal<object, void>({})
    } as unknown as IClusterSettings,
    sessions,
    reveal: s => revealed.push(s)
  });
});

afterEach(() => {
  Dialog.flush();
  Notification.manager.dismiss();
});

const notifications = () =>
  Notification.manager.notifications.map(n => [n.type, n.message]);

/** The radios of the open attach dialog, with the text of each. */
const options = (dialog: HTMLElement) =>
  Array.from(
    dialog.querySelectorAll<HTMLInputElement>('input[type="radio"]')
  ).map(input => ({
    input,
    text: input.closest('label')!.textContent
  }));

describe('the attach command', () => {
  it('says what it does, and is enabled for a known cluster while the sidecar is there', () => {
    expect(commands.label(CommandIDs.attachSession, { name: 'demo' })).toBe(
      'Sessions on demo Started Elsewhere…'
    );
    expect(
      commands.label(CommandIDs.attachSession, { isContextMenu: true })
    ).toBe('Sessions Started Elsewhere…');
    expect(commands.caption(CommandIDs.attachSession, { name: 'demo' })).toBe(
      'Attach to a JupyterLab session on demo started from another computer'
    );
    expect(commands.icon(CommandIDs.attachSession, {})).toBeDefined();
    expect(commands.isEnabled(CommandIDs.attachSession, { name: 'demo' })).toBe(
      true
    );
    expect(commands.isEnabled(CommandIDs.attachSession, { name: 'nope' })).toBe(
      false
    );
    sessions.available = false;
    expect(commands.isEnabled(CommandIDs.attachSession, { name: 'demo' })).toBe(
      false
    );
  });

  it('lists the sessions started elsewhere and attaches the one chosen', async () => {
    sessions.attachableAnswer = async () => [
      attachable(),
      attachable({
        id: 'far2',
        jobId: '78',
        jobState: 'PENDING',
        reason: 'Resources',
        node: null,
        startTime: null,
        timeLeftSeconds: 3600,
        origin: null,
        createdAt: null
      })
    ];
    const done = commands.execute(CommandIDs.attachSession, { name: 'demo' });
    const dialog = await openDialog('input[type="radio"]');

    expect(dialogTitle(dialog)).toBe('Sessions started elsewhere on demo');
    const [first, second] = options(dialog);
    expect(first.text).toContain('job 77');
    expect(first.text).toContain('Running on node2');
    expect(first.text).toContain('45 min left');
    expect(first.text).toContain('started on laptop-7');
    expect(first.input.checked).toBe(true);
    // Queued: no time is running out yet; where it came from is not known.
    expect(second.text).toContain('job 78');
    expect(second.text).toContain('Queued (Resources)');
    expect(second.text).not.toContain('left');
    expect(second.text).toContain('started on an unrecorded computer');

    second.input.click();
    dialogButton(dialog, 'Attach').click();
    const session = (await done) as ISessionInfo;

    expect(sessions.calls).toEqual(['attachable demo', 'attach demo far2']);
    expect(session).toMatchObject({ id: 'far2', attached: true });
    expect(sessions.get('far2')?.attached).toBe(true);
    expect(revealed.map(s => s.id)).toEqual(['far2']);
  });

  it('says so when there is none, and attaches nothing', async () => {
    const done = commands.execute(CommandIDs.attachSession, { name: 'demo' });
    const dialog = await openDialog('.jp-Dialog-body');
    expect(dialogTitle(dialog)).toBe('No sessions started elsewhere on demo');
    expect(dialog.textContent).toContain('Sessions it follows are in');
    dialogButton(dialog, 'OK').click();

    expect(await done).toBeNull();
    expect(sessions.calls).toEqual(['attachable demo']);
    expect(revealed).toEqual([]);
  });

  it('attaches nothing when the dialog is cancelled', async () => {
    sessions.attachableAnswer = async () => [attachable()];
    const done = commands.execute(CommandIDs.attachSession, { name: 'demo' });
    const dialog = await openDialog('input[type="radio"]');
    dialogButton(dialog, 'Cancel').click();

    expect(await done).toBeNull();
    expect(sessions.calls).toEqual(['attachable demo']);
  });

  it('tells why the list could not be read or the attach was refused', async () => {
    sessions.attachableAnswer = async () => {
      throw new SidecarRequestError(
        'slurm-unavailable',
        'squeue did not answer.',
        503
      );
    };
    expect(
      await commands.execute(CommandIDs.attachSession, { name: 'demo' })
    ).toBeNull();
    expect(dialogs()).toEqual([]);
    expect(notifications()).toEqual([
      [
        'error',
        'The sessions on demo could not be read: squeue did not answer.'
      ]
    ]);
    Notification.manager.dismiss();

    sessions.attachableAnswer = async () => [attachable()];
    sessions.attachAnswer = async () => {
      throw new SidecarRequestError(
        'session-not-attachable',
        'Job 77 on demo is over.',
        409
      );
    };
    const done = commands.execute(CommandIDs.attachSession, { name: 'demo' });
    dialogButton(await openDialog('input[type="radio"]'), 'Attach').click();
    expect(await done).toBeNull();
    await until(() => notifications().length > 0);
    expect(notifications()).toEqual([
      ['error', 'Job 77 on demo could not be attached: Job 77 on demo is over.']
    ]);
    expect(revealed).toEqual([]);
  });
});
