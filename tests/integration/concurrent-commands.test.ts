/**
 * Commands run at once right after a connection is made: the first starts
 * the shared login shell, the others go to exec channels of their own while
 * it starts. With OpenSSH, a quick command's whole output can arrive with
 * the ControlMaster client's "master session id" line, before the runner
 * listens; it must still be returned. Many fresh connections per client,
 * against the demo cluster's real sshd, to catch the race.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';

import { AskpassBridge } from '../../src/sidecar/ssh/askpass';
import { KeyCache } from '../../src/sidecar/ssh/auth';
import { resolveRoute } from '../../src/sidecar/ssh/config';
import { SshClientKind, SshConnection } from '../../src/sidecar/ssh/connection';
import type { IPrompter } from '../../src/sidecar/ssh/prompter';
import { SidecarError } from '../../src/sidecar/errors';
import { demoCluster, writeDemoSshFiles } from '../support/demo-cluster';

const demo = demoCluster();
const CONNECTIONS = 15;

const refuse: IPrompter = {
  ask: async () => {
    throw new SidecarError('auth-cancelled', 'no questions in this test');
  }
};

/** Each command and what it must give back: stdout, stderr, exit code. */
const COMMANDS: [string[], RegExp, string, number][] = [
  [['id', '-un'], new RegExp(`^${demo.user}\n$`), '', 0],
  [['date', '+%z'], /^[+-]\d{4}\n$/, '', 0],
  [['true'], /^$/, '', 0],
  [['echo', 'x'], /^x\n$/, '', 0],
  [['sh', '-c', 'echo out; echo err >&2; exit 3'], /^out\n$/, 'err\n', 3],
  [['printf', '%s', 'no newline'], /^no newline$/, '', 0]
];

let home: string;
let askpass: AskpassBridge;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-concurrent-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeDemoSshFiles(home);
  askpass = new AskpassBridge();
});

afterAll(() => {
  askpass.close();
  rmSync(home, { recursive: true, force: true });
});

function connect(client: SshClientKind): SshConnection {
  const env = { PATH: process.env.PATH, HOME: home };
  return new SshConnection({
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
}

describe.each(['openssh', 'builtin'] as SshClientKind[])(
  'with the %s client',
  client => {
    it(`returns every output of commands run at once on ${CONNECTIONS} fresh connections`, async () => {
      const wrong: string[] = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        const connection = connect(client);
        try {
          const outs = await Promise.all(
            COMMANDS.map(([argv]) => connection.run({ argv }))
          );
          outs.forEach((out, k) => {
            const [argv, stdout, stderr, exitCode] = COMMANDS[k];
            const got = {
              stdout: out.stdout.toString(),
              stderr: out.stderr.toString(),
              exitCode: out.exitCode
            };
            if (
              !stdout.test(got.stdout) ||
              got.stderr !== stderr ||
              got.exitCode !== exitCode
            ) {
              wrong.push(`${i}: ${argv.join(' ')} gave ${JSON.stringify(got)}`);
            }
          });
        } finally {
          await connection.close();
        }
      }
      expect(wrong).toEqual([]);
    }, 30_000);
  }
);
