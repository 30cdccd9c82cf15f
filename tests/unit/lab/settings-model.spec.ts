import { JupyterFrontEnd } from '@jupyterlab/application';
import { ISettingRegistry, SettingRegistry } from '@jupyterlab/settingregistry';
import { isFulfilled, signalToPromise } from '@jupyterlab/testing';

import {
  DEFAULT_JOB_DEFAULTS,
  IClusterConfig
} from '../../../src/common/settings';
import { settingsPlugin } from '../../../src/lab/plugins/settings';
import {
  ClusterSettings,
  describeSettingsError,
  IClusterSettings
} from '../../../src/lab/settings/model';
import { PLUGIN_ID, SettingsConnector } from './fixtures';

const swc: IClusterConfig = { name: 'swc', host: 'hpc-gw1' };
const archer2: IClusterConfig = {
  name: 'archer2',
  host: 'login.archer2.ac.uk',
  port: 2222,
  user: 'ana',
  identityFile: '~/.ssh/id_ed25519',
  jumpHost: 'bastion'
};
const normalized = (c: IClusterConfig): IClusterConfig => ({
  port: null,
  user: '',
  identityFile: '',
  jumpHost: '',
  transport: 'ssh',
  jupyterEnvironment: '',
  sshClient: 'auto',
  ...c
});

let connector: SettingsConnector;
let registry: SettingRegistry;

beforeEach(() => {
  connector = new SettingsConnector();
  registry = new SettingRegistry({ connector });
});

async function withUserSettings(user: object): Promise<void> {
  await connector.files.save(PLUGIN_ID, JSON.stringify(user));
}

describe('ClusterSettings', () => {
  let model: ClusterSettings;

  beforeEach(() => {
    model = new ClusterSettings();
  });

  afterEach(() => {
    model.dispose();
  });

  it('starts empty with the default job settings, not ready', async () => {
    expect(model.clusters).toEqual([]);
    expect(model.jobDefaults).toEqual(DEFAULT_JOB_DEFAULTS);
    expect(await isFulfilled(model.ready)).toBe(false);
  });

  it('reads the clusters and job defaults once attached', async () => {
    await withUserSettings({
      clusters: [swc, archer2],
      jobDefaults: { ...DEFAULT_JOB_DEFAULTS, partition: 'gpu', gpus: 1 }
    });
    const changed = signalToPromise(model.changed);

    model.attach(await registry.load(PLUGIN_ID));

    await model.ready;
    await changed;
    expect(model.clusters).toEqual([normalized(swc), normalized(archer2)]);
    expect(model.jobDefaults).toEqual({
      ...DEFAULT_JOB_DEFAULTS,
      partition: 'gpu',
      gpus: 1
    });
  });

  it('says which entries it leaves out: a name used twice', async () => {
    await withUserSettings({
      clusters: [swc, { name: 'swc', host: 'other.example.org' }, archer2]
    });
    model.attach(await registry.load(PLUGIN_ID));
    expect(model.clusters).toEqual([normalized(swc), normalized(archer2)]);
    expect(model.rejected).toBe(
      'entry 2 ("swc"): the name swc is already used by entry 1'
    );

    const changed = signalToPromise(model.changed);
    await (await registry.load(PLUGIN_ID)).set('clusters', [swc] as never);
    await changed;
    expect(model.rejected).toBeNull();
  });

  it('has no clusters and the schema defaults when the user set nothing', async () => {
    model.attach(await registry.load(PLUGIN_ID));
    expect(model.clusters).toEqual([]);
    expect(model.jobDefaults).toEqual(DEFAULT_JOB_DEFAULTS);
  });

  it('emits changed with the new list when a cluster is added', async () => {
    await withUserSettings({ clusters: [swc] });
    const settings = await registry.load(PLUGIN_ID);
    model.attach(settings);
    expect(model.clusters.map(c => c.name)).toEqual(['swc']);

    const changed = signalToPromise(model.changed);
    await settings.set('clusters', [swc, archer2] as never);
    const [sender] = await changed;

    expect(sender).toBe(model);
    expect(model.clusters.map(c => c.name)).toEqual(['swc', 'archer2']);
    // The registry saved it through the connector, as the server would.
    expect(await connector.files.fetch(PLUGIN_ID)).toContain(
      '"login.archer2.ac.uk"'
    );
  });

  it('completes partial job defaults with the defaults', async () => {
    const settings = await registry.load(PLUGIN_ID);
    model.attach(settings);

    const changed = signalToPromise(model.changed);
    await settings.set('jobDefaults', { cpus: 8, memory: '32G' });
    await changed;

    expect(model.jobDefaults).toEqual({
      ...DEFAULT_JOB_DEFAULTS,
      cpus: 8,
      memory: '32G'
    });
  });

  it('refuses settings the schema rejects and keeps the old list', async () => {
    await withUserSettings({ clusters: [swc] });
    const settings = await registry.load(PLUGIN_ID);
    model.attach(settings);
    const listener = jest.fn();
    model.changed.connect(listener);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});

    await expect(
      settings.set('clusters', [{ name: 'my cluster', host: 'x' }] as never)
    ).rejects.toThrow('jupyterlab-hpc:plugin failed to validate');
    expect(JSON.stringify(warn.mock.calls)).toContain('/clusters/0/name');
    warn.mockRestore();

    expect(listener).not.toHaveBeenCalled();
    expect(model.clusters.map(c => c.name)).toEqual(['swc']);
  });

  it('resolves ready on fail(), stays empty and says why', async () => {
    const changed = jest.fn();
    model.changed.connect(changed);
    model.fail(new Error('no registry'));
    await expect(model.ready).resolves.toBeUndefined();
    expect(model.clusters).toEqual([]);
    expect(model.error).toBe('no registry');
    expect(changed).toHaveBeenCalledTimes(1);
  });

  it('has no error once attached to settings', async () => {
    await withUserSettings({ clusters: [swc] });
    const settings = await registry.load(PLUGIN_ID);
    model.attach(settings);
    expect(model.error).toBeNull();
  });

  it('stops following the settings once disposed', async () => {
    await withUserSettings({ clusters: [swc] });
    const settings = await registry.load(PLUGIN_ID);
    model.attach(settings);

    model.dispose();
    // The registry's own signal tells when the change went through.
    const saved = signalToPromise(settings.changed);
    await settings.set('clusters', [archer2] as never);
    await saved;

    expect(model.isDisposed).toBe(true);
    expect(model.clusters.map(c => c.name)).toEqual(['swc']);
  });

  it('writes a cluster list back to the user settings, defaults left out', async () => {
    await withUserSettings({ clusters: [swc] });
    const settings = await registry.load(PLUGIN_ID);
    model.attach(settings);
    expect(model.canWrite).toBe(true);

    const changed = signalToPromise(model.changed);
    await model.setClusters([
      ...model.clusters,
      normalized(archer2),
      {
        name: 'here',
        host: 'login1',
        port: null,
        user: '',
        identityFile: '',
        jumpHost: '',
        transport: 'local',
        jupyterEnvironment: '/opt/envs/lab4'
      }
    ]);
    await changed;

    expect(model.clusters.map(c => c.name)).toEqual(['swc', 'archer2', 'here']);
    // The user settings as saved (the raw file is JSON5 with comments).
    expect(settings.user.clusters).toEqual([
      { name: 'swc', host: 'hpc-gw1' },
      archer2,
      {
        name: 'here',
        host: 'login1',
        transport: 'local',
        jupyterEnvironment: '/opt/envs/lab4'
      }
    ]);
  });

  it('reads the conda installer URL, with the default until it is set', async () => {
    expect(model.conda.installerUrl).toBe(
      'https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-{arch}.sh'
    );
    await withUserSettings({
      conda: { installerUrl: 'https://mirror.example.org/Miniforge3-{arch}.sh' }
    });
    model.attach(await registry.load(PLUGIN_ID));
    expect(model.conda).toEqual({
      installerUrl: 'https://mirror.example.org/Miniforge3-{arch}.sh'
    });
  });

  it('refuses to write before settings are attached, or after a failure', async () => {
    expect(model.canWrite).toBe(false);
    await expect(model.setClusters([swc])).rejects.toThrow(
      'the HPC settings are not loaded yet'
    );
    model.fail(new Error('no registry'));
    await expect(model.setClusters([swc])).rejects.toThrow('no registry');
  });

  it('follows only the settings it was attached to last', async () => {
    const first = await registry.load(PLUGIN_ID);
    const other = new SettingsConnector();
    await other.files.save(PLUGIN_ID, JSON.stringify({ clusters: [swc] }));
    const second = await new SettingRegistry({ connector: other }).load(
      PLUGIN_ID
    );
    model.attach(first);
    model.attach(second);
    expect(model.clusters.map(c => c.name)).toEqual(['swc']);

    const listener = jest.fn();
    model.changed.connect(listener);
    const saved = signalToPromise(first.changed);
    await first.set('clusters', [archer2] as never);
    await saved;

    expect(listener).not.toHaveBeenCalled();
    expect(model.clusters.map(c => c.name)).toEqual(['swc']);
  });
});

describe('settingsPlugin', () => {
  const app = {} as JupyterFrontEnd;

  function activate(reg: ISettingRegistry | null): IClusterSettings {
    const model = settingsPlugin.activate(app, reg);
    // Returned at once: nothing on JupyterLab's start-up path waits for it.
    expect(model).toBeInstanceOf(ClusterSettings);
    return model as IClusterSettings;
  }

  it('provides the clusters from the registry without blocking activation', async () => {
    await withUserSettings({ clusters: [swc] });
    const model = activate(registry);
    // Nothing is read yet: activate() returned before the registry answered.
    expect(model.clusters).toEqual([]);
    await model.ready;
    expect(model.clusters).toEqual([normalized(swc)]);
  });

  it('is ready and empty without a registry', async () => {
    const model = activate(null);
    await expect(model.ready).resolves.toBeUndefined();
    expect(model.clusters).toEqual([]);
    expect(model.error).toBe('this JupyterLab has no settings registry');
  });

  it('is ready and empty, and says why, when the user settings are invalid', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await withUserSettings({
        clusters: [swc, { name: '-bad name', host: 'x' }]
      });
      const model = activate(registry);
      await model.ready;
      expect(model.clusters).toEqual([]);
      // The path of the bad entry reaches the panel, so the user can fix it.
      expect(model.error).toMatch(/^\/clusters\/1\/name: /);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('describeSettingsError', () => {
  it.each([
    [
      [
        { instancePath: '/clusters/0/port', message: 'must be <= 65535' },
        { instancePath: '', message: 'must NOT have additional properties' }
      ],
      '/clusters/0/port: must be <= 65535; /: must NOT have additional properties'
    ],
    [new Error('network down'), 'network down'],
    ['plain text', 'plain text'],
    [undefined, 'unknown error']
  ])('describes %j as %s', (reason, expected) => {
    expect(describeSettingsError(reason)).toBe(expected);
  });
});
