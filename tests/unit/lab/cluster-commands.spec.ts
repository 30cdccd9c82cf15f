import { Dialog, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { nullTranslator } from '@jupyterlab/translation';
import { signalToPromise } from '@jupyterlab/testing';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import {
  IClusterStatus,
  IConnectionTest,
  IKeySetupResult
} from '../../../src/common/api';
import { ClusterModel } from '../../../src/lab/clusters/model';
import { addClusterCommands } from '../../../src/lab/commands/clusters';
import { CommandIDs } from '../../../src/lab/tokens';
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
/** The row the context menu was opened on, as `contextMenuHitTest` sees it. */
let clickedRow: HTMLElement | null;

/** A cluster row with a child that was clicked, as the panel renders it. */
function row(name: string): HTMLElement {
  const li = document.createElement('li');
  li.className = 'jp-HpcPanel-cluster jp-HpcClusterRow';
  li.setAttribute('data-cluster-id', name);
  li.appendChild(document.createElement('span'));
  return li.firstElementChild as HTMLElement;
}

/** `app.contextMenuHitTest`: from the clicked node up to the root. */
function hitTest(
  test: (node: HTMLElement) => boolean
): HTMLElement | undefined {
  for (let node = clickedRow; node; node = node.parentElement) {
    if (test(node)) {
      return node;
    }
  }
  return undefined;
}

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
  clickedRow = null;
  addClusterCommands({ commands, trans, settings, clusters, hitTest });
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
  it('names the cluster in the palette, not in the row menu, and asks without one', async () => {
    await setUp();
    const perCluster = [
      CommandIDs.connectCluster,
      CommandIDs.disconnectCluster,
      CommandIDs.testCluster
    ];
    clickedRow = row('demo');
    for (const id of perCluster) {
      const named = commands.label(id, { name: 'demo' });
      const inMenu = commands.label(id, { isContextMenu: true });
      const asking = commands.label(id, {});
      expect([id, named.endsWith(' demo')]).toEqual([id, true]);
      expect([id, named.startsWith(inMenu)]).toEqual([id, true]);
      expect([id, inMenu.includes('demo')]).toEqual([id, false]);
      expect([id, asking.endsWith('…')]).toEqual([id, true]);
      expect(commands.caption(id, { name: 'demo' })).toContain('demo');
      expect(commands.caption(id, { isContextMenu: true })).toContain('demo');
    }
    for (const id of [
      CommandIDs.editCluster,
      CommandIDs.removeCluster,
      CommandIDs.setupKey
    ]) {
      expect(commands.caption(id, { name: 'demo' })).toContain('demo');
    }
  });

  it('describes the arguments: a cluster given, or asked for', async () => {
    await setUp();
    expect(await commands.describedBy(CommandIDs.addCluster)).toEqual({
      args: { type: 'object', properties: {} }
    });
    for (const id of [
      CommandIDs.editCluster,
      CommandIDs.removeCluster,
      CommandIDs.setupKey
    ]) {
      const { args } = await commands.describedBy(id);
      expect([id, args?.required]).toEqual([id, ['name']]);
      expect(args?.properties).toMatchObject({ name: { type: 'string' } });
    }
    // Key bindings may leave the cluster out: the command asks.
    for (const id of [
      CommandIDs.connectCluster,
      CommandIDs.disconnectCluster,
      CommandIDs.testCluster
    ]) {
      const { args } = await commands.describedBy(id);
      expect([id, args?.required]).toEqual([id, undefined]);
      expect(args?.properties).toMatchObject({
        name: { type: 'string' },
        isContextMenu: { type: 'boolean' }
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
        clusters: {
          isBusy: () => false,
          status: () => null,
          changed: new Signal<ClusterModel, void>({} as ClusterModel)
        } as unknown as ClusterModel
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

  describe('per cluster, from the palette, key bindings and the context menu', () => {
    it('acts on the row the context menu was opened on', async () => {
      await setUp();
      fake.on('POST', '/api/v1/clusters/here/connect', () =>
        status('here', 'connected')
      );
      const menu = { isContextMenu: true };
      clickedRow = row('here');
      expect(commands.label(CommandIDs.connectCluster, menu)).toBe('Connect');
      expect(commands.isEnabled(CommandIDs.connectCluster, menu)).toBe(true);
      expect(commands.isEnabled(CommandIDs.disconnectCluster, menu)).toBe(
        false
      );

      await commands.execute(CommandIDs.connectCluster, menu);

      expect(fake.calls()).toContain('POST /api/v1/clusters/here/connect');
      expect(fake.calls()).not.toContain('POST /api/v1/clusters/demo/connect');
    });

    it('does nothing from a context menu opened elsewhere', async () => {
      await setUp();
      clickedRow = document.createElement('div');
      const menu = { isContextMenu: true };
      expect(commands.isEnabled(CommandIDs.connectCluster, menu)).toBe(false);
      await commands.execute(CommandIDs.connectCluster, menu);
      expect(dialogs()).toEqual([]);
      expect(fake.calls().filter(c => c.startsWith('POST'))).toEqual([]);
    });

    it('asks which cluster when none is given, offering those it applies to', async () => {
      await setUp();
      fake.on('POST', '/api/v1/clusters/here/test', () => ({
        rttMs: 1,
        connectMs: 0,
        sshClient: 'local',
        slurmVersion: null,
        tools: { conda: null, mamba: null, micromamba: null },
        remoteHost: 'login1',
        shell: '/bin/bash',
        status: status('here', 'connected')
      }));
      expect(commands.isEnabled(CommandIDs.testCluster, {})).toBe(true);
      // Nothing is connected: there is nothing to disconnect from.
      expect(commands.isEnabled(CommandIDs.disconnectCluster, {})).toBe(false);

      const done = commands.execute(CommandIDs.testCluster, {});
      const dialog = await openDialog('select');
      expect(dialogTitle(dialog)).toBe('Test Connection to Cluster…');
      const select = dialog.querySelector('select')!;
      expect(Array.from(select.options).map(o => o.value)).toEqual([
        'demo',
        'here'
      ]);
      choose(select, 'here');
      dialogButton(dialog, 'OK').click();
      await done;

      expect(fake.calls()).toContain('POST /api/v1/clusters/here/test');
    });

    it('does nothing when the question is cancelled', async () => {
      await setUp();
      const done = commands.execute(CommandIDs.connectCluster, {});
      const dialog = await openDialog('select');
      dialogButton(dialog, 'Cancel').click();
      await done;
      expect(fake.calls().filter(c => c.startsWith('POST'))).toEqual([]);
    });
  });

  describe('toasts about a cluster follow its state', () => {
    /** Connect fails with the typo's error; the toast shows it. */
    async function failToConnect(): Promise<void> {
      fake.on('POST', '/api/v1/clusters/demo/connect', () =>
        sidecarError(502, 'unreachable', 'typo.invalid does not resolve.')
      );
      await commands.execute(CommandIDs.connectCluster, { name: 'demo' });
      expect(notes()).toEqual([
        ['error', 'Could not connect to demo: typo.invalid does not resolve.']
      ]);
    }

    it('turns the error into a success once the cluster is connected', async () => {
      await setUp();
      await failToConnect();
      const [before] = Notification.manager.notifications;
      fake.socket.open();
      const changed = signalToPromise(clusters.changed);
      fake.socket.send({
        type: 'cluster-state',
        cluster: status('demo', 'connected')
      });
      await changed;

      expect(notes()).toEqual([['success', 'demo is connected now.']]);
      expect(Notification.manager.notifications[0].id).toBe(before.id);
      expect(Notification.manager.notifications[0].options.autoClose).toBe(
        5000
      );
    });

    it('dismisses the error when the cluster is edited', async () => {
      await setUp();
      await failToConnect();
      const changed = signalToPromise(settings.changed);
      await registrySettings.set('clusters', [
        { name: 'demo', host: 'hpc-demo.example.org' },
        here
      ]);
      await changed;
      expect(notes()).toEqual([]);
    });

    it('dismisses the error when the cluster is removed', async () => {
      await setUp();
      await failToConnect();
      const changed = signalToPromise(settings.changed);
      await registrySettings.set('clusters', [here]);
      await changed;
      expect(notes()).toEqual([]);
    });

    it('keeps the error when another cluster changes', async () => {
      await setUp();
      await failToConnect();
      const changed = signalToPromise(settings.changed);
      await registrySettings.set('clusters', [
        demo,
        { ...here, host: 'login2' }
      ]);
      await changed;
      expect(notes()).toEqual([
        ['error', 'Could not connect to demo: typo.invalid does not resolve.']
      ]);
    });

    it('replaces the last toast about the cluster instead of stacking up', async () => {
      await setUp();
      await failToConnect();
      fake.on('POST', '/api/v1/clusters/demo/test', () =>
        sidecarError(502, 'unreachable', 'still no such host.')
      );
      await commands.execute(CommandIDs.testCluster, { name: 'demo' });
      expect(notes()).toEqual([
        ['error', 'The connection test of demo failed: still no such host.']
      ]);
    });
  });
});
