/**
 * The sidecar through the SSH fixtures (tests/cluster/ssh-fixtures.sh): a
 * login node reachable only through a gateway (ProxyJump in-process, and
 * ProxyCommand as a real child), TOTP 2FA through PAM, and key setup over a
 * password login.
 */
import { execFileSync } from 'child_process';
import { readFileSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';

import type {
  IClusterStatus,
  IKeySetupResult,
  IRunResult,
  SidecarEvent
} from '../../src/common/api';
import {
  ISidecar,
  makeHome,
  SSH_CLIENTS,
  startSidecar
} from '../support/sidecar';
import type { SshClientSetting } from '../../src/common/settings';
import { startTcpProxy } from '../support/tcp-proxy';
import { totp } from '../support/totp';
import { demoCluster } from '../support/demo-cluster';

const FIXTURES = '/var/lib/jupyterlab-hpc-demo/ssh-fixtures.json';
const fixtures = JSON.parse(readFileSync(FIXTURES, 'utf8'));
const { inner, twoFactor, password } = fixtures.hosts;

let sidecar: ISidecar | null = null;
const homes: string[] = [];

/** A sidecar whose ~/.ssh/config is the fixtures' config. */
async function start(): Promise<ISidecar> {
  const home = makeHome();
  homes.push(home);
  writeFileSync(
    join(home, '.ssh', 'config'),
    readFileSync(fixtures.sshConfigFile)
  );
  sidecar = await startSidecar({ home, sshClient });
  return sidecar;
}

afterEach(async () => {
  await sidecar?.stop();
  sidecar = null;
  for (const dir of homes.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function hostname(s: ISidecar, name: string): Promise<IRunResult> {
  return (
    await s.api<IRunResult>('POST', `/api/v1/clusters/${name}/run`, {
      argv: ['hostname']
    })
  ).body;
}

/** The client of the suite running now (set by each block's beforeAll). */
let sshClient: SshClientSetting = 'openssh';

describe.each(SSH_CLIENTS)('with the %s SSH client', client => {
  beforeAll(() => {
    sshClient = client;
  });

  describe('a login node behind a gateway', () => {
    it.each([
      ['ProxyJump, made in-process', inner.aliases.proxyJump, 2],
      ['ProxyCommand ssh gw exec nc %h %p', inner.aliases.proxyCommandNc, 1],
      ['ProxyCommand ssh -W %h:%p gw', inner.aliases.proxyCommandW, 1]
    ])('is reached through %s', async (_how, alias, hops) => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'inner', host: alias }]
      });
      const connected = await s.api<IClusterStatus>(
        'POST',
        '/api/v1/clusters/inner/connect'
      );
      expect(connected.body.state).toBe('connected');
      expect(connected.body.route).toHaveLength(hops);
      expect(connected.body.route[connected.body.route.length - 1]).toBe(
        `${inner.user}@${inner.host}`
      );
      const run = await hostname(s, 'inner');
      expect(run.stdout.trim()).toBe(inner.hostname);
      const via = await s.api<IRunResult>(
        'POST',
        '/api/v1/clusters/inner/run',
        {
          argv: ['sh', '-c', 'echo "$SSH_CONNECTION"']
        }
      );
      // The inner node sees the gateway's address as the client.
      expect(via.body.stdout.split(' ')[0]).toBe(
        fixtures.netns.gateway.innerAddress
      );
    });

    it('says which hop failed when the jump host cannot reach the target', async () => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [
          {
            name: 'bad',
            host: '10.231.2.99',
            user: inner.user,
            jumpHost: 'hpc-gw'
          }
        ]
      });
      const answer = await s.api('POST', '/api/v1/clusters/bad/connect');
      expect(answer.body.error.code).toBe('unreachable');
      expect(answer.body.error.message).toMatch(
        /jump host hpc-gw could not connect to 10\.231\.2\.99/
      );
    });

    it('reports a ProxyCommand that fails, with what it said', async () => {
      const home = makeHome();
      homes.push(home);
      writeFileSync(
        join(home, '.ssh', 'config'),
        `Host broken\n  HostName ${inner.host}\n  User ${inner.user}\n  ProxyCommand sh -c "echo gateway says no >&2; exit 7"\n`
      );
      sidecar = await startSidecar({ home, sshClient });
      await sidecar.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'b', host: 'broken' }]
      });
      const answer = await sidecar.api('POST', '/api/v1/clusters/b/connect');
      expect(answer.body.error.code).toBe('proxy-command-failed');
      // Only the built-in client sees the command's exit status.
      expect(answer.body.error.message).toMatch(
        client === 'builtin'
          ? /exited with status 7: gateway says no/
          : /ended before the connection was made: gateway says no$/
      );
    });
  });

  describe('two-factor authentication', () => {
    const isState =
      (state: IClusterStatus['state']) =>
      (e: SidecarEvent): e is SidecarEvent =>
        e.type === 'cluster-state' && e.cluster.state === state;

    it('asks for the code once, in a prompt, after the key was accepted', async () => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'mfa', host: twoFactor.alias }]
      });
      const connecting = s.api<IClusterStatus>(
        'POST',
        '/api/v1/clusters/mfa/connect'
      );
      const prompt = await s.waitForPrompt();
      expect(prompt.kind).toBe('keyboard-interactive');
      expect(prompt.cluster).toBe('mfa');
      expect(prompt.fields).toEqual([
        { label: 'Verification code:', echo: false }
      ]);
      await s.waitForEvent(isState('needs-input'));
      await s.answer(prompt.id, [totp(twoFactor.totp.secret)]);
      expect((await connecting).body.state).toBe('connected');
      // Everything after shares the connection: no second code.
      const runs = await Promise.all(
        [1, 2, 3].map(() =>
          s.api<IRunResult>('POST', '/api/v1/clusters/mfa/run', {
            argv: ['whoami']
          })
        )
      );
      for (const r of runs) {
        expect(r.body.stdout.trim()).toBe(twoFactor.user);
      }
      expect(s.events.filter(e => e.type === 'prompt')).toHaveLength(1);
    });

    it('refuses a wrong code, offers another try, and gives a clear error in the end', async () => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'mfa', host: twoFactor.alias }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/mfa/connect');
      // A code ten minutes away is outside the server's window.
      const wrong = totp(twoFactor.totp.secret, 20);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const prompt = await s.waitForPrompt();
        if (attempt > 1) {
          expect(prompt.instructions).toMatch(
            new RegExp(`attempt ${attempt} of 3`)
          );
        }
        await s.answer(prompt.id, [wrong]);
      }
      const answer = await connecting;
      expect(answer.body.error.code).toBe('auth-failed');
      expect(answer.body.error.message).toMatch(/refused the login/);
    });

    it('stops when the user cancels the code', async () => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'mfa', host: twoFactor.alias }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/mfa/connect');
      const prompt = await s.waitForPrompt();
      await s.answer(prompt.id, 'cancel');
      const answer = await connecting;
      expect(answer.body.error.code).toBe('auth-cancelled');
    });
  });

  describe('a gateway with 2FA in a ProxyCommand', () => {
    it('asks the code of the spawned ssh in a prompt (SSH_ASKPASS)', async () => {
      const demo = demoCluster();
      const home = makeHome();
      homes.push(home);
      const demoName = `[${demo.host}]:${demo.port}`;
      writeFileSync(
        join(home, '.ssh', 'known_hosts'),
        readFileSync(demo.knownHosts, 'utf8')
          .split('\n')
          .filter(l => l.startsWith(demoName + ' '))
          .join('\n') + '\n'
      );
      writeFileSync(
        join(home, '.ssh', 'config'),
        `Host behind-2fa\n  HostName ${demo.host}\n  Port ${demo.port}\n  User ${demo.user}\n` +
          `  IdentityFile ${demo.identityFile}\n  IdentitiesOnly yes\n` +
          `  ProxyCommand ssh -F ${fixtures.sshConfigFile} -W %h:%p ${twoFactor.alias}\n`
      );
      const s = await startSidecar({ home, sshClient });
      sidecar = s;
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'b', host: 'behind-2fa' }]
      });
      const connecting = s.api<IClusterStatus>(
        'POST',
        '/api/v1/clusters/b/connect'
      );
      const prompt = await s.waitForPrompt();
      expect(prompt.kind).toBe('keyboard-interactive');
      expect(prompt.cluster).toBe('b');
      expect(prompt.fields[0].label).toMatch(/Verification code/);
      await s.answer(prompt.id, [totp(twoFactor.totp.secret)]);
      expect((await connecting).body).toMatchObject({ state: 'connected' });
      const who = await s.api<IRunResult>('POST', '/api/v1/clusters/b/run', {
        argv: ['whoami']
      });
      expect(who.body.stdout.trim()).toBe(demo.user);
    });
  });

  describe('reconnecting a 2FA cluster', () => {
    it('asks for one code when the connection must be made again, however many users wait', async () => {
      const proxy = await startTcpProxy(twoFactor.port);
      try {
        const home = makeHome();
        homes.push(home);
        const name = `[127.0.0.1]:${proxy.port}`;
        writeFileSync(
          join(home, '.ssh', 'known_hosts'),
          twoFactor.knownHosts
            .map((l: string) => name + l.slice(twoFactor.knownHostsName.length))
            .join('\n') + '\n'
        );
        writeFileSync(
          join(home, '.ssh', 'config'),
          `Host mfa\n  HostName 127.0.0.1\n  Port ${proxy.port}\n  User ${twoFactor.user}\n  IdentityFile ${fixtures.clientKey}\n  IdentitiesOnly yes\n`
        );
        const s = await startSidecar({ home, sshClient });
        sidecar = s;
        await s.api('PUT', '/api/v1/clusters', {
          clusters: [{ name: 'mfa', host: 'mfa' }]
        });
        const connecting = s.api('POST', '/api/v1/clusters/mfa/connect');
        await s.answer((await s.waitForPrompt()).id, [
          totp(twoFactor.totp.secret)
        ]);
        expect((await connecting).body.state).toBe('connected');
        // A forward keeps the connection wanted, so it is made again on its own.
        await s.api('POST', '/api/v1/clusters/mfa/forwards', {
          remoteHost: '127.0.0.1',
          remotePort: twoFactor.port
        });

        const mark = s.events.length;
        proxy.cutAll();
        // Commands in flight when a connection drops fail (they may have run);
        // those that come while it is made again wait for it.
        await s.waitForEvent(
          (e): e is SidecarEvent =>
            s.events.indexOf(e) >= mark &&
            e.type === 'cluster-state' &&
            (e.cluster.state === 'reconnecting' ||
              e.cluster.state === 'needs-input')
        );
        const waiting = [1, 2, 3].map(() =>
          s.api<IRunResult>('POST', '/api/v1/clusters/mfa/run', {
            argv: ['whoami']
          })
        );
        const again = await s.waitForPrompt();
        expect(again.kind).toBe('keyboard-interactive');
        await s.answer(again.id, [totp(twoFactor.totp.secret)]);
        for (const r of await Promise.all(waiting)) {
          expect(r.body.stdout.trim()).toBe(twoFactor.user);
        }
        expect(s.events.filter(e => e.type === 'prompt')).toHaveLength(2);
        expect(proxy.accepted).toBe(2);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('key setup over a password login', () => {
    beforeAll(() => {
      execFileSync('bash', ['tests/cluster/ssh-fixtures.sh', 'reset-keys'], {
        stdio: 'ignore'
      });
    });
    afterAll(() => {
      execFileSync('bash', ['tests/cluster/ssh-fixtures.sh', 'reset-keys'], {
        stdio: 'ignore'
      });
    });

    it('creates a key, installs it with one password prompt, then logs in with the key', async () => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'pw', host: password.alias }]
      });
      const keyPath = join(s.home, '.ssh', 'id_ed25519_pw');
      const setup = s.api<IKeySetupResult>(
        'POST',
        '/api/v1/clusters/pw/key-setup',
        {
          keyPath,
          passphrase: ''
        }
      );
      const prompt = await s.waitForPrompt();
      expect(['password', 'keyboard-interactive']).toContain(prompt.kind);
      await s.answer(prompt.id, [password.password]);
      const result = await setup;
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({
        keyPath,
        created: true,
        installed: true,
        verified: true
      });
      expect(result.body.fingerprint).toMatch(/^SHA256:/);
      expect(readFileSync(password.authorizedKeys, 'utf8')).toContain(
        readFileSync(keyPath + '.pub', 'utf8').split(' ')[1]
      );
      expect(s.log()).not.toContain(password.password);

      // Idempotent: again, nothing new is created or installed.
      const again = await s.api<IKeySetupResult>(
        'POST',
        '/api/v1/clusters/pw/key-setup',
        { keyPath }
      );
      expect(again.body).toMatchObject({
        created: false,
        installed: false,
        verified: true
      });
      expect(
        readFileSync(password.authorizedKeys, 'utf8')
          .split('\n')
          .filter(Boolean)
      ).toHaveLength(1);

      // The cluster with this key as its identity file logs in without a prompt.
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'pw', host: password.alias, identityFile: keyPath }]
      });
      const prompts = s.events.filter(e => e.type === 'prompt').length;
      const run = await s.api<IRunResult>('POST', '/api/v1/clusters/pw/run', {
        argv: ['whoami']
      });
      expect(run.body.stdout.trim()).toBe(password.user);
      expect(s.events.filter(e => e.type === 'prompt')).toHaveLength(prompts);
    });

    it('reports a wrong password clearly', async () => {
      const s = await start();
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'pw', host: password.alias }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/pw/connect');
      for (let i = 0; i < 6; i++) {
        const prompt = await s
          .waitForPrompt(undefined, 10_000)
          .catch(() => null);
        if (!prompt) {
          break;
        }
        await s.answer(
          prompt.id,
          prompt.fields.map(() => 'wrong')
        );
      }
      const answer = await connecting;
      expect(answer.body.error.code).toBe('auth-failed');
    });
  });
});
