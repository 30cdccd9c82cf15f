import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { signalToPromise } from '@jupyterlab/testing';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { readdirSync } from 'fs';
import { join } from 'path';

import { API_VERSION } from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';
import plugins from '../../../src/lab';
import { PANEL_ID } from '../../../src/lab/commands';
import { panelPlugin } from '../../../src/lab/plugins/panel';
import { sidecarPlugin } from '../../../src/lab/plugins/sidecar';
import { IClusterSettings } from '../../../src/lab/settings/model';
import { ISidecarModel, SidecarState } from '../../../src/lab/sidecar/model';

describe('the plugin list', () => {
  it('exports the four plugins, each with a unique id and a description', () => {
    expect(plugins.map(p => p.id)).toEqual([
      'jupyterlab-hpc:sidecar',
      'jupyterlab-hpc:plugin',
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
    const clusters = {
      clusters: [],
      changed: new Signal<IClusterSettings, void>({} as IClusterSettings)
    };

    void panelPlugin.activate(
      app,
      sidecar,
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
      expect(panel.title.caption).toBe('HPC Clusters');
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
