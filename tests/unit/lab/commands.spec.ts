import { JupyterFrontEnd } from '@jupyterlab/application';
import { nullTranslator } from '@jupyterlab/translation';
import { refreshIcon, settingsIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import { IClusterConfig } from '../../../src/common/settings';
import { addCommands, CommandIDs, PANEL_ID } from '../../../src/lab/commands';
import { hpcIcon } from '../../../src/lab/icons';
import { IClusterSettings } from '../../../src/lab/settings/model';
import { ISidecarModel } from '../../../src/lab/sidecar/model';

let commands: CommandRegistry;
let activateById: jest.Mock;
let revealCluster: jest.Mock;
let refresh: jest.Mock;
let clusters: { clusters: IClusterConfig[]; changed: Signal<object, void> };

beforeEach(() => {
  commands = new CommandRegistry();
  activateById = jest.fn();
  revealCluster = jest.fn();
  refresh = jest.fn(async () => undefined);
  clusters = {
    clusters: [{ name: 'swc', host: 'hpc-gw1' }],
    changed: new Signal<object, void>({})
  };
  addCommands({
    app: { commands, shell: { activateById } } as unknown as JupyterFrontEnd,
    trans: nullTranslator.load('jupyterlab_hpc'),
    sidecar: { refresh } as unknown as ISidecarModel,
    clusters: clusters as unknown as IClusterSettings,
    revealCluster
  });
});

describe('addCommands', () => {
  it('registers the four HPC commands', () => {
    expect(
      commands
        .listCommands()
        .filter(id => id.startsWith('hpc:'))
        .sort()
    ).toEqual([
      'hpc:check-sidecar',
      'hpc:open-cluster',
      'hpc:open-panel',
      'hpc:open-settings'
    ]);
    expect([
      CommandIDs.openPanel,
      CommandIDs.openCluster,
      CommandIDs.openSettings,
      CommandIDs.checkSidecar
    ]).toEqual([
      'hpc:open-panel',
      'hpc:open-cluster',
      'hpc:open-settings',
      'hpc:check-sidecar'
    ]);
  });

  it.each([
    [CommandIDs.openPanel, {}, 'Show HPC Panel'],
    [CommandIDs.openPanel, { isLauncher: true }, 'HPC Clusters'],
    [CommandIDs.openCluster, { name: 'swc', isLauncher: true }, 'swc'],
    [CommandIDs.openCluster, {}, 'Cluster'],
    [CommandIDs.openSettings, {}, 'HPC Cluster Settings'],
    [CommandIDs.checkSidecar, {}, 'Check the HPC Sidecar Again']
  ])('labels %s with args %j as %p', (id, args, label) => {
    expect(commands.label(id, args)).toBe(label);
  });

  it.each([
    [
      CommandIDs.openPanel,
      {},
      'Show the HPC side panel: clusters and their conda environments'
    ],
    [
      CommandIDs.openCluster,
      { name: 'swc' },
      'Show the cluster swc in the HPC panel'
    ],
    [
      CommandIDs.openSettings,
      {},
      'Add, edit or remove clusters and job defaults'
    ],
    [
      CommandIDs.checkSidecar,
      {},
      'Ask the jupyterlab-hpc sidecar for its health now'
    ]
  ])('gives %s with args %j the caption %p', (id, args, caption) => {
    expect(commands.caption(id, args)).toBe(caption);
  });

  it.each([
    [CommandIDs.openPanel, hpcIcon],
    [CommandIDs.openCluster, hpcIcon],
    [CommandIDs.openSettings, settingsIcon],
    [CommandIDs.checkSidecar, refreshIcon]
  ])('gives %s its icon', (id, icon) => {
    expect(commands.icon(id, {})).toBe(icon);
  });

  it('describes the name argument of hpc:open-cluster as required', async () => {
    expect(await commands.describedBy(CommandIDs.openCluster)).toEqual({
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'The cluster name' }
        },
        required: ['name']
      }
    });
  });

  describe('hpc:open-panel', () => {
    it('is always enabled and shows the side panel', async () => {
      expect(commands.isEnabled(CommandIDs.openPanel, {})).toBe(true);
      await commands.execute(CommandIDs.openPanel);
      expect(activateById).toHaveBeenCalledWith(PANEL_ID);
      expect(PANEL_ID).toBe('jp-hpc-panel');
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
      expect(activateById).toHaveBeenCalledWith('jp-hpc-panel');
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
    it('asks the sidecar model to check now', async () => {
      expect(commands.isEnabled(CommandIDs.checkSidecar, {})).toBe(true);
      await commands.execute(CommandIDs.checkSidecar);
      expect(refresh).toHaveBeenCalledTimes(1);
    });
  });
});
