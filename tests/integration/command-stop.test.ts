/**
 * A command given up on (its AbortSignal fired, or its deadline passed)
 * must not go on running on the login node: closing its channel does not
 * stop a program that writes nothing, and no signal request can be sent
 * once its input has ended. Checked with the runner itself (the sidecar's
 * SshConnection, from source) against the demo cluster's real sshd, on the
 * shared login shell and on an exec channel of its own, with both SSH
 * clients.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';
import { PassThrough } from 'stream';

import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import { SshClientKind, SshConnection } from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { SidecarError } from '../../src/sidecar/errors';
import { watchCommand } from '../../src/sidecar/sessions/remote';
import { demoCluster } from '../support/demo-cluster';

const demo = demoCluster();
const CLIENTS: SshClientKind[] = ['openssh', 'builtin'];

const refuse: IPrompter = {
  ask: async () => {
    throw new SidecarError('auth-cancelled', 'no questions in this test');
  }
};

let home: string;
let askpass: AskpassBridge;
const connections: SshConnection[] = [];

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-stop-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host hpc-demo\n  HostName ${demo.host}\n  Port ${demo.port}\n  User ${demo.user}\n` +
      `  IdentityFile ${demo.identityFile}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${demo.knownHosts}\n`,
    { mode: 0o600 }
  );
  askpass = new AskpassBridge();
});

afterAll(async () => {
  await Promise.all(connections.map(c => c.close()));
  askpass.close();
  rmSync(home, { recursive: true, force: true });
});

function connect(client: SshClientKind): SshConnection {
  const env = { PATH: process.env.PATH, HOME: home };
  const connection = new SshConnection({
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
  connections.push(connection);
  return connection;
}

/** The demo user's processes running `sleep <seconds>`. */
async function sleepers(
  connection: SshConnection,
  seconds: string
): Promise<string> {
  const out = await connection.run({
    argv: [
      '/bin/sh',
      '-c',
      'ps -u "$(id -u)" -o args= | grep -x "sleep $1" || true',
      'sh',
      seconds
    ]
  });
  return out.stdout.toString('utf8').trim();
}

describe.each(CLIENTS)('with the %s SSH client', client => {
  it.each([
    ['in the shared login shell', 1024 * 1024],
    ['on an exec channel of its own', 4 * 1024 * 1024]
  ])(
    'stops a quiet command given up on %s',
    async (_where, maxOutputBytes) => {
      const connection = connect(client);
      await connection.connect();
      const seconds = `${4000 + Math.floor(Math.random() * 999)}`;
      const started = Date.now();
      await expect(
        connection.run(
          { argv: ['sleep', seconds] },
          { signal: AbortSignal.timeout(1500), maxOutputBytes }
        )
      ).rejects.toMatchObject({ code: 'command-timeout' });
      expect(Date.now() - started).toBeLessThan(10_000);

      let left = await sleepers(connection, seconds);
      for (let i = 0; i < 40 && left !== ''; i++) {
        await new Promise(r => setTimeout(r, 250));
        left = await sleepers(connection, seconds);
      }
      expect(left).toBe('');
    },
    30_000
  );
});

/** The demo user's processes whose command line holds `marker` (pgrep). */
function remoteProcesses(marker: string): string {
  const out = spawnSync('pgrep', ['-u', demo.user, '-f', '-a', marker], {
    encoding: 'utf8'
  });
  return out.stdout.trim();
}

/** This process's OpenSSH mux clients running a command that holds `marker`. */
function muxClients(marker: string): string[] {
  const out = spawnSync(
    'ps',
    ['-o', 'pid=,args=', '--ppid', `${process.pid}`],
    {
      encoding: 'utf8'
    }
  );
  return out.stdout
    .split('\n')
    .filter(line => / -T -- /.test(line) && line.includes(marker));
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) {
    await new Promise(r => setTimeout(r, 100));
  }
}

/**
 * The session watcher's own command (watch.sh, streamed on a channel of its
 * own, quiet while nothing changes) given up on as SessionWatcher does when
 * the set of watched sessions changes: its channel must close and its
 * program end within seconds, not run on to its time limit (600 s) holding
 * one of sshd's MaxSessions.
 */
describe.each(CLIENTS)('a streamed watch.sh with the %s SSH client', client => {
  it.each([
    ['once it runs', 'running'],
    ['while its channel is still opening', 'opening']
  ])(
    'ends its channel and its remote program when aborted %s',
    async (_when, moment) => {
      const connection = connect(client);
      await connection.connect();
      const marker = `stop${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
      const abort = new AbortController();
      let watching!: () => void;
      const saidWatching = new Promise<void>(r => (watching = r));
      const run = connection.run(watchCommand([marker], 600, [], true), {
        signal: abort.signal,
        stdin: new PassThrough(),
        onOutput: (_stream, chunk) => {
          if (chunk.toString('utf8').includes('watching')) {
            watching();
          }
        }
      });
      const outcome = run.then(
        () => 'resolved',
        (err: SidecarError) => err.code
      );
      if (moment === 'running') {
        await saidWatching;
        expect(remoteProcesses(marker)).not.toBe('');
      } else {
        // The run has asked for its channel; the answer is a round trip away.
        await new Promise(r => setImmediate(r));
      }
      const stopped = Date.now();
      abort.abort();
      expect(await outcome).toBe('command-timeout');
      expect(Date.now() - stopped).toBeLessThan(8_000);

      await until(() => remoteProcesses(marker) === '', 5_000);
      expect(remoteProcesses(marker)).toBe('');
      await until(() => muxClients(marker).length === 0, 5_000);
      expect(muxClients(marker)).toEqual([]);
      // The sweep by tag (run on the shared session) is done too.
      await until(() => connection.activeCommands === 0, 5_000);
      expect(connection.activeCommands).toBe(0);
    },
    30_000
  );

  it('ends by its time limit, its input still open', async () => {
    const connection = connect(client);
    await connection.connect();
    const marker = `limit${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
    const input = new PassThrough();
    const started = Date.now();
    const out = await connection.run(watchCommand([marker], 2, [], true), {
      stdin: input,
      onOutput: () => undefined
    });
    input.destroy();
    expect(out.exitCode).toBe(0);
    expect(out.stdout.toString()).toBe('watching\n');
    expect(Date.now() - started).toBeLessThan(8_000);
    await until(() => remoteProcesses(marker) === '', 5_000);
    expect(remoteProcesses(marker)).toBe('');
  }, 30_000);
});
