import {
  IAllocationInfo,
  IKernelProfile,
  IKernelStartInfo
} from '../../../src/common/api';
import { KernelsModel } from '../../../src/lab/kernels/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import { FakeSidecar, json, until, whenSignalled } from './fixtures';
import { allocationInfo, profileInfo, startInfo } from './kernel-fixtures';

let fake: FakeSidecar;
let sidecar: SidecarModel;
let model: KernelsModel;
let specs: { refreshSpecs: jest.Mock };
let profiles: IKernelProfile[];
let allocations: IAllocationInfo[];
let starts: IKernelStartInfo[];

async function setUp(): Promise<void> {
  fake = new FakeSidecar();
  fake.on('GET', '/api/v1/kernel-profiles', () => ({ profiles }));
  fake.on('GET', '/api/v1/kernel-allocations', () => ({ allocations }));
  fake.on('GET', '/api/v1/kernel-starts', () => ({ starts }));
  specs = { refreshSpecs: jest.fn(async () => undefined) };
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  model = new KernelsModel({
    sidecar,
    serverSettings: fake.serverSettings,
    kernelspecs: specs
  });
  await whenSignalled(
    sidecar.stateChanged,
    () => sidecar.state.status === 'ready'
  );
  await until(() => fake.calls().includes('GET /api/v1/kernel-starts'));
  await model.refresh();
  fake.socket.open();
}

beforeEach(() => {
  profiles = [profileInfo()];
  allocations = [allocationInfo()];
  starts = [startInfo(), startInfo({ kernelId: 'k-done', state: 'started' })];
});

afterEach(() => {
  model?.dispose();
  sidecar?.dispose();
});

describe('KernelsModel', () => {
  it('reads profiles, allocations and the starts still waiting once the sidecar is ready', async () => {
    await setUp();
    expect(model.profiles.map(p => p.id)).toEqual(['abcd1234']);
    expect(model.allocations.map(a => a.id)).toEqual(['a1']);
    // A start that is over is no longer waited for.
    expect(model.starts.map(s => s.kernelId)).toEqual(['k-new']);
    expect(model.profilesFor('demo', profiles[0].environment)).toHaveLength(1);
    expect(model.profilesFor('other')).toHaveLength(0);
  });

  it('follows kernel-profile events and refreshes the kernelspecs for them', async () => {
    await setUp();
    specs.refreshSpecs.mockClear();
    const added = profileInfo({ id: 'ffff0000', displayName: 'A first' });
    fake.socket.send({ type: 'kernel-profile', profile: added });
    expect(model.profiles.map(p => p.id)).toEqual(['ffff0000', 'abcd1234']);
    fake.socket.send({
      type: 'kernel-profile',
      profile: profileInfo(),
      removed: true
    });
    expect(model.profiles.map(p => p.id)).toEqual(['ffff0000']);
    await until(() => specs.refreshSpecs.mock.calls.length >= 2);
  });

  it('follows kernel-allocation events; an ended allocation does not come back', async () => {
    await setUp();
    const ended = allocationInfo({
      phase: 'ended',
      end: { outcome: 'cancelled', message: 'Ended by you.', at: 9 }
    });
    fake.socket.send({ type: 'kernel-allocation', allocation: ended });
    expect(model.allocation('a1')?.phase).toBe('ended');
    fake.socket.send({
      type: 'kernel-allocation',
      allocation: allocationInfo()
    });
    expect(model.allocation('a1')?.phase).toBe('ended');
    fake.socket.send({
      type: 'kernel-allocation',
      allocation: ended,
      removed: true
    });
    expect(model.allocations).toHaveLength(0);
  });

  it('keeps a start while it waits and tells every news of it, the last one too', async () => {
    await setUp();
    const seen: string[] = [];
    model.startChanged.connect((_, s) => seen.push(`${s.kernelId}:${s.state}`));
    fake.socket.send({
      type: 'kernel-start',
      start: startInfo({ state: 'starting' })
    });
    expect(model.starts[0].state).toBe('starting');
    fake.socket.send({
      type: 'kernel-start',
      start: startInfo({ state: 'started' })
    });
    expect(model.starts).toHaveLength(0);
    expect(seen).toEqual(['k-new:starting', 'k-new:started']);
  });

  it('adds, changes and removes a profile, refreshing the kernelspecs after each', async () => {
    await setUp();
    const request = {
      cluster: 'demo',
      environment: profiles[0].environment,
      resources: profiles[0].resources,
      workingDirectory: '',
      displayName: ''
    };
    const made = profileInfo({ id: 'new00001' });
    fake.on('POST', '/api/v1/kernel-profiles', () => json(201, made));
    fake.on('PUT', '/api/v1/kernel-profiles/new00001', () => ({
      ...made,
      displayName: 'Renamed',
      updatedAt: 2_000
    }));
    fake.on('DELETE', '/api/v1/kernel-profiles/new00001', () => ({}));
    specs.refreshSpecs.mockClear();

    await model.addProfile(request);
    expect(fake.requests.at(-1)?.body).toEqual(request);
    expect(model.profile('new00001')).not.toBeNull();
    expect(specs.refreshSpecs).toHaveBeenCalledTimes(1);

    await model.updateProfile('new00001', { ...request, displayName: 'R' });
    expect(model.profile('new00001')?.displayName).toBe('Renamed');
    expect(specs.refreshSpecs).toHaveBeenCalledTimes(2);

    await model.removeProfile('new00001');
    expect(model.profile('new00001')).toBeNull();
    expect(specs.refreshSpecs).toHaveBeenCalledTimes(3);
  });

  it('passes a profile-invalid refusal on with its problems, without refreshing the specs', async () => {
    await setUp();
    fake.on('POST', '/api/v1/kernel-profiles', () =>
      json(400, {
        error: {
          code: 'profile-invalid',
          message: 'Some values are wrong.',
          problems: [{ field: 'wallTime', message: 'Too long.' }]
        }
      })
    );
    specs.refreshSpecs.mockClear();
    const err = await model
      .addProfile({
        cluster: 'demo',
        environment: '/x',
        resources: profiles[0].resources,
        workingDirectory: '',
        displayName: ''
      })
      .catch(e => e);
    expect(err).toBeInstanceOf(SidecarRequestError);
    expect(err.code).toBe('profile-invalid');
    expect(err.problems).toEqual([{ field: 'wallTime', message: 'Too long.' }]);
    expect(specs.refreshSpecs).not.toHaveBeenCalled();
  });

  it('ends an allocation and cancels a start through their routes', async () => {
    await setUp();
    fake.on('DELETE', '/api/v1/kernel-allocations/a1', () =>
      allocationInfo({ phase: 'ending' })
    );
    fake.on('POST', '/api/v1/kernel-starts/k-new/cancel', () => ({}));
    await model.endAllocation('a1');
    expect(model.allocation('a1')?.phase).toBe('ending');
    await model.cancelStart('k-new');
    expect(fake.calls()).toContain('POST /api/v1/kernel-starts/k-new/cancel');
  });

  it('lets go of a start the list no longer has after a sidecar restart', async () => {
    await setUp();
    const seen: string[] = [];
    model.startChanged.connect((_, s) => seen.push(`${s.kernelId}:${s.state}`));
    starts = [];
    fake.socket.send({
      type: 'hello',
      health: (await import('./fixtures')).health
    });
    await until(() => model.starts.length === 0);
    expect(seen).toEqual(['k-new:cancelled']);
  });
});
