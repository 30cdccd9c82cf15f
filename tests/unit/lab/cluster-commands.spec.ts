import { Dialog, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { nullTranslator } from '@jupyterlab/translation';
import {
  addIcon,
  checkIcon,
  closeIcon,
  deleteIcon,
  editIcon,
  linkIcon,
  lockIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import {
  IClusterStatus,
  IConnectionTest,
  IKeySetupResult
} from '../../../src/common/api';
import { ClusterModel } from '../../../src/lab/clusters/model';
import { addClusterCommands, CommandIDs } from '../../../src/lab/commands';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import {
  choose,
  dialogButton,
  dialogs,
  dialogTitle,
  field,
  openDialog,
  type
} from './dom';
import {
  FakeSidecar,
  PLUGIN_ID,
  settingsWith,
  sidecarError,
  until
} from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const status = (
  name: string,
  state: IClusterStatus['state']
): IClusterStatus => ({
  name,
  transport: 'ssh',
  state,
  target: 'hpcdemo@127.0.0.1:2222',
  route: ['127.0.0.1'],
  error: null,
  since: Date.now(),
  nextAttemptAt: null,
  attempt: 0,
  activeCommands: 0,
  queuedCommands: 0,
  openForwards: 0
});

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let registrySettings: ISettingRegistry.ISettings;
let clusters: ClusterModel;
let commands: CommandRegistry;

const demo = { name: 'demo', host: 'hpc-demo' };
const here = { name: 'here', host: 'login1', transport: 'local' };

async function setUp(
  user: object = { clusters: [demo, here] },
  states: IClusterStatus[] = [status('demo', 'idle'), status('here', 'idle')]
): Promise<void> {
  fake = new FakeSidecar();
  fake.on('PUT', '/api/v1/clusters', () => null);
  fake.on('GET', '/api/v1/clusters', () => ({ clusters: states }));
  fake.on('GET', '/api/v1/ssh/hosts', () => ({
    aliases: [
      {
        alias: 'hpc-demo',
        hostName: '127.0.0.1',
        user: 'hpcdemo',
        port: 2222,
        via: ''
      }
    ],
    configPath: '~/.ssh/config',
    error: null
  }));
  const { registry } = await settingsWith(user);
  registrySettings = await registry.load(PLUGIN_ID);
  settings = new ClusterSettings();
  settings.attach(registrySettings);
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  clusters = new ClusterModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings
  });
  commands = new CommandRegistry();
  addClusterCommands({ commands, trans, settings, clusters });
  await until(() => fake.calls().includes('GET /api/v1/clusters'));
  await until(() => clusters.status('demo'));
}

const notes = () =>
  Notification.manager.notifications.map(n => [n.type, n.message]);

afterEach(() => {
  clusters?.dispose();
  sidecar?.dispose();
  settings?.dispose();
  Dialog.flush();
  Notification.manager.dismiss();
});

describe('addClusterCommands', () => {
  it('registers the seven cluster commands with labels, captions and icons', async () => {
    await setUp();
    const args = { name: 'demo' };
    expect(
      [
        CommandIDs.addCluster,
        CommandIDs.editCluster,
        CommandIDs.removeCluster,
        CommandIDs.connectCluster,
        CommandIDs.disconnectCluster,
        CommandIDs.testCluster,
        CommandIDs.setupKey
      ].map(id => [
        id,
        commands.label(id, args),
        commands.caption(id, args),
        commands.icon(id, args)
      ])
    ).toEqual([
      [
        'hpc:add-cluster',
        'Add Cluster…',
        'Add an HPC cluster: a host from ~/.ssh/config or any SSH login node',
        addIcon
      ],
      [
        'hpc:edit-cluster',
        'Edit Cluster…',
        'Change the settings of the cluster demo',
        editIcon
      ],
      [
        'hpc:remove-cluster',
        'Remove Cluster…',
        'Remove the cluster demo from the HPC settings',
        deleteIcon
      ],
      ['hpc:connect-cluster', 'Connect', 'Connect to demo now', linkIcon],
      [
        'hpc:disconnect-cluster',
        'Disconnect',
        'Close the connection to demo and its forwards',
        closeIcon
      ],
      [
        'hpc:test-cluster',
        'Test Connection',
        'Measure the round trip to demo and look for SLURM, conda, mamba and micromamba',
        checkIcon
      ],
      [
        'hpc:setup-key',
        'Set Up SSH Key…',
        'Create an ed25519 key pair and install it on demo with one password login',
        lockIcon
      ]
    ]);
  });

  it('describes the name argument of every per-cluster command', async () => {
    await setUp();
    expect(await commands.describedBy(CommandIDs.addCluster)).toEqual({
      args: { type: 'object', properties: {} }
    });
    for (const id of [
      CommandIDs.editCluster,
      CommandIDs.removeCluster,
      CommandIDs.connectCluster,
      CommandIDs.disconnectCluster,
      CommandIDs.testCluster,
      CommandIDs.setupKey
    ]) {
      expect(await commands.describedBy(id)).toEqual({
        args: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'The cluster name' }
          },
          required: ['name']
        }
      });
    }
  });

  describe('isEnabled', () => {
    const enabled = (id: string, name = 'demo') =>
      commands.isEnabled(id, { name });

    it('offers Connect when idle or failed, Disconnect otherwise', async () => {
      await setUp();
      expect(enabled(CommandIDs.connectCluster)).toBe(true);
      expect(enabled(CommandIDs.disconnectCluster)).toBe(false);

      fake.socket.open();
      for (const [state, connect] of [
        ['connecting', false],
        ['needs-input', false],
        ['connected', false],
        ['reconnecting', false],
        ['error', true],
        ['idle', true]
      ] as const) {
        fake.socket.send({
          type: 'cluster-state',
          cluster: status('demo', state)
        });
        expect([state, enabled(CommandIDs.connectCluster)]).toEqual([
          state,
          connect
        ]);
        expect([state, enabled(CommandIDs.disconnectCluster)]).toEqual([
          state,
          !connect
        ]);
      }
    });

    it('enables nothing for a cluster that is not configured', async () => {
      await setUp();
      for (const id of [
        CommandIDs.editCluster,
        CommandIDs.removeCluster,
        CommandIDs.connectCluster,
        CommandIDs.testCluster,
        CommandIDs.setupKey
      ]) {
        expect([id, enabled(id, 'nowhere')]).toEqual([id, false]);
      }
      expect(commands.isEnabled(CommandIDs.connectCluster, {})).toBe(false);
    });

    it('sets up no SSH key for a cluster on this computer', async () => {
      await setUp();
      expect(enabled(CommandIDs.setupKey)).toBe(true);
      expect(enabled(CommandIDs.setupKey, 'here')).toBe(false);
      expect(enabled(CommandIDs.testCluster, 'here')).toBe(true);
    });

    it('needs the sidecar for connections, not for editing', async () => {
      await setUp();
      fake.on('GET', '/api/v1/health', () => new Response('', { status: 502 }));
      await sidecar.refresh();
      expect(sidecar.state.status).toBe('failed');

      expect(enabled(CommandIDs.connectCluster)).toBe(false);
      expect(enabled(CommandIDs.testCluster)).toBe(false);
      expect(enabled(CommandIDs.setupKey)).toBe(false);
      expect(enabled(CommandIDs.editCluster)).toBe(true);
      expect(commands.isEnabled(CommandIDs.addCluster)).toBe(true);
    });

    it('adds nothing while the settings are not loaded', () => {
      const model = new ClusterSettings();
      const registry = new CommandRegistry();
      addClusterCommands({
        commands: registry,
        trans,
        settings: model,
        clusters: { isBusy: () => false } as unknown as ClusterModel
      });
      expect(registry.isEnabled(CommandIDs.addCluster)).toBe(false);
    });
  });

  it('add-cluster saves the cluster from the dialog and hands it to the sidecar', async () => {
    await setUp();
    const reveal = jest.fn();
    commands.addCommand(CommandIDs.openCluster, {
      execute: reveal,
      describedBy: { args: { type: 'object', properties: {} } }
    });

    const done = commands.execute(CommandIDs.addCluster);
    const dialog = await openDialog('select');
    expect(dialogTitle(dialog)).toBe('Add cluster');
    choose(
      field<HTMLSelectElement>(dialog, 'Host from ~/.ssh/config'),
      'hpc-demo'
    );
    // "hpc-demo" is free: the preset cluster is called "demo".
    await until(() => field(dialog, 'Name').value === 'hpc-demo');
    dialogButton(dialog, 'Add').click();
    await done;

    expect(registrySettings.user.clusters).toEqual([
      demo,
      here,
      { name: 'hpc-demo', host: 'hpc-demo' }
    ]);
    expect(reveal).toHaveBeenCalledWith({ name: 'hpc-demo' });
    await until(() =>
      fake.requests.some(
        r =>
          r.method === 'PUT' &&
          JSON.stringify(r.body).includes('"name":"hpc-demo"')
      )
    );
  });

  it('edit-cluster saves the changes in place', async () => {
    await setUp();
    const done = commands.execute(CommandIDs.editCluster, { name: 'demo' });
    const dialog = await openDialog('select');
    type(field(dialog, 'User'), 'hpcdemo');
    await until(() => field(dialog, 'User').value === 'hpcdemo');
    dialogButton(dialog, 'Save').click();
    await done;

    expect(registrySettings.user.clusters).toEqual([
      { ...demo, user: 'hpcdemo' },
      here
    ]);
  });

  it('remove-cluster asks first, and removes only when confirmed', async () => {
    await setUp();
    let done = commands.execute(CommandIDs.removeCluster, { name: 'demo' });
    let dialog = await openDialog('.jp-Dialog-body');
    dialogButton(dialog, 'Cancel').click();
    await done;
    expect(settings.clusters.map(c => c.name)).toEqual(['demo', 'here']);

    done = commands.execute(CommandIDs.removeCluster, { name: 'demo' });
    dialog = await openDialog('.jp-Dialog-body');
    expect(dialogTitle(dialog)).toBe('Remove cluster demo?');
    dialogButton(dialog, 'Remove').click();
    await done;
    expect(settings.clusters.map(c => c.name)).toEqual(['here']);
  });

  it('connect-cluster connects, and says why when it cannot', async () => {
    await setUp();
    fake.on('POST', '/api/v1/clusters/demo/connect', () =>
      status('demo', 'connected')
    );
    await expect(
      commands.execute(CommandIDs.connectCluster, { name: 'demo' })
    ).resolves.toMatchObject({ state: 'connected' });
    expect(notes()).toEqual([]);

    fake.on('POST', '/api/v1/clusters/demo/connect', () =>
      sidecarError(
        502,
        'unreachable',
        'no-such-host.invalid: the name does not resolve.'
      )
    );
    fake.socket.open();
    fake.socket.send({
      type: 'cluster-state',
      cluster: status('demo', 'idle')
    });
    await commands.execute(CommandIDs.connectCluster, { name: 'demo' });

    expect(notes()).toEqual([
      [
        'error',
        'Could not connect to demo: no-such-host.invalid: the name does not resolve.'
      ]
    ]);
  });

  it.each(['auth-cancelled', 'host-key-rejected'])(
    'says nothing when the user chose %s',
    async code => {
      await setUp();
      fake.on('POST', '/api/v1/clusters/demo/connect', () =>
        sidecarError(401, code, 'You cancelled.')
      );
      await commands.execute(CommandIDs.connectCluster, { name: 'demo' });
      expect(notes()).toEqual([]);
    }
  );

  it('test-cluster reports the round trip, SLURM and the conda tools', async () => {
    await setUp();
    const result: IConnectionTest = {
      rttMs: 3.14,
      connectMs: 0,
      sshClient: 'openssh',
      slurmVersion: 'slurm 22.05.8',
      tools: { conda: '/opt/conda/bin/conda', mamba: null, micromamba: null },
      toolsOnPath: ['conda'],
      remoteHost: 'login1',
      shell: '/bin/bash',
      status: status('demo', 'connected')
    };
    fake.on('POST', '/api/v1/clusters/demo/test', () => result);

    await commands.execute(CommandIDs.testCluster, { name: 'demo' });

    expect(notes()).toEqual([
      ['success', 'demo: 3.1 ms round trip, slurm 22.05.8, conda']
    ]);
    expect(clusters.lastTest('demo')).toEqual({ ok: true, result });

    fake.on('POST', '/api/v1/clusters/demo/test', () =>
      sidecarError(
        401,
        'auth-failed',
        'hpcdemo@hpc-demo refused every key; set up a key.'
      )
    );
    Notification.manager.dismiss();
    await commands.execute(CommandIDs.testCluster, { name: 'demo' });
    expect(notes()).toEqual([
      [
        'error',
        'The connection test of demo failed: hpcdemo@hpc-demo refused every key; set up a key.'
      ]
    ]);
  });

  it('setup-key creates the key from the dialog, saves it as the identity file and shows the result', async () => {
    await setUp();
    const result: IKeySetupResult = {
      keyPath: '~/.ssh/id_ed25519_demo',
      created: true,
      installed: true,
      fingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
      verified: true
    };
    fake.on('POST', '/api/v1/clusters/demo/key-setup', () => result);

    const done = commands.execute(CommandIDs.setupKey, { name: 'demo' });
    const form = await openDialog('.jp-HpcKeySetupForm input');
    expect(dialogTitle(form)).toBe('Set up an SSH key for demo');
    expect(field(form, 'Key file').value).toBe('~/.ssh/id_ed25519_demo');
    const passphrase = field(form, 'Passphrase (optional)');
    const again = field(form, 'Passphrase again');
    expect([passphrase.type, again.type]).toEqual(['password', 'password']);

    passphrase.value = 'a long passphrase';
    again.value = 'a long passfrase';
    dialogButton(form, 'Create and install').click();
    await until(
      () => again.getAttribute('aria-invalid') === 'true' && form.isConnected
    );
    expect(form.textContent).toContain('The two passphrases differ.');
    expect(fake.calls()).not.toContain('POST /api/v1/clusters/demo/key-setup');

    again.value = 'a long passphrase';
    dialogButton(form, 'Create and install').click();

    const shown = await until(
      () =>
        dialogs().find(d =>
          dialogTitle(d).startsWith('SSH key set up for demo')
        ) ?? null
    );
    expect(
      fake.requests.find(r => r.path.endsWith('/key-setup'))?.body
    ).toEqual({
      keyPath: '~/.ssh/id_ed25519_demo',
      passphrase: 'a long passphrase'
    });
    expect([passphrase.value, again.value]).toEqual(['', '']);
    await until(() => shown.textContent?.includes(result.fingerprint));
    expect(shown.textContent).toContain(
      'demo now connects with this key, without a password.'
    );
    expect(registrySettings.user.clusters).toEqual([
      { ...demo, identityFile: '~/.ssh/id_ed25519_demo' },
      here
    ]);
    dialogButton(shown, 'Close').click();
    await done;
  });

  it('setup-key says why it failed', async () => {
    await setUp();
    fake.on('POST', '/api/v1/clusters/demo/key-setup', () =>
      sidecarError(
        401,
        'auth-failed',
        'hpcdemo@hpc-demo did not take the password.'
      )
    );
    const done = commands.execute(CommandIDs.setupKey, { name: 'demo' });
    const form = await openDialog('.jp-HpcKeySetupForm input');
    dialogButton(form, 'Create and install').click();
    await done;

    expect(notes()).toEqual([
      [
        'error',
        'The SSH key setup for demo failed: hpcdemo@hpc-demo did not take the password.'
      ]
    ]);
    expect(registrySettings.user.clusters).toEqual([demo, here]);
  });
});
