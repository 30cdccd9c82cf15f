import { Dialog, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { nullTranslator } from '@jupyterlab/translation';
import {
  deleteIcon,
  downloadIcon,
  jupyterIcon,
  kernelIcon,
  refreshIcon,
  terminalIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IEnvironmentList, LOCAL_TARGET } from '../../../src/common/api';
import { addEnvironmentCommands, CommandIDs } from '../../../src/lab/commands';
import { EnvironmentsModel } from '../../../src/lab/envs/model';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import {
  check,
  dialogButton,
  dialogs,
  dialogTitle,
  field,
  noteOf,
  openDialog,
  type
} from './dom';
import {
  demoList,
  emptyList,
  kernelspec,
  LOCAL_KERNELS,
  localList,
  ROOT,
  task
} from './env-fixtures';
import {
  FakeSidecar,
  PLUGIN_ID,
  settingsWith,
  sidecarError,
  until
} from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');
const UI_ENV = '/tmp/ui-home/miniforge3/envs/ui-env';
const ANALYSIS = `${ROOT}/envs/analysis`;
const LAB = `${ROOT}/envs/jupyterlab`;
const MINE = `${ROOT}/envs/my-project-env`;

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let registrySettings: ISettingRegistry.ISettings;
let envs: EnvironmentsModel;
let commands: CommandRegistry;
let showTask: jest.Mock;
let syncClusters: jest.Mock;
let local: IEnvironmentList;
let demo: IEnvironmentList;

async function setUp(user: object = {}): Promise<void> {
  fake = new FakeSidecar();
  local = localList();
  demo = demoList();
  fake.on('GET', '/api/v1/local/envs', () => local);
  fake.on('GET', '/api/v1/clusters/demo/envs', () => demo);
  const { registry } = await settingsWith({
    clusters: [{ name: 'demo', host: 'hpc-demo' }],
    ...user
  });
  registrySettings = await registry.load(PLUGIN_ID);
  settings = new ClusterSettings();
  settings.attach(registrySettings);
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  envs = new EnvironmentsModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings,
    kernelspecs: { refreshSpecs: async () => undefined }
  });
  commands = new CommandRegistry();
  showTask = jest.fn();
  syncClusters = jest.fn(async () => undefined);
  addEnvironmentCommands({
    commands,
    trans,
    settings,
    envs,
    syncClusters,
    showTask
  });
  await until(() => envs.available);
  await envs.load(LOCAL_TARGET);
  await envs.load('demo');
}

const notes = () =>
  Notification.manager.notifications.map(n => [n.type, n.message]);

afterEach(() => {
  envs?.dispose();
  sidecar?.dispose();
  settings?.dispose();
  Dialog.flush();
  Notification.manager.dismiss();
});

describe('addEnvironmentCommands', () => {
  it('registers the environment commands with labels, captions and icons', async () => {
    await setUp();
    const args = { target: 'demo', prefix: MINE };
    expect(
      (
        [
          [CommandIDs.refreshEnvs, { target: 'demo' }],
          [CommandIDs.registerKernel, args],
          [CommandIDs.unregisterKernel, args],
          [CommandIDs.installIpykernel, { target: 'demo', prefix: ANALYSIS }],
          [CommandIDs.installMiniforge, { cluster: 'demo' }],
          [CommandIDs.useForJupyterLab, args],
          [CommandIDs.showTask, { id: 't1' }]
        ] as [string, ReadonlyPartialJSONObject][]
      ).map(([id, a]) => [
        id,
        commands.label(id, a),
        commands.caption(id, a),
        commands.icon(id, a)
      ])
    ).toEqual([
      [
        'hpc:refresh-envs',
        'Rescan Environments on demo',
        'Look for conda environments on demo again',
        refreshIcon
      ],
      [
        'hpc:register-kernel',
        'Register Kernel',
        'Make my-project-env a kernel in the JupyterLab environment of demo: "Python [conda env:my-project-env]"',
        kernelIcon
      ],
      [
        'hpc:unregister-kernel',
        'Unregister Kernel',
        'Remove the kernel "my-project-env" from demo',
        deleteIcon
      ],
      [
        'hpc:install-ipykernel',
        'Install ipykernel…',
        'Install ipykernel into analysis on demo, so Jupyter can run it',
        downloadIcon
      ],
      [
        'hpc:install-miniforge',
        'Install Miniforge…',
        'Install conda (Miniforge) in your home directory on demo',
        downloadIcon
      ],
      [
        'hpc:use-env-for-jupyterlab',
        'Use for JupyterLab',
        'Make my-project-env the JupyterLab environment of demo: kernels are registered there',
        jupyterIcon
      ],
      [
        'hpc:show-task',
        'Show Task Output',
        'Show the output of a task',
        terminalIcon
      ]
    ]);
    // Each says what arguments it takes.
    for (const id of Object.values(CommandIDs).filter(id =>
      [
        'hpc:refresh-envs',
        'hpc:register-kernel',
        'hpc:install-miniforge',
        'hpc:show-task'
      ].includes(id)
    )) {
      const described = await commands.describedBy(id);
      expect(described.args?.required).toEqual(expect.any(Array));
    }
  });

  it('enables each action only where it applies', async () => {
    await setUp();
    const enabled = (id: string, target: string, prefix: string) =>
      commands.isEnabled(id, { target, prefix });
    // my-project-env: has ipykernel, not registered, no JupyterLab.
    expect(enabled(CommandIDs.registerKernel, 'demo', MINE)).toBe(true);
    expect(enabled(CommandIDs.unregisterKernel, 'demo', MINE)).toBe(false);
    expect(enabled(CommandIDs.installIpykernel, 'demo', MINE)).toBe(false);
    expect(enabled(CommandIDs.useForJupyterLab, 'demo', MINE)).toBe(false);
    // analysis: no ipykernel.
    expect(enabled(CommandIDs.registerKernel, 'demo', ANALYSIS)).toBe(false);
    expect(enabled(CommandIDs.installIpykernel, 'demo', ANALYSIS)).toBe(true);
    // jupyterlab hosts JupyterLab already.
    expect(enabled(CommandIDs.useForJupyterLab, 'demo', LAB)).toBe(false);
    // Not on this computer, and not for envs nobody listed.
    expect(enabled(CommandIDs.useForJupyterLab, LOCAL_TARGET, UI_ENV)).toBe(
      false
    );
    expect(enabled(CommandIDs.registerKernel, 'demo', '/nowhere')).toBe(false);
    expect(enabled(CommandIDs.registerKernel, LOCAL_TARGET, UI_ENV)).toBe(true);
    expect(commands.isEnabled(CommandIDs.refreshEnvs, { target: 'demo' })).toBe(
      true
    );
    expect(commands.isEnabled(CommandIDs.refreshEnvs, { target: 'gone' })).toBe(
      false
    );
    expect(
      commands.isEnabled(CommandIDs.installMiniforge, { cluster: 'gone' })
    ).toBe(false);
  });

  it('registers a kernel and says where it shows, or why it failed', async () => {
    await setUp();
    const e = demo.envs[2];
    fake.on('POST', '/api/v1/clusters/demo/kernels', () => ({
      kernel: kernelspec(e, `${LAB}/share/jupyter/kernels`),
      created: true
    }));
    await commands.execute(CommandIDs.registerKernel, {
      target: 'demo',
      prefix: MINE
    });
    expect(fake.requests.find(r => r.method === 'POST')?.body).toEqual({
      prefix: MINE
    });
    expect(notes()).toEqual([
      [
        'success',
        'Kernel "Python [conda env:my-project-env]" registered on demo.'
      ]
    ]);

    Notification.manager.dismiss();
    fake.on('POST', '/api/v1/local/kernels', () =>
      sidecarError(
        500,
        'kernel-write-failed',
        'Cannot write /tmp/lab/data/kernels: permission denied.'
      )
    );
    await commands.execute(CommandIDs.registerKernel, {
      target: LOCAL_TARGET,
      prefix: UI_ENV
    });
    expect(notes()).toEqual([
      [
        'error',
        'The kernel of ui-env could not be registered: Cannot write /tmp/lab/data/kernels: permission denied.'
      ]
    ]);
  });

  it('says so when the kernel existed already', async () => {
    await setUp();
    fake.on('POST', '/api/v1/local/kernels', () => ({
      kernel: kernelspec(local.envs[0], LOCAL_KERNELS),
      created: false
    }));
    await commands.execute(CommandIDs.registerKernel, {
      target: LOCAL_TARGET,
      prefix: UI_ENV
    });
    expect(notes()).toEqual([
      [
        'info',
        'The kernel "Python [conda env:ui-env]" was registered already; nothing changed.'
      ]
    ]);
  });

  it('unregisters the kernel of an env', async () => {
    await setUp();
    const kernel = kernelspec(local.envs[0], LOCAL_KERNELS);
    local = localList([{ ...local.envs[0], registered: kernel }]);
    await envs.load(LOCAL_TARGET);
    fake.on(
      'DELETE',
      '/api/v1/local/kernels/conda-env-ui-env-py',
      () => new Response(null, { status: 204 })
    );
    expect(
      commands.isEnabled(CommandIDs.unregisterKernel, {
        target: LOCAL_TARGET,
        prefix: UI_ENV
      })
    ).toBe(true);
    await commands.execute(CommandIDs.unregisterKernel, {
      target: LOCAL_TARGET,
      prefix: UI_ENV
    });
    expect(fake.calls()).toContain(
      'DELETE /api/v1/local/kernels/conda-env-ui-env-py'
    );
    expect(notes()).toEqual([
      ['success', 'Kernel "Python [conda env:ui-env]" removed.']
    ]);
  });

  describe('install ipykernel', () => {
    it('explains the command, and on Install starts the task and shows its output', async () => {
      await setUp();
      fake.on('POST', '/api/v1/clusters/demo/envs/install-ipykernel', () =>
        task()
      );
      const running = commands.execute(CommandIDs.installIpykernel, {
        target: 'demo',
        prefix: ANALYSIS
      });
      const dialog = await openDialog('pre code');
      expect(dialogTitle(dialog)).toBe('Install ipykernel into analysis?');
      // The demo cluster has no conda: the install task uses the env's pip.
      expect(dialog.querySelector('pre code')?.textContent).toBe(
        '/home/hpcdemo/.local/miniforge/envs/analysis/bin/python -m pip install ipykernel'
      );
      expect(dialog.textContent).toContain('run on demo:');
      dialogButton(dialog, 'Install').click();
      await running;
      expect(fake.requests.find(r => r.method === 'POST')?.body).toEqual({
        prefix: ANALYSIS
      });
      expect(showTask).toHaveBeenCalledWith('t1');
      // One install per env at a time.
      expect(
        commands.isEnabled(CommandIDs.installIpykernel, {
          target: 'demo',
          prefix: ANALYSIS
        })
      ).toBe(false);
    });

    it('does nothing on Cancel', async () => {
      await setUp();
      const running = commands.execute(CommandIDs.installIpykernel, {
        target: 'demo',
        prefix: ANALYSIS
      });
      const dialog = await openDialog('pre code');
      dialogButton(dialog, 'Cancel').click();
      await running;
      expect(fake.calls().filter(c => c.startsWith('POST'))).toEqual([]);
      expect(showTask).not.toHaveBeenCalled();
    });
  });

  describe('install Miniforge', () => {
    it("pre-fills the tutorial's prefix and the installer URL setting, and starts the task", async () => {
      await setUp({
        conda: { installerUrl: 'https://mirror.example.org/mf-{arch}.sh' }
      });
      demo = emptyList('demo');
      await envs.load('demo');
      fake.on('POST', '/api/v1/clusters/demo/miniforge', () =>
        task({ id: 'm1', kind: 'install-miniforge' })
      );
      const running = commands.execute(CommandIDs.installMiniforge, {
        cluster: 'demo'
      });
      const dialog = await openDialog('input');
      expect(dialogTitle(dialog)).toBe('Install Miniforge on demo');
      expect(field(dialog, 'Install into').value).toBe('~/.local/miniforge');
      expect(field(dialog, 'Installer URL').value).toBe(
        'https://mirror.example.org/mf-{arch}.sh'
      );
      const create = dialog.querySelector<HTMLInputElement>(
        'input[type="checkbox"]'
      )!;
      expect(create.checked).toBe(true);
      expect(create.parentElement?.textContent).toBe(
        'Also create the jupyterlab environment'
      );

      // Checked before it may close.
      type(field(dialog, 'Install into'), 'miniforge');
      type(field(dialog, 'Installer URL'), 'ftp://mirror/x.sh');
      dialogButton(dialog, 'Install').click();
      await until(() =>
        noteOf(field(dialog, 'Install into'))?.startsWith('An absolute path')
      );
      expect(noteOf(field(dialog, 'Installer URL'))).toBe(
        'An http:// or https:// address.'
      );
      expect(dialogs()).toHaveLength(1);

      type(field(dialog, 'Install into'), '~/opt/miniforge');
      type(field(dialog, 'Installer URL'), 'https://mirror.example.org/mf.sh');
      check(create);
      await until(() => !create.checked);
      dialogButton(dialog, 'Install').click();
      await running;
      expect(fake.requests.find(r => r.method === 'POST')?.body).toEqual({
        prefix: '~/opt/miniforge',
        installerUrl: 'https://mirror.example.org/mf.sh',
        createJupyterlabEnv: false
      });
      expect(showTask).toHaveBeenCalledWith('m1');
    });

    it('says why the sidecar refused', async () => {
      await setUp();
      fake.on('POST', '/api/v1/clusters/demo/miniforge', () =>
        sidecarError(
          409,
          'conda-exists',
          '~/.local/miniforge exists already on demo.'
        )
      );
      const running = commands.execute(CommandIDs.installMiniforge, {
        cluster: 'demo'
      });
      dialogButton(await openDialog('input'), 'Install').click();
      await running;
      expect(notes()).toEqual([
        [
          'error',
          'Miniforge could not be installed on demo: ~/.local/miniforge exists already on demo.'
        ]
      ]);
      expect(showTask).not.toHaveBeenCalled();
    });
  });

  it("makes an env the cluster's JupyterLab env in the settings, then rescans", async () => {
    await setUp();
    demo = demoList({ kernelsDir: null, jupyterlabPrefix: null });
    await envs.load('demo');
    fake.requests.length = 0;
    await commands.execute(CommandIDs.useForJupyterLab, {
      target: 'demo',
      prefix: LAB
    });
    expect(registrySettings.user.clusters).toEqual([
      { name: 'demo', host: 'hpc-demo', jupyterEnvironment: 'jupyterlab' }
    ]);
    expect(settings.clusters[0].jupyterEnvironment).toBe('jupyterlab');
    expect(syncClusters).toHaveBeenCalled();
    expect(
      fake.requests.map(r => `${r.method} ${r.path}${r.search}`)
    ).toContain('GET /api/v1/clusters/demo/envs?refresh=1');
    expect(notes()).toEqual([
      [
        'success',
        'The JupyterLab environment of demo is jupyterlab from now on; kernels are registered there.'
      ]
    ]);
  });

  it('writes the prefix of an env made with -p', async () => {
    await setUp();
    const scratch = demo.envs[4];
    demo = demoList({
      envs: [{ ...scratch, jupyterlabVersion: '4.2.5' }]
    });
    await envs.load('demo');
    await commands.execute(CommandIDs.useForJupyterLab, {
      target: 'demo',
      prefix: scratch.prefix
    });
    expect(settings.clusters[0].jupyterEnvironment).toBe(
      '/home/hpcdemo/projects/scratch-env'
    );
  });
});
