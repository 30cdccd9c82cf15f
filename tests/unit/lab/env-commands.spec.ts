import { Dialog, Notification } from '@jupyterlab/apputils';
import { Session } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { signalToPromise } from '@jupyterlab/testing';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IEnvironmentList, LOCAL_TARGET } from '../../../src/common/api';
import { ClusterToasts } from '../../../src/lab/commands/cluster-toasts';
import { addEnvironmentCommands } from '../../../src/lab/commands/environments';
import { CommandIDs } from '../../../src/lab/tokens';
import { EnvironmentsModel } from '../../../src/lab/envs/model';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import {
  check,
  choose,
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
/** The sessions JupyterLab runs: notebooks and consoles with their kernels. */
let running: Session.IModel[];
/** Asks the server for the sessions again (JupyterLab polls them). */
let refreshRunning: jest.Mock;
/** The cluster row a context menu was opened on. */
let clickedRow: HTMLElement | null = null;
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
  running = [];
  refreshRunning = jest.fn(async () => undefined);
  addEnvironmentCommands({
    commands,
    trans,
    settings,
    envs,
    syncClusters,
    showTask,
    sessions: {
      running: () => running[Symbol.iterator](),
      refreshRunning
    },
    hitTest: test => (clickedRow && test(clickedRow) ? clickedRow : undefined),
    toasts: new ClusterToasts({ settings, trans })
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
  it('says in each caption which environment and where it acts', async () => {
    await setUp();
    for (const [id, args, names] of [
      [
        CommandIDs.registerKernel,
        { target: 'demo', prefix: MINE },
        ['my-project-env', 'demo']
      ],
      [
        CommandIDs.unregisterKernel,
        { target: 'demo', prefix: MINE },
        ['my-project-env', 'demo']
      ],
      [
        CommandIDs.installIpykernel,
        { target: 'demo', prefix: ANALYSIS },
        ['analysis', 'demo']
      ],
      [CommandIDs.installMiniforge, { cluster: 'demo' }, ['demo']],
      [
        CommandIDs.useForJupyterLab,
        { target: 'demo', prefix: MINE },
        ['my-project-env', 'demo']
      ],
      [CommandIDs.refreshEnvs, { target: 'demo' }, ['demo']],
      [CommandIDs.refreshEnvs, { target: LOCAL_TARGET }, ['this computer']]
    ] as [string, ReadonlyPartialJSONObject, string[]][]) {
      const caption = commands.caption(id, args);
      for (const name of names) {
        expect([id, caption]).toEqual([id, expect.stringContaining(name)]);
      }
    }
  });

  it('takes the rescan target from its arguments, the row menu, or asks', async () => {
    await setUp();
    expect(commands.label(CommandIDs.refreshEnvs, { target: 'demo' })).toBe(
      'Rescan Environments on demo'
    );
    expect(commands.label(CommandIDs.refreshEnvs, {})).toBe(
      'Rescan Environments…'
    );
    // Key bindings may leave the target out; the panel always gives one.
    const { args } = await commands.describedBy(CommandIDs.refreshEnvs);
    expect(args?.required).toBeUndefined();
    for (const id of [
      CommandIDs.registerKernel,
      CommandIDs.unregisterKernel,
      CommandIDs.installIpykernel,
      CommandIDs.useForJupyterLab
    ]) {
      const described = await commands.describedBy(id);
      expect([id, described.args?.required]).toEqual([
        id,
        ['target', 'prefix']
      ]);
    }

    const before = fake.calls().length;
    const done = commands.execute(CommandIDs.refreshEnvs, {});
    const dialog = await openDialog('select');
    const select = dialog.querySelector('select')!;
    expect(Array.from(select.options).map(o => o.value)).toEqual([
      'this computer',
      'demo'
    ]);
    choose(select, 'demo');
    dialogButton(dialog, 'OK').click();
    await done;
    expect(
      fake.requests.slice(before).map(r => `${r.path}${r.search}`)
    ).toContain('/api/v1/clusters/demo/envs?refresh=1');
  });

  it('rescans the cluster whose row the context menu was opened on', async () => {
    await setUp();
    clickedRow = document.createElement('li');
    clickedRow.className = 'jp-HpcClusterRow';
    clickedRow.setAttribute('data-cluster-id', 'demo');
    const menu = { isContextMenu: true };
    expect(commands.label(CommandIDs.refreshEnvs, menu)).toBe(
      'Rescan Environments'
    );
    expect(commands.isEnabled(CommandIDs.refreshEnvs, menu)).toBe(true);
    await commands.execute(CommandIDs.refreshEnvs, menu);
    expect(fake.requests.map(r => `${r.path}${r.search}`)).toContain(
      '/api/v1/clusters/demo/envs?refresh=1'
    );
    clickedRow = null;
  });

  it('drops the listing error of a cluster once the cluster is removed', async () => {
    await setUp();
    fake.on('GET', '/api/v1/clusters/demo/envs', () =>
      sidecarError(502, 'unreachable', 'hpc-demo does not resolve.')
    );
    await commands.execute(CommandIDs.refreshEnvs, { target: 'demo' });
    expect(notes()).toEqual([
      [
        'error',
        'The environments on demo could not be listed: hpc-demo does not resolve.'
      ]
    ]);
    const changed = signalToPromise(settings.changed);
    await registrySettings.set('clusters', []);
    await changed;
    expect(notes()).toEqual([]);
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

  describe('unregister a kernel in use', () => {
    const uiKernel = 'conda-env-ui-env-py';

    /** ui-env registered here; `notebooks` run its kernel. */
    async function registered(...notebooks: string[]): Promise<void> {
      await setUp();
      const kernel = kernelspec(local.envs[0], LOCAL_KERNELS);
      local = localList([{ ...local.envs[0], registered: kernel }]);
      await envs.load(LOCAL_TARGET);
      fake.on(
        'DELETE',
        `/api/v1/local/kernels/${uiKernel}`,
        () => new Response(null, { status: 204 })
      );
      running = notebooks.map((path, i) => ({
        id: `s${i}`,
        name: path.split('/').pop()!,
        path,
        type: 'notebook',
        kernel: { id: `k${i}`, name: uiKernel }
      }));
      // A notebook on another kernel does not count.
      running.push({
        id: 'other',
        name: 'other.ipynb',
        path: 'other.ipynb',
        type: 'notebook',
        kernel: { id: 'ko', name: 'python3' }
      });
    }

    const unregister = () =>
      commands.execute(CommandIDs.unregisterKernel, {
        target: LOCAL_TARGET,
        prefix: UI_ENV
      });
    const deleted = () =>
      fake.calls().includes(`DELETE /api/v1/local/kernels/${uiKernel}`);

    it('asks first, naming the notebook, and keeps the kernel on Cancel', async () => {
      await registered('work/analysis.ipynb');
      const done = unregister();
      const dialog = await openDialog('.jp-Dialog-body');
      expect(dialogTitle(dialog)).toBe(
        'Unregister the kernel "Python [conda env:ui-env]"?'
      );
      expect(dialog.textContent).toContain(
        'work/analysis.ipynb uses this kernel.'
      );
      expect(dialog.textContent).not.toContain('other.ipynb');
      // Not the list of the last poll: a notebook may have just started.
      expect(refreshRunning).toHaveBeenCalledTimes(1);
      dialogButton(dialog, 'Cancel').click();
      await done;
      expect(deleted()).toBe(false);
      expect(notes()).toEqual([]);
    });

    it('unregisters when the user confirms', async () => {
      await registered('a.ipynb', 'b.ipynb');
      const done = unregister();
      const dialog = await openDialog('.jp-Dialog-body');
      expect(dialog.textContent).toContain(
        '2 open documents use this kernel: a.ipynb, b.ipynb.'
      );
      const button = dialogButton(dialog, 'Unregister');
      expect(button.classList.contains('jp-mod-warn')).toBe(true);
      button.click();
      await done;
      expect(deleted()).toBe(true);
    });

    it('asks nothing when no session uses it', async () => {
      await registered();
      await unregister();
      expect(dialogs()).toEqual([]);
      expect(deleted()).toBe(true);
    });
  });

  it('names the cluster when it removes a kernel there', async () => {
    await setUp();
    const lab = demo.envs.find(e => e.prefix === LAB)!;
    const mine = demo.envs.find(e => e.prefix === MINE)!;
    const kernel = kernelspec(mine, `${LAB}/share/jupyter/kernels`);
    demo = { ...demo, envs: [lab, { ...mine, registered: kernel }] };
    await envs.load('demo');
    fake.on(
      'DELETE',
      `/api/v1/clusters/demo/kernels/${kernel.name}`,
      () => new Response(null, { status: 204 })
    );
    // A local notebook with a kernel of that name runs another kernel.
    running = [
      {
        id: 's',
        name: 'a.ipynb',
        path: 'a.ipynb',
        type: 'notebook',
        kernel: { id: 'k', name: kernel.name }
      }
    ];
    await commands.execute(CommandIDs.unregisterKernel, {
      target: 'demo',
      prefix: MINE
    });
    expect(dialogs()).toEqual([]);
    expect(notes()).toEqual([
      [
        'success',
        'Kernel "Python [conda env:my-project-env]" removed from demo.'
      ]
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
