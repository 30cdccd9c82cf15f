/**
 * EnvironmentService over a real LocalTransport (login shell, temporary
 * HOME), counting the commands it runs: cache, coalescing, events, and a
 * register that races a scan.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type { SidecarEvent } from '../../../src/common/api';
import { LOCAL_TARGET } from '../../../src/common/api';
import {
  EnvironmentService,
  localEnvTarget
} from '../../../src/sidecar/conda/service';
import type {
  ICommandOutput,
  IRemoteCommand
} from '../../../src/sidecar/shell/remote-command';
import { LocalTransport } from '../../../src/sidecar/transport/local';
import type {
  ICommandOptions,
  ITransport
} from '../../../src/sidecar/transport/types';

let home: string;
let local: LocalTransport;

/** The real transport, with the commands it ran counted. */
class Counting implements ITransport {
  readonly kind = 'local' as const;
  runs: string[] = [];
  run(
    command: IRemoteCommand,
    options?: ICommandOptions
  ): Promise<ICommandOutput> {
    this.runs.push(command.argv[3] ?? command.argv[0]);
    return local.run(command, options);
  }
  openStream(host: string, port: number) {
    return local.openStream(host, port);
  }
  close() {
    return Promise.resolve();
  }
}

function makeEnv(prefix: string, ipykernel: boolean) {
  mkdirSync(join(prefix, 'conda-meta'), { recursive: true });
  writeFileSync(join(prefix, 'conda-meta', 'python-3.11.2-0_cpython.json'), '');
  if (ipykernel) {
    writeFileSync(join(prefix, 'conda-meta', 'ipykernel-6.29.5-py_0.json'), '');
  }
  mkdirSync(join(prefix, 'bin'));
  symlinkSync('/usr/bin/python3', join(prefix, 'bin', 'python'));
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-envsvc-'));
  makeEnv(join(home, 'miniforge3'), false);
  makeEnv(join(home, 'miniforge3', 'envs', 'a'), true);
  local = new LocalTransport({ env: { HOME: home, SHELL: '/bin/sh' } });
});

afterEach(async () => {
  await local.close();
  rmSync(home, { recursive: true, force: true });
});

function service() {
  const events: SidecarEvent[] = [];
  const transport = new Counting();
  const svc = new EnvironmentService({
    broadcast: e => events.push(e),
    clusters: null,
    local: localEnvTarget(transport, { HOME: home }, home)
  });
  return { svc, events, transport };
}

it('scans once for concurrent requests, then answers from the cache', async () => {
  const { svc, events, transport } = service();
  const [a, b] = await Promise.all([
    svc.list(LOCAL_TARGET),
    svc.list(LOCAL_TARGET)
  ]);
  expect(a).toBe(b);
  expect(transport.runs).toEqual(['jlhpc-envs']);
  expect(events).toEqual([
    { type: 'envs-changed', target: LOCAL_TARGET, kernelsChanged: true }
  ]);
  const cached = await svc.list(LOCAL_TARGET);
  expect(cached.cached).toBe(true);
  expect(transport.runs).toHaveLength(1);

  await svc.refresh(LOCAL_TARGET);
  expect(transport.runs).toHaveLength(2);
  expect(events[1]).toEqual({
    type: 'envs-changed',
    target: LOCAL_TARGET,
    kernelsChanged: false
  });
});

it('never serves a scan that started before its own write', async () => {
  const { svc, events, transport } = service();
  const prefix = join(home, 'miniforge3', 'envs', 'a');
  // A scan is running when the register starts; the one after the write
  // must be a new one, and the cache must show the kernel.
  const early = svc.list(LOCAL_TARGET);
  const result = await svc.register(LOCAL_TARGET, { prefix });
  await early;
  expect(result.created).toBe(true);
  expect(transport.runs).toEqual([
    'jlhpc-envs',
    'jlhpc-register',
    'jlhpc-envs'
  ]);
  const list = await svc.list(LOCAL_TARGET);
  expect(list.cached).toBe(true);
  expect(list.envs.find(e => e.prefix === prefix)?.registered?.name).toBe(
    'conda-env-a-py'
  );
  expect(events.at(-1)).toEqual({
    type: 'envs-changed',
    target: LOCAL_TARGET,
    kernelsChanged: true
  });
  expect(
    existsSync(
      join(home, '.local/share/jupyter/kernels/conda-env-a-py/kernel.json')
    )
  ).toBe(true);

  await svc.unregister(LOCAL_TARGET, 'conda-env-a-py');
  expect(
    existsSync(join(home, '.local/share/jupyter/kernels/conda-env-a-py'))
  ).toBe(false);
  const after = await svc.list(LOCAL_TARGET);
  expect(after.envs.find(e => e.prefix === prefix)?.registered).toBeNull();
});

it('turns a scan that prints nothing usable into env-scan-failed', async () => {
  // A login shell that runs nothing: the command "succeeds" with no output.
  const broken = new LocalTransport({
    env: { HOME: home, SHELL: '/bin/false' }
  });
  const svc = new EnvironmentService({
    broadcast: () => undefined,
    clusters: null,
    local: localEnvTarget(broken, {}, home)
  });
  await expect(svc.list(LOCAL_TARGET)).rejects.toMatchObject({
    code: 'env-scan-failed',
    message: expect.stringMatching(/printed nothing/)
  });
  await broken.close();
});
