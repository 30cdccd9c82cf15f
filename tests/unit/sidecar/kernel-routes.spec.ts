import { mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  Routes,
  type ICondaEnvironment,
  type IEnvironmentList,
  type IKernelProfile,
  type SidecarEvent
} from '../../../src/common/api';
import { kernelProfileRoutes } from '../../../src/sidecar/api/kernel-routes';
import {
  RouteTable,
  type IReply,
  type IRequest
} from '../../../src/sidecar/api/router';
import { isSidecarError } from '../../../src/sidecar/errors';
import {
  findEnv,
  kernelEnvFacts
} from '../../../src/sidecar/kernels/env-facts';
import {
  KernelProfileStore,
  type IKernelEnvFacts
} from '../../../src/sidecar/kernels/profiles';

const ENV = '/home/u/miniforge/envs/torch';
const resources = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '1:00:00',
  cpus: 2,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: ''
};
const body = (over: Record<string, unknown> = {}) => ({
  cluster: 'hpc',
  environment: ENV,
  workingDirectory: '',
  displayName: '',
  resources,
  ...over
});

let dir: string;
let events: SidecarEvent[];
let factsAsked: [string, string][];
let table: RouteTable;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-kroutes-'));
  events = [];
  factsAsked = [];
  const profiles = new KernelProfileStore({ kernelsDir: join(dir, 'kernels') });
  table = new RouteTable(
    kernelProfileRoutes({
      profiles,
      facts: async (cluster, prefix): Promise<IKernelEnvFacts> => {
        factsAsked.push([cluster, prefix]);
        return {
          language: 'python',
          interruptMode: 'signal',
          envName: 'torch'
        };
      },
      broadcast: e => events.push(e),
      isCluster: name => name === 'hpc'
    })
  );
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** What the server would answer: the reply, or a SidecarError's code. */
async function call(
  method: string,
  path: string,
  payload?: unknown
): Promise<IReply | { status: 'error'; code: string }> {
  const match = table.match(method, path);
  if (match.kind !== 'found') {
    throw new Error(`${method} ${path}: ${match.kind}`);
  }
  try {
    return await match.handler({
      req: {} as IRequest['req'],
      body: Buffer.from(payload === undefined ? '' : JSON.stringify(payload)),
      params: match.params,
      query: new URLSearchParams()
    });
  } catch (err) {
    if (isSidecarError(err)) {
      return { status: 'error', code: err.code };
    }
    throw err;
  }
}

describe('kernel profile routes', () => {
  it('adds, lists, changes and removes a profile, with an event each', async () => {
    const added = await call(
      'POST',
      Routes.kernelProfiles,
      body({ environment: `${ENV}/` })
    );
    expect(added.status).toBe(201);
    const p = (added as IReply).body as IKernelProfile;
    expect(p).toMatchObject({
      cluster: 'hpc',
      environment: ENV,
      displayName: 'Python [conda env:torch] on hpc'
    });
    expect(factsAsked).toEqual([['hpc', ENV]]);
    expect(events).toEqual([{ type: 'kernel-profile', profile: p }]);

    expect(await call('GET', Routes.kernelProfiles)).toEqual({
      status: 200,
      body: { profiles: [p] }
    });

    const changed = await call(
      'PUT',
      Routes.kernelProfile(p.id),
      body({ displayName: 'Torch', resources: { ...resources, cpus: 6 } })
    );
    expect(changed).toMatchObject({
      status: 200,
      body: { id: p.id, displayName: 'Torch', resources: { cpus: 6 } }
    });
    expect(events[1]).toEqual({
      type: 'kernel-profile',
      profile: (changed as IReply).body
    });

    expect(await call('DELETE', Routes.kernelProfile(p.id))).toEqual({
      status: 200,
      body: (changed as IReply).body
    });
    expect(events[2]).toEqual({
      type: 'kernel-profile',
      profile: (changed as IReply).body,
      removed: true
    });
    expect(readdirSync(join(dir, 'kernels'))).toEqual([]);
    expect(await call('DELETE', Routes.kernelProfile(p.id))).toEqual({
      status: 'error',
      code: 'profile-not-found'
    });
    expect(events).toHaveLength(3);
  });

  it('refuses hostile values with 400 profile-invalid and the field of each', async () => {
    const r = await call(
      'POST',
      Routes.kernelProfiles,
      body({
        cluster: 'nowhere',
        environment: 'relative',
        workingDirectory: '/a\nb',
        displayName: 'x\u0007',
        resources: { ...resources, qos: "'; rm -rf ~", cpus: 0 }
      })
    );
    expect(r.status).toBe(400);
    const error = (
      (r as IReply).body as {
        error: { code: string; problems: { field: string }[] };
      }
    ).error;
    expect(error.code).toBe('profile-invalid');
    expect(error.problems.map(p => p.field).sort()).toEqual(
      [
        'cluster',
        'cpus',
        'displayName',
        'environment',
        'qos',
        'workingDirectory'
      ].sort()
    );
    expect(factsAsked).toEqual([]);
    expect(events).toEqual([]);
  });

  it('refuses a changed environment on PUT the same way', async () => {
    const added = (await call('POST', Routes.kernelProfiles, body())) as IReply;
    const id = (added.body as IKernelProfile).id;
    const r = await call(
      'PUT',
      Routes.kernelProfile(id),
      body({ environment: '/other/env' })
    );
    expect(r).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'profile-invalid',
          problems: [{ field: 'environment' }]
        }
      }
    });
  });

  it.each([
    ['not JSON', '{', 'bad-request'],
    ['no resources', { cluster: 'hpc', environment: ENV }, 'bad-request'],
    [
      'cpus as text',
      body({ resources: { ...resources, cpus: '2' } }),
      'bad-request'
    ],
    ['a numeric name', body({ displayName: 5 }), 'bad-request']
  ])('answers bad-request for %s', async (_what, payload, code) => {
    const match = table.match('POST', Routes.kernelProfiles);
    if (match.kind !== 'found') {
      throw new Error('no route');
    }
    await expect(
      match.handler({
        req: {} as IRequest['req'],
        body: Buffer.from(
          typeof payload === 'string' ? payload : JSON.stringify(payload)
        ),
        params: match.params,
        query: new URLSearchParams()
      })
    ).rejects.toMatchObject({ code });
  });

  it('takes the local target as a cluster', async () => {
    const r = await call(
      'POST',
      Routes.kernelProfiles,
      body({ cluster: ':local' })
    );
    expect(r).toMatchObject({
      status: 201,
      body: { displayName: 'Python [conda env:torch] on this computer' }
    });
  });
});

describe('kernelEnvFacts', () => {
  const env = (over: Partial<ICondaEnvironment> = {}): ICondaEnvironment => ({
    name: 'torch',
    prefix: ENV,
    kind: 'named',
    root: '/home/u/miniforge',
    pythonVersion: '3.12.1',
    ipykernelVersion: '6.29.5',
    jupyterlabVersion: null,
    kernelspecs: [],
    kernelName: 'conda-env-torch-py',
    displayName: 'Python [conda env:torch]',
    registered: null,
    sources: [],
    problems: [],
    ...over
  });
  const list = (envs: ICondaEnvironment[]): IEnvironmentList =>
    ({ target: 'hpc', envs }) as IEnvironmentList;

  it("names the env as nb_conda_kernels does and takes its spec's language", () => {
    const l = list([
      env({
        displayName: 'Python [conda env:.conda-torch]',
        kernelspecs: [
          {
            name: 'python3',
            displayName: 'Python 3',
            language: 'python',
            executable: `${ENV}/bin/python`,
            path: `${ENV}/share/jupyter/kernels/python3`,
            envPrefix: ENV,
            managed: false
          }
        ]
      })
    ]);
    expect(kernelEnvFacts(l, findEnv(l, `${ENV}//`), ENV)).toEqual({
      language: 'python',
      interruptMode: 'signal',
      envName: '.conda-torch'
    });
  });

  it("takes no other language's kernel in the env for the profile's", () => {
    const l = list([
      env({
        kernelspecs: [
          {
            name: 'ir',
            displayName: 'R',
            language: 'R',
            executable: `${ENV}/bin/R`,
            path: `${ENV}/share/jupyter/kernels/ir`,
            envPrefix: ENV,
            managed: false
          }
        ]
      })
    ]);
    expect(kernelEnvFacts(l, findEnv(l, ENV), ENV).language).toBe('python');
  });

  it('refuses an env without ipykernel, naming the install command', () => {
    const l = list([env({ ipykernelVersion: null, prefix: '/h/my env' })]);
    expect(() =>
      kernelEnvFacts(l, findEnv(l, '/h/my env'), '/h/my env')
    ).toThrow(
      "ipykernel is not installed in the environment torch (/h/my env) on hpc, so it cannot run a kernel: install it with `conda install -p '/h/my env' ipykernel`"
    );
  });

  it('refuses an env the scan does not know, or without python', () => {
    const l = list([
      env({ problems: [{ code: 'missing-python', message: 'x' }] })
    ]);
    expect(() => kernelEnvFacts(l, findEnv(l, '/nope'), '/nope')).toThrow(
      'There is no conda environment at /nope on hpc.'
    );
    expect(() => kernelEnvFacts(l, findEnv(l, ENV), ENV)).toThrow(
      /cannot run a kernel: .*bin\/python is missing/
    );
  });
});
