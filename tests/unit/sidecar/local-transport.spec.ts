import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { createServer, Server, Socket } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

import { SidecarError } from '../../../src/sidecar/errors';
import { LocalTransport } from '../../../src/sidecar/transport/local';

/*
 * Real processes throughout: the login shell is started as sshd would start
 * it, in a home whose login files print noise and put ~/bin on the PATH.
 */

let work: string;
let home: string;
let canary: string;

const PROFILE = (name: string) => `echo "noise: ${name}"
echo "noise: ${name} (stderr)" >&2
JLHPC_LOGIN=${name}; export JLHPC_LOGIN
PATH="$HOME/bin:$PATH"; export PATH
jlhpc_fn() { JLHPC_FN="fn:$*"; export JLHPC_FN; }
`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-local-'));
  home = join(work, 'home dir');
  canary = join(work, 'pwned');
  mkdirSync(join(home, 'bin'), { recursive: true });
  mkdirSync(join(home, 'sub'));
  writeFileSync(join(home, '.profile'), PROFILE('profile'));
  writeFileSync(join(home, '.bash_profile'), PROFILE('bash_profile'));
  writeFileSync(
    join(home, 'bin', 'jlhpc-args'),
    '#!/bin/sh\nprintf \'%s\\0\' "$@"\n'
  );
  chmodSync(join(home, 'bin', 'jlhpc-args'), 0o755);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function transport(
  env: NodeJS.ProcessEnv = {},
  killGraceMs?: number
): LocalTransport {
  return new LocalTransport({
    env: { HOME: home, SHELL: '/bin/sh', ...env },
    killGraceMs
  });
}

async function rejection(promise: Promise<unknown>): Promise<SidecarError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarError);
    return err as SidecarError;
  }
  throw new Error('expected a rejection');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An unreaped zombie still answers kill(pid, 0).
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined,
  ms = 5000
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A command that starts `sleep 100` in the background and waits for it. */
function sleeper(pidFile: string, ignoreTerm = false) {
  const trap = ignoreTerm ? 'trap "" TERM; ' : '';
  return {
    argv: ['sh', '-c', `${trap}sleep 100 & echo $! > "$1"; wait`, 'sh', pidFile]
  };
}

describe('LocalTransport.run', () => {
  let local: LocalTransport;
  beforeAll(() => {
    local = transport();
  });
  afterAll(() => local.close());

  it('is the local kind', () => {
    expect(local.kind).toBe('local');
    expect(local.home).toBe(home);
    expect(local.shell).toBe('/bin/sh');
  });

  it('collects stdout, stderr and the exit status', async () => {
    const out = await local.run({
      argv: ['sh', '-c', 'printf out; printf err >&2; exit 3']
    });
    expect(out.stdout.toString()).toBe('out');
    expect(out.stderr.toString()).toBe('err');
    expect(out.exitCode).toBe(3);
    expect(out.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(out).toMatchObject({
      stdoutBytes: 3,
      stderrBytes: 3,
      stdoutTruncated: false,
      stderrTruncated: false
    });
  });

  it('passes awkward arguments byte for byte and interprets none', async () => {
    const args = [
      '',
      ' ',
      "it's",
      '"double"',
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `;touch ${canary}`,
      `\ntouch ${canary}\n`,
      'line1\nline2\n',
      '\ttab',
      '!! !$ a!b',
      '\\',
      '%s %d %%',
      '*',
      '~',
      '-n',
      'données 中文 🚀',
      '\u0001\u001b[31m\u007f'
    ];
    const out = await local.run({ argv: ['jlhpc-args', ...args] });
    expect(out.stdout.toString('utf8').split('\0').slice(0, -1)).toEqual(args);
    const printed = await local.run({
      argv: ['printf', '%s', args.join('|')]
    });
    expect(printed.stdout.equals(Buffer.from(args.join('|')))).toBe(true);
    expect(existsSync(canary)).toBe(false);
  });

  it('sets variables and the directory, ~/ meaning the home', async () => {
    const value = `x'y $(touch ${canary}) é\n`;
    const out = await local.run({
      argv: ['sh', '-c', 'printf "%s|%s" "$PWD" "$JLHPC_V"'],
      cwd: '~/sub',
      env: { JLHPC_V: value }
    });
    expect(out.stdout.toString()).toBe(`${join(home, 'sub')}|${value}`);
    expect(existsSync(canary)).toBe(false);
  });

  it('starts in the home directory', async () => {
    const out = await local.run({ argv: ['pwd'] });
    expect(out.stdout.toString()).toBe(`${home}\n`);
  });

  it('runs setup steps in the login shell, stopping at a failing one', async () => {
    const out = await local.run({
      argv: ['printenv', 'JLHPC_FN'],
      setup: [['jlhpc_fn', "a b'", '$(x)']]
    });
    expect(out.stdout.toString()).toBe("fn:a b' $(x)\n");
    const failed = await local.run({
      argv: ['touch', canary],
      setup: [['false']]
    });
    expect(failed.exitCode).toBe(1);
    expect(existsSync(canary)).toBe(false);
  });

  it('keeps the first maxOutputBytes of each stream and counts the rest', async () => {
    const out = await local.run(
      {
        argv: [
          'sh',
          '-c',
          'head -c 100000 /dev/zero; head -c 50 /dev/zero >&2; echo x >&2'
        ]
      },
      { maxOutputBytes: 1000 }
    );
    expect(out.stdout.length).toBe(1000);
    expect(out.stdoutBytes).toBe(100_000);
    expect(out.stdoutTruncated).toBe(true);
    expect(out.stderr.length).toBe(52);
    expect(out.stderrTruncated).toBe(false);
  });

  it('ends with 124 after timeoutSeconds', async () => {
    const started = Date.now();
    const out = await local.run({ argv: ['sleep', '20'], timeoutSeconds: 0.3 });
    expect(out.exitCode).toBe(124);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports a program killed by a signal as 128 + the signal', async () => {
    const out = await local.run({ argv: ['sh', '-c', 'kill -USR1 $$'] });
    expect(out.exitCode).toBe(128 + 10);
  });

  it('runs commands side by side', async () => {
    const outs = await Promise.all(
      [1, 2, 3, 4].map(n => local.run({ argv: ['sh', '-c', `exit ${n}`] }))
    );
    expect(outs.map(o => o.exitCode)).toEqual([1, 2, 3, 4]);
    expect(new Set(outs.map(o => o.nonce)).size).toBe(4);
  });

  it.each([
    ['sh', '/bin/sh', 'profile'],
    ['bash', '/bin/bash', 'bash_profile']
  ])(
    'runs in the login environment of %s, its noise left out',
    async (_name, shell, login) => {
      const out = await transport({ SHELL: shell }).run({
        argv: ['printenv', 'JLHPC_LOGIN', 'SHELL']
      });
      expect(out.stdout.toString()).toBe(`${login}\n${shell}\n`);
      expect(out.stderr.toString()).toBe('');
      expect(out.exitCode).toBe(0);
    }
  );

  it('builds a fresh environment, as sshd does', async () => {
    const out = await transport({
      JUPYTERHUB_API_TOKEN: 'secret',
      SLURM_JOB_ID: '42',
      PATH: '/opt/conda/envs/jupyter/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      LC_TIME: 'C',
      KRB5CCNAME: 'FILE:/tmp/krb5cc_x'
    }).run({ argv: ['env'] });
    const env = Object.fromEntries(
      out.stdout
        .toString()
        .trim()
        .split('\n')
        .map(line => [
          line.slice(0, line.indexOf('=')),
          line.slice(line.indexOf('=') + 1)
        ])
    );
    expect(env).toMatchObject({
      HOME: home,
      SHELL: '/bin/sh',
      LANG: 'C.UTF-8',
      LC_TIME: 'C',
      KRB5CCNAME: 'FILE:/tmp/krb5cc_x'
    });
    // The login files (here /etc/profile and ~/.profile) built PATH from
    // LOGIN_PATH, not from the sidecar's.
    expect(env.PATH).toMatch(new RegExp(`^${home}/bin:`));
    expect(env.PATH).not.toContain('conda');
    expect(env.USER).toBeTruthy();
    expect(env.LOGNAME).toBe(env.USER);
    expect(env).not.toHaveProperty('JUPYTERHUB_API_TOKEN');
    expect(env).not.toHaveProperty('SLURM_JOB_ID');
  });

  it('gives the output of login files that fail before the command', async () => {
    const broken = join(work, 'broken home');
    mkdirSync(broken);
    writeFileSync(join(broken, '.profile'), 'echo "bad profile" >&2\nexit 5\n');
    const out = await new LocalTransport({
      env: { HOME: broken, SHELL: '/bin/sh' }
    }).run({ argv: ['true'] });
    expect(out.exitCode).toBe(5);
    expect(out.stderr.toString()).toBe('bad profile\n');
  });
});

describe('LocalTransport.run refusals', () => {
  let local: LocalTransport;
  beforeAll(() => {
    local = transport();
  });
  afterAll(() => local.close());

  it('refuses a command too long for one exec request', async () => {
    const error = await rejection(
      local.run({ argv: ['echo', 'x'.repeat(200 * 1024)] })
    );
    expect(error.code).toBe('command-too-long');
    expect(error.message).toMatch(/standard input/);
  });

  it.each([
    ['a NUL byte', { argv: ['echo', 'a\0b'] }, /NUL byte/],
    ['a bad timeout', { argv: ['true'], timeoutSeconds: -1 }, /timeout/],
    ['a bad variable name', { argv: ['true'], env: { 'A-B': '1' } }, /A-B/]
  ])('refuses %s as a bad request', async (_case, command, text) => {
    const error = await rejection(local.run(command));
    expect(error.code).toBe('bad-request');
    expect(error.message).toMatch(text);
  });

  it('says which shell could not be started', async () => {
    const error = await rejection(
      transport({ SHELL: '/nonexistent/zsh' }).run({ argv: ['true'] })
    );
    expect(error.code).toBe('command-failed');
    expect(error.message).toMatch(
      /^Could not start the login shell \/nonexistent\/zsh in .*ENOENT/
    );
  });

  it('says so when the home directory is missing', async () => {
    const error = await rejection(
      transport({ HOME: join(work, 'no such home') }).run({ argv: ['true'] })
    );
    expect(error.code).toBe('command-failed');
    expect(error.message).toContain('no such home');
  });
});

describe('LocalTransport.run aborted', () => {
  it('kills the whole process group', async () => {
    const local = transport({}, 2000);
    const pidFile = join(work, 'abort.pid');
    const controller = new AbortController();
    const running = local.run(sleeper(pidFile), { signal: controller.signal });
    const pid = await waitFor('the sleep', () => readPid(pidFile));
    expect(isAlive(pid)).toBe(true);
    controller.abort();
    const error = await rejection(running);
    expect(error.code).toBe('command-timeout');
    expect(error.message).toBe('sh on this computer was stopped.');
    // SIGTERM did it, well before the 2 s grace period.
    await waitFor(
      'the sleep to die',
      () => (isAlive(pid) ? undefined : true),
      1500
    );
  });

  it('kills what ignores SIGTERM after the grace period', async () => {
    const local = transport({}, 300);
    const pidFile = join(work, 'stubborn.pid');
    const controller = new AbortController();
    const running = local.run(sleeper(pidFile, true), {
      signal: controller.signal
    });
    const pid = await waitFor('the sleep', () => readPid(pidFile));
    const aborted = Date.now();
    controller.abort();
    await rejection(running);
    await new Promise(resolve => setTimeout(resolve, 150));
    expect(isAlive(pid)).toBe(true);
    await waitFor('the sleep to die', () => (isAlive(pid) ? undefined : true));
    expect(Date.now() - aborted).toBeGreaterThanOrEqual(300);
  });

  it('reports an AbortSignal.timeout as a command timeout', async () => {
    const error = await rejection(
      transport().run(
        { argv: ['sleep', '20'] },
        { signal: AbortSignal.timeout(200) }
      )
    );
    expect(error.code).toBe('command-timeout');
    expect(error.message).toBe(
      'sleep on this computer did not finish in time and was stopped.'
    );
    expect((error as { cause?: unknown }).cause).toHaveProperty(
      'name',
      'TimeoutError'
    );
  });

  it('runs nothing when the signal has already fired', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(
      transport().run(
        { argv: ['touch', canary] },
        { signal: controller.signal }
      )
    );
    expect(error.code).toBe('command-timeout');
    await new Promise(resolve => setTimeout(resolve, 200));
    expect(existsSync(canary)).toBe(false);
  });
});

describe('LocalTransport.openStream', () => {
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    server = createServer(socket => {
      accepted.push(socket);
      socket.pipe(socket);
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    accepted.forEach(s => s.destroy());
    await new Promise(resolve => server.close(resolve));
  });

  it('connects with TCP_NODELAY and carries bytes both ways', async () => {
    const setNoDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    const local = transport();
    try {
      const stream = await local.openStream('127.0.0.1', port);
      expect(setNoDelay.mock.contexts).toContain(stream);
      expect(
        setNoDelay.mock.calls[setNoDelay.mock.contexts.indexOf(stream)]
      ).toEqual([true]);
      const echoed = new Promise<string>(resolve =>
        stream.once('data', (chunk: Buffer) => resolve(chunk.toString()))
      );
      stream.write('ping');
      expect(await echoed).toBe('ping');
      stream.destroy();
    } finally {
      setNoDelay.mockRestore();
      await local.close();
    }
  });

  it('says clearly when the connection is refused', async () => {
    const spare = createServer();
    await new Promise<void>(resolve => spare.listen(0, '127.0.0.1', resolve));
    const freePort = (spare.address() as { port: number }).port;
    await new Promise(resolve => spare.close(resolve));
    const error = await rejection(
      transport().openStream('127.0.0.1', freePort)
    );
    expect(error.code).toBe('forward-failed');
    expect(error.message).toBe(
      `Could not connect to 127.0.0.1:${freePort} from this computer: connection refused (is anything listening on that port?)`
    );
  });

  it('refuses an invalid port', async () => {
    const error = await rejection(transport().openStream('127.0.0.1', 70000));
    expect(error.code).toBe('forward-failed');
    expect(error.message).toMatch(/^Could not connect to 127\.0\.0\.1:70000/);
  });

  it('writes IPv6 addresses in brackets', async () => {
    const error = await rejection(transport().openStream('::1', 0));
    expect(error.message).toMatch(
      /^Could not connect to \[::1\]:0 from this computer: /
    );
  });
});

describe('LocalTransport.close', () => {
  it('stops running commands and refuses later calls', async () => {
    let server: Server | null = null;
    const local = transport({}, 500);
    try {
      const pidFile = join(work, 'close.pid');
      const running = rejection(local.run(sleeper(pidFile)));
      const pid = await waitFor('the sleep', () => readPid(pidFile));
      server = createServer(socket => socket.pipe(socket));
      await new Promise<void>(resolve =>
        server!.listen(0, '127.0.0.1', resolve)
      );
      const stream = await local.openStream(
        '127.0.0.1',
        (server.address() as { port: number }).port
      );
      const streamClosed = new Promise(resolve =>
        stream.once('close', resolve)
      );

      await local.close();
      expect((await running).code).toBe('disconnected');
      expect(isAlive(pid)).toBe(false);
      await streamClosed;

      const later = await rejection(local.run({ argv: ['touch', canary] }));
      expect(later.code).toBe('disconnected');
      expect(later.message).toBe('The connection to this computer was closed.');
      expect((await rejection(local.openStream('127.0.0.1', 1))).code).toBe(
        'disconnected'
      );
      expect(existsSync(canary)).toBe(false);
      await local.close();
    } finally {
      await new Promise(resolve =>
        server ? server.close(resolve) : resolve(null)
      );
    }
  });
});
