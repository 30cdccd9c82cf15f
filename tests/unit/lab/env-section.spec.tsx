import { Dialog, Notification } from '@jupyterlab/apputils';
import { IStateDB, StateDB } from '@jupyterlab/statedb';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import {
  IClusterStatus,
  IEnvironmentList,
  LOCAL_TARGET
} from '../../../src/common/api';
import { ClusterModel } from '../../../src/lab/clusters/model';
import { addClusterCommands } from '../../../src/lab/commands/clusters';
import { addEnvironmentCommands } from '../../../src/lab/commands/environments';
import { EnvironmentsModel } from '../../../src/lab/envs/model';
import { HpcPanel } from '../../../src/lab/panel/widget';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { type } from './dom';
import {
  demoList,
  emptyList,
  env,
  kernelspec,
  LOCAL_KERNELS,
  localList
} from './env-fixtures';
import {
  FakeSidecar,
  health,
  PLUGIN_ID,
  settingsWith,
  sidecarError,
  until
} from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const status = (name: string): IClusterStatus => ({
  name,
  transport: 'ssh',
  state: 'idle',
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

const UI_ENV = '/tmp/ui-home/miniforge3/envs/ui-env';

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let clusters: ClusterModel;
let envs: EnvironmentsModel;
let panel: HpcPanel;
let local: IEnvironmentList;
let demo: IEnvironmentList;
let refreshSpecs: jest.Mock;

/** The real panel, models and commands; only the sidecar's HTTP is fake. */
async function attach(
  user: object = { clusters: [{ name: 'demo', host: 'hpc-demo' }] },
  state: IStateDB | null = null
): Promise<void> {
  fake = new FakeSidecar();
  local = localList();
  demo = demoList();
  fake.on('PUT', '/api/v1/clusters', () => null);
  fake.on('GET', '/api/v1/clusters', () => ({ clusters: [status('demo')] }));
  fake.on('GET', '/api/v1/local/envs', () => local);
  fake.on('GET', '/api/v1/clusters/demo/envs', () => demo);
  const { registry } = await settingsWith(user);
  settings = new ClusterSettings();
  settings.attach(await registry.load(PLUGIN_ID));
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  clusters = new ClusterModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings
  });
  refreshSpecs = jest.fn(async () => undefined);
  envs = new EnvironmentsModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings,
    kernelspecs: { refreshSpecs }
  });
  const commands = new CommandRegistry();
  addClusterCommands({ commands, trans, settings, clusters });
  addEnvironmentCommands({
    commands,
    trans,
    settings,
    envs,
    syncClusters: () => clusters.sync(),
    showTask: jest.fn()
  });
  clusters.changed.connect(() => commands.notifyCommandChanged());
  envs.changed.connect(() => commands.notifyCommandChanged());
  panel = new HpcPanel({
    sidecar,
    settings,
    clusters,
    commands,
    trans,
    envs,
    state
  });
  Widget.attach(panel, document.body);
  await panel.restored;
  await until(() => envs.available);
  await until(() => section(LOCAL_TARGET));
}

afterEach(() => {
  panel?.dispose();
  envs?.dispose();
  clusters?.dispose();
  sidecar?.dispose();
  settings?.dispose();
  Dialog.flush();
  Notification.manager.dismiss();
});

const section = (target: string) =>
  panel.node.querySelector<HTMLElement>(
    `section.jp-HpcEnvs[data-target="${CSS.escape(target)}"]`
  );
const toggle = (target: string) =>
  section(target)!.querySelector<HTMLButtonElement>('.jp-HpcEnvs-toggle')!;
/** The environment rows of a target, by accessible name. */
const rows = (target: string) =>
  Array.from(
    section(target)?.querySelectorAll<HTMLElement>('li.jp-HpcEnv') ?? []
  );
const rowNames = (target: string) =>
  rows(target).map(li => {
    const id = li.getAttribute('aria-labelledby')!;
    return document.getElementById(id)?.textContent;
  });
const row = (target: string, name: string) =>
  rows(target).find(
    li =>
      document.getElementById(li.getAttribute('aria-labelledby')!)
        ?.textContent === name
  );
const badges = (li: HTMLElement) =>
  Array.from(li.querySelectorAll('.jp-HpcEnv-badge')).map(b => b.textContent);
const buttons = (li: HTMLElement) =>
  Array.from(
    li.querySelectorAll<HTMLButtonElement>('[role="group"] button')
  ).map(b => [b.textContent, !b.disabled]);
const button = (li: HTMLElement, label: string) =>
  Array.from(
    li.querySelectorAll<HTMLButtonElement>('[role="group"] button')
  ).find(b => b.textContent === label)!;

async function expand(target: string): Promise<void> {
  toggle(target).click();
  await until(() => section(target)?.querySelector('.jp-HpcEnvs-body'));
  await until(() => envs.state(target).list || envs.state(target).error, 3000);
  await until(() => !envs.state(target).loading);
  // Let the last render land.
  await new Promise(r => requestAnimationFrame(r));
}

describe('the Environments sections of the panel', () => {
  it('are collapsed and fetch nothing until opened', async () => {
    await attach();
    await until(() => section('demo'));
    expect(toggle(LOCAL_TARGET).getAttribute('aria-expanded')).toBe('false');
    expect(toggle('demo').textContent).toBe('Environments');
    expect(rows(LOCAL_TARGET)).toEqual([]);
    expect(fake.calls().filter(c => c.includes('/envs'))).toEqual([]);
    // Named for assistive technology, under "This computer" and the cluster.
    expect(section(LOCAL_TARGET)!.getAttribute('aria-label')).toBe(
      'Environments on this computer'
    );
    expect(
      section(LOCAL_TARGET)!.closest('section[aria-label="This computer"]')
    ).not.toBeNull();
    expect(section('demo')!.closest('li')?.dataset.clusterName).toBe('demo');
  });

  it("reopen this computer's after a reload, but never a cluster's (that would connect)", async () => {
    const db = new StateDB();
    await attach(undefined, db);
    await until(() => section('demo'));
    await expand(LOCAL_TARGET);
    await expand('demo');
    panel.dispose();
    envs.dispose();
    clusters.dispose();
    sidecar.dispose();
    settings.dispose();

    await attach(undefined, db);
    await until(() => section('demo'));
    // Restored before the sidecar answered: the list comes with its events.
    await until(() => envs.available);
    const socket = await until(() => {
      try {
        // The new sidecar model's socket; the old one was closed.
        return fake.socket.readyState === 0 && fake.socket;
      } catch {
        return false;
      }
    });
    socket.open();
    socket.send({ type: 'hello', health });
    await until(() => rows(LOCAL_TARGET).length === 1);
    expect(toggle(LOCAL_TARGET).getAttribute('aria-expanded')).toBe('true');
    expect(toggle('demo').getAttribute('aria-expanded')).toBe('false');
    expect(fake.calls().filter(c => c.includes('/envs'))).toEqual([
      'GET /api/v1/local/envs'
    ]);
  });

  it('list this computer\'s env with Python, prefix, kernel state and "Register kernel"', async () => {
    await attach();
    await expand(LOCAL_TARGET);
    expect(fake.calls()).toContain('GET /api/v1/local/envs');
    expect(toggle(LOCAL_TARGET).getAttribute('aria-expanded')).toBe('true');
    expect(toggle(LOCAL_TARGET).textContent).toBe('Environments (1)');
    const li = row(LOCAL_TARGET, 'ui-env')!;
    expect(li.querySelector('.jp-HpcEnv-python')?.textContent).toBe(
      'Python 3.11.2'
    );
    expect(li.querySelector('.jp-HpcEnv-prefix')?.textContent).toBe(UI_ENV);
    expect(li.querySelector('.jp-HpcEnv-prefix')?.getAttribute('title')).toBe(
      UI_ENV
    );
    expect(badges(li)).toEqual(['ipykernel 6.29.5', 'not registered']);
    await until(() => buttons(li)[0]?.[1] === true);
    expect(buttons(li)).toEqual([['Register kernel', true]]);
    expect(button(li, 'Register kernel').title).toBe(
      'Make ui-env a kernel of this JupyterLab: "Python [conda env:ui-env]" in the kernel picker and the launcher'
    );
    expect(
      section(LOCAL_TARGET)!.querySelector('.jp-HpcEnvs-note')?.textContent
    ).toBe(`Kernels are registered in ${LOCAL_KERNELS}`);
  });

  it('register a local kernel from the row, and show it registered at once', async () => {
    await attach();
    await expand(LOCAL_TARGET);
    const kernel = kernelspec(local.envs[0], LOCAL_KERNELS);
    fake.on('POST', '/api/v1/local/kernels', () => ({ kernel, created: true }));
    const li = row(LOCAL_TARGET, 'ui-env')!;
    await until(() => !button(li, 'Register kernel').disabled);
    local = localList([{ ...local.envs[0], registered: kernel }]);
    button(li, 'Register kernel').click();

    await until(() =>
      badges(row(LOCAL_TARGET, 'ui-env')!).includes(
        'kernel: Python [conda env:ui-env]'
      )
    );
    expect(refreshSpecs).toHaveBeenCalled();
    await until(() => buttons(row(LOCAL_TARGET, 'ui-env')!)[0]?.[1] === true);
    expect(buttons(row(LOCAL_TARGET, 'ui-env')!)).toEqual([
      ['Unregister', true]
    ]);
    expect(
      Notification.manager.notifications.map(n => [n.type, n.message])
    ).toContainEqual([
      'success',
      'Kernel "Python [conda env:ui-env]" registered: it is in the kernel picker and the launcher now.'
    ]);
  });

  it("list the demo cluster's five envs: base first, what each lacks, which hosts JupyterLab", async () => {
    await attach();
    await until(() => section('demo'));
    await expand('demo');
    expect(rowNames('demo')).toEqual([
      'base',
      'analysis',
      'jupyterlab',
      'my-project-env',
      'scratch-env'
    ]);
    const analysis = row('demo', 'analysis')!;
    expect(badges(analysis)).toEqual(['no ipykernel']);
    expect(analysis.querySelector('.jp-HpcEnv-hint')?.textContent).toBe(
      // The demo cluster has no conda: the env's own pip is what works.
      'Jupyter needs ipykernel to run this environment. Add it with /home/hpcdemo/.local/miniforge/envs/analysis/bin/python -m pip install ipykernel or choose "Install ipykernel…".'
    );
    await until(() => buttons(analysis)[0]?.[1] === true);
    expect(buttons(analysis)).toEqual([['Install ipykernel…', true]]);

    const lab = row('demo', 'jupyterlab')!;
    expect(badges(lab)).toEqual([
      'ipykernel 6.29.5',
      'JupyterLab 4.2.5',
      'hosts JupyterLab',
      'not registered'
    ]);
    // It hosts JupyterLab already: no "Use for JupyterLab".
    expect(buttons(lab).map(([label]) => label)).toEqual(['Register kernel']);

    const scratch = row('demo', 'scratch-env')!;
    expect(scratch.querySelector('.jp-HpcEnv-prefix')?.textContent).toBe(
      '/home/hpcdemo/projects/scratch-env'
    );
    // The cluster row keeps one state and one "Actions for" group.
    const clusterRow = section('demo')!.closest('li')!;
    expect(
      Array.from(clusterRow.querySelectorAll('[role="status"]'))
    ).toHaveLength(1);
    expect(
      Array.from(clusterRow.querySelectorAll('[role="group"]'))
        .map(g => g.getAttribute('aria-label'))
        .filter(l => l?.startsWith('Actions for'))
    ).toEqual(['Actions for demo']);
  });

  it('suggest -p for an env made with -p, and mamba where there is no conda', async () => {
    await attach();
    demo = demoList({
      tools: { conda: null, mamba: '/opt/mamba/bin/mamba', micromamba: null },
      toolsOnPath: ['mamba'],
      envs: [
        env('notes', {
          kind: 'prefix',
          prefix: '/scratch/ana/my envs/notes',
          ipykernelVersion: null
        })
      ]
    });
    await expand('demo');
    expect(
      row('demo', 'notes')!.querySelector('.jp-HpcEnv-hint code')?.textContent
    ).toBe("mamba install -p '/scratch/ana/my envs/notes' ipykernel");
  });

  it('filter the rows by name, path or Python version', async () => {
    await attach();
    await expand('demo');
    const filter = section('demo')!.querySelector<HTMLInputElement>(
      'input[type="search"]'
    )!;
    expect(filter.getAttribute('aria-label')).toBe(
      'Filter environments on demo'
    );
    type(filter, 'scratch');
    await until(() => rows('demo').length === 1);
    expect(rowNames('demo')).toEqual(['scratch-env']);
    type(filter, 'projects');
    await until(() => rowNames('demo')[0] === 'scratch-env');
    type(filter, 'python 3.11 envs');
    await until(() => rows('demo').length === 3);
    type(filter, 'nothing-like-this');
    await until(() => rows('demo').length === 0);
    expect(
      section('demo')!.querySelector('p.jp-HpcEnvs-empty')?.textContent
    ).toBe('No environment matches "nothing-like-this".');
    // The filter survives a re-render.
    panel.update();
    await new Promise(r => requestAnimationFrame(r));
    expect(filter.value).toBe('nothing-like-this');
  });

  it('offer Miniforge on a cluster with no conda and no env', async () => {
    await attach();
    demo = emptyList('demo');
    await expand('demo');
    const body = section('demo')!.querySelector('.jp-HpcEnvs-body')!;
    expect(body.textContent).toContain(
      'No conda, mamba or micromamba and no conda environment were found on demo.'
    );
    // The Miniforge install does not run `conda init`.
    expect(body.querySelector('code')?.textContent).toBe(
      '~/.local/miniforge/bin/conda create -n my-project-env python ipykernel'
    );
    const install = Array.from(body.querySelectorAll('button')).find(
      b => b.textContent === 'Install Miniforge…'
    )!;
    await until(() => !install.disabled);
    expect(install.title).toBe(
      'Install conda (Miniforge) in your home directory on demo'
    );
  });

  it('explain how to create an env where conda has none yet', async () => {
    await attach();
    local = localList([], {
      tools: { conda: '/opt/conda/bin/conda', mamba: null, micromamba: null },
      toolsOnPath: ['conda'],
      roots: ['/opt/conda']
    });
    await expand(LOCAL_TARGET);
    const body = section(LOCAL_TARGET)!.querySelector('.jp-HpcEnvs-body')!;
    expect(body.textContent).toContain(
      'No conda environments on this computer yet.'
    );
    expect(body.querySelector('code')?.textContent).toBe(
      'conda create -n my-project-env python ipykernel'
    );
    expect(body.textContent).not.toContain('Install Miniforge');
  });

  it('say why the list failed, and try again when reopened', async () => {
    await attach();
    fake.on('GET', '/api/v1/clusters/demo/envs', () =>
      sidecarError(502, 'unreachable', 'hpc-demo does not answer.')
    );
    await expand('demo');
    const alert = section('demo')!.querySelector('[role="alert"]');
    expect(alert?.textContent).toBe(
      'The environments on demo could not be listed: hpc-demo does not answer.'
    );
    fake.on('GET', '/api/v1/clusters/demo/envs', () => demo);
    toggle('demo').click();
    await until(() => !section('demo')!.querySelector('.jp-HpcEnvs-body'));
    await expand('demo');
    await until(() => rows('demo').length === 5);
    expect(section('demo')!.querySelector('[role="alert"]')).toBeNull();
  });

  it('leave a kernel registered outside jupyterlab-hpc alone', async () => {
    await attach();
    const e = local.envs[0];
    local = localList([
      {
        ...e,
        registered: kernelspec(e, '/usr/local/share/jupyter/kernels', {
          name: 'ui',
          displayName: 'UI env',
          managed: false
        })
      }
    ]);
    await expand(LOCAL_TARGET);
    const li = row(LOCAL_TARGET, 'ui-env')!;
    expect(badges(li)).toEqual(['ipykernel 6.29.5', 'kernel: UI env']);
    expect(buttons(li)).toEqual([['Unregister', false]]);
    expect(button(li, 'Unregister').title).toBe(
      'The kernel ui was not registered by jupyterlab-hpc, so it is left alone; remove it with: jupyter kernelspec remove ui'
    );
  });

  it('say when a cluster has no JupyterLab env to register kernels in, and offer one', async () => {
    await attach();
    demo = demoList({ kernelsDir: null, jupyterlabPrefix: null });
    await expand('demo');
    expect(
      section('demo')!.querySelector('.jp-HpcEnvs-warning')?.textContent
    ).toMatch(/^The JupyterLab environment "jupyterlab" was not found on demo/);
    const mine = row('demo', 'my-project-env')!;
    expect(buttons(mine)).toEqual([['Register kernel', false]]);
    const lab = row('demo', 'jupyterlab')!;
    await until(() => buttons(lab)[1]?.[1] === true);
    expect(buttons(lab)).toEqual([
      ['Register kernel', false],
      ['Use for JupyterLab', true]
    ]);
  });
});
