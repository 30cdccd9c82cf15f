import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  promises as fsp,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { inflateSync } from 'zlib';

import type {
  IKernelProfile,
  IKernelProfileRequest
} from '../../../src/common/api';
import { parseKernelspec } from '../../../src/sidecar/conda/kernelspec';
import type { ILogger } from '../../../src/sidecar/log';
import clusterLogoSvg from '../../../src/sidecar/kernels/cluster-logo.svg';
import {
  KernelProfileStore,
  ProfileInvalid,
  kernelJsonOf
} from '../../../src/sidecar/kernels/profiles';

const ENV = '/home/u/miniforge/envs/torch';
const FACTS = {
  language: 'python',
  interruptMode: 'signal' as const,
  envName: 'torch'
};

function request(
  over: Partial<IKernelProfileRequest> = {}
): IKernelProfileRequest {
  return {
    cluster: 'hpc',
    environment: ENV,
    workingDirectory: '',
    displayName: '',
    resources: {
      partition: 'gpu',
      account: '',
      qos: '',
      wallTime: '2:00:00',
      cpus: 4,
      memory: '8G',
      gpus: { type: '', count: 1 },
      constraint: ''
    },
    ...over
  };
}

function logger(): ILogger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, debug: push, info: push, warn: push, error: push };
}

let root: string;
let kernels: string;
let clock: number;
let log: ReturnType<typeof logger>;
let store: KernelProfileStore;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'jlhpc-profiles-'));
  kernels = join(root, 'data', 'kernels');
  clock = 1_700_000_000_000;
  log = logger();
  store = new KernelProfileStore({
    kernelsDir: kernels,
    now: () => clock,
    localPython: '/opt/jlab/bin/python',
    log
  });
});

afterEach(() => {
  jest.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

const specJson = (p: IKernelProfile) =>
  JSON.parse(readFileSync(join(kernels, p.specName, 'kernel.json'), 'utf8'));

describe('KernelProfileStore.add', () => {
  it('writes the kernelspec hpc-<id>: provisioner, marker, fallback argv, logos', async () => {
    const p = await store.add(request(), FACTS);
    expect(p.id).toMatch(/^[a-z0-9]{12}$/);
    expect(p).toEqual({
      id: p.id,
      cluster: 'hpc',
      environment: ENV,
      displayName: 'Python [conda env:torch] on hpc',
      resources: request().resources,
      workingDirectory: '',
      language: 'python',
      interruptMode: 'signal',
      specName: `hpc-${p.id}`,
      createdAt: clock,
      updatedAt: clock
    });
    expect(readdirSync(kernels)).toEqual([`hpc-${p.id}`]);
    expect(readdirSync(join(kernels, p.specName)).sort()).toEqual([
      'kernel.json',
      'logo-64x64.png',
      'logo-svg.svg'
    ]);
    // Exactly this, so nothing else (no key, no token) is in it.
    expect(specJson(p)).toEqual({
      argv: [
        '/opt/jlab/bin/python',
        '-m',
        'jupyterlab_hpc.cluster_kernel',
        '{connection_file}'
      ],
      display_name: 'Python [conda env:torch] on hpc',
      language: 'python',
      interrupt_mode: 'signal',
      metadata: {
        kernel_provisioner: {
          provisioner_name: 'jupyterlab-hpc',
          config: { profile: p.id }
        },
        jupyterlab_hpc: { ...p, envName: 'torch' }
      }
    });
    expect(
      readFileSync(join(kernels, p.specName, 'logo-svg.svg'), 'utf8')
    ).toBe(clusterLogoSvg);
    expect(clusterLogoSvg).toMatch(/^<svg [^>]*viewBox="0 0 64 64"/);
    const umask = process.umask();
    expect(lstatSync(join(kernels, p.specName)).mode & 0o777).toBe(
      0o755 & ~umask
    );
    expect(
      lstatSync(join(kernels, p.specName, 'kernel.json')).mode & 0o777
    ).toBe(0o644 & ~umask);
  });

  it('writes a valid 64×64 RGBA PNG', async () => {
    const p = await store.add(request(), FACTS);
    const png = readFileSync(join(kernels, p.specName, 'logo-64x64.png'));
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    );
    const chunks: Record<string, Buffer> = {};
    for (let at = 8; at < png.length;) {
      const len = png.readUInt32BE(at);
      const type = png.subarray(at + 4, at + 8).toString('latin1');
      chunks[type] = png.subarray(at + 8, at + 8 + len);
      at += 12 + len;
    }
    expect(Object.keys(chunks)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(chunks.IHDR.readUInt32BE(0)).toBe(64);
    expect(chunks.IHDR.readUInt32BE(4)).toBe(64);
    expect([chunks.IHDR[8], chunks.IHDR[9]]).toEqual([8, 6]);
    const pixels = inflateSync(chunks.IDAT);
    expect(pixels.length).toBe(64 * (1 + 64 * 4));
    // A transparent corner, the blue badge, a white server unit.
    const at = (x: number, y: number) => [
      ...pixels.subarray(y * 257 + 1 + x * 4, y * 257 + 5 + x * 4)
    ];
    expect(at(0, 0)[3]).toBe(0);
    expect(at(5, 32)).toEqual([0x2f, 0x6f, 0x9f, 255]);
    expect(at(40, 14)).toEqual([255, 255, 255, 255]);
  });

  it('keeps a given name, and names "This computer" for the local target', async () => {
    const named = await store.add(
      request({ displayName: 'Torch (GPU)' }),
      FACTS
    );
    expect(named.displayName).toBe('Torch (GPU)');
    const local = await store.add(request({ cluster: ':local' }), FACTS);
    expect(local.displayName).toBe('Python [conda env:torch] on this computer');
    const other = await store.add(request(), {
      language: 'python3',
      interruptMode: 'message',
      envName: 'x'
    });
    expect(specJson(other)).toMatchObject({
      language: 'python3',
      interrupt_mode: 'message'
    });
  });

  it.each([
    [
      'a partition with shell syntax',
      { resources: { ...request().resources, partition: '$(touch x)' } },
      'partition'
    ],
    ['a relative environment', { environment: 'envs/torch' }, 'environment'],
    ['an empty environment', { environment: '' }, 'environment'],
    [
      'a working directory with a newline',
      { workingDirectory: '/scratch/a\nb' },
      'workingDirectory'
    ],
    [
      'a wall time that is not one',
      { resources: { ...request().resources, wallTime: '2h; rm -rf' } },
      'wallTime'
    ],
    [
      'an option-looking account',
      { resources: { ...request().resources, account: '--uid=0' } },
      'account'
    ],
    [
      'a GPU type with spaces',
      {
        resources: { ...request().resources, gpus: { type: 'a b', count: 1 } }
      },
      'gpus.type'
    ],
    ['a name with a newline', { displayName: 'a\nb' }, 'displayName'],
    [
      'a name of 201 characters',
      { displayName: 'x'.repeat(201) },
      'displayName'
    ],
    ['no cluster', { cluster: '' }, 'cluster']
  ] as [string, Partial<IKernelProfileRequest>, string][])(
    'refuses %s and writes nothing',
    async (_what, over, field) => {
      const err = await store.add(request(over), FACTS).catch(e => e);
      expect(err).toBeInstanceOf(ProfileInvalid);
      expect(err.code).toBe('profile-invalid');
      expect((err as ProfileInvalid).problems.map(p => p.field)).toContain(
        field
      );
      expect(existsSync(kernels) ? readdirSync(kernels) : []).toEqual([]);
    }
  );

  it('leaves nothing behind when a write fails half way', async () => {
    const real = fsp.writeFile;
    jest.spyOn(fsp, 'writeFile').mockImplementation(async (path, ...rest) => {
      if (String(path).endsWith('logo-64x64.png')) {
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      }
      return real(path, ...rest);
    });
    await expect(store.add(request(), FACTS)).rejects.toMatchObject({
      code: 'kernel-write-failed',
      message: expect.stringContaining('disk full')
    });
    expect(readdirSync(kernels)).toEqual([]);
  });

  it('answers kernels-dir-unknown without a data directory', async () => {
    const none = new KernelProfileStore({ kernelsDir: null });
    await expect(none.add(request(), FACTS)).rejects.toMatchObject({
      code: 'kernels-dir-unknown'
    });
    await expect(none.list()).rejects.toMatchObject({
      code: 'kernels-dir-unknown'
    });
    expect(await none.get('abcdefgh1234')).toBeNull();
  });
});

describe('KernelProfileStore reading', () => {
  it('lists and gets what is on disk, every time', async () => {
    expect(await store.list()).toEqual([]);
    const a = await store.add(request(), FACTS);
    clock += 1000;
    const b = await store.add(request({ displayName: 'B' }), FACTS);
    expect(await store.list()).toEqual([a, b]);
    expect(await store.get(a.id)).toEqual(a);
    // The user renames it in kernel.json: that is its name now.
    const spec = specJson(a);
    spec.display_name = 'Renamed by hand';
    writeFileSync(
      join(kernels, a.specName, 'kernel.json'),
      JSON.stringify(spec)
    );
    expect((await store.get(a.id))?.displayName).toBe('Renamed by hand');
    // The user deletes it.
    rmSync(join(kernels, b.specName), { recursive: true });
    expect(await store.get(b.id)).toBeNull();
    expect((await store.list()).map(p => p.id)).toEqual([a.id]);
    expect(await store.get('../etc')).toBeNull();
    expect(await store.get('ABCDEFGH1234')).toBeNull();
  });

  it('skips foreign, broken and edited-hostile kernelspecs, logging each once', async () => {
    const ours = await store.add(request(), FACTS);
    mkdirSync(join(kernels, 'hpc-foreign12345'));
    writeFileSync(
      join(kernels, 'hpc-foreign12345', 'kernel.json'),
      JSON.stringify({
        argv: ['python3'],
        display_name: 'Mine',
        language: 'python'
      })
    );
    mkdirSync(join(kernels, 'hpc-broken123456'));
    writeFileSync(join(kernels, 'hpc-broken123456', 'kernel.json'), '{');
    // One of ours whose partition was edited into shell syntax.
    const hostile = JSON.parse(
      JSON.stringify(
        kernelJsonOf(
          { ...ours, id: 'hostile12345', specName: 'hpc-hostile12345' },
          'torch',
          'python3'
        )
      )
    );
    hostile.metadata.jupyterlab_hpc.resources.partition = '$(reboot)';
    mkdirSync(join(kernels, 'hpc-hostile12345'));
    writeFileSync(
      join(kernels, 'hpc-hostile12345', 'kernel.json'),
      JSON.stringify(hostile)
    );
    // A copy of ours under another name: its id does not match.
    mkdirSync(join(kernels, 'hpc-copyof123456'));
    writeFileSync(
      join(kernels, 'hpc-copyof123456', 'kernel.json'),
      JSON.stringify(specJson(ours))
    );
    mkdirSync(join(kernels, 'python3'));
    writeFileSync(join(kernels, 'python3', 'kernel.json'), '{}');

    expect((await store.list()).map(p => p.id)).toEqual([ours.id]);
    expect((await store.list()).map(p => p.id)).toEqual([ours.id]);
    const warnings = log.lines.filter(l => l.includes('is skipped'));
    expect(warnings).toHaveLength(4);
    expect(warnings.join('\n')).toMatch(
      /hpc-foreign12345 is skipped: it does not name/
    );
    expect(warnings.join('\n')).toMatch(
      /hpc-broken123456 is skipped: kernel.json is not valid JSON/
    );
    expect(warnings.join('\n')).toMatch(
      /hpc-hostile12345 is skipped: its profile is refused/
    );
    expect(warnings.join('\n')).toMatch(
      /hpc-copyof123456 is skipped: its profile id does not match/
    );
    expect(await store.get('hostile12345')).toBeNull();
  });
});

describe('KernelProfileStore.update', () => {
  it('changes resources, directory and name; keeps id, creation and logos', async () => {
    const p = await store.add(request({ displayName: 'Mine' }), FACTS);
    const logo = readFileSync(join(kernels, p.specName, 'logo-svg.svg'));
    clock += 5000;
    const resources = { ...p.resources, cpus: 8, wallTime: '30' };
    const q = await store.update(
      p.id,
      request({ resources, workingDirectory: '~/work', displayName: '' })
    );
    expect(q).toEqual({
      ...p,
      resources,
      workingDirectory: '~/work',
      displayName: 'Python [conda env:torch] on hpc',
      updatedAt: clock
    });
    expect(await store.get(p.id)).toEqual(q);
    expect(specJson(q).metadata.kernel_provisioner.config).toEqual({
      profile: p.id
    });
    expect(readFileSync(join(kernels, p.specName, 'logo-svg.svg'))).toEqual(
      logo
    );
    expect(readdirSync(join(kernels, p.specName)).sort()).toEqual([
      'kernel.json',
      'logo-64x64.png',
      'logo-svg.svg'
    ]);
  });

  it('refuses another cluster or environment, and hostile values, changing nothing', async () => {
    const p = await store.add(request(), FACTS);
    const before = readFileSync(join(kernels, p.specName, 'kernel.json'));
    for (const [over, field] of [
      [{ cluster: 'other' }, 'cluster'],
      [{ environment: '/elsewhere' }, 'environment'],
      [{ workingDirectory: 'relative' }, 'workingDirectory']
    ] as const) {
      const err = await store.update(p.id, request(over)).catch(e => e);
      expect(err).toBeInstanceOf(ProfileInvalid);
      expect((err as ProfileInvalid).problems.map(x => x.field)).toEqual([
        field
      ]);
    }
    expect(readFileSync(join(kernels, p.specName, 'kernel.json'))).toEqual(
      before
    );
  });

  it('replaces kernel.json whole: a failed rename keeps the old one and no temporary file', async () => {
    const p = await store.add(request(), FACTS);
    const before = readFileSync(join(kernels, p.specName, 'kernel.json'));
    jest
      .spyOn(fsp, 'rename')
      .mockRejectedValueOnce(
        Object.assign(new Error('I/O error'), { code: 'EIO' })
      );
    await expect(
      store.update(p.id, request({ displayName: 'New' }))
    ).rejects.toMatchObject({ code: 'kernel-write-failed' });
    expect(readFileSync(join(kernels, p.specName, 'kernel.json'))).toEqual(
      before
    );
    expect(readdirSync(join(kernels, p.specName)).sort()).toEqual([
      'kernel.json',
      'logo-64x64.png',
      'logo-svg.svg'
    ]);
  });

  it('answers profile-not-found for an unknown or foreign id', async () => {
    await expect(store.update('abcdefgh1234', request())).rejects.toMatchObject(
      { code: 'profile-not-found' }
    );
    mkdirSync(join(kernels, 'hpc-foreign12345'), { recursive: true });
    writeFileSync(
      join(kernels, 'hpc-foreign12345', 'kernel.json'),
      '{"argv":["x"]}'
    );
    await expect(store.update('foreign12345', request())).rejects.toMatchObject(
      {
        code: 'profile-not-found',
        message: expect.stringContaining('left alone')
      }
    );
    expect(
      readFileSync(join(kernels, 'hpc-foreign12345', 'kernel.json'), 'utf8')
    ).toBe('{"argv":["x"]}');
  });
});

describe('KernelProfileStore.remove', () => {
  it('removes its directory only, then answers profile-not-found', async () => {
    const a = await store.add(request(), FACTS);
    const b = await store.add(request(), FACTS);
    await store.remove(a.id);
    expect(readdirSync(kernels)).toEqual([b.specName]);
    await expect(store.remove(a.id)).rejects.toMatchObject({
      code: 'profile-not-found'
    });
  });

  it('leaves foreign specs and symlinks alone, never following one out', async () => {
    const p = await store.add(request(), FACTS);
    // A spec of ours elsewhere, linked in under a profile name.
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(
      join(outside, 'kernel.json'),
      JSON.stringify(
        kernelJsonOf(
          { ...p, id: 'linked123456', specName: 'hpc-linked123456' },
          'torch',
          'python3'
        )
      )
    );
    symlinkSync(outside, join(kernels, 'hpc-linked123456'));
    await expect(store.remove('linked123456')).rejects.toMatchObject({
      code: 'profile-not-found'
    });
    expect(existsSync(join(outside, 'kernel.json'))).toBe(true);
    expect(lstatSync(join(kernels, 'hpc-linked123456')).isSymbolicLink()).toBe(
      true
    );
    expect((await store.list()).map(x => x.id)).toEqual([p.id]);

    // A link inside our own spec dir is removed, not what it points at.
    writeFileSync(join(outside, 'keep.txt'), 'keep');
    symlinkSync(outside, join(kernels, p.specName, 'link'));
    await store.remove(p.id);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('keep');
    expect(readdirSync(kernels)).toEqual(['hpc-linked123456']);
  });

  it('takes one change at a time: an update racing a remove finds it gone', async () => {
    const p = await store.add(request(), FACTS);
    const [removed, updated] = await Promise.allSettled([
      store.remove(p.id),
      store.update(p.id, request({ displayName: 'late' }))
    ]);
    expect(removed.status).toBe('fulfilled');
    expect(updated).toMatchObject({
      status: 'rejected',
      reason: { code: 'profile-not-found' }
    });
    expect(readdirSync(kernels)).toEqual([]);
  });
});

describe('the local env listing and cluster kernelspecs', () => {
  it('does not take a cluster kernel for a kernel of a local env', async () => {
    const p = await store.add(request(), FACTS);
    const text = readFileSync(join(kernels, p.specName, 'kernel.json'), 'utf8');
    // The fallback argv's python lies in a local env: still not that env's.
    const parsed = parseKernelspec(
      join(kernels, p.specName),
      text,
      new Set(['/opt/jlab'])
    );
    expect(parsed.error).toBeNull();
    expect(parsed.info).toMatchObject({
      name: p.specName,
      displayName: 'Python [conda env:torch] on hpc',
      envPrefix: null,
      managed: false
    });
    // A local kernel of ours keeps its marker meaning.
    const local = parseKernelspec(
      '/k/conda-env-x-py',
      JSON.stringify({
        argv: ['/opt/jlab/bin/python', '-m', 'ipykernel_launcher'],
        metadata: { jupyterlab_hpc: { envPrefix: '/opt/jlab' } }
      }),
      new Set(['/opt/jlab'])
    );
    expect(local.info).toMatchObject({ envPrefix: '/opt/jlab', managed: true });
  });
});
