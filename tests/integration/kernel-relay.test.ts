/**
 * The kernel relay on the demo cluster: a running allocation (sbatch), the
 * relay as one more step of it (`srun --overlap`) started through the
 * sidecar's own SSH connection (OpenSSH and the built-in client), a real
 * ipykernel from a conda-layout environment of the cluster, and a real
 * Jupyter client (jupyter_client, tests/support/kernel_driver.py) on this
 * side driving every channel through the relay's local ports.
 *
 * Then the point of it (issue 12, point 3): another user of the cluster
 * (hpcother) cannot reach the kernel's ports from the network, and reads
 * nothing of its output, while the kernel prints; the kernel listens on
 * 127.0.0.1 only. And the round trip of a trivial execute_request through
 * the relay beside the same kind of kernel reached through `ssh -L`.
 *
 * On the demo cluster the compute node is this machine, so "the node's
 * network address" is this machine's non-loopback address.
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { createServer } from 'net';
import { networkInterfaces, tmpdir, userInfo } from 'os';
import { dirname, join } from 'path';
import { createInterface } from 'readline';

import {
  KernelRelay,
  relayCommand,
  type IRelayedKernel
} from '../../src/sidecar/kernels/relay';
import { SidecarError } from '../../src/sidecar/errors';
import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import {
  SshConnection,
  type SshClientKind
} from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { demoCluster, writeDemoSshFiles } from '../support/demo-cluster';
import { VENV } from '../support/jupyter-lab';

const demo = demoCluster();
const OTHER_USER = demo.otherUser;
const ENV = demo.envs.find(e => e.ipykernel && e.name === 'my-project-env')!;
const CLIENT_PYTHON = join(VENV, 'bin', 'python');
const DRIVER = join(__dirname, '..', 'support', 'kernel_driver.py');
// 20 in the test run (both paths carry real round trips); the figures of
// record take JLHPC_RELAY_RTT_ROUNDS=200 (about a minute).
const RTT_ROUNDS = Number(process.env.JLHPC_RELAY_RTT_ROUNDS ?? 20);

const refuse: IPrompter = {
  ask: async () => {
    throw new SidecarError('auth-cancelled', 'no questions in this test');
  }
};

let home: string;
let askpass: AskpassBridge;
const connections = new Map<SshClientKind, SshConnection>();
let jobId: string | null = null;
const relays: KernelRelay[] = [];
const children: ChildProcess[] = [];

function connection(client: SshClientKind): SshConnection {
  let c = connections.get(client);
  if (!c) {
    const env = { PATH: process.env.PATH, HOME: home };
    c = new SshConnection({
      resolve: () =>
        resolveRoute('hpc-demo', {
          home,
          localUser: userInfo().username,
          env,
          systemConfigPath: null
        }),
      prompter: refuse,
      keys: new KeyCache(),
      home,
      env,
      askpass,
      client
    });
    connections.set(client, c);
  }
  return c;
}

async function sh(script: string, client: SshClientKind = 'openssh') {
  const out = await connection(client).run({ argv: ['sh', '-c', script] });
  return {
    code: out.exitCode,
    stdout: out.stdout.toString(),
    stderr: out.stderr.toString()
  };
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs = 60_000
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 300));
  }
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-relay-it-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeDemoSshFiles(home);
  askpass = new AskpassBridge();
  const submitted = await sh(
    "sbatch --parsable --job-name=jlhpc-relay-test --time=20 --wrap 'sleep 1200'"
  );
  expect(submitted).toMatchObject({ code: 0 });
  jobId = submitted.stdout.trim().split(';')[0];
  await waitFor('the allocation to run', async () => {
    const s = await sh(`squeue -h -j ${jobId} -o %T`);
    return s.stdout.trim() === 'RUNNING' ? true : null;
  });
});

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
  }
  await Promise.all(relays.map(r => r.shutdown(5000).catch(() => undefined)));
  if (jobId) {
    await sh(`scancel ${jobId}`).catch(() => undefined);
  }
  for (const c of connections.values()) {
    await c.close();
  }
  askpass?.close();
  rmSync(home, { recursive: true, force: true });
});

/**
 * Without `transport`, the relay's default (ipc); `how` as leases start it
 * (detached: launched in the background, link only) or attached to an SSH
 * channel's stdio.
 */
async function startKernel(
  client: SshClientKind,
  transport?: 'tcp' | 'ipc',
  how: 'detached' | 'attached' = 'detached'
) {
  const relay = await KernelRelay.start({
    transport: connection(client),
    command: relayCommand({
      jobId: jobId!,
      python: join(ENV.prefix, 'bin', 'python')
    }),
    label: 'hpc-demo',
    ...(how === 'detached' ? { detach: { lingerSeconds: 60 } } : {})
  });
  relays.push(relay);
  const key = randomBytes(32).toString('hex');
  const kernel = await relay.startKernel({
    key,
    signature_scheme: 'hmac-sha256',
    ...(transport ? { transport } : {})
  });
  const dir = mkdtempSync(join(home, 'conn-'));
  const file = join(dir, 'kernel.json');
  writeFileSync(file, JSON.stringify(kernel.connection), { mode: 0o600 });
  return { relay, kernel, key, file };
}

/** The driver's JSON lines; `onStep` may answer a step (the interrupt). */
function drive(
  args: string[],
  onStep: (step: Record<string, unknown>) => void = () => undefined,
  user?: string
): Promise<Record<string, unknown>[]> {
  const python = user ? join(ENV.prefix, 'bin', 'python') : CLIENT_PYTHON;
  const argv = [python, ...args];
  const child = user
    ? spawn('runuser', ['-u', user, '--', ...argv], { cwd: '/' })
    : spawn(argv[0], argv.slice(1));
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const steps: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', line => {
    const step = JSON.parse(line) as Record<string, unknown>;
    steps.push(step);
    onStep(step);
  });
  return new Promise((resolve, reject) => {
    child.once('close', code =>
      code === 0
        ? resolve(steps)
        : reject(
            new Error(
              `driver ${args[1]} exited ${code}: ${stderr.slice(-2000)}\nsteps: ${JSON.stringify(steps)}`
            )
          )
    );
  });
}

/** Steps of the job: `<job>.<step>` ids, batch and extern included. */
async function steps(): Promise<string[]> {
  const out = await sh(`squeue -h -s -j ${jobId} -o %i`);
  return out.stdout.split('\n').filter(Boolean);
}

describe.each([
  ['openssh', 'ipc', undefined, 'detached'],
  ['builtin', 'ipc', undefined, 'detached'],
  ['openssh', 'ipc', undefined, 'attached'],
  ['openssh', 'tcp', 'tcp', 'detached']
] as const)(
  'a kernel through the relay over the %s client, listening on %s, %s',
  (client, transport, asked, how) => {
    it('answers on every channel: execute, stdin, interrupt, heartbeat, complete, inspect, shutdown', async () => {
      const before = await steps();
      const { relay, kernel, key, file } = await startKernel(
        client,
        asked,
        how
      );
      expect(relay.linked).toBe(true);
      expect(kernel.remoteTransport).toBe(transport);
      expect(relay.hello.host).toBeTruthy();
      // The relay is a step of the allocation.
      expect((await steps()).length).toBe(before.length + 1);

      // The key is nowhere to be seen: not in Slurm's view of the step,
      // not in any process's argv or environment on the node.
      const shown = await sh(
        `scontrol show step ${jobId}; squeue -s -j ${jobId} -o '%i %j %o'; ps -eo args`
      );
      expect(shown.stdout).toContain('srun');
      expect(shown.stdout).not.toContain(key);
      for (const pid of [relay.hello.pid, kernel.pid]) {
        expect(readFileSync(`/proc/${pid}/cmdline`).includes(key)).toBe(false);
        expect(readFileSync(`/proc/${pid}/environ`).includes(key)).toBe(false);
      }

      const results = await drive([DRIVER, 'channels', file], step => {
        if (step.step === 'interrupt-me') {
          relay.signal('SIGINT');
        }
      });
      const by = Object.fromEntries(results.map(r => [r.step, r]));
      expect(by.execute).toMatchObject({
        status: 'ok',
        stream: 'hello from the node\n'
      });
      expect(by.stdin).toMatchObject({
        status: 'ok',
        prompt: ['name? '],
        stream: 'got world\n'
      });
      expect(by.interrupted).toMatchObject({
        status: 'error',
        ename: 'KeyboardInterrupt'
      });
      expect(by['after-interrupt']).toMatchObject({
        status: 'ok',
        result: ['42']
      });
      expect(by.heartbeat).toMatchObject({ echo: 'ping-relay', beating: true });
      expect(by.complete).toMatchObject({ status: 'ok', has_os: true });
      expect(by.inspect).toMatchObject({ status: 'ok', found: true });
      expect(by.shutdown).toMatchObject({
        msg_type: 'shutdown_reply',
        status: 'ok'
      });

      // The kernel ends on its own after shutdown_request; the relay then.
      expect(await kernel.exited).toMatchObject({ pid: kernel.pid, code: 0 });
      const end = await relay.shutdown();
      expect(end.exitCode).toBe(0);
      await waitFor('the relay step to leave squeue', async () =>
        (await steps()).length === before.length ? true : null
      );
      const left = await sh(
        `ps -o pid= -p ${relay.hello.pid},${kernel.pid} || true`
      );
      expect(left.stdout.trim()).toBe('');
    });
  }
);

describe('a detached kernel relay that changes hands', () => {
  it.each(['openssh', 'builtin'] as const)(
    'keeps a client connected before working after the next sidecar takes it up (%s)',
    async client => {
      const { relay, kernel, file } = await startKernel(client);
      const go = join(home, `go-${client}`);
      const steps: Record<string, unknown>[] = [];
      const done = drive([DRIVER, 'across', file, go], step => {
        steps.push(step);
        if (step.step === 'before') {
          // The sidecar goes away and a new one (another connection) takes over.
          relay.abandon();
          void KernelRelay.resume({
            transport: connection(client === 'openssh' ? 'builtin' : 'openssh'),
            command: { argv: [] },
            label: 'hpc-demo',
            detach: { lingerSeconds: 60 },
            handle: relay.handle!,
            ports: kernel.localPorts,
            signatureScheme: 'hmac-sha256'
          }).then(next => {
            relays.push(next);
            writeFileSync(go, '');
          });
        }
      });
      const results = await done;
      expect(results.find(s => s.step === 'before')).toMatchObject({
        status: 'ok'
      });
      expect(results.find(s => s.step === 'after')).toMatchObject({
        status: 'ok',
        stream: '42\n'
      });
    }
  );
});

describe('a detached kernel relay whose step is cancelled', () => {
  it("ends, with srun's words, and its kernel with it", async () => {
    const { relay, kernel } = await startKernel('openssh');
    const step = relay.hello.step!;
    const t0 = Date.now();
    await sh(`scancel ${step}`);
    const exit = await kernel.exited;
    const end = await relay.ended;
    console.log(
      `step ${step} cancelled: ended in ${Date.now() - t0} ms: ${end.reason}`
    );
    expect(exit.pid).toBe(kernel.pid);
    expect(end.exitCode).not.toBe(0);
    expect(end.reason).toMatch(/ended with status/);
  });
});

/** This machine's addresses that are not loopback: the node's on the network. */
function networkAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter(a => a && a.family === 'IPv4' && !a.internal)
    .map(a => a!.address);
}

/** The listening sockets of `pid` (`ss -ltnp`): their local addresses. */
function listening(pid: number): string[] {
  return execFileSync('ss', ['-H', '-ltnp'], { encoding: 'utf8' })
    .split('\n')
    .filter(line => line.includes(`pid=${pid},`))
    .map(line => line.trim().split(/\s+/)[3]);
}

describe('another user of the cluster', () => {
  let started: Awaited<ReturnType<typeof startKernel>>;
  let probeDir: string;

  beforeAll(async () => {
    // On 127.0.0.1 (tcp): what the network cannot reach, and what ipc adds.
    started = await startKernel('openssh', 'tcp');
    // hpcother cannot enter this worktree's parents: a copy of the driver.
    probeDir = mkdtempSync(join(tmpdir(), 'jlhpc-probe-'));
    execFileSync('chmod', ['755', probeDir]);
    copyFileSync(DRIVER, join(probeDir, 'kernel_driver.py'));
  });

  afterAll(async () => {
    await started?.relay.shutdown();
    rmSync(probeDir, { recursive: true, force: true });
  });

  it('exists on the demo cluster', () => {
    expect(OTHER_USER).toBe('hpcother');
    expect(execFileSync('id', ['-u', OTHER_USER!]).toString().trim()).not.toBe(
      String(userInfo().uid)
    );
  });

  it('sees the kernel listen on 127.0.0.1 only, never on 0.0.0.0 or the network', async () => {
    const { kernel } = started;
    await waitFor('the kernel to listen', async () =>
      listening(kernel.pid).length >= 5 ? true : null
    );
    const addresses = listening(kernel.pid);
    // Its five ports, and whatever else it listens on (ipykernel 7 has one
    // more, internal): all on the loopback address.
    for (const port of Object.values(kernel.remotePorts)) {
      expect(addresses).toContain(`127.0.0.1:${port}`);
    }
    for (const a of addresses) {
      expect(a).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(a).not.toMatch(/^(0\.0\.0\.0|\*|\[::\]):/);
    }
  });

  /**
   * While the kernel prints through the relay (3 s of output), `user`
   * subscribes to every port of the kernel at `ip` (a path: its ipc
   * sockets) for 5 s. Returns what the probe said and how much was printed.
   */
  async function probeWhilePrinting(
    file: string,
    ip: string,
    ports: string[],
    user: string
  ) {
    const [printed, seen] = await Promise.all([
      new Promise<Record<string, unknown>[]>(resolve =>
        setTimeout(() => resolve(drive([DRIVER, 'print', file, '3'])), 500)
      ),
      drive(
        [
          join(probeDir, 'kernel_driver.py'),
          'sub',
          ip,
          ...ports,
          '--seconds',
          '5'
        ],
        () => undefined,
        user
      )
    ]);
    const done = printed.find(s => s.step === 'printed')!;
    expect(done).toMatchObject({ status: 'ok' });
    expect(done.streams as number).toBeGreaterThan(10);
    return {
      refused: seen.find(s => s.step === 'listening')!.refused as string[],
      received: seen.find(s => s.step === 'sub')!.received as number
    };
  }

  it('cannot connect to any kernel port on the node address, and reads none of its output', async () => {
    const { kernel, file } = started;
    const addresses = networkAddresses();
    expect(addresses.length).toBeGreaterThan(0);
    const ports = Object.values(kernel.remotePorts).map(String);
    for (const ip of addresses) {
      expect(await probeWhilePrinting(file, ip, ports, OTHER_USER)).toEqual({
        refused: ports.map(() => 'ConnectionRefusedError'),
        received: 0
      });
    }
  });

  it('reads a tcp kernel from the node itself, through 127.0.0.1: why ipc exists', async () => {
    // Also the control that hpcother's probe does see output when it can.
    const { kernel, file } = started;
    const ports = Object.values(kernel.remotePorts).map(String);
    const seen = await probeWhilePrinting(file, '127.0.0.1', ports, OTHER_USER);
    expect(seen.refused).toEqual([]);
    expect(seen.received).toBeGreaterThan(10);
  });

  it('cannot connect to an ipc kernel even from the node, and reads none of its output', async () => {
    const ipc = await startKernel('openssh', 'ipc');
    try {
      // The sockets' prefix, from the kernel's own argv (-f <dir>/kernel.json).
      const argv = readFileSync(`/proc/${ipc.kernel.pid}/cmdline`, 'utf8')
        .split('\0')
        .filter(Boolean);
      const prefix = join(dirname(argv[argv.indexOf('-f') + 1]), 'kernel');
      const ports = Object.values(ipc.kernel.remotePorts).map(String);
      expect(
        await probeWhilePrinting(ipc.file, prefix, ports, OTHER_USER)
      ).toEqual({
        refused: ports.map(() => 'PermissionError'),
        received: 0
      });
      // Nothing of the five channels on TCP (ipykernel's own subprocess
      // pipe is a PULL socket on 127.0.0.1: input only, and authenticated).
      expect(listening(ipc.kernel.pid).length).toBeLessThanOrEqual(1);
    } finally {
      await ipc.relay.shutdown();
    }
  });

  it("gets nothing from the relay's link port without its token, while the sidecar's link carries on", async () => {
    const { relay, kernel } = started;
    const link = relay.hello.link!;
    const addresses = [...networkAddresses(), '127.0.0.1'];
    for (const ip of addresses) {
      // Twelve guesses at once, more than the relay keeps waiting.
      const knocks = await Promise.all(
        Array.from({ length: 12 }, () =>
          drive(
            [
              join(probeDir, 'kernel_driver.py'),
              'knock',
              ip,
              String(link.port),
              '1',
              '6'
            ],
            () => undefined,
            OTHER_USER
          )
        )
      );
      for (const k of knocks) {
        expect(k.find(s => s.step === 'knock')).toEqual({
          step: 'knock',
          received: 0,
          refused: null
        });
      }
    }
    // Meanwhile the sidecar's own link still works, and so does a new one.
    expect(relay.linked).toBe(true);
    const seen = await drive([
      DRIVER,
      'exec',
      started.file,
      'print("still here")'
    ]);
    expect(seen.find(s => s.step === 'exec')).toMatchObject({
      stream: 'still here\n'
    });
    expect(kernel.pid).toBeGreaterThan(0);
  });

  it('is the control: the same probe reads the output through the relay', async () => {
    const { kernel, file } = started;
    const [printed, subbed] = await Promise.all([
      new Promise<Record<string, unknown>[]>(resolve =>
        setTimeout(() => resolve(drive([DRIVER, 'print', file, '2'])), 500)
      ),
      drive([
        DRIVER,
        'sub',
        '127.0.0.1',
        String(kernel.localPorts.iopub),
        '--seconds',
        '3'
      ])
    ]);
    expect(printed.find(s => s.step === 'printed')).toMatchObject({
      status: 'ok'
    });
    const got = subbed.find(s => s.step === 'sub')!.received as number;
    expect(got).toBeGreaterThan(10);
  });
});

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

describe('round trip of execute_request → execute_reply (reported, not asserted)', () => {
  it(`through the relay and through ssh -L, median of ${RTT_ROUNDS}`, async () => {
    // Two kernels of the same env in the same allocation: one reached
    // through the relay, the other's node ports through `ssh -L`, as the
    // existing tools do (one ssh with five -L).
    const relayed = await startKernel('openssh');
    const baseline = await startKernel('openssh', 'tcp');
    const local: Record<string, number> = {};
    const forwards: string[] = [];
    for (const [channel, port] of Object.entries(baseline.kernel.remotePorts)) {
      local[channel] = await freePort();
      forwards.push('-L', `127.0.0.1:${local[channel]}:127.0.0.1:${port}`);
    }
    const ssh = spawn(
      'ssh',
      ['-F', join(home, '.ssh', 'config'), '-N', ...forwards, 'hpc-demo'],
      { env: { ...process.env, HOME: home }, stdio: 'ignore' }
    );
    children.push(ssh);
    const sshFile = join(home, 'ssh-l.json');
    const conn: IRelayedKernel['connection'] = {
      ...baseline.kernel.connection,
      shell_port: local.shell,
      iopub_port: local.iopub,
      stdin_port: local.stdin,
      control_port: local.control,
      hb_port: local.hb
    };
    writeFileSync(sshFile, JSON.stringify(conn), { mode: 0o600 });
    // The floor: on the demo cluster the node is this machine, so the
    // baseline kernel's own ports can be reached directly.
    const directFile = join(home, 'direct.json');
    writeFileSync(
      directFile,
      JSON.stringify({
        ...baseline.kernel.connection,
        shell_port: baseline.kernel.remotePorts.shell,
        iopub_port: baseline.kernel.remotePorts.iopub,
        stdin_port: baseline.kernel.remotePorts.stdin,
        control_port: baseline.kernel.remotePorts.control,
        hb_port: baseline.kernel.remotePorts.hb
      }),
      { mode: 0o600 }
    );
    await waitFor('ssh -L to listen', async () => {
      const out = execFileSync('ss', ['-H', '-ltn'], { encoding: 'utf8' });
      return Object.values(local).every(p => out.includes(`127.0.0.1:${p} `))
        ? true
        : null;
    });
    const rtt = async (file: string, n: number, gap = 0) =>
      (await drive([DRIVER, 'rtt', file, String(n), String(gap)])).find(
        s => s.step === 'rtt'
      )!.ms as number[];
    // Interleaved halves, so a busy moment of the machine hits both.
    const relayMs: number[] = [];
    const sshMs: number[] = [];
    const directMs: number[] = [];
    const half = Math.ceil(RTT_ROUNDS / 2);
    for (let i = 0; i < 2; i++) {
      relayMs.push(...(await rtt(relayed.file, half)));
      sshMs.push(...(await rtt(sshFile, half)));
      directMs.push(...(await rtt(directFile, half)));
    }
    // At a person's pace (cells 200 ms apart), where no earlier write of
    // the relay is still waiting for an ACK.
    const pacedRelay = await rtt(relayed.file, 50, 0.2);
    const pacedSsh = await rtt(sshFile, 50, 0.2);
    ssh.kill('SIGTERM');
    const figures = {
      'kernel.exec_rtt_ms.cluster': median(relayMs),
      'kernel.exec_rtt_ms.openssh': median(sshMs),
      'kernel.exec_rtt_ms.local': median(directMs),
      ratio: median(relayMs) / median(sshMs),
      paced_cluster: median(pacedRelay),
      paced_cluster_p90: quantile(pacedRelay, 0.9),
      paced_openssh: median(pacedSsh),
      paced_openssh_p90: quantile(pacedSsh, 0.9),
      n: relayMs.length
    };
    console.log(`kernel relay round trip: ${JSON.stringify(figures)}`);
    writeFileSync(
      join(tmpdir(), 'jlhpc-kernel-relay-rtt.json'),
      JSON.stringify({ ...figures, relayMs, sshMs, directMs })
    );
    expect(relayMs.length).toBeGreaterThanOrEqual(RTT_ROUNDS);
    expect(sshMs.length).toBeGreaterThanOrEqual(RTT_ROUNDS);
    await relayed.relay.shutdown();
    await baseline.relay.shutdown();
  });
});
