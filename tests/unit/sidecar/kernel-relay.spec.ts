/**
 * Both ends of the kernel relay against each other: the real relay.py run
 * by this machine's python3 through the LocalTransport (as "This computer"
 * runs it, without Slurm), and KernelRelay here. The kernel is the boundary:
 * a small Python stand-in that listens on the five ports of its connection
 * file and echoes, so streams, flow control, signals, exits and clean-up are
 * checked without ipykernel (tests/integration/kernel-relay.test.ts drives a
 * real one through Slurm).
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'fs';
import { connect, type Socket } from 'net';
import { tmpdir } from 'os';
import { dirname, join } from 'path';

import {
  directRelayCommand,
  KernelRelay,
  relayBootstrap,
  relayCommand,
  RELAY_SOURCE
} from '../../../src/sidecar/kernels/relay';
import { STREAM_WINDOW } from '../../../src/sidecar/kernels/relay-protocol';
import { LocalTransport } from '../../../src/sidecar/transport/local';
import type { ITransport } from '../../../src/sidecar/transport/types';

const PYTHON = process.env.JLHPC_TEST_PYTHON ?? 'python3';

/**
 * Echoes every connection on the five ports; "info\n" answers with its
 * argv, environment and connection file path and mode; "exit <n>\n" exits;
 * SIGINT writes "SIGINT\n" to every connection; it ignores SIGTERM when
 * its argv says "stubborn".
 */
const FAKE_KERNEL = String.raw`
import json, os, selectors, signal, socket, stat, sys
path = sys.argv[sys.argv.index("-f") + 1]
info = json.load(open(path))
sel = selectors.DefaultSelector()
conns = []
for name in ("shell", "iopub", "stdin", "control", "hb"):
    if info["transport"] == "ipc":
        s = socket.socket(socket.AF_UNIX)
        s.bind("%s-%d" % (info["ip"], info[name + "_port"]))
    else:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((info["ip"], info[name + "_port"]))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ, "listen")
def on_int(n, f):
    for c in conns:
        c.sendall(b"SIGINT\n")
signal.signal(signal.SIGINT, on_int)
if "stubborn" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("fake kernel up", flush=True)
while True:
    for key, _ in sel.select():
        if key.data == "listen":
            c, _ = key.fileobj.accept()
            conns.append(c)
            sel.register(c, selectors.EVENT_READ, "conn")
            continue
        c = key.fileobj
        data = c.recv(65536)
        if not data:
            sel.unregister(c)
            conns.remove(c)
            c.close()
            continue
        if data == b"info\n":
            st = os.stat(path)
            dst = os.stat(os.path.dirname(path))
            c.sendall(json.dumps({"argv": sys.argv, "env": dict(os.environ),
                "path": path, "mode": stat.S_IMODE(st.st_mode),
                "dirmode": stat.S_IMODE(dst.st_mode), "key": info["key"],
                "ip": info["ip"], "transport": info["transport"],
                "cwd": os.getcwd()}).encode() + b"\n")
        elif data.startswith(b"exit "):
            sys.exit(int(data.split()[1]))
        else:
            c.sendall(data)
`;

jest.setTimeout(60_000);

let work: string;
let fakeKernel: string;
const relays: KernelRelay[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-relay-'));
  fakeKernel = join(work, 'fake_kernel.py');
  writeFileSync(fakeKernel, FAKE_KERNEL);
});

afterAll(async () => {
  await Promise.all(relays.map(r => r.shutdown(2000)));
  rmSync(work, { recursive: true, force: true });
});

/**
 * How the relays of the running describe block carry frames: attached to
 * the command's stdio and then over the link, only over stdio, or detached
 * (started in the background, link only: what leases use).
 */
type Mode = 'link' | 'stdio' | 'detached';
let mode: Mode = 'link';

async function startRelay(
  onStderr?: (t: string) => void,
  transport: ITransport = localTransport(),
  linkTimeoutMs?: number,
  lingerSeconds = 30
) {
  const relay = await KernelRelay.start({
    transport,
    command: directRelayCommand(PYTHON),
    label: 'this computer',
    onStderr,
    link: mode !== 'stdio',
    linkTimeoutMs,
    ...(mode === 'detached' ? { detach: { lingerSeconds } } : {})
  });
  relays.push(relay);
  expect(relay.linked).toBe(mode !== 'stdio');
  return relay;
}

function localTransport(): LocalTransport {
  return new LocalTransport({
    env: { HOME: work, SHELL: '/bin/sh', PATH: process.env.PATH }
  });
}

/** The fake kernel, started in `relay` with `key`. */
function startFake(relay: KernelRelay, key = 'k') {
  return relay.startKernel({
    key,
    signature_scheme: 'hmac-sha256',
    argv: fakeArgv()
  });
}

function fakeArgv(...extra: string[]): string[] {
  return [PYTHON, fakeKernel, '-f', '{connection_file}', ...extra];
}

/** A client connection that collects what it receives. */
async function client(port: number) {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = Buffer.alloc(0);
  let closed = false;
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    waiters.splice(0).forEach(w => w());
  });
  socket.on('close', () => {
    closed = true;
    waiters.splice(0).forEach(w => w());
  });
  return {
    socket,
    /** Wait until `n` bytes have come; returns them all. */
    async read(n: number, timeoutMs = 20_000): Promise<Buffer> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline || closed) {
          throw new Error(
            `only ${received.length} of ${n} bytes came${closed ? ' (closed)' : ''}`
          );
        }
        await new Promise<void>(resolve => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      const out = received;
      received = Buffer.alloc(0);
      return out;
    }
  };
}

/**
 * The fake kernel's "info" answer. The relay reports a kernel started once
 * its process runs, before it listens (Jupyter clients reconnect on their
 * own): until then a connection is closed at once, so ask again.
 */
async function ask(port: number): Promise<Record<string, unknown>> {
  for (let tries = 0; ; tries++) {
    const c = await client(port);
    c.socket.write('info\n');
    let text = '';
    try {
      while (!text.endsWith('\n')) {
        text += (await c.read(1)).toString();
      }
      return JSON.parse(text);
    } catch (err) {
      if (tries > 50) {
        throw err;
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    } finally {
      c.socket.destroy();
    }
  }
}

describe.each<[string, Mode]>([
  ['over the link', 'link'],
  ["over the step's stdio", 'stdio'],
  ['detached, over its link', 'detached']
])('the kernel relay, both ends, %s', (_, m) => {
  beforeAll(() => {
    mode = m;
  });

  it('runs a one-line bootstrap of the relay, and srun around it', () => {
    const boot = relayBootstrap();
    expect(boot).not.toContain('\n');
    expect(boot.length).toBeLessThan(RELAY_SOURCE.length);
    const out = execFileSync(PYTHON, [
      '-I',
      '-c',
      boot.replace('exec(', 'print(len(').replace(')))', '))))')
    ]);
    expect(Number(out.toString())).toBe(Buffer.byteLength(RELAY_SOURCE));
    expect(
      relayCommand({ jobId: '42', python: '/env/bin/python' }).argv
    ).toEqual([
      'srun',
      '--overlap',
      '--jobid=42',
      '--ntasks=1',
      '--unbuffered',
      '/env/bin/python',
      '-I',
      '-c',
      boot
    ]);
  });

  it('starts a kernel with the key only in its 0600 connection file', async () => {
    const relay = await startRelay();
    expect(relay.hello.version).toBe(2);
    const key = randomBytes(16).toString('hex');
    const kernel = await relay.startKernel({
      key,
      signature_scheme: 'hmac-sha256',
      argv: fakeArgv(),
      cwd: work,
      env: { JLHPC_TEST: 'yes' }
    });
    expect(kernel.connection).toMatchObject({
      ip: '127.0.0.1',
      transport: 'tcp',
      key,
      shell_port: kernel.localPorts.shell
    });
    const info = await ask(kernel.localPorts.control);
    expect(info.key).toBe(key);
    // By default on Unix sockets in the relay's private directory.
    expect(kernel.remoteTransport).toBe('ipc');
    expect(info.transport).toBe('ipc');
    expect(info.ip).toBe(join(dirname(info.path as string), 'kernel'));
    expect(info.mode).toBe(0o600);
    expect(info.dirmode).toBe(0o700);
    expect(info.cwd).toBe(work);
    expect((info.env as Record<string, string>).JLHPC_TEST).toBe('yes');
    expect(JSON.stringify(info.argv)).not.toContain(key);
    expect(JSON.stringify(info.env)).not.toContain(key);
    // Neither the relay's argv nor its environment holds the key.
    const relayArgv = readFileSync(`/proc/${relay.hello.pid}/cmdline`);
    const relayEnv = readFileSync(`/proc/${relay.hello.pid}/environ`);
    expect(relayArgv.includes(key)).toBe(false);
    expect(relayEnv.includes(key)).toBe(false);

    const end = await relay.shutdown();
    expect(end.exitCode).toBe(0);
    // The kernel and its connection file are gone with the relay.
    expect(() => statSync(info.path as string)).toThrow();
    expect(() => process.kill(kernel.pid, 0)).toThrow();
    expect(await kernel.exited).toMatchObject({ pid: kernel.pid });
  });

  it('lets the kernel listen on Unix sockets in its private directory (ipc, the default)', async () => {
    const relay = await startRelay();
    const kernel = await startFake(relay);
    expect(kernel.remoteTransport).toBe('ipc');
    expect(Object.values(kernel.remotePorts)).toEqual([1, 2, 3, 4, 5]);
    const info = await ask(kernel.localPorts.iopub);
    expect(info.transport).toBe('ipc');
    expect(info.dirmode).toBe(0o700);
    expect(info.ip).toBe(join(dirname(info.path as string), 'kernel'));
    const c = await client(kernel.localPorts.stdin);
    const data = randomBytes(200_000);
    c.socket.write(data);
    expect((await c.read(data.length)).equals(data)).toBe(true);
    c.socket.destroy();
    await relay.shutdown();
    expect(() => statSync(info.ip + '-1')).toThrow();
  });

  it("binds the node's 127.0.0.1 when asked (tcp)", async () => {
    const relay = await startRelay();
    const kernel = await relay.startKernel({
      key: 'k',
      signature_scheme: 'hmac-sha256',
      argv: fakeArgv(),
      transport: 'tcp'
    });
    expect(kernel.remoteTransport).toBe('tcp');
    const info = await ask(kernel.localPorts.shell);
    expect(info.transport).toBe('tcp');
    expect(info.ip).toBe('127.0.0.1');
    await relay.shutdown();
  });

  it('carries many streams at once, large data in order, past the window', async () => {
    const relay = await startRelay();
    const kernel = await startFake(relay);
    await ask(kernel.localPorts.shell);
    const ports = Object.values(kernel.localPorts);
    const clients = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client(ports[i % ports.length]))
    );
    const payloads = clients.map((_, i) =>
      randomBytes(i === 0 ? 3 * STREAM_WINDOW + 12345 : 1000 + i * 997)
    );
    clients.forEach((c, i) => c.socket.write(payloads[i]));
    const echoed = await Promise.all(
      clients.map((c, i) => c.read(payloads[i].length))
    );
    echoed.forEach((e, i) => expect(e.equals(payloads[i])).toBe(true));
    clients.forEach(c => c.socket.destroy());
    await relay.shutdown();
  });

  it('stalls only a stream whose reader does not read', async () => {
    const relay = await startRelay();
    const kernel = await startFake(relay);
    await ask(kernel.localPorts.shell);
    const slow = await client(kernel.localPorts.iopub);
    slow.socket.pause();
    slow.socket.write(randomBytes(4 * STREAM_WINDOW));
    const quick = await client(kernel.localPorts.shell);
    const ping = randomBytes(5000);
    quick.socket.write(ping);
    expect((await quick.read(ping.length, 5000)).equals(ping)).toBe(true);
    slow.socket.resume();
    expect((await slow.read(4 * STREAM_WINDOW)).length).toBe(4 * STREAM_WINDOW);
    await relay.shutdown();
  });

  it("hands on at once data that ends the way the transport's end marker begins", async () => {
    // The command runner holds back a last '#' (it may start its end
    // marker) until more output comes; a kernel waiting on it stalled.
    const relay = await startRelay();
    const kernel = await startFake(relay);
    await ask(kernel.localPorts.shell);
    const c = await client(kernel.localPorts.shell);
    for (const text of ['#', 'abc#', 'x##jl']) {
      c.socket.write(text);
      expect((await c.read(text.length, 5000)).toString()).toBe(text);
    }
    c.socket.destroy();
    await relay.shutdown();
  });

  it('passes signals to the kernel, reports its exit, and starts another', async () => {
    const relay = await startRelay();
    const first = await startFake(relay, 'k1');
    await ask(first.localPorts.shell);
    const c = await client(first.localPorts.shell);
    c.socket.write('x');
    await c.read(1);
    relay.signal('SIGINT');
    expect((await c.read(7)).toString()).toBe('SIGINT\n');
    c.socket.write('exit 3\n');
    expect(await first.exited).toEqual({
      pid: first.pid,
      code: 3,
      signal: null
    });
    expect(relay.kernel).toBeNull();
    // Its listeners are closed.
    await expect(client(first.localPorts.shell)).rejects.toThrow();

    const second = await startFake(relay, 'k2');
    expect(second.pid).not.toBe(first.pid);
    expect((await ask(second.localPorts.hb)).key).toBe('k2');
    relay.signal('SIGKILL');
    expect(await second.exited).toEqual({
      pid: second.pid,
      code: null,
      signal: 9
    });
    await relay.shutdown();
  });

  it('says why a kernel could not start, and kills one that ignores SIGTERM', async () => {
    const relay = await startRelay();
    await expect(
      relay.startKernel({
        key: 'k',
        signature_scheme: 'hmac-sha256',
        argv: ['/nonexistent/python', '{connection_file}']
      })
    ).rejects.toThrow(/could not start the kernel: .*nonexistent/);
    const kernel = await relay.startKernel({
      key: 'k',
      signature_scheme: 'hmac-sha256',
      argv: fakeArgv('stubborn')
    });
    await ask(kernel.localPorts.shell);
    await expect(
      relay.startKernel({ key: 'k', signature_scheme: 'hmac-sha256' })
    ).rejects.toThrow(/already running/);
    const t0 = Date.now();
    await relay.shutdown();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2500);
    expect(() => process.kill(kernel.pid, 0)).toThrow();
  });

  // A detached relay has no stdin: "the relay detached" below checks how it ends.
  if (m !== 'detached') {
    it('ends the relay and the kernel when the sidecar side goes away', async () => {
      const relay = await startRelay();
      const kernel = await startFake(relay);
      const path = (await ask(kernel.localPorts.shell)).path as string;
      // Only the input ends (as when srun's stdin closes): no Shutdown frame.
      (relay as unknown as { _input: NodeJS.WritableStream })._input.end();
      const end = await relay.ended;
      expect(end.exitCode).toBe(0);
      expect(() => statSync(path)).toThrow();
      expect(() => process.kill(kernel.pid, 0)).toThrow();
      expect(() => relay.signal('SIGINT')).toThrow(/ended/);
    });
  }

  it('says what the command said when the relay cannot start', async () => {
    const relay = KernelRelay.start({
      transport: new LocalTransport({
        env: { HOME: work, SHELL: '/bin/sh', PATH: process.env.PATH }
      }),
      command: {
        argv: ['sh', '-c', 'echo "srun: error: no such job" >&2; exit 1']
      },
      ...(mode === 'detached' ? { detach: { lingerSeconds: 30 } } : {})
    });
    await expect(relay).rejects.toThrow(/status 1.*no such job/s);
  });
});

/** A connection to the relay's link port: what it receives, and when it closed. */
async function knock(port: number, send: Buffer) {
  const c = await client(port);
  c.socket.write(send);
  const got = await c.read(1, 8_000).then(
    b => b,
    () => Buffer.alloc(0)
  );
  c.socket.destroy();
  return got;
}

describe("the relay's link", () => {
  beforeAll(() => {
    mode = 'link';
  });

  it('gives nothing to a connection without the token, and stays up for the one with it', async () => {
    // A transport that lets others knock first: what another user of the
    // node could do between HELLO and the sidecar's own connection.
    const local = localTransport();
    const knocks: Buffer[] = [];
    const early: ITransport = Object.assign(Object.create(local), {
      openStream: async (host: string, port: number) => {
        knocks.push(await knock(port, Buffer.from('0'.repeat(64))));
        knocks.push(await knock(port, Buffer.from('GET / HTTP/1.0\r\n\r\n')));
        return local.openStream(host, port);
      }
    });
    // The second knock is held until the relay's 5 s for the token are up.
    const relay = await startRelay(undefined, early, 20_000);
    expect(knocks).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
    const kernel = await startFake(relay);
    expect((await ask(kernel.localPorts.shell)).key).toBe('k');
    // Once the link is up nobody else is let in: the port is closed.
    await expect(client(relay.hello.link!.port)).rejects.toThrow(
      /ECONNREFUSED/
    );
    await relay.shutdown(5000);
  });

  it('closes its port when the sidecar speaks on stdio instead', async () => {
    mode = 'stdio';
    try {
      const relay = await startRelay();
      const kernel = await startFake(relay);
      expect((await ask(kernel.localPorts.shell)).key).toBe('k');
      await expect(client(relay.hello.link!.port)).rejects.toThrow(
        /ECONNREFUSED/
      );
      await relay.shutdown(5000);
    } finally {
      mode = 'link';
    }
  });

  it('falls back to stdio when the link closes, and the kernel lives on', async () => {
    const local = localTransport();
    let linkStream: import('stream').Duplex | null = null;
    const spy: ITransport = Object.assign(Object.create(local), {
      openStream: async (host: string, port: number) =>
        (linkStream = await local.openStream(host, port))
    });
    const stderr: string[] = [];
    const relay = await startRelay(t => stderr.push(t), spy);
    const kernel = await startFake(relay);
    const before = await client(kernel.localPorts.shell);
    before.socket.write('hello\n');
    expect((await before.read(6)).toString()).toBe('hello\n');
    linkStream!.destroy();
    // The cut stream is closed, so the client connects again, over stdio.
    await expect(before.read(1, 5_000)).rejects.toThrow(/closed/);
    expect(relay.linked).toBe(false);
    const info = await ask(kernel.localPorts.shell);
    expect(info.key).toBe('k');
    expect(stderr.join('')).toContain('back to stdio');
    await relay.shutdown(5000);
  });

  it('takes stdio when the node cannot be reached, after the timeout', async () => {
    const local = localTransport();
    const unreachable: ITransport = Object.assign(Object.create(local), {
      openStream: () => new Promise(() => undefined)
    });
    const stderr: string[] = [];
    const relay = await KernelRelay.start({
      transport: unreachable,
      command: directRelayCommand(PYTHON),
      label: 'this computer',
      onStderr: t => stderr.push(t),
      linkTimeoutMs: 300
    });
    relays.push(relay);
    expect(relay.linked).toBe(false);
    expect(stderr.join('')).toMatch(/no link to .*no answer in 0.3 s/);
    const kernel = await startFake(relay);
    expect((await ask(kernel.localPorts.shell)).key).toBe('k');
    await relay.shutdown(5000);
  });
});

/** The relay directories the launcher keeps under the test's HOME. */
function relayDirs(): string[] {
  try {
    return readdirSync(join(work, '.jupyterlab-hpc', 'relays'));
  } catch {
    return [];
  }
}

/** The launcher's directory of a detached relay: the one holding its token. */
function dirOf(relay: KernelRelay): string {
  const base = join(work, '.jupyterlab-hpc', 'relays');
  const dir = relayDirs().find(name => {
    try {
      return readFileSync(join(base, name, 'hello'), 'utf8').includes(
        relay.hello.link!.token
      );
    } catch {
      return false;
    }
  });
  if (!dir) {
    throw new Error("no directory holds the relay's HELLO");
  }
  return dir;
}

/** Resolves once `check` holds, checking every 50 ms for `ms`. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('timed out');
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A local transport whose streams can be cut and refused, as a dropped SSH
 * connection would, and which records how commands were run.
 */
function cuttable() {
  const local = localTransport();
  const streams: import('stream').Duplex[] = [];
  const runs: Parameters<ITransport['run']>[] = [];
  const state = { refuse: false };
  const transport: ITransport = Object.assign(Object.create(local), {
    run: (...args: Parameters<ITransport['run']>) => {
      runs.push(args);
      return local.run(...args);
    },
    openStream: async (host: string, port: number) => {
      if (state.refuse) {
        throw new Error('the connection is down');
      }
      const s = await local.openStream(host, port);
      streams.push(s);
      return s;
    }
  });
  return {
    transport,
    runs,
    state,
    cut() {
      streams.splice(0).forEach(s => s.destroy());
    }
  };
}

describe('the relay detached', () => {
  beforeAll(() => {
    mode = 'detached';
  });

  it('is launched by short commands of the shell, with no channel or stdin of its own', async () => {
    const t = cuttable();
    const relay = await startRelay(undefined, t.transport);
    expect(t.runs.length).toBeGreaterThan(0);
    for (const [command, options] of t.runs) {
      expect(command.argv.slice(0, 4)).toEqual([
        'sh',
        '-c',
        expect.stringContaining('relay-launch'),
        'jlhpc-relay'
      ]);
      expect(options?.onOutput).toBeUndefined();
      expect(options?.stdin).toBeUndefined();
    }
    // Its HELLO, with the token, is kept owner-only on the login node.
    const dir = dirOf(relay);
    const d = join(work, '.jupyterlab-hpc', 'relays', dir);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, 'hello')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(d, 'hello'), 'utf8')).toContain(
      relay.hello.link!.token
    );
    await relay.shutdown(5000);
    await until(() => !relayDirs().includes(dir));
  });

  it('links again after a cut, and the kernel and its local ports stay', async () => {
    const t = cuttable();
    const stderr: string[] = [];
    const relay = await startRelay(s => stderr.push(s), t.transport);
    const kernel = await startFake(relay);
    const before = await client(kernel.localPorts.shell);
    before.socket.write('hello\n');
    expect((await before.read(6)).toString()).toBe('hello\n');
    t.state.refuse = true;
    t.cut();
    await expect(before.read(1, 5_000)).rejects.toThrow(/closed/);
    expect(relay.linked).toBe(false);
    // While unlinked, a client is turned away at once (it tries again).
    const meanwhile = await client(kernel.localPorts.shell);
    await expect(meanwhile.read(1, 5_000)).rejects.toThrow(/closed/);
    await new Promise(resolve => setTimeout(resolve, 1000));
    t.state.refuse = false;
    await until(() => relay.linked);
    const info = await ask(kernel.localPorts.shell);
    expect(info.key).toBe('k');
    expect(relay.kernel?.pid).toBe(kernel.pid);
    expect(stderr.join('')).toContain('linked again');
    await relay.shutdown(5000);
    expect(alive(kernel.pid)).toBe(false);
  });

  it('links again even while strangers hold more connections to its port than it keeps waiting', async () => {
    const t = cuttable();
    const relay = await startRelay(undefined, t.transport);
    const kernel = await startFake(relay);
    // Each stranger connects again as soon as its connection is closed, so
    // the relay always has more waiting than it keeps.
    let flooding = true;
    const open = new Set<Socket>();
    const stranger = (): void => {
      const socket = connect({
        host: '127.0.0.1',
        port: relay.hello.link!.port
      });
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        if (flooding) {
          setTimeout(stranger, 10);
        }
      });
    };
    for (let i = 0; i < 12; i++) {
      stranger();
    }
    try {
      await new Promise(resolve => setTimeout(resolve, 300));
      t.cut();
      await until(() => relay.linked);
      expect((await ask(kernel.localPorts.shell)).key).toBe('k');
    } finally {
      flooding = false;
      open.forEach(socket => socket.destroy());
    }
    await relay.shutdown(5000);
  });

  it('hears on linking again of a kernel that ended meanwhile', async () => {
    const t = cuttable();
    const relay = await startRelay(undefined, t.transport);
    const kernel = await startFake(relay);
    t.state.refuse = true;
    t.cut();
    await until(() => !relay.linked);
    process.kill(kernel.pid, 'SIGTERM');
    await until(() => !alive(kernel.pid));
    t.state.refuse = false;
    const exit = await kernel.exited;
    expect(exit).toEqual({ pid: kernel.pid, code: null, signal: 15 });
    // The relay lives on for the next kernel (a restart keeps the step).
    const next = await startFake(relay, 'k2');
    expect((await ask(next.localPorts.shell)).key).toBe('k2');
    await relay.shutdown(5000);
  });

  it('ends the kernel when no sidecar links within its linger time', async () => {
    const t = cuttable();
    const relay = await startRelay(undefined, t.transport, undefined, 2);
    const dir = dirOf(relay);
    const kernel = await startFake(relay);
    const path = (await ask(kernel.localPorts.shell)).path as string;
    t.state.refuse = true;
    t.cut();
    const end = await relay.ended;
    expect(end.reason).toMatch(
      /status 3\.[^]*relay: no sidecar linked for 2 s; ending/
    );
    await until(() => !alive(kernel.pid) && !alive(relay.hello.pid));
    expect(() => statSync(path)).toThrow();
    await until(() => !relayDirs().includes(dir));
  });

  it('reports a relay killed from outside with its status and last words', async () => {
    const relay = await startRelay();
    const dir = dirOf(relay);
    const kernel = await startFake(relay);
    // As Slurm ends a cancelled step: every process of it at once.
    process.kill(kernel.pid, 'SIGKILL');
    process.kill(relay.hello.pid, 'SIGKILL');
    const end = await relay.ended;
    expect(end.exitCode).toBe(137);
    expect(end.reason).toMatch(/ended with status 137/);
    expect(await kernel.exited).toMatchObject({ pid: kernel.pid });
    await until(() => !relayDirs().includes(dir));
  });

  it('is taken up by a next sidecar: linked again, on the same local ports', async () => {
    const first = await startRelay();
    const kernel = await startFake(first);
    const c = await client(kernel.localPorts.shell);
    c.socket.write('before\n');
    expect((await c.read(7)).toString()).toBe('before\n');
    // The sidecar goes away; the relay and its kernel stay.
    first.abandon();
    await expect(c.read(1, 5_000)).rejects.toThrow(/closed/);
    expect(alive(kernel.pid)).toBe(true);
    const next = await KernelRelay.resume({
      transport: localTransport(),
      command: { argv: [] },
      label: 'this computer',
      detach: { lingerSeconds: 30 },
      handle: first.handle!,
      ports: kernel.localPorts,
      signatureScheme: 'hmac-sha256'
    });
    relays.push(next);
    expect(next.linked).toBe(true);
    expect(next.kernel).toMatchObject({
      pid: kernel.pid,
      localPorts: kernel.localPorts
    });
    expect((await ask(kernel.localPorts.shell)).key).toBe('k');
    // Back for a client's iopub only once the kernel's bytes come through it.
    expect(await next.iopubBack(300)).toBe(false);
    const back = next.iopubBack(10_000);
    const iopub = await client(kernel.localPorts.iopub);
    iopub.socket.write('hello\n');
    expect((await iopub.read(6)).toString()).toBe('hello\n');
    expect(await back).toBe(true);
    await next.shutdown(5000);
    expect(alive(kernel.pid)).toBe(false);
  });

  it('says so when a next sidecar finds the relay gone', async () => {
    const first = await startRelay();
    const handle = first.handle!;
    await first.shutdown(5000);
    await expect(
      KernelRelay.resume({
        transport: localTransport(),
        command: { argv: [] },
        label: 'this computer',
        detach: { lingerSeconds: 30 },
        handle,
        ports: { shell: 1, iopub: 2, stdin: 3, control: 4, hb: 5 },
        signatureScheme: 'hmac-sha256'
      })
    ).rejects.toThrow(/relay on this computer is not there any more/);
  });

  it('gives nothing to a wrong token, and keeps its port open to link again', async () => {
    const relay = await startRelay();
    expect(
      await knock(relay.hello.link!.port, Buffer.from('0'.repeat(64)))
    ).toEqual(Buffer.alloc(0));
    const c = await client(relay.hello.link!.port);
    c.socket.destroy();
    await relay.shutdown(5000);
  });

  it('is started attached when its link cannot be made, and the detached one stopped', async () => {
    const local = localTransport();
    const unreachable: ITransport = Object.assign(Object.create(local), {
      openStream: () => Promise.reject(new Error('no route to the node'))
    });
    const stderr: string[] = [];
    const before = new Set(relayDirs());
    const relay = await KernelRelay.start({
      transport: unreachable,
      command: directRelayCommand(PYTHON),
      label: 'this computer',
      onStderr: t => stderr.push(t),
      detach: { lingerSeconds: 30 }
    });
    relays.push(relay);
    expect(relay.linked).toBe(false);
    expect(stderr.join('')).toMatch(
      /no route to the node[^]*started again with its stdio attached/
    );
    await until(() => relayDirs().every(d => before.has(d)));
    const kernel = await startFake(relay);
    expect((await ask(kernel.localPorts.shell)).key).toBe('k');
    await relay.shutdown(5000);
  });
});

describe("the relay's start", () => {
  beforeAll(() => {
    mode = 'stdio';
  });

  it('counts its HELLO timeout from when the command runs, not while it waits for a channel', async () => {
    // The boundary below: a transport whose commands wait in line for a
    // free SSH channel (sshd's MaxSessions) before they run.
    const local = localTransport();
    const queued: ITransport = {
      kind: 'ssh',
      run: async (command, options) => {
        await new Promise(r => setTimeout(r, 1500));
        return local.run(command, options);
      },
      openStream: (host, port) => local.openStream(host, port),
      close: () => local.close()
    };
    const relay = await KernelRelay.start({
      transport: queued,
      command: directRelayCommand(PYTHON),
      label: 'this computer',
      link: false,
      helloTimeoutMs: 1000
    });
    relays.push(relay);
    expect(relay.hello.version).toBe(2);
  });

  it('still gives up on a relay that runs and says nothing', async () => {
    const relay = KernelRelay.start({
      transport: localTransport(),
      command: { argv: ['sleep', '30'] },
      label: 'this computer',
      helloTimeoutMs: 500
    });
    await expect(relay).rejects.toThrow(/did not start in 0.5 s/);
  });
});
