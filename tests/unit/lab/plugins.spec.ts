import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { signalToPromise } from '@jupyterlab/testing';
import { CommandRegistry } from '@lumino/commands';
import { DisposableSet } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { readdirSync } from 'fs';
import { join } from 'path';

import { API_VERSION, LOCAL_TARGET } from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';
import plugins from '../../../src/lab';
import { ClusterModel, IClusterModel } from '../../../src/lab/clusters/model';
import { PANEL_ID } from '../../../src/lab/tokens';
import { EnvironmentsModel } from '../../../src/lab/envs/model';
import { clustersPlugin } from '../../../src/lab/plugins/clusters';
import { environmentsPlugin } from '../../../src/lab/plugins/environments';
import { panelPlugin } from '../../../src/lab/plugins/panel';
import { promptsPlugin } from '../../../src/lab/plugins/prompts';
import { sidecarPlugin } from '../../../src/lab/plugins/sidecar';
import {
  ClusterSettings,
  IClusterSettings
} from '../../../src/lab/settings/model';
import {
  ISidecarModel,
  SidecarModel,
  SidecarState
} from '../../../src/lab/sidecar/model';
import { FakeSidecar, PLUGIN_ID, settingsWith, until } from './fixtures';

describe('the plugin list', () => {
  it('exports the fifteen plugins, each with a unique id and a description', () => {
    expect(plugins.map(p => p.id)).toEqual([
      'jupyterlab-hpc:sidecar',
      'jupyterlab-hpc:plugin',
      'jupyterlab-hpc:clusters',
      'jupyterlab-hpc:tasks',
      'jupyterlab-hpc:environments',
      'jupyterlab-hpc:sessions',
      'jupyterlab-hpc:kernels',
      'jupyterlab-hpc:launch',
      'jupyterlab-hpc:kernel-views',
      'jupyterlab-hpc:session-views',
      'jupyterlab-hpc:running-sessions',
      'jupyterlab-hpc:running-kernel-allocations',
      'jupyterlab-hpc:prompts',
      'jupyterlab-hpc:panel',
      'jupyterlab-hpc:launcher'
    ]);
    for (const plugin of plugins) {
      expect(plugin.description).toMatch(/^[A-Z].{10,}\.$/);
      expect(plugin.autoStart).toBe(true);
    }
  });

  it('has a schema file for exactly the plugins that own settings', () => {
    const schemaDir = join(__dirname, '..', '..', '..', 'schema');
    const suffixes = readdirSync(schemaDir).map(f => f.replace(/\.json$/, ''));
    expect(suffixes).toEqual(['plugin']);
    expect(plugins.filter(p => p.id.endsWith(':plugin'))).toHaveLength(1);
  });
});

describe('sidecarPlugin', () => {
  it("watches the sidecar through the app's server settings", async () => {
    const fetchMock = jest.fn(
      async () =>
        new Response(
          JSON.stringify({
            name: 'jupyterlab-hpc-sidecar',
            version: PACKAGE_VERSION,
            apiVersion: API_VERSION,
            uptimeSeconds: 1,
            node: 'v20.11.1',
            pid: 1
          }),
          { status: 200 }
        )
    );
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/lab-root/',
      wsUrl: 'ws://localhost:8888/lab-root/',
      fetch: fetchMock as unknown as typeof fetch,
      // Nothing to connect to: the socket never opens.
      WebSocket: class {
        close() {}
      } as unknown as typeof WebSocket
    });
    const app = { serviceManager: { serverSettings } } as JupyterFrontEnd;

    const model = sidecarPlugin.activate(app) as ISidecarModel;
    try {
      const [, state] = await signalToPromise(model.stateChanged);
      expect(state.status).toBe('ready');
      const request = (fetchMock.mock.calls[0] as unknown as [Request])[0];
      expect(request.url).toMatch(
        /^http:\/\/localhost:8888\/lab-root\/jupyterlab-hpc\/api\/v1\/health\?/
      );
    } finally {
      model.dispose();
    }
  });
});

describe('panelPlugin', () => {
  const trans = nullTranslator.load('jupyterlab_hpc');

  it('adds the panel on the left, its commands and palette items', () => {
    const commands = new CommandRegistry();
    const added: [Widget, string, { rank: number }][] = [];
    const app = {
      commands,
      shell: {
        add: (w: Widget, area: string, options: { rank: number }) =>
          added.push([w, area, options]),
        activateById: jest.fn()
      }
    } as unknown as JupyterFrontEnd;
    const palette = { addItem: jest.fn() };
    const sidecar = {
      state: { status: 'connecting' } as SidecarState,
      stateChanged: new Signal<ISidecarModel, SidecarState>(
        {} as ISidecarModel
      ),
      refresh: jest.fn()
    };
    const settings = {
      clusters: [],
      error: null,
      changed: new Signal<IClusterSettings, void>({} as IClusterSettings)
    };
    const clusters = {
      changed: new Signal<IClusterModel, void>({} as IClusterModel)
    };

    void panelPlugin.activate(
      app,
      sidecar,
      settings,
      clusters,
      null,
      null,
      palette as unknown as ICommandPalette
    );

    expect(added).toHaveLength(1);
    const [panel, area, options] = added[0];
    try {
      expect(panel.id).toBe(PANEL_ID);
      expect(area).toBe('left');
      expect(options).toEqual({ rank: 400 });
      expect(panel.title.caption).toBe('HPC');
      expect(commands.hasCommand('hpc:open-cluster')).toBe(true);
      expect(palette.addItem.mock.calls.map(([item]) => item)).toEqual(
        ['hpc:open-panel', 'hpc:open-settings', 'hpc:check-sidecar'].map(
          command => ({ command, category: trans.__('HPC') })
        )
      );
    } finally {
      panel.dispose();
    }
  });
});

/** What a test creates, disposed after it. */
let owned: DisposableSet;

/** `app.contextMenu` as far as the plugins use it. */
const contextMenu = () => ({
  addItem: jest.fn(() => ({ isDisposed: false, dispose: () => undefined }))
});

beforeEach(() => {
  owned = new DisposableSet();
});

afterEach(() => {
  owned.dispose();
});

describe('clustersPlugin', () => {
  it('provides the cluster model, its commands and the palette item, and syncs', async () => {
    const fake = new FakeSidecar();
    fake.on(
      'PUT',
      '/api/v1/clusters',
      () => new Response(null, { status: 204 })
    );
    fake.on('GET', '/api/v1/clusters', () => ({ clusters: [] }));
    const { registry } = await settingsWith({
      clusters: [{ name: 'demo', host: 'hpc-demo' }]
    });
    const settings = new ClusterSettings();
    owned.add(settings);
    settings.attach(await registry.load(PLUGIN_ID));
    const sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
    owned.add(sidecar);
    const commands = new CommandRegistry();
    const palette = {
      addItem: jest.fn(() => ({ isDisposed: false, dispose: () => undefined }))
    };
    const menu = contextMenu();
    const app = {
      commands,
      contextMenu: menu,
      contextMenuHitTest: () => undefined,
      serviceManager: { serverSettings: fake.serverSettings }
    } as unknown as JupyterFrontEnd;

    const model = clustersPlugin.activate(
      app,
      sidecar,
      settings,
      null,
      palette as unknown as ICommandPalette
    ) as IClusterModel;
    owned.add(model);
    expect(model).toBeInstanceOf(ClusterModel);
    expect(
      commands
        .listCommands()
        .filter(id => id.startsWith('hpc:'))
        .sort()
    ).toEqual([
      'hpc:add-cluster',
      'hpc:connect-cluster',
      'hpc:disconnect-cluster',
      'hpc:edit-cluster',
      'hpc:remove-cluster',
      'hpc:setup-key',
      'hpc:test-cluster'
    ]);
    const perCluster = [
      'hpc:connect-cluster',
      'hpc:disconnect-cluster',
      'hpc:test-cluster'
    ];
    // Without a cluster (the command asks), then one entry per cluster.
    expect(
      (palette.addItem.mock.calls as unknown as [object][]).map(([i]) => i)
    ).toEqual([
      { command: 'hpc:add-cluster', category: 'HPC' },
      ...perCluster.map(command => ({ command, category: 'HPC' })),
      ...perCluster.map(command => ({
        command,
        category: 'HPC',
        args: { name: 'demo' }
      }))
    ]);
    expect(
      (menu.addItem.mock.calls as unknown as [object][]).map(([i]) => i)
    ).toEqual(
      perCluster.map((command, rank) => ({
        command,
        selector: '.jp-HpcClusterRow',
        rank,
        args: { isContextMenu: true }
      }))
    );

    // Menus and buttons learn when a state changes what is enabled.
    const commandChanged = signalToPromise(commands.commandChanged);
    await until(() => fake.calls().includes('PUT /api/v1/clusters'));
    await commandChanged;
    expect(fake.requests.find(r => r.method === 'PUT')?.body).toMatchObject({
      clusters: [{ name: 'demo', host: 'hpc-demo' }]
    });
  });
});

describe('promptsPlugin', () => {
  it('asks the sidecar for waiting prompts once it is ready', async () => {
    const fake = new FakeSidecar();
    fake.on('GET', '/api/v1/prompts', () => []);
    const sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
    owned.add(sidecar);
    const app = {
      serviceManager: { serverSettings: fake.serverSettings }
    } as unknown as JupyterFrontEnd;
    promptsPlugin.activate(app, sidecar, null);
    await until(() => fake.calls().includes('GET /api/v1/prompts'));
  });
});

describe('environmentsPlugin', () => {
  async function activate() {
    const fake = new FakeSidecar();
    fake.on('GET', '/api/v1/tasks', () => []);
    const { registry } = await settingsWith({
      clusters: [{ name: 'demo', host: 'hpc-demo' }]
    });
    const settings = new ClusterSettings();
    owned.add(settings);
    settings.attach(await registry.load(PLUGIN_ID));
    const sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
    owned.add(sidecar);
    const commands = new CommandRegistry();
    const palette = {
      addItem: jest.fn(() => ({ isDisposed: false, dispose: () => undefined }))
    };
    const refreshSpecs = jest.fn(async () => undefined);
    const menu = contextMenu();
    const app = {
      commands,
      contextMenu: menu,
      contextMenuHitTest: () => undefined,
      serviceManager: {
        serverSettings: fake.serverSettings,
        kernelspecs: { refreshSpecs }
      },
      shell: { add: jest.fn(), activateById: jest.fn() }
    } as unknown as JupyterFrontEnd;
    const model = environmentsPlugin.activate(
      app,
      sidecar,
      settings,
      null,
      null,
      palette as unknown as ICommandPalette
    ) as EnvironmentsModel;
    owned.add(model);
    return { fake, app, commands, palette, menu, refreshSpecs, model };
  }

  it('provides the environments model, its commands, palette and context menu items', async () => {
    const { commands, palette, menu, model } = await activate();
    expect(model).toBeInstanceOf(EnvironmentsModel);
    expect(
      commands
        .listCommands()
        .filter(id => id.startsWith('hpc:'))
        .sort()
    ).toEqual([
      'hpc:install-ipykernel',
      'hpc:install-miniforge',
      'hpc:refresh-envs',
      'hpc:register-kernel',
      'hpc:show-task',
      'hpc:unregister-kernel',
      'hpc:use-env-for-jupyterlab'
    ]);
    expect(
      (palette.addItem.mock.calls as unknown as [object][]).map(([i]) => i)
    ).toEqual([
      {
        command: 'hpc:refresh-envs',
        category: 'HPC',
        args: { target: LOCAL_TARGET }
      },
      { command: 'hpc:refresh-envs', category: 'HPC' },
      { command: 'hpc:refresh-envs', category: 'HPC', args: { target: 'demo' } }
    ]);
    expect(
      (menu.addItem.mock.calls as unknown as [object][]).map(([i]) => i)
    ).toEqual([
      {
        command: 'hpc:refresh-envs',
        selector: '.jp-HpcClusterRow',
        rank: 10,
        args: { isContextMenu: true }
      }
    ]);
    expect(commands.label('hpc:refresh-envs', { target: LOCAL_TARGET })).toBe(
      'Rescan Environments of This Computer'
    );
  });

  it("refreshes JupyterLab's kernelspecs when the sidecar says a local kernel changed", async () => {
    const { fake, model, refreshSpecs } = await activate();
    await until(() => model.available);
    fake.socket.open();
    fake.socket.send({
      type: 'envs-changed',
      target: LOCAL_TARGET,
      kernelsChanged: true
    });
    await until(() => refreshSpecs.mock.calls.length === 1);
  });

  it('opens one main-area tab per task, and brings it back when asked again', async () => {
    const { fake, app, commands, model } = await activate();
    await until(() => model.available);
    fake.on('GET', '/api/v1/tasks/t1', () => ({
      id: 't1',
      kind: 'install-miniforge',
      target: 'demo',
      title: 'Install Miniforge on demo',
      state: 'running',
      startedAt: Date.now(),
      endedAt: null,
      step: 'Downloading the installer',
      error: null,
      outputLength: 0,
      output: ''
    }));
    await commands.execute('hpc:show-task', { id: 't1' });
    await commands.execute('hpc:show-task', { id: 't1' });
    const add = app.shell.add as jest.Mock;
    expect(add).toHaveBeenCalledTimes(1);
    const [widget, area] = add.mock.calls[0] as [Widget, string];
    owned.add(widget);
    expect(area).toBe('main');
    expect(widget.id).toBe('jp-hpc-task-t1');
    await until(() => widget.title.label === 'Install Miniforge on demo');
    expect(app.shell.activateById).toHaveBeenCalledTimes(2);
  });
});
