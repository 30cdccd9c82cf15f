/**
 * A command given up on (its AbortSignal fired, or its deadline passed)
 * must not go on running on the login node: closing its channel does not
 * stop a program that writes nothing, and no signal request can be sent
 * once its input has ended. Checked with the runner itself (the sidecar's
 * SshConnection, from source) against the demo cluster's real sshd, on the
 * shared login shell and on an exec channel of its own, with both SSH
 * clients.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';

import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import { SshClientKind, SshConnection } from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { SidecarError } from '../../src/sidecar/errors';
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
