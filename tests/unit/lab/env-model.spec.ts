import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { PromiseDelegate } from '@lumino/coreutils';

import {
  IEnvironmentList,
  IRegisterKernelResult,
  ITask,
  LOCAL_TARGET
} from '../../../src/common/api';
import { EnvironmentsModel, ITaskState } from '../../../src/lab/envs/model';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import {
  demoList,
  env,
  kernelspec,
  LOCAL_KERNELS,
  localList,
  task
} from './env-fixtures';
import {
  FakeSidecar,
  health,
  PLUGIN_ID,
  settingsWith,
  sidecarError,
  until,
  whenSignalled
} from './fixtures';

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let registrySettings: ISettingRegistry.ISettings;
let model: EnvironmentsModel;
let refreshSpecs: jest.Mock;
let syncClusters: jest.Mock;
/** What GET envs answers, per target; tests change them. */
let local: IEnvironmentList;
let demo: IEnvironmentList;

const LOCAL_ENVS = '/api/v1/local/envs';
const DEMO_ENVS = '/api/v1/clusters/demo/envs';
const UI_ENV = '/tmp/ui-home/miniforge3/envs/ui-env';

async function setUp(): Promise<void> {
  fake = new FakeSidecar();
  local = localList();
  demo = demoList();
  fake.on('GET', LOCAL_ENVS, () => local);
  fake.on('GET', DEMO_ENVS, () => demo);
  fake.on('GET', '/api/v1/tasks', () => []);
  const { registry } = await settingsWith({
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  registrySettings = await registry.load(PLUGIN_ID);
  settings = new ClusterSettings();
  settings.attach(registrySettings);
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  refreshSpecs = jest.fn(async () => undefined);
  syncClusters = jest.fn(async () => undefined);
  model = new EnvironmentsModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings,
    kernelspecs: { refreshSpecs },
    syncClusters
  });
  await whenSignalled(model.changed, () => model.available);
}

/** Requests of the environment and task routes, with their query. */
const envCalls = () =>
  fake.requests
    .filter(r => r.path !== '/api/v1/health')
    .map(r => `${r.method} ${r.path}${r.search}`);

afterEach(() => {
  model?.dispose();
  sidecar?.dispose();
  settings?.dispose();
});

describe('EnvironmentsModel', () => {
  describe('lists', () => {
    it('asks for nothing until a target is loaded, then keeps its list', async () => {
      await setUp();
      expect(model.targets).toEqual([LOCAL_TARGET, 'demo']);
      expect(model.state('demo')).toEqual({
        list: null,
        loading: false,
        refreshing: false,
        error: null
      });
      expect(envCalls()).toEqual([]);

      const changed = jest.fn();
      model.changed.connect((_, target) => changed(target));
      const loading = model.load('demo');
      expect(model.state('demo').loading).toBe(true);
      await loading;

      expect(envCalls()).toEqual([`GET ${DEMO_ENVS}`]);
      expect(model.state('demo')).toEqual({
        list: demo,
        loading: false,
        refreshing: false,
        error: null
      });
      expect(model.isWatched('demo')).toBe(true);
      expect(model.isWatched(LOCAL_TARGET)).toBe(false);
      expect(model.env('demo', demo.envs[3].prefix)?.name).toBe('analysis');
      expect(changed).toHaveBeenCalledWith('demo');
    });

    it('rescans with ?refresh=1, and loads asked for meanwhile share requests', async () => {
      await setUp();
      const gate = new PromiseDelegate<void>();
      fake.on('GET', DEMO_ENVS, async () => {
        await gate.promise;
        return demo;
      });
      const first = model.load('demo');
      const second = model.load('demo');
      const third = model.load('demo', { refresh: true });
      expect(model.state('demo').refreshing).toBe(false);
      gate.resolve();
      await Promise.all([first, second, third]);

      // One plain GET in flight, then one rescan for what came meanwhile.
      expect(envCalls()).toEqual([
        `GET ${DEMO_ENVS}`,
        `GET ${DEMO_ENVS}?refresh=1`
      ]);
    });

    it('keeps a failure in the state instead of rejecting, and clears it on success', async () => {
      await setUp();
      fake.on('GET', DEMO_ENVS, () =>
        sidecarError(
          502,
          'unreachable',
          'hpc-demo (127.0.0.1:2222) does not answer.'
        )
      );
      await expect(model.load('demo')).resolves.toBeUndefined();
      expect(model.state('demo').list).toBeNull();
      expect(model.state('demo').error).toEqual({
        code: 'unreachable',
        message: 'hpc-demo (127.0.0.1:2222) does not answer.'
      });

      fake.on('GET', DEMO_ENVS, () => demo);
      await model.load('demo');
      expect(model.state('demo').error).toBeNull();
      expect(model.state('demo').list?.envs).toHaveLength(5);
    });

    it('hands the clusters over once and retries when the sidecar does not know the cluster', async () => {
      await setUp();
      let known = false;
      syncClusters.mockImplementation(async () => {
        known = true;
      });
      fake.on('GET', DEMO_ENVS, () =>
        known
          ? demo
          : sidecarError(404, 'unknown-cluster', 'No cluster named demo.')
      );
      await model.load('demo');
      expect(syncClusters).toHaveBeenCalledTimes(1);
      expect(envCalls()).toEqual([`GET ${DEMO_ENVS}`, `GET ${DEMO_ENVS}`]);
      expect(model.state('demo').list).toEqual(demo);
    });

    it('forgets the list of a cluster removed from the settings', async () => {
      await setUp();
      await model.load('demo');
      await registrySettings.set('clusters', [] as never);
      await whenSignalled(model.changed, () => model.targets.length === 1);
      expect(model.state('demo').list).toBeNull();
      expect(model.isWatched('demo')).toBe(false);
    });
  });

  describe('envs-changed', () => {
    it('re-fetches a watched target, and leaves an unwatched one alone', async () => {
      await setUp();
      fake.socket.open();
      await model.load('demo');

      fake.socket.send({
        type: 'envs-changed',
        target: 'demo',
        kernelsChanged: false
      });
      fake.socket.send({
        type: 'envs-changed',
        target: LOCAL_TARGET,
        kernelsChanged: false
      });
      await until(() => envCalls().length === 2);
      await new Promise(r => setTimeout(r, 20));
      expect(envCalls()).toEqual([`GET ${DEMO_ENVS}`, `GET ${DEMO_ENVS}`]);
      expect(refreshSpecs).not.toHaveBeenCalled();
    });

    it("refreshes JupyterLab's kernelspecs when a local kernelspec changed, watched or not", async () => {
      await setUp();
      fake.socket.open();
      fake.socket.send({
        type: 'envs-changed',
        target: LOCAL_TARGET,
        kernelsChanged: true
      });
      await until(() => refreshSpecs.mock.calls.length === 1);

      // A cluster's kernels are not this JupyterLab's.
      fake.socket.send({
        type: 'envs-changed',
        target: 'demo',
        kernelsChanged: true
      });
      await new Promise(r => setTimeout(r, 20));
      expect(refreshSpecs).toHaveBeenCalledTimes(1);
    });

    it('re-fetches watched targets and the tasks after a new hello', async () => {
      await setUp();
      fake.socket.open();
      await model.load(LOCAL_TARGET);
      fake.requests.length = 0;

      fake.socket.send({ type: 'hello', health });
      await until(() => envCalls().length === 2);
      expect(envCalls().sort()).toEqual([
        `GET ${LOCAL_ENVS}`,
        'GET /api/v1/tasks'
      ]);
    });
  });

  describe('kernels', () => {
    const registered = (): IRegisterKernelResult => ({
      kernel: kernelspec(local.envs[0], LOCAL_KERNELS),
      created: true
    });

    it('registers a local kernel, shows it at once and refreshes the kernel picker', async () => {
      await setUp();
      await model.load(LOCAL_TARGET);
      const answer = new PromiseDelegate<IRegisterKernelResult>();
      fake.on('POST', '/api/v1/local/kernels', () => answer.promise);
      const after = localList([
        { ...local.envs[0], registered: registered().kernel }
      ]);

      const done = model.register(LOCAL_TARGET, { prefix: UI_ENV });
      await until(() => fake.calls().includes('POST /api/v1/local/kernels'));
      expect(model.isBusy(LOCAL_TARGET, UI_ENV)).toBe(true);
      expect(model.isBusy(LOCAL_TARGET, UI_ENV, 'register')).toBe(true);
      expect(model.isBusy(LOCAL_TARGET, UI_ENV, 'unregister')).toBe(false);
      fake.on('GET', LOCAL_ENVS, () => after);
      answer.resolve(registered());
      const result = await done;

      expect(result.kernel.name).toBe('conda-env-ui-env-py');
      expect(fake.requests.find(r => r.method === 'POST')?.body).toEqual({
        prefix: UI_ENV
      });
      // Before the list that follows arrives, the row already says so.
      expect(model.env(LOCAL_TARGET, UI_ENV)?.registered?.name).toBe(
        'conda-env-ui-env-py'
      );
      expect(refreshSpecs).toHaveBeenCalledTimes(1);
      expect(model.isBusy(LOCAL_TARGET, UI_ENV)).toBe(false);
      await until(() => envCalls().filter(c => c.startsWith('GET')).length > 1);
    });

    it('does not refresh the local kernel picker for a cluster kernel', async () => {
      await setUp();
      await model.load('demo');
      const lab = demo.kernelsDir!;
      const e = demo.envs[2];
      fake.on('POST', '/api/v1/clusters/demo/kernels', () => ({
        kernel: kernelspec(e, lab),
        created: true
      }));
      await model.register('demo', { prefix: e.prefix });
      expect(refreshSpecs).not.toHaveBeenCalled();
      expect(model.env('demo', e.prefix)?.registered?.path).toBe(
        `${lab}/conda-env-my-project-env-py`
      );
    });

    it('unregisters by kernel name, clears the row and refreshes the kernel picker', async () => {
      await setUp();
      const kernel = registered().kernel;
      local = localList([{ ...local.envs[0], registered: kernel }], {
        kernelspecs: [kernel]
      });
      await model.load(LOCAL_TARGET);
      fake.on(
        'DELETE',
        '/api/v1/local/kernels/conda-env-ui-env-py',
        () => new Response(null, { status: 204 })
      );
      await model.unregister(LOCAL_TARGET, 'conda-env-ui-env-py');
      expect(model.env(LOCAL_TARGET, UI_ENV)?.registered).toBeNull();
      expect(model.state(LOCAL_TARGET).list?.kernelspecs).toEqual([]);
      expect(refreshSpecs).toHaveBeenCalledTimes(1);
    });

    it('rejects with the sidecar error and leaves the list as it was', async () => {
      await setUp();
      await model.load(LOCAL_TARGET);
      fake.on('POST', '/api/v1/local/kernels', () =>
        sidecarError(
          400,
          'ipykernel-missing',
          'ui-env has no ipykernel: conda install -n ui-env ipykernel'
        )
      );
      const failure = model.register(LOCAL_TARGET, { prefix: UI_ENV });
      await expect(failure).rejects.toBeInstanceOf(SidecarRequestError);
      await expect(failure).rejects.toMatchObject({
        code: 'ipykernel-missing'
      });
      expect(model.env(LOCAL_TARGET, UI_ENV)?.registered).toBeNull();
      expect(refreshSpecs).not.toHaveBeenCalled();
      expect(model.isBusy(LOCAL_TARGET, UI_ENV)).toBe(false);
    });
  });

  describe('tasks', () => {
    const ANALYSIS = '/home/hpcdemo/.local/miniforge/envs/analysis';

    async function started(): Promise<ITaskState> {
      fake.on('POST', '/api/v1/clusters/demo/envs/install-ipykernel', () =>
        task()
      );
      return model.installIpykernel('demo', ANALYSIS);
    }

    it('starts an ipykernel install and follows its state and output', async () => {
      await setUp();
      fake.socket.open();
      const state = await started();
      expect(fake.requests.find(r => r.method === 'POST')?.body).toEqual({
        prefix: ANALYSIS
      });
      expect(state.prefix).toBe(ANALYSIS);
      expect(state.startedHere).toBe(true);
      expect(model.runningTask('demo', 'install-ipykernel', ANALYSIS)).toBe(
        state
      );
      expect(model.runningTask('demo', 'install-ipykernel', '/other')).toBe(
        null
      );

      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 0,
        text: 'Collecting ipykernel\n'
      });
      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 21,
        text: 'Installing collected packages\n'
      });
      fake.socket.send({
        type: 'task',
        task: task({ step: 'Writing conda-meta', outputLength: 51 })
      });
      await whenSignalled(
        model.taskChanged,
        () => model.task('t1')?.task.step === 'Writing conda-meta'
      );
      expect(model.task('t1')?.output).toBe(
        'Collecting ipykernel\nInstalling collected packages\n'
      );
      expect(model.task('t1')?.complete).toBe(true);
    });

    it('ignores output it has, and notices output it missed', async () => {
      await setUp();
      fake.socket.open();
      await started();
      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 0,
        text: 'abc'
      });
      // Overlaps what is known: only the new part is kept.
      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 1,
        text: 'bcd'
      });
      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 0,
        text: 'ab'
      });
      await whenSignalled(
        model.taskChanged,
        () => model.task('t1')?.output === 'abcd'
      );
      // A gap: something went by unseen.
      fake.socket.send({ type: 'task-output', id: 't1', offset: 9, text: 'x' });
      await whenSignalled(
        model.taskChanged,
        () => model.task('t1')?.complete === false
      );
      expect(model.task('t1')?.output).toBe('abcd');
    });

    it('backfills from GET the task, keeping whichever reaches further', async () => {
      await setUp();
      fake.socket.open();
      fake.on('GET', '/api/v1/tasks/t1', () =>
        task({ output: 'line 1\nline 2\n', outputLength: 14 })
      );
      // A task started in another tab: this page saw only its later output.
      fake.socket.send({ type: 'task', task: task({ outputLength: 7 }) });
      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 7,
        text: 'line 2\n'
      });
      await whenSignalled(
        model.taskChanged,
        () => model.task('t1')?.complete === false
      );

      const state = await model.loadTask('t1');
      expect(state.output).toBe('line 1\nline 2\n');
      expect(state.complete).toBe(true);
      expect(state.startedHere).toBe(false);

      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 14,
        text: 'line 3\n'
      });
      await whenSignalled(model.taskChanged, () =>
        model.task('t1')?.output.endsWith('line 3\n')
      );
      // An older answer never shortens what is known.
      fake.on('GET', '/api/v1/tasks/t1', () =>
        task({ output: 'line 1\n', outputLength: 7 })
      );
      await model.loadTask('t1');
      expect(model.task('t1')?.output).toBe('line 1\nline 2\nline 3\n');
    });

    it('takes a backfill whose beginning the sidecar dropped', async () => {
      await setUp();
      fake.on('GET', '/api/v1/tasks/t1', () =>
        task({
          output: 'tail\n',
          outputOffset: 2_000_000,
          outputLength: 2_000_005
        })
      );
      const state = await model.loadTask('t1');
      expect(state.outputStart).toBe(2_000_000);
      expect(state.output).toBe('tail\n');
      expect(state.task.output).toBeUndefined();
      fake.socket.open();
      fake.socket.send({
        type: 'task-output',
        id: 't1',
        offset: 2_000_005,
        text: 'more\n'
      });
      await whenSignalled(
        model.taskChanged,
        () => model.task('t1')?.output === 'tail\nmore\n'
      );
    });

    it('says once when a task it started ends, and rescans the target it changed', async () => {
      await setUp();
      fake.socket.open();
      await model.load('demo');
      await started();
      const ended: ITask['state'][] = [];
      model.taskEnded.connect((_, s) => ended.push(s.task.state));

      const done = task({ state: 'succeeded', endedAt: Date.now() });
      fake.socket.send({ type: 'task', task: done });
      fake.socket.send({ type: 'task', task: done });
      await until(() => envCalls().includes(`GET ${DEMO_ENVS}?refresh=1`));
      expect(ended).toEqual(['succeeded']);
      expect(model.runningTask('demo', 'install-ipykernel')).toBeNull();
    });

    it('does not announce the end of a task started elsewhere', async () => {
      await setUp();
      fake.socket.open();
      const ended = jest.fn();
      model.taskEnded.connect(ended);
      fake.socket.send({ type: 'task', task: task() });
      fake.socket.send({
        type: 'task',
        task: task({
          state: 'failed',
          error: { code: 'task-failed', message: 'pip failed' }
        })
      });
      await whenSignalled(
        model.taskChanged,
        () => model.task('t1')?.task.state === 'failed'
      );
      expect(ended).not.toHaveBeenCalled();
    });

    it('keeps the end of a task whose events beat the answer that started it', async () => {
      await setUp();
      fake.socket.open();
      const answer = new PromiseDelegate<ITask>();
      fake.on('POST', '/api/v1/clusters/demo/miniforge', () => answer.promise);
      const ended = jest.fn();
      model.taskEnded.connect(ended);
      const starting = model.installMiniforge('demo', {
        createJupyterlabEnv: true
      });
      const t = task({ id: 'm1', kind: 'install-miniforge' });
      fake.socket.send({ type: 'task', task: t });
      fake.socket.send({
        type: 'task',
        task: { ...t, state: 'succeeded', endedAt: Date.now() }
      });
      await whenSignalled(
        model.taskChanged,
        () => model.task('m1')?.task.state === 'succeeded'
      );
      answer.resolve(t); // as it was when it started
      const state = await starting;
      expect(state.task.state).toBe('succeeded');
      expect(ended).toHaveBeenCalledTimes(1);
      expect(fake.requests.find(r => r.method === 'POST')?.body).toEqual({
        createJupyterlabEnv: true
      });
    });

    it('cancels through DELETE the task', async () => {
      await setUp();
      await started();
      fake.on('DELETE', '/api/v1/tasks/t1', () =>
        task({ state: 'cancelled', endedAt: Date.now() })
      );
      await model.cancelTask('t1');
      expect(model.task('t1')?.task.state).toBe('cancelled');
    });

    it('lists the running tasks of other tabs when the event channel opens', async () => {
      await setUp();
      fake.on('GET', '/api/v1/tasks', () => [
        task({ id: 'other', outputLength: 12 })
      ]);
      fake.socket.open();
      fake.socket.send({ type: 'hello', health });
      await whenSignalled(model.taskChanged, () => model.task('other'));
      expect(model.tasks.map(t => t.task.id)).toEqual(['other']);
      expect(model.task('other')?.complete).toBe(false);
    });

    it('knows which env a task of another tab works on', async () => {
      await setUp();
      fake.socket.open();
      fake.socket.send({ type: 'task', task: task({ id: 'other' }) });
      await whenSignalled(model.taskChanged, () => model.task('other'));
      const analysis = '/home/hpcdemo/.local/miniforge/envs/analysis';
      expect(
        model.runningTask('demo', 'install-ipykernel', analysis)?.task.id
      ).toBe('other');
      expect(
        model.runningTask('demo', 'install-ipykernel', '/elsewhere')
      ).toBeNull();
    });
  });

  it('is unavailable, with the lists kept, while the sidecar is down', async () => {
    await setUp();
    await model.load('demo');
    fake.on('GET', '/api/v1/health', () => new Response('', { status: 502 }));
    await sidecar.refresh();
    expect(model.available).toBe(false);
    expect(model.state('demo').list).toEqual(demo);
    // No request while it is down.
    fake.requests.length = 0;
    await model.load('demo');
    expect(envCalls()).toEqual([]);
  });

  it('has env() find nothing for unknown prefixes and targets', async () => {
    await setUp();
    await model.load('demo');
    expect(model.env('demo', '/nope')).toBeNull();
    expect(model.env('elsewhere', demo.envs[0].prefix)).toBeNull();
    expect(env('x').kind).toBe('named');
  });
});
