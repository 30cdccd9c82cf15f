import { Dialog, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { PromiseDelegate } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { IClusterStatus, IConnectionTest } from '../../../src/common/api';
import { ClusterModel } from '../../../src/lab/clusters/model';
import { addClusterCommands } from '../../../src/lab/commands/clusters';
import { HpcPanel } from '../../../src/lab/panel/widget';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { CommandIDs } from '../../../src/lab/tokens';
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
  state: IClusterStatus['state'],
  more: Partial<IClusterStatus> = {}
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
  openForwards: 0,
  ...more
});

const demo = { name: 'demo', host: 'hpc-demo' };
const here = { name: 'here', host: 'login1', transport: 'local' };

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let registrySettings: ISettingRegistry.ISettings;
let clusters: ClusterModel;
let panel: HpcPanel;

/** The real panel over the real models; only the sidecar's HTTP is fake. */
async function attach(
  states: IClusterStatus[] = [status('demo', 'idle')],
  user: object = { clusters: [demo] },
  more: (commands: CommandRegistry) => void = () => undefined
): Promise<void> {
  fake = new FakeSidecar();
  fake.on('PUT', '/api/v1/clusters', () => null);
  fake.on('GET', '/api/v1/clusters', () => ({ clusters: states }));
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
  const commands = new CommandRegistry();
  addClusterCommands({ commands, trans, settings, clusters });
  more(commands);
  clusters.changed.connect(() => commands.notifyCommandChanged());
  panel = new HpcPanel({ sidecar, settings, clusters, commands, trans });
  Widget.attach(panel, document.body);
  await until(() => row('demo') ?? row('here'));
}

afterEach(() => {
  panel?.dispose();
  clusters?.dispose();
  sidecar?.dispose();
  settings?.dispose();
  Dialog.flush();
  Notification.manager.dismiss();
});

/** A cluster's row, found by its accessible name. */
const row = (name: string) =>
  Array.from(panel.node.querySelectorAll<HTMLElement>('li')).find(li => {
    const label = li.getAttribute('aria-labelledby');
    return label && document.getElementById(label)?.textContent === name;
  });
const badge = (name: string) =>
  row(name)?.querySelector<HTMLElement>('[role="status"]');
/** The buttons of a group of a row, found by the group's accessible name. */
const groupButtons = (name: string, group: string) =>
  Array.from(
    row(name)?.querySelectorAll<HTMLButtonElement>(
      `[role="group"][aria-label="${group}"] button`
    ) ?? []
  );
/** A row's actions, then the icon buttons that manage the cluster. */
const rowButtons = (name: string) => [
  ...groupButtons(name, `Actions for ${name}`),
  ...groupButtons(name, `Manage ${name}`)
];
const actions = (name: string) =>
  rowButtons(name).map(b => [
    b.getAttribute('aria-label') ?? b.textContent,
    !b.disabled
  ]);
const action = (name: string, label: string) =>
  rowButtons(name).find(
    b => (b.getAttribute('aria-label') ?? b.textContent) === label
  )!;

describe('the cluster rows of the panel', () => {
  it('name each row after its cluster and group its actions', async () => {
    await attach();
    await until(() => clusters.status('demo'));
    const li = row('demo')!;
    expect(
      Array.from(li.querySelectorAll('[role="group"]')).map(g =>
        g.getAttribute('aria-label')
      )
    ).toEqual(['Manage demo', 'Actions for demo']);
    // The row is what context menus and reveals find it by.
    expect(li.classList).toContain('jp-HpcClusterRow');
    expect(li.dataset.clusterId).toBe('demo');
    await until(
      () => action('demo', 'Connect') && !action('demo', 'Connect').disabled
    );
    expect(actions('demo')).toEqual([
      ['Connect', true],
      ['Test connection', true],
      ['Set up SSH key', true],
      ['Edit', true],
      ['Remove', true]
    ]);
    expect(action('demo', 'Edit').title).toBe(
      'Change the settings of the cluster demo'
    );
  });

  it.each([
    ['idle', {}, 'Not connected', 'jp-mod-idle', 'Connect'],
    ['connecting', {}, 'Connecting…', 'jp-mod-busy', 'Disconnect'],
    ['needs-input', {}, 'Needs input', 'jp-mod-warning', 'Disconnect'],
    ['connected', {}, 'Connected', 'jp-mod-ok', 'Disconnect'],
    [
      'reconnecting',
      {
        attempt: 3,
        error: { code: 'connection-lost', message: 'The connection was lost.' }
      },
      'Reconnecting (attempt 3)',
      'jp-mod-warning',
      'Disconnect'
    ],
    [
      'error',
      {
        error: {
          code: 'host-key-changed',
          message:
            "Host key for [127.0.0.1]:2222 changed: it may be an attack. Remove the old key with: ssh-keygen -R '[127.0.0.1]:2222'"
        }
      },
      "Error: Host key for [127.0.0.1]:2222 changed: it may be an attack. Remove the old key with: ssh-keygen -R '[127.0.0.1]:2222'",
      'jp-mod-error',
      'Connect'
    ]
  ] as const)(
    'shows the state %s as %p (%s) and offers %s',
    async (state, more, label, tone, first) => {
      await attach([status('demo', state, more)]);
      await until(() => badge('demo')?.textContent === label);
      expect(badge('demo')!.classList).toContain(tone);
      expect(row('demo')!.dataset.state).toBe(state);
      await until(
        () => actions('demo')[0]?.[0] === first && actions('demo')[0][1]
      );
    }
  );

  it('has a Launch JupyterLab button once the launch command exists', async () => {
    const launched: unknown[] = [];
    await attach([status('demo', 'idle')], { clusters: [demo] }, commands =>
      commands.addCommand(CommandIDs.launchSession, {
        label: 'JupyterLab on demo',
        caption: 'Start JupyterLab in a SLURM job on demo',
        isEnabled: () => true,
        describedBy: { args: { type: 'object', properties: {} } },
        execute: args => void launched.push(args)
      })
    );
    const button = await until(() => action('demo', 'Launch JupyterLab…'));
    expect(button.title).toBe('Start JupyterLab in a SLURM job on demo');
    button.click();
    expect(launched).toEqual([{ name: 'demo' }]);
  });

  it('follows the cluster-state events', async () => {
    await attach();
    await until(() => clusters.status('demo'));
    fake.socket.open();

    fake.socket.send({
      type: 'cluster-state',
      cluster: status('demo', 'needs-input')
    });
    await until(() => badge('demo')?.textContent === 'Needs input');
    fake.socket.send({
      type: 'cluster-state',
      cluster: status('demo', 'connected')
    });
    await until(() => badge('demo')?.textContent === 'Connected');
  });

  it('says "Not connected" with the actions off while the sidecar is down', async () => {
    await attach();
    fake.on('GET', '/api/v1/health', () => new Response('', { status: 502 }));
    await sidecar.refresh();
    await until(() => actions('demo')[0]?.[1] === false);
    expect(badge('demo')?.textContent).toBe('Not connected');
    expect(actions('demo')).toEqual([
      ['Connect', false],
      ['Test connection', false],
      ['Set up SSH key', false],
      ['Edit', true],
      ['Remove', true]
    ]);
  });

  it('shows where an alias leads once the sidecar resolved it', async () => {
    await attach();
    await until(() => row('demo')?.querySelector('.jp-HpcPanel-clusterTarget'));
    expect(
      row('demo')!.querySelector('.jp-HpcPanel-clusterHost')?.textContent
    ).toBe('hpc-demo');
    expect(
      row('demo')!.querySelector('.jp-HpcPanel-clusterTarget')?.textContent
    ).toBe('→ hpcdemo@127.0.0.1:2222');
  });

  it('has no key setup for a cluster on this computer', async () => {
    await attach(
      [
        { ...status('here', 'connected'), transport: 'local', target: 'login1' }
      ],
      { clusters: [here] }
    );
    await until(() => badge('here')?.textContent === 'Connected');
    expect(actions('here').map(([label]) => label)).toEqual([
      'Disconnect',
      'Test connection',
      'Edit',
      'Remove'
    ]);
    expect(
      row('here')!.querySelector('.jp-HpcPanel-clusterHost')?.textContent
    ).toBe('login1 (this computer)');
  });

  it('connects from the row', async () => {
    await attach();
    const answer = new PromiseDelegate<IClusterStatus>();
    fake.on('POST', '/api/v1/clusters/demo/connect', () => answer.promise);
    await until(() => !action('demo', 'Connect').disabled);

    action('demo', 'Connect').click();

    await until(() => action('demo', 'Connecting…')?.disabled);
    answer.resolve(status('demo', 'connected'));
    await until(() => badge('demo')?.textContent === 'Connected');
    expect(fake.calls()).toContain('POST /api/v1/clusters/demo/connect');
  });

  it('shows a connection test in the row, then lets it go', async () => {
    await attach();
    const answer = new PromiseDelegate<IConnectionTest>();
    fake.on('POST', '/api/v1/clusters/demo/test', () => answer.promise);
    await until(() => !action('demo', 'Test connection').disabled);

    action('demo', 'Test connection').click();
    await until(() => action('demo', 'Testing…')?.disabled);
    answer.resolve({
      rttMs: 12.4,
      connectMs: 230,
      sshClient: 'openssh',
      slurmVersion: 'slurm 22.05.8',
      tools: {
        conda: '/home/hpcdemo/.local/miniforge/bin/conda',
        mamba: null,
        micromamba: null
      },
      // Installed, but no `conda init` yet.
      toolsOnPath: [],
      remoteHost: 'hpc-demo-node',
      shell: '/bin/bash',
      status: status('demo', 'connected')
    });

    const result = await until(() =>
      row('demo')?.querySelector<HTMLElement>(
        'section[aria-label="Connection test of demo"]'
      )
    );
    const facts = Array.from(result.querySelectorAll('dt')).map(dt => [
      dt.textContent,
      dt.nextElementSibling?.textContent
    ]);
    expect(facts).toEqual([
      ['Round trip', '12 ms (connected in 230 ms)'],
      ['SLURM', 'slurm 22.05.8'],
      ['conda', '/home/hpcdemo/.local/miniforge/bin/conda (not on PATH)'],
      ['mamba', 'not found'],
      ['micromamba', 'not found'],
      ['Remote host', 'hpc-demo-node'],
      ['Shell', '/bin/bash'],
      ['SSH client', 'OpenSSH (ControlMaster)']
    ]);
    expect(badge('demo')?.textContent).toBe('Connected');

    result
      .querySelector<HTMLButtonElement>(
        'button[aria-label="Dismiss the test result"]'
      )!
      .click();
    await until(() => !row('demo')?.querySelector('section'));
  });

  it('says "SLURM not found" when the cluster has none', async () => {
    await attach();
    fake.on('POST', '/api/v1/clusters/demo/test', () => ({
      rttMs: 1,
      connectMs: 0,
      slurmVersion: null,
      tools: { conda: null, mamba: null, micromamba: null },
      remoteHost: 'box',
      shell: '/bin/zsh',
      status: status('demo', 'connected')
    }));
    await until(() => !action('demo', 'Test connection').disabled);
    action('demo', 'Test connection').click();
    const result = await until(() => row('demo')?.querySelector('dl'));
    expect(result.textContent).toContain('SLURM not found');
    expect(result.textContent).toContain('1.0 ms');
  });

  it('shows a failed test as an alert in the row', async () => {
    await attach();
    fake.on('POST', '/api/v1/clusters/demo/test', () =>
      sidecarError(
        504,
        'connect-timeout',
        'hpc-demo (127.0.0.1:2222) did not answer within 20 s.'
      )
    );
    await until(() => !action('demo', 'Test connection').disabled);
    action('demo', 'Test connection').click();

    const alert = await until(() =>
      row('demo')?.querySelector('[role="alert"]')
    );
    expect(alert.textContent).toBe(
      'hpc-demo (127.0.0.1:2222) did not answer within 20 s.'
    );
    expect(
      row('demo')!.querySelector('.jp-HpcPanel-testTitle')?.textContent
    ).toBe('Connection test failed');
  });

  it('says when the sidecar refused the cluster list', async () => {
    await attach();
    fake.on('PUT', '/api/v1/clusters', () =>
      sidecarError(400, 'bad-request', 'clusters: not an array')
    );
    await clusters.sync();
    const alert = await until(() =>
      Array.from(panel.node.querySelectorAll('[role="alert"]')).find(a =>
        a.textContent?.includes('did not take')
      )
    );
    expect(alert.textContent).toBe(
      'The sidecar did not take the cluster list: clusters: not an array'
    );
  });
});
