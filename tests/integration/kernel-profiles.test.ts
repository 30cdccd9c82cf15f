/**
 * Kernel profiles through the real sidecar (the bundle setup.sh builds) on
 * the demo cluster: a profile for one of its environments becomes a
 * kernelspec in the Jupyter data dir the sidecar was given, which Jupyter's
 * own KernelSpecManager reads; envs without ipykernel and hostile values are
 * refused; the local env listing does not take the cluster kernel for a
 * kernel of the local env its fallback python lives in; removing it leaves
 * nothing.
 */
import { execFileSync, spawnSync } from 'child_process';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { join } from 'path';

import type {
  IEnvironmentList,
  IKernelProfile,
  IKernelProfileEvent,
  IKernelProfileList,
  SidecarEvent
} from '../../src/common/api';
import { demoCluster, writeDemoSshFiles } from '../support/demo-cluster';
import { REPO, VENV } from '../support/jupyter-lab';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';

const demo = demoCluster();
const PYTHON = join(VENV, 'bin', 'python');
const withKernel = demo.envs.find(e => e.name === 'my-project-env')!;
const withoutKernel = demo.envs.find(e => !e.ipykernel && e.name !== 'base')!;
const resources = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '30:00',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: ''
};

let home: string;
let data: string;
let localEnv: string;
let sidecar: ISidecar;

/** What Jupyter itself makes of the data dir (JUPYTER_DATA_DIR = ours). */
function jupyterSees(code: string): unknown {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    JUPYTER_DATA_DIR: data
  };
  delete env.JUPYTER_PATH;
  return JSON.parse(
    execFileSync(PYTHON, ['-c', code], { env, encoding: 'utf8' })
  );
}

const profileEvent =
  (id: string, removed: boolean) =>
  (e: SidecarEvent): e is IKernelProfileEvent =>
    e.type === 'kernel-profile' &&
    e.profile.id === id &&
    (e.removed ?? false) === removed;

beforeAll(async () => {
  home = makeHome('jlhpc-profiles-it-');
  writeDemoSshFiles(home);
  data = join(home, 'jupyter-data');
  // A local conda-layout env whose python is the fallback argv's: the
  // cluster kernelspec must not be taken for a kernel of this env.
  localEnv = join(home, 'miniforge3');
  mkdirSync(join(localEnv, 'conda-meta'), { recursive: true });
  mkdirSync(join(localEnv, 'bin'));
  writeFileSync(join(localEnv, 'conda-meta', 'history'), '');
  writeFileSync(
    join(localEnv, 'conda-meta', 'ipykernel-6.29.5-pyh3099207_0.json'),
    '{}'
  );
  symlinkSync('/usr/bin/python3', join(localEnv, 'bin', 'python'));
  mkdirSync(join(home, '.conda'));
  writeFileSync(join(home, '.conda', 'environments.txt'), `${localEnv}\n`);
  sidecar = await startSidecar({
    home,
    env: {
      JUPYTERLAB_HPC_JUPYTER_DATA_DIR: data,
      JUPYTERLAB_HPC_KERNEL_PATH: join(data, 'kernels'),
      JUPYTERLAB_HPC_PYTHON: join(localEnv, 'bin', 'python')
    }
  });
  const put = await sidecar.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await sidecar?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('kernel profiles through the sidecar', () => {
  let profile: IKernelProfile;

  it('adds a profile for a demo cluster env as a kernelspec Jupyter reads', async () => {
    const r = await sidecar.api<IKernelProfile>(
      'POST',
      '/api/v1/kernel-profiles',
      {
        cluster: 'demo',
        environment: withKernel.prefix,
        workingDirectory: '~/work',
        displayName: '',
        resources
      }
    );
    expect(r.status).toBe(201);
    profile = r.body;
    expect(profile).toMatchObject({
      cluster: 'demo',
      environment: withKernel.prefix,
      displayName: `Python [conda env:${withKernel.name}] on demo`,
      language: 'python',
      interruptMode: 'signal',
      specName: `hpc-${profile.id}`,
      workingDirectory: '~/work',
      resources
    });
    await sidecar.waitForEvent(profileEvent(profile.id, false), 5000);

    const specDir = join(data, 'kernels', profile.specName);
    expect(readdirSync(join(data, 'kernels'))).toEqual([profile.specName]);
    expect(readdirSync(specDir).sort()).toEqual([
      'kernel.json',
      'logo-64x64.png',
      'logo-svg.svg'
    ]);
    const text = readFileSync(join(specDir, 'kernel.json'), 'utf8');
    expect(text).not.toMatch(/key|token|password/i);

    // Jupyter's own reading of the file: the kernelspec as the provisioner
    // factory and the kernelspecs handler will get it.
    expect(
      jupyterSees(
        [
          'import json',
          'from jupyter_client.kernelspec import KernelSpec, find_kernel_specs',
          `d = find_kernel_specs()[${JSON.stringify(profile.specName)}]`,
          's = KernelSpec.from_resource_dir(d)',
          'print(json.dumps({"dir": d, "spec": s.to_dict()}))'
        ].join('\n')
      )
    ).toEqual({
      dir: specDir,
      spec: {
        argv: [
          join(localEnv, 'bin', 'python'),
          '-m',
          'jupyterlab_hpc.cluster_kernel',
          '{connection_file}'
        ],
        env: {},
        display_name: `Python [conda env:${withKernel.name}] on demo`,
        language: 'python',
        interrupt_mode: 'signal',
        kernel_protocol_version: '',
        metadata: {
          kernel_provisioner: {
            provisioner_name: 'jupyterlab-hpc',
            config: { profile: profile.id }
          },
          jupyterlab_hpc: { ...profile, envName: withKernel.name }
        }
      }
    });
  });

  it('run by its argv, without the provisioner, says where it can start', () => {
    const [, ...args] = JSON.parse(
      readFileSync(
        join(data, 'kernels', profile.specName, 'kernel.json'),
        'utf8'
      )
    ).argv as string[];
    // This checkout's jupyterlab_hpc (cwd first on sys.path for -m).
    const ran = spawnSync(PYTHON, args, { cwd: REPO, encoding: 'utf8' });
    expect(ran.status).toBe(2);
    expect(ran.stderr).toContain('This is a cluster kernel of jupyterlab-hpc');
  });

  it('is listed by `jupyter kernelspec list` exactly when the provisioner is installed', () => {
    // Jupyter hides a kernelspec whose provisioner it cannot load (research
    // §1.7): until jupyterlab_hpc registers the entry point it stays hidden.
    const installed = jupyterSees(
      [
        'import json',
        'from importlib.metadata import entry_points',
        'print(json.dumps(any(e.name == "jupyterlab-hpc" for e in entry_points(group="jupyter_client.kernel_provisioners"))))'
      ].join('\n')
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      JUPYTER_DATA_DIR: data
    };
    delete env.JUPYTER_PATH;
    const listed = JSON.parse(
      execFileSync(
        join(VENV, 'bin', 'jupyter'),
        ['kernelspec', 'list', '--json'],
        // Its warning about the missing provisioner is expected.
        { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }
      )
    ).kernelspecs as Record<string, { resource_dir: string }>;
    expect(profile.specName in listed).toBe(installed);
    if (installed) {
      expect(listed[profile.specName].resource_dir).toBe(
        join(data, 'kernels', profile.specName)
      );
    }
  });

  it('is not taken for a kernel of the local env its fallback python is in', async () => {
    const r = await sidecar.api<IEnvironmentList>(
      'GET',
      '/api/v1/local/envs?refresh=1'
    );
    expect(r.status).toBe(200);
    expect(r.body.kernelsDir).toBe(join(data, 'kernels'));
    expect(
      r.body.kernelspecs.find(k => k.name === profile.specName)
    ).toMatchObject({ envPrefix: null, managed: false });
    const env = r.body.envs.find(e => e.prefix === localEnv);
    expect(env).toBeDefined();
    expect(env!.registered).toBeNull();
  });

  it('refuses an env without ipykernel, naming the install command', async () => {
    const r = await sidecar.api('POST', '/api/v1/kernel-profiles', {
      cluster: 'demo',
      environment: withoutKernel.prefix,
      workingDirectory: '',
      displayName: '',
      resources
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('ipykernel-missing');
    expect(r.body.error.message).toContain(
      `conda install -p ${withoutKernel.prefix} ipykernel`
    );
  });

  it('refuses hostile values before anything reaches the cluster or the disk', async () => {
    const r = await sidecar.api('POST', '/api/v1/kernel-profiles', {
      cluster: 'nowhere',
      environment: '$(touch /tmp/pwned)',
      workingDirectory: '/tmp\n/x',
      displayName: 'two\nlines',
      resources: { ...resources, partition: '--uid=0', memory: '8G;id' }
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('profile-invalid');
    expect(
      (r.body.error.problems as { field: string }[]).map(p => p.field).sort()
    ).toEqual(
      [
        'cluster',
        'displayName',
        'environment',
        'memory',
        'partition',
        'workingDirectory'
      ].sort()
    );
    expect(readdirSync(join(data, 'kernels'))).toEqual([profile.specName]);
  });

  it('changes it in place and removes it, leaving nothing', async () => {
    const put = await sidecar.api<IKernelProfile>(
      'PUT',
      `/api/v1/kernel-profiles/${profile.id}`,
      {
        cluster: 'demo',
        environment: withKernel.prefix,
        workingDirectory: '',
        displayName: 'Project (demo)',
        resources: { ...resources, cpus: 2 }
      }
    );
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      id: profile.id,
      displayName: 'Project (demo)',
      resources: { cpus: 2 }
    });
    const listed = await sidecar.api<IKernelProfileList>(
      'GET',
      '/api/v1/kernel-profiles'
    );
    expect(listed.body.profiles).toEqual([put.body]);

    const del = await sidecar.api(
      'DELETE',
      `/api/v1/kernel-profiles/${profile.id}`
    );
    expect(del.status).toBe(200);
    await sidecar.waitForEvent(profileEvent(profile.id, true), 5000);
    expect(readdirSync(join(data, 'kernels'))).toEqual([]);
    const again = await sidecar.api(
      'DELETE',
      `/api/v1/kernel-profiles/${profile.id}`
    );
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('profile-not-found');
  });
});

describe('without a Jupyter data directory', () => {
  it('answers kernels-dir-unknown', async () => {
    const other = await startSidecar({
      home: makeHome('jlhpc-profiles-nodata-')
    });
    try {
      const r = await other.api('GET', '/api/v1/kernel-profiles');
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('kernels-dir-unknown');
    } finally {
      await other.stop();
      rmSync(other.home, { recursive: true, force: true });
    }
  });
});
