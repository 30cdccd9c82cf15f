import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { PromiseDelegate } from '@lumino/coreutils';

import {
  IClusterStatus,
  IConnectionTest,
  ISshHosts
} from '../../../src/common/api';
import { ClusterModel } from '../../../src/lab/clusters/model';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import {
  FakeSidecar,
  health,
  PLUGIN_ID,
  settingsWith,
  sidecarError,
  until,
  whenSignalled
} from './fixtures';

const demo = { name: 'demo', host: 'hpc-demo' };
const gpu = { name: 'gpu', host: 'gpu-login', user: 'ana', port: 2222 };
const normalized = {
  demo: {
    ...demo,
    port: null,
    user: '',
    identityFile: '',
    jumpHost: '',
    transport: 'ssh',
    jupyterEnvironment: '',
    sshClient: 'auto'
  },
  gpu: {
    ...gpu,
    identityFile: '',
    jumpHost: '',
    transport: 'ssh',
    jupyterEnvironment: '',
    sshClient: 'auto'
  }
};

const status = (
  name: string,
  state: IClusterStatus['state'],
  more: Partial<IClusterStatus> = {}
): IClusterStatus => ({
  name,
  transport: 'ssh',
  state,
  target: `hpcdemo@127.0.0.1:2222`,
  route: ['127.0.0.1'],
  error: null,
  since: 1000,
  nextAttemptAt: null,
  attempt: 0,
  activeCommands: 0,
  queuedCommands: 0,
  openForwards: 0,
  ...more
});

let fake: FakeSidecar;
let sidecar: SidecarModel;
let settings: ClusterSettings;
let registrySettings: ISettingRegistry.ISettings;
let model: ClusterModel;
/** What GET /api/v1/clusters answers; the test changes it. */
let listed: IClusterStatus[];

async function setUp(user: object = { clusters: [demo] }): Promise<void> {
  fake = new FakeSidecar();
  listed = [status('demo', 'idle')];
  fake.on('PUT', '/api/v1/clusters', () => new Response(null, { status: 204 }));
  fake.on('GET', '/api/v1/clusters', () => ({ clusters: listed }));
  const { registry } = await settingsWith(user);
  registrySettings = await registry.load(PLUGIN_ID);
  settings = new ClusterSettings();
  settings.attach(registrySettings);
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  model = new ClusterModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings
  });
}

/** The bodies of every PUT /api/v1/clusters so far. */
const puts = () =>
  fake.requests.filter(r => r.method === 'PUT').map(r => r.body);

/** Wait for the sidecar model's first health check and the sync after it. */
async function ready(): Promise<void> {
  await whenSignalled(
    sidecar.stateChanged,
    () => sidecar.state.status === 'ready'
  );
  await until(() => fake.calls().includes('GET /api/v1/clusters'));
  await model.sync();
}

afterEach(() => {
  model?.dispose();
  sidecar?.dispose();
  settings?.dispose();
});

describe('ClusterModel', () => {
  describe('sync', () => {
    it('hands the clusters to the sidecar once it is ready, then reads their states', async () => {
      await setUp();
      expect(model.available).toBe(false);
      expect(model.status('demo')).toBeNull();

      await ready();

      expect(model.available).toBe(true);
      expect(fake.calls().slice(0, 2)).toEqual([
        'PUT /api/v1/clusters',
        'GET /api/v1/clusters'
      ]);
      expect(puts()[0]).toEqual({
        clusters: [normalized.demo],
        allocationGraceMinutes: 10
      });
      expect(model.status('demo')).toEqual(status('demo', 'idle'));
      expect(model.clusters.map(c => c.name)).toEqual(['demo']);
      expect(model.syncError).toBeNull();
    });

    it('sends the JSON body with the request header the sidecar requires', async () => {
      await setUp();
      await ready();
      const put = fake.fetch.mock.calls
        .map(([request]) => request)
        .find(r => r.method === 'PUT')!;
      expect(put.headers.get('Content-Type')).toBe('application/json');
      expect(put.headers.get('X-Jupyterlab-Hpc')).toBe('1');
    });

    it('syncs again whenever the settings change', async () => {
      await setUp();
      await ready();
      const before = puts().length;
      listed = [status('demo', 'idle'), status('gpu', 'idle')];

      await registrySettings.set('clusters', [demo, gpu]);
      await whenSignalled(model.changed, () => model.status('gpu'));

      expect(puts().slice(before)).toEqual([
        {
          clusters: [normalized.demo, normalized.gpu],
          allocationGraceMinutes: 10
        }
      ]);
    });

    it('drops the status of a cluster removed from the settings', async () => {
      await setUp({ clusters: [demo, gpu] });
      listed = [status('demo', 'connected'), status('gpu', 'idle')];
      await ready();
      expect(model.status('gpu')).not.toBeNull();

      listed = [status('demo', 'connected')];
      await registrySettings.set('clusters', [demo]);
      await whenSignalled(model.changed, () => model.status('gpu') === null);
      expect(model.status('demo')?.state).toBe('connected');
    });

    it('syncs again after every hello: a restarted sidecar forgot the clusters', async () => {
      await setUp();
      await ready();
      fake.socket.open();
      const before = puts().length;

      fake.socket.send({ type: 'hello', health });
      await until(() => puts().length === before + 1);
      fake.socket.send({ type: 'hello', health: { ...health, pid: 777 } });
      await until(() => puts().length === before + 2);

      expect(puts().every(b => JSON.stringify(b).includes('hpc-demo'))).toBe(
        true
      );
    });

    it('forgets the states of another sidecar process at its hello', async () => {
      await setUp();
      listed = [status('demo', 'connected')];
      await ready();
      fake.socket.open();
      fake.socket.send({ type: 'hello', health });
      await model.sync();
      expect(model.status('demo')?.state).toBe('connected');

      // The new process knows nothing yet: its list says so after the sync.
      const answer = new PromiseDelegate<void>();
      fake.on('GET', '/api/v1/clusters', async () => {
        await answer.promise;
        return { clusters: [status('demo', 'idle', { since: 5 })] };
      });
      fake.socket.send({ type: 'hello', health: { ...health, pid: 99 } });
      expect(model.status('demo')).toBeNull();
      answer.resolve();
      await whenSignalled(
        model.changed,
        () => model.status('demo')?.state === 'idle'
      );
    });

    it('coalesces triggers that come while a sync runs', async () => {
      await setUp();
      await ready();
      const entered = new PromiseDelegate<void>();
      const gate = new PromiseDelegate<void>();
      fake.on('PUT', '/api/v1/clusters', async () => {
        entered.resolve();
        await gate.promise;
        return new Response(null, { status: 204 });
      });
      const before = puts().length;

      const first = model.sync();
      // Three triggers while the first PUT is on its way...
      await entered.promise;
      const during = [model.sync(), model.sync(), model.sync()];
      expect(during.every(p => p === first)).toBe(true);
      gate.resolve();
      await first;
      // ...make exactly one more PUT, with the settings as they are then.
      expect(puts().length - before).toBe(2);

      await model.sync();
      expect(puts().length - before).toBe(3);
    });

    it('folds triggers before the first PUT into it', async () => {
      await setUp();
      await ready();
      const before = puts().length;
      const first = model.sync();
      void model.sync();
      void model.sync();
      await first;
      expect(puts().length - before).toBe(1);
    });

    it('does not tell the sidecar "no clusters" before the settings are read', async () => {
      fake = new FakeSidecar();
      fake.on('PUT', '/api/v1/clusters', () => null);
      fake.on('GET', '/api/v1/clusters', () => ({ clusters: [] }));
      settings = new ClusterSettings();
      sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
      model = new ClusterModel({
        sidecar,
        settings,
        serverSettings: fake.serverSettings
      });
      await whenSignalled(
        sidecar.stateChanged,
        () => sidecar.state.status === 'ready'
      );
      void model.sync();
      await new Promise(r => setTimeout(r, 50));
      expect(puts()).toEqual([]);

      const { registry } = await settingsWith({ clusters: [demo] });
      settings.attach(await registry.load(PLUGIN_ID));
      await until(() => puts().length > 0);
      expect(puts()[0]).toEqual({
        clusters: [normalized.demo],
        allocationGraceMinutes: 10
      });
    });

    it('says why the sidecar refused the list, until a sync works', async () => {
      await setUp();
      fake.on('PUT', '/api/v1/clusters', () =>
        sidecarError(400, 'bad-request', 'clusters[0].host: must not be empty')
      );
      await whenSignalled(
        sidecar.stateChanged,
        () => sidecar.state.status === 'ready'
      );
      await whenSignalled(model.changed, () => model.syncError);
      expect(model.syncError).toEqual({
        code: 'bad-request',
        message: 'clusters[0].host: must not be empty'
      });

      fake.on('PUT', '/api/v1/clusters', () => null);
      await model.sync();
      expect(model.syncError).toBeNull();
    });

    it('forgets every state when the sidecar goes away, and syncs when it is back', async () => {
      await setUp();
      listed = [status('demo', 'connected')];
      await ready();
      fake.socket.open();
      expect(model.status('demo')?.state).toBe('connected');

      fake.on('GET', '/api/v1/health', () => new Response('', { status: 502 }));
      fake.socket.drop();
      await whenSignalled(
        sidecar.stateChanged,
        () => sidecar.state.status === 'failed'
      );
      expect(model.available).toBe(false);
      expect(model.status('demo')).toBeNull();

      const before = puts().length;
      fake.on('GET', '/api/v1/health', () => health);
      await sidecar.refresh();
      await until(() => puts().length === before + 1);
      await whenSignalled(model.changed, () => model.status('demo'));
    });
  });

  describe('cluster-state events', () => {
    it('apply each state the sidecar pushes', async () => {
      await setUp();
      await ready();
      fake.socket.open();
      const changed = jest.fn();
      model.changed.connect(changed);

      fake.socket.send({
        type: 'cluster-state',
        cluster: status('demo', 'connecting', { since: 2000 })
      });
      expect(model.status('demo')?.state).toBe('connecting');
      fake.socket.send({
        type: 'cluster-state',
        cluster: status('demo', 'error', {
          since: 3000,
          error: {
            code: 'unreachable',
            message: 'hpc-demo (127.0.0.1:2222) refused the connection.'
          }
        })
      });

      expect(model.status('demo')).toMatchObject({
        state: 'error',
        error: { code: 'unreachable' }
      });
      expect(changed).toHaveBeenCalledTimes(2);
    });

    it('ignore events that are not cluster states', async () => {
      await setUp();
      await ready();
      fake.socket.open();
      fake.socket.send({ type: 'cluster-state', cluster: { name: 'demo' } });
      fake.socket.send({ type: 'heartbeat', time: 1 });
      expect(model.status('demo')?.state).toBe('idle');
    });

    it('win over an older state in a list that was on its way', async () => {
      await setUp();
      await ready();
      fake.socket.open();
      const gate = new PromiseDelegate<void>();
      fake.on('GET', '/api/v1/clusters', async () => {
        await gate.promise;
        return { clusters: [status('demo', 'idle', { since: 1000 })] };
      });

      const lists = () =>
        fake.calls().filter(c => c === 'GET /api/v1/clusters').length;
      const before = lists();
      const sync = model.sync();
      // The list is asked for and not answered yet.
      await until(() => lists() === before + 1);
      fake.socket.send({
        type: 'cluster-state',
        cluster: status('demo', 'connected', { since: 5000 })
      });
      gate.resolve();
      await sync;

      expect(model.status('demo')?.state).toBe('connected');
    });
  });

  describe('actions', () => {
    const testResult = (s: IClusterStatus): IConnectionTest => ({
      rttMs: 1.8,
      connectMs: 120,
      sshClient: 'builtin',
      slurmVersion: 'slurm 22.05.8',
      tools: {
        conda: null,
        mamba: null,
        micromamba: '/home/hpcdemo/.local/bin/micromamba'
      },
      toolsOnPath: ['micromamba'],
      remoteHost: 'login1',
      shell: '/bin/bash',
      status: s
    });

    it('connect posts to the cluster and applies the status it answers', async () => {
      await setUp();
      await ready();
      const answer = new PromiseDelegate<IClusterStatus>();
      fake.on('POST', '/api/v1/clusters/demo/connect', () => answer.promise);

      const connecting = model.connect('demo');
      await whenSignalled(model.changed, () => model.isBusy('demo', 'connect'));
      expect(model.isBusy('demo')).toBe(true);
      expect(model.isBusy('demo', 'test')).toBe(false);
      answer.resolve(status('demo', 'connected', { since: 2000 }));

      await expect(connecting).resolves.toMatchObject({ state: 'connected' });
      expect(model.status('demo')?.state).toBe('connected');
      expect(model.isBusy('demo')).toBe(false);
      const post = fake.requests.find(r => r.method === 'POST')!;
      expect(post.body).toBeUndefined();
    });

    it('names clusters in the URL safely', async () => {
      await setUp({ clusters: [{ name: 'a.b_c-1', host: 'x' }] });
      await ready();
      fake.on('POST', '/api/v1/clusters/a.b_c-1/disconnect', () => null);
      await model.disconnect('a.b_c-1');
      expect(fake.calls()).toContain(
        'POST /api/v1/clusters/a.b_c-1/disconnect'
      );
    });

    it('rejects with the sidecar error for the UI to show', async () => {
      await setUp({ clusters: [{ name: 'nowhere', host: 'no-such-host' }] });
      listed = [status('nowhere', 'idle')];
      await ready();
      fake.on('POST', '/api/v1/clusters/nowhere/connect', () =>
        sidecarError(
          502,
          'unreachable',
          'no-such-host: the name does not resolve (check the host or ~/.ssh/config).'
        )
      );

      const error = await model.connect('nowhere').catch(e => e);

      expect(error).toBeInstanceOf(SidecarRequestError);
      expect(error.code).toBe('unreachable');
      expect(error.message).toBe(
        'no-such-host: the name does not resolve (check the host or ~/.ssh/config).'
      );
      expect(model.isBusy('nowhere')).toBe(false);
    });

    it('waits for a running sync, so the sidecar knows a cluster just added', async () => {
      await setUp();
      await ready();
      const gate = new PromiseDelegate<void>();
      fake.on('PUT', '/api/v1/clusters', async () => {
        await gate.promise;
        return null;
      });
      fake.on('POST', '/api/v1/clusters/gpu/test', () =>
        testResult(status('gpu', 'connected'))
      );
      listed = [status('demo', 'idle'), status('gpu', 'idle')];

      const before = puts().length;
      void registrySettings.set('clusters', [demo, gpu]);
      await until(() => puts().length === before + 1);
      const testing = model.test('gpu');
      await new Promise(r => setTimeout(r, 20));
      expect(fake.calls()).not.toContain('POST /api/v1/clusters/gpu/test');
      gate.resolve();
      await testing;

      const calls = fake.calls();
      expect(calls.lastIndexOf('PUT /api/v1/clusters')).toBeLessThan(
        calls.indexOf('POST /api/v1/clusters/gpu/test')
      );
    });

    it('test keeps the result, and the status in it', async () => {
      await setUp();
      await ready();
      const result = testResult(status('demo', 'connected', { since: 3000 }));
      fake.on('POST', '/api/v1/clusters/demo/test', () => result);

      await expect(model.test('demo')).resolves.toEqual(result);

      expect(model.lastTest('demo')).toEqual({ ok: true, result });
      expect(model.status('demo')?.state).toBe('connected');
      model.clearTest('demo');
      expect(model.lastTest('demo')).toBeNull();
    });

    it('test keeps the failure too', async () => {
      await setUp();
      await ready();
      fake.on('POST', '/api/v1/clusters/demo/test', () =>
        sidecarError(
          401,
          'auth-failed',
          'hpcdemo@hpc-demo refused every key (tried ~/.ssh/id_ed25519).'
        )
      );

      await expect(model.test('demo')).rejects.toThrow('refused every key');

      expect(model.lastTest('demo')).toEqual({
        ok: false,
        error: {
          code: 'auth-failed',
          message:
            'hpcdemo@hpc-demo refused every key (tried ~/.ssh/id_ed25519).'
        }
      });
    });

    it('setupKey posts the request and answers the result', async () => {
      await setUp();
      await ready();
      const result = {
        keyPath: '~/.ssh/id_ed25519_demo',
        created: true,
        installed: true,
        fingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
        verified: true
      };
      fake.on('POST', '/api/v1/clusters/demo/key-setup', () => result);

      await expect(
        model.setupKey('demo', { keyPath: '~/.ssh/id_ed25519_demo' })
      ).resolves.toEqual(result);
      expect(
        fake.requests.find(r => r.path.endsWith('/key-setup'))?.body
      ).toEqual({ keyPath: '~/.ssh/id_ed25519_demo' });
    });

    it('sshHosts reads the aliases of ~/.ssh/config', async () => {
      await setUp();
      await ready();
      const hosts: ISshHosts = {
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
      };
      fake.on('GET', '/api/v1/ssh/hosts', () => hosts);
      await expect(model.sshHosts()).resolves.toEqual(hosts);
    });
  });
});
