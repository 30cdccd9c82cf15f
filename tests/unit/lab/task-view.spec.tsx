import { Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { EnvironmentsModel } from '../../../src/lab/envs/model';
import { createTaskWidget, TaskView } from '../../../src/lab/envs/task-view';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { task } from './env-fixtures';
import {
  FakeSidecar,
  PLUGIN_ID,
  settingsWith,
  sidecarError,
  until
} from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let envs: EnvironmentsModel;
let widget: Widget | null = null;

async function setUp(): Promise<void> {
  fake = new FakeSidecar();
  fake.on('GET', '/api/v1/tasks', () => []);
  const { registry } = await settingsWith({
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  settings = new ClusterSettings();
  settings.attach(await registry.load(PLUGIN_ID));
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  envs = new EnvironmentsModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings
  });
  await until(() => envs.available);
  fake.socket.open();
}

function open(id = 't1'): TaskView {
  const main = createTaskWidget({
    tasks: envs.taskModel,
    id,
    trans,
    now: () => 1_700_000_012_000
  });
  widget = main;
  Widget.attach(main, document.body);
  return main.content;
}

afterEach(() => {
  widget?.dispose();
  widget = null;
  envs?.dispose();
  sidecar?.dispose();
  settings?.dispose();
  Notification.manager.dismiss();
});

const output = (view: TaskView) =>
  view.node.querySelector('pre.jp-HpcTask-output')?.textContent;
const stateLine = (view: TaskView) =>
  view.node.querySelector('[role="status"]')?.textContent;
const cancel = (view: TaskView) =>
  Array.from(view.node.querySelectorAll('button')).find(b =>
    b.textContent?.startsWith('Cancel')
  )!;

describe('TaskView', () => {
  it('shows the output printed before it opened, then what streams in', async () => {
    await setUp();
    fake.on('GET', '/api/v1/tasks/t1', () =>
      task({
        kind: 'install-miniforge',
        title: 'Install Miniforge on demo',
        step: 'Downloading the installer',
        output: 'Downloading https://mirror/Miniforge3-Linux-x86_64.sh\n',
        outputLength: 54
      })
    );
    const view = open();
    await view.backfilled;
    await until(() => output(view)?.startsWith('Downloading'));
    expect(view.node.querySelector('h2')?.textContent).toBe(
      'Install Miniforge on demo'
    );
    expect(stateLine(view)).toBe('RunningDownloading the installer12 s');
    expect(widget!.title.label).toBe('Install Miniforge on demo');
    expect(widget!.title.caption).toBe('Install Miniforge on demo: Running');
    expect(cancel(view).disabled).toBe(false);

    fake.socket.send({
      type: 'task-output',
      id: 't1',
      offset: 54,
      text: 'PREFIX=/home/hpcdemo/.local/miniforge\n'
    });
    await until(() => output(view)?.endsWith('miniforge\n'));
    expect(output(view)).toBe(
      'Downloading https://mirror/Miniforge3-Linux-x86_64.sh\nPREFIX=/home/hpcdemo/.local/miniforge\n'
    );

    fake.socket.send({
      type: 'task',
      task: task({
        kind: 'install-miniforge',
        title: 'Install Miniforge on demo',
        state: 'failed',
        endedAt: 1_700_000_065_000,
        step: 'Running the installer',
        error: {
          code: 'task-failed',
          message: 'The installer exited with status 1.'
        },
        outputLength: 92
      })
    });
    await until(() => stateLine(view)?.startsWith('Failed'));
    expect(stateLine(view)).toBe('FailedRunning the installer1 min 5 s');
    expect(view.node.querySelector('[role="alert"]')?.textContent).toBe(
      'The installer exited with status 1.'
    );
    expect(cancel(view).disabled).toBe(true);
    expect(widget!.title.caption).toBe('Install Miniforge on demo: Failed');
  });

  it('cancels through the sidecar', async () => {
    await setUp();
    fake.on('GET', '/api/v1/tasks/t1', () => task({ output: '' }));
    fake.on('DELETE', '/api/v1/tasks/t1', () =>
      task({ state: 'cancelled', endedAt: 1_700_000_003_000 })
    );
    const view = open();
    await view.backfilled;
    await until(() => cancel(view) && !cancel(view).disabled);
    cancel(view).click();
    await until(() => stateLine(view)?.startsWith('Cancelled'));
    expect(fake.calls()).toContain('DELETE /api/v1/tasks/t1');
    expect(cancel(view).disabled).toBe(true);
  });

  it('says when the sidecar does not know the task', async () => {
    await setUp();
    fake.on('GET', '/api/v1/tasks/gone', () =>
      sidecarError(404, 'task-not-found', 'No task gone.')
    );
    const view = open('gone');
    await view.backfilled;
    await until(() => view.node.querySelector('[role="alert"]'));
    expect(view.node.querySelector('[role="alert"]')?.textContent).toBe(
      'This task is not known to the sidecar: No task gone.'
    );
    expect(widget!.title.label).toBe('HPC task');
  });

  it('fetches the whole output again when some went by unseen', async () => {
    await setUp();
    let output = 'one\n';
    fake.on('GET', '/api/v1/tasks/t1', () =>
      task({ output, outputLength: output.length })
    );
    const view = open();
    await view.backfilled;
    output = 'one\ntwo\nthree\n';
    // Offset 8: "two\n" was never received.
    fake.socket.send({
      type: 'task-output',
      id: 't1',
      offset: 8,
      text: 'three\n'
    });
    await until(() =>
      view.node.querySelector('pre')?.textContent?.endsWith('three\n')
    );
    expect(view.node.querySelector('pre')?.textContent).toBe(
      'one\ntwo\nthree\n'
    );
    expect(fake.calls().filter(c => c === 'GET /api/v1/tasks/t1')).toHaveLength(
      2
    );
  });
});
