import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { PromiseDelegate } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import { IClusterConfig } from '../../../src/common/settings';
import { PACKAGE_VERSION } from '../../../src/common/version';
import { addPanelCommands } from '../../../src/lab/commands/panel';
import { ISidecarModel, SidecarState } from '../../../src/lab/sidecar/model';
import { IClusterSettings } from '../../../src/lab/settings/model';
import { CommandIDs, PANEL_ID } from '../../../src/lab/tokens';
import { dialogButton, dialogs, dialogTitle, openDialog } from './dom';
import { health, until } from './fixtures';

let commands: CommandRegistry;
let activateById: jest.Mock;
let revealCluster: jest.Mock;
let refresh: jest.Mock;
/** What the sidecar model says after `refresh`. */
let sidecar: { refresh: jest.Mock; state: SidecarState };
let clusters: { clusters: IClusterConfig[]; changed: Signal<object, void> };

beforeEach(() => {
  commands = new CommandRegistry();
  activateById = jest.fn();
  revealCluster = jest.fn();
  refresh = jest.fn(async () => undefined);
  sidecar = { refresh, state: { status: 'connecting' } };
  clusters = {
    clusters: [{ name: 'swc', host: 'hpc-gw1' }],
    changed: new Signal<object, void>({})
  };
  addPanelCommands({
    app: { commands, shell: { activateById } } as unknown as JupyterFrontEnd,
    trans: nullTranslator.load('jupyterlab_hpc'),
    sidecar: sidecar as unknown as ISidecarModel,
    clusters: clusters as unknown as IClusterSettings,
    revealCluster
  });
});

afterEach(() => {
  Dialog.flush();
  Notification.manager.dismiss();
});

const notes = () =>
  Notification.manager.notifications.map(n => [n.type, n.message]);

describe('addPanelCommands', () => {
  it('labels the panel command for the launcher apart from the palette', () => {
    expect(commands.label(CommandIDs.openPanel, { isLauncher: true })).toBe(
      'HPC Clusters'
    );
    expect(commands.label(CommandIDs.openPanel, {})).not.toBe(
      commands.label(CommandIDs.openPanel, { isLauncher: true })
    );
  });

  it('names the cluster a launcher tile shows', () => {
    expect(commands.label(CommandIDs.openCluster, { name: 'swc' })).toBe('swc');
    expect(commands.caption(CommandIDs.openCluster, { name: 'swc' })).toContain(
      'swc'
    );
  });

  describe('hpc:open-panel', () => {
    it('is always enabled and shows the side panel', async () => {
      expect(commands.isEnabled(CommandIDs.openPanel, {})).toBe(true);
      await commands.execute(CommandIDs.openPanel);
      expect(activateById).toHaveBeenCalledWith(PANEL_ID);
    });
  });

  describe('hpc:open-cluster', () => {
    it.each([
      [{ name: 'swc' }, true],
      [{ name: 'archer2' }, false],
      [{ name: 'SWC' }, false],
      [{}, false]
    ])('with args %j is enabled: %p', (args, enabled) => {
      expect(commands.isEnabled(CommandIDs.openCluster, args)).toBe(enabled);
    });

    it('follows the current cluster list', () => {
      clusters.clusters = [{ name: 'archer2', host: 'login.archer2.ac.uk' }];
      expect(commands.isEnabled(CommandIDs.openCluster, { name: 'swc' })).toBe(
        false
      );
      expect(
        commands.isEnabled(CommandIDs.openCluster, { name: 'archer2' })
      ).toBe(true);
    });

    it('shows the panel and reveals the cluster', async () => {
      await commands.execute(CommandIDs.openCluster, { name: 'swc' });
      expect(activateById).toHaveBeenCalledWith(PANEL_ID);
      expect(revealCluster).toHaveBeenCalledWith('swc');
    });
  });

  describe('hpc:open-settings', () => {
    it('is disabled while there is no settings editor', () => {
      expect(commands.isEnabled(CommandIDs.openSettings, {})).toBe(false);
    });

    it('opens the settings editor on the HPC settings', async () => {
      const open = jest.fn();
      commands.addCommand('settingeditor:open', {
        execute: open,
        describedBy: { args: { type: 'object', properties: {} } }
      });
      expect(commands.isEnabled(CommandIDs.openSettings, {})).toBe(true);

      await commands.execute(CommandIDs.openSettings);

      expect(open).toHaveBeenCalledWith({ query: 'HPC clusters' });
    });
  });

  describe('hpc:check-sidecar', () => {
    it('shows that it checks, then that the sidecar runs and its version', async () => {
      const answer = new PromiseDelegate<void>();
      refresh.mockImplementation(async () => {
        await answer.promise;
        sidecar.state = {
          status: 'ready',
          health,
          live: true,
          otherRelease: false
        };
      });
      expect(commands.isEnabled(CommandIDs.checkSidecar, {})).toBe(true);

      const done = commands.execute(CommandIDs.checkSidecar);
      expect(notes()).toEqual([['in-progress', 'Checking the HPC sidecar…']]);
      answer.resolve();
      await done;

      expect(refresh).toHaveBeenCalledTimes(1);
      expect(notes()).toEqual([
        ['success', `HPC sidecar is running (version ${PACKAGE_VERSION}).`]
      ]);
    });

    it('says what to run when the server part is missing, with the details a click away', async () => {
      refresh.mockImplementation(async () => {
        sidecar.state = { status: 'missing' };
      });
      await commands.execute(CommandIDs.checkSidecar);

      const [note] = Notification.manager.notifications;
      expect([note.type, note.message]).toEqual([
        'error',
        'The jupyterlab-hpc server part is missing. Run: pip install jupyterlab-hpc'
      ]);
      expect(note.options.autoClose).toBe(false);
      const actions = note.options.actions ?? [];
      expect(actions.map(a => a.label)).toEqual(['Copy command', 'Details']);
      actions[1].callback(new MouseEvent('click'));
      const dialog = await openDialog('.jp-Dialog-body');
      expect(dialogTitle(dialog)).toBe(
        'The jupyterlab-hpc server part is missing'
      );
      expect(dialog.textContent).toContain('then restart JupyterLab');
      // Closed as a user does: a dialog left open is disposed at teardown.
      dialogButton(dialog, 'Close').click();
      await until(() => dialogs().length === 0 || null);
    });

    it('passes on why a sidecar that does not answer failed', async () => {
      refresh.mockImplementation(async () => {
        sidecar.state = { status: 'failed', detail: 'HTTP 502.' };
      });
      await commands.execute(CommandIDs.checkSidecar);
      const [[type, message]] = notes();
      expect(type).toBe('error');
      expect(message).toMatch(/^The HPC sidecar is not running: HTTP 502\. /);
    });
  });
});
