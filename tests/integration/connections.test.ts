/**
 * Cluster connections end to end: the real sidecar (its built bundle), the
 * demo cluster's real sshd, real known_hosts files and keys, driven through
 * the sidecar's API and event stream as JupyterLab drives them.
 */
import { execFileSync } from 'child_process';
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'fs';
import { dirname, join } from 'path';

import type {
  IClusterStatus,
  IConnectionTest,
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
import { demoCluster } from '../support/demo-cluster';

const demo = demoCluster();

/** The demo's host key lines, under the name `[host]:port`. */
function demoKnownHosts(port = demo.port): string {
  const name = `[${demo.host}]:${demo.port}`;
  return (
    readFileSync(demo.knownHosts, 'utf8')
      .split('\n')
      .filter(l => l.startsWith(name + ' '))
      .map(l => `[${demo.host}]:${port}` + l.slice(name.length))
      .join('\n') + '\n'
  );
}

function sshConfig(
  extra = '',
  port = demo.port,
  key = demo.identityFile
): string {
  return `Host hpc-demo
  HostName ${demo.host}
  Port ${port}
  User ${demo.user}
  IdentityFile ${key}
  IdentitiesOnly yes
${extra}`;
}

function home(config: string, knownHosts: string): string {
  const dir = makeHome();
  writeFileSync(join(dir, '.ssh', 'config'), config, { mode: 0o600 });
  writeFileSync(join(dir, '.ssh', 'known_hosts'), knownHosts, { mode: 0o600 });
  return dir;
}

const isState =
  (name: string, state: IClusterStatus['state']) =>
  (e: SidecarEvent): e is Extract<SidecarEvent, { type: 'cluster-state' }> =>
    e.type === 'cluster-state' &&
    e.cluster.name === name &&
    e.cluster.state === state;

let sidecar: ISidecar | null = null;
const homes: string[] = [];

async function start(config: string, knownHosts: string): Promise<ISidecar> {
  const dir = home(config, knownHosts);
  homes.push(dir);
  sidecar = await startSidecar({ home: dir, sshClient });
  return sidecar;
}

afterEach(async () => {
  await sidecar?.stop();
  sidecar = null;
  for (const dir of homes.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The client of the suite running now (set by each block's beforeAll). */
let sshClient: SshClientSetting = 'openssh';

describe.each(SSH_CLIENTS)('with the %s SSH client', client => {
  beforeAll(() => {
    sshClient = client;
  });

  describe('a cluster given as a ~/.ssh/config alias', () => {
    it('connects, runs commands in the login environment and reports a test', async () => {
      const s = await start(sshConfig(), demoKnownHosts());
      const put = await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      expect(put.status).toBe(200);
      expect(put.body.clusters[0]).toMatchObject({
        name: 'demo',
        state: 'idle'
      });

      const test = await s.api<IConnectionTest>(
        'POST',
        '/api/v1/clusters/demo/test'
      );
      expect(test.status).toBe(200);
      expect(test.body.slurmVersion).toContain(demo.slurmVersion);
      expect(test.body.rttMs).toBeGreaterThan(0);
      expect(test.body.remoteHost).not.toBe('');
      expect(test.body.status.state).toBe('connected');
      expect(test.body.status.target).toBe(
        `${demo.user}@${demo.host}:${demo.port}`
      );
      await s.waitForEvent(isState('demo', 'connecting'));
      await s.waitForEvent(isState('demo', 'connected'));

      const awkward = [
        "it's",
        '$(touch /tmp/jlhpc-pwned)',
        '`id`',
        'a\nb',
        'ü ✓',
        ''
      ];
      const run = await s.api<IRunResult>('POST', '/api/v1/clusters/demo/run', {
        argv: ['printf', '%s|', ...awkward]
      });
      expect(run.status).toBe(200);
      expect(run.body.exitCode).toBe(0);
      expect(run.body.stdout).toBe(awkward.map(a => `${a}|`).join(''));

      const who = await s.api<IRunResult>('POST', '/api/v1/clusters/demo/run', {
        argv: ['sh', '-c', 'echo "$USER:$PWD"; echo oops >&2; exit 3'],
        cwd: '~'
      });
      expect(who.body).toMatchObject({
        exitCode: 3,
        stdout: `${demo.user}:/home/${demo.user}\n`,
        stderr: 'oops\n'
      });
    });

    it('runs more commands at once than MaxSessions allows by queueing them', async () => {
      const s = await start(sshConfig(), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const runs = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          s.api<IRunResult>('POST', '/api/v1/clusters/demo/run', {
            argv: ['sh', '-c', `sleep 0.3; echo ${i}`]
          })
        )
      );
      runs.forEach((r, i) => {
        expect(r.body).toMatchObject({ exitCode: 0 });
        expect(r.status).toBe(200);
        expect(r.body.stdout).toBe(`${i}\n`);
      });
    });

    it('limits output and times commands out', async () => {
      const s = await start(sshConfig(), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const big = await s.api<IRunResult>('POST', '/api/v1/clusters/demo/run', {
        argv: ['head', '-c', '100000', '/dev/zero'],
        maxOutputBytes: 1000
      });
      expect(big.body.stdout.length).toBe(1000);
      expect(big.body.stdoutTruncated).toBe(true);
      const slow = await s.api<IRunResult>(
        'POST',
        '/api/v1/clusters/demo/run',
        {
          argv: ['sleep', '30'],
          timeoutSeconds: 1
        }
      );
      expect(slow.body.exitCode).toBe(124);
      expect(slow.body.durationMs).toBeLessThan(10_000);
    });
  });

  describe('host keys', () => {
    it('asks about an unknown host with the SHA256 fingerprint, then remembers it', async () => {
      const s = await start(sshConfig(), '');
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/demo/connect');
      const prompt = await s.waitForPrompt(p => p.kind === 'host-key');
      expect(prompt.cluster).toBe('demo');
      const offered = demoKnownHosts()
        .split('\n')
        .filter(Boolean)
        .map(line => {
          const file = join(s.home, 'one-key');
          writeFileSync(file, line + '\n');
          return execFileSync('ssh-keygen', ['-lf', file], {
            encoding: 'utf8'
          }).split(' ')[1];
        });
      expect(offered).toContain(prompt.hostKey!.fingerprint);
      expect(prompt.hostKey!.message).toContain("can't be established");
      await s.waitForEvent(isState('demo', 'needs-input'));
      expect((await s.answer(prompt.id, ['yes'])).status).toBe(200);
      expect((await connecting).body.state).toBe('connected');
      await s.waitForEvent(
        (e): e is SidecarEvent =>
          e.type === 'prompt-closed' && e.id === prompt.id
      );
      const kh = readFileSync(join(s.home, '.ssh', 'known_hosts'), 'utf8');
      expect(kh).toContain(`[${demo.host}]:${demo.port} `);

      // A fresh sidecar finds the key and asks nothing.
      await s.stop();
      sidecar = await startSidecar({ home: s.home, sshClient });
      await sidecar.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const again = await sidecar.api('POST', '/api/v1/clusters/demo/connect');
      expect(again.body.state).toBe('connected');
      expect(sidecar.events.some(e => e.type === 'prompt')).toBe(false);
    });

    it('refuses a host whose key is not accepted', async () => {
      const s = await start(sshConfig(), '');
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/demo/connect');
      const prompt = await s.waitForPrompt();
      await s.answer(prompt.id, 'cancel');
      const answer = await connecting;
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('auth-cancelled');
      expect(readFileSync(join(s.home, '.ssh', 'known_hosts'), 'utf8')).toBe(
        ''
      );
    });

    it('refuses a changed host key with a clear error and asks nothing', async () => {
      const other = join(makeHome(), 'k');
      homes.push(join(other, '..'));
      execFileSync('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-f',
        other
      ]);
      const pub = readFileSync(other + '.pub', 'utf8').split(' ');
      const s = await start(
        sshConfig(),
        `[${demo.host}]:${demo.port} ${pub[0]} ${pub[1]}\n`
      );
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const answer = await s.api('POST', '/api/v1/clusters/demo/connect');
      expect(answer.status).toBe(502);
      expect(answer.body.error.code).toBe('host-key-changed');
      expect(answer.body.error.message).toMatch(/changed/);
      expect(answer.body.error.message).toMatch(/ssh-keygen .*-R/);
      expect(s.events.some(e => e.type === 'prompt')).toBe(false);
      const status = await s.api<IClusterStatus>(
        'GET',
        '/api/v1/clusters/demo'
      );
      expect(status.body.state).toBe('error');
      expect(status.body.error!.code).toBe('host-key-changed');
    });
  });

  describe('bad input is a clear error, and nothing hangs', () => {
    it('an unknown alias that does not resolve', async () => {
      const s = await start(sshConfig(), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'nowhere', host: 'no-such-host.invalid' }]
      });
      const answer = await s.api('POST', '/api/v1/clusters/nowhere/connect');
      expect(answer.body.error.code).toBe('unreachable');
      expect(answer.body.error.message).toMatch(
        /resolve the host name no-such-host\.invalid/
      );
    });

    it('a port nobody listens on', async () => {
      const s = await start(sshConfig(), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'closed', host: '127.0.0.1', port: 1 }]
      });
      const answer = await s.api('POST', '/api/v1/clusters/closed/connect');
      expect(answer.body.error.code).toBe('unreachable');
      expect(answer.body.error.message).toMatch(/refused the connection/);
    });

    it('a key the cluster does not accept', async () => {
      const dir = makeHome();
      homes.push(dir);
      const key = join(dir, 'stranger');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const s = await start(sshConfig('', demo.port, key), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/demo/connect');
      // The demo sshd offers only publickey: no password prompt may appear.
      const answer = await connecting;
      expect(answer.body.error.code).toBe('auth-failed');
      expect(answer.body.error.message).toMatch(/refused the login/);
      expect(answer.body.error.message).toContain('stranger');
    });

    it('a malformed ~/.ssh/config line', async () => {
      const s = await start(sshConfig('  Port notanumber\n'), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const answer = await s.api('POST', '/api/v1/clusters/demo/connect');
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('ssh-config');
      expect(answer.body.error.message).toMatch(/config/);
      const hosts = await s.api('GET', '/api/v1/ssh/hosts');
      expect(hosts.status).toBe(200);
    });

    it('an unknown cluster and malformed requests', async () => {
      const s = await start(sshConfig(), demoKnownHosts());
      expect(
        (await s.api('POST', '/api/v1/clusters/ghost/connect')).body.error.code
      ).toBe('unknown-cluster');
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const bad = await s.api('POST', '/api/v1/clusters/demo/run', {
        argv: 'ls'
      });
      expect(bad.status).toBe(400);
      const badForward = await s.api('POST', '/api/v1/clusters/demo/forwards', {
        remoteHost: 'node1; rm -rf ~',
        remotePort: 8888
      });
      expect(badForward.status).toBe(400);
    });
  });

  describe('an encrypted key', () => {
    const authorized = `/home/${demo.user}/.ssh/authorized_keys`;
    let before = '';
    beforeAll(() => {
      before = readFileSync(authorized, 'utf8');
    });
    afterAll(() => {
      writeFileSync(authorized, before);
    });

    it('asks for the passphrase once, and not again on reconnect', async () => {
      const dir = makeHome();
      homes.push(dir);
      const key = join(dir, 'id_locked');
      execFileSync('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        'open sesame',
        '-f',
        key
      ]);
      appendFileSync(authorized, readFileSync(key + '.pub'));
      const s = await start(sshConfig('', demo.port, key), demoKnownHosts());
      await s.api('PUT', '/api/v1/clusters', {
        clusters: [{ name: 'demo', host: 'hpc-demo' }]
      });
      const connecting = s.api('POST', '/api/v1/clusters/demo/connect');
      const wrong = await s.waitForPrompt(p => p.kind === 'passphrase');
      expect(wrong.fields).toEqual([{ label: 'Passphrase', echo: false }]);
      await s.answer(wrong.id, ['not it']);
      const right = await s.waitForPrompt(p => p.kind === 'passphrase');
      expect(right.instructions).toMatch(/Wrong passphrase/);
      await s.answer(right.id, ['open sesame']);
      expect((await connecting).body.state).toBe('connected');
      expect(s.log()).not.toContain('open sesame');

      await s.api('POST', '/api/v1/clusters/demo/disconnect');
      const again = await s.api('POST', '/api/v1/clusters/demo/connect');
      expect(again.body.state).toBe('connected');
      expect(s.events.filter(e => e.type === 'prompt')).toHaveLength(2);
    });
  });

  describe('forwards and reconnects', () => {
    it('forwards a port through the connection and reconnects after an outage', async () => {
      const proxy = await startTcpProxy(demo.port);
      try {
        const s = await start(
          sshConfig('', proxy.port),
          demoKnownHosts(proxy.port)
        );
        await s.api('PUT', '/api/v1/clusters', {
          clusters: [{ name: 'demo', host: 'hpc-demo' }]
        });
        // Something to forward to: the demo's sshd itself, whose banner we read.
        const forward = await s.api('POST', '/api/v1/clusters/demo/forwards', {
          remoteHost: '127.0.0.1',
          remotePort: demo.port
        });
        expect(forward.status).toBe(201);
        const banner = async () => {
          const { connect } = await import('net');
          return new Promise<string>((res, rej) => {
            const sock = connect(forward.body.localPort, '127.0.0.1');
            sock.once('data', d => {
              res(String(d));
              sock.destroy();
            });
            sock.once('error', rej);
          });
        };
        expect(await banner()).toMatch(/^SSH-2\.0-OpenSSH/);
        expect(proxy.accepted).toBe(1);

        proxy.cutAll();
        await s.waitForEvent(isState('demo', 'reconnecting'));
        await s.waitForEvent(
          (e): e is SidecarEvent =>
            e.type === 'cluster-state' &&
            e.cluster.state === 'connected' &&
            s.events.indexOf(e) >
              s.events.findIndex(isState('demo', 'reconnecting'))
        );
        expect(proxy.accepted).toBe(2);
        expect(await banner()).toMatch(/^SSH-2\.0-OpenSSH/);

        const list = await s.api('GET', '/api/v1/forwards');
        // OpenSSH holds its forwards itself and does not count connections.
        expect(list.body[0].totalConnections).toBe(
          client === 'builtin' ? 2 : null
        );
        expect(
          (await s.api('DELETE', `/api/v1/forwards/${forward.body.id}`)).status
        ).toBe(200);
        expect((await s.api('GET', '/api/v1/forwards')).body).toEqual([]);
        await expect(banner()).rejects.toThrow(/ECONNREFUSED/);
      } finally {
        await proxy.close();
      }
    });
  });
});

/** Pids of the children of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The 4th field, after the parenthesised command name.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) {
        out.push(Number(entry));
      }
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the OpenSSH client', () => {
  it('keeps its control socket private and ends with the sidecar, even a killed one', async () => {
    const s = await start(sshConfig(), demoKnownHosts());
    await s.api('PUT', '/api/v1/clusters', {
      clusters: [{ name: 'demo', host: 'hpc-demo', sshClient: 'openssh' }]
    });
    expect(
      (await s.api('POST', '/api/v1/clusters/demo/connect')).body.state
    ).toBe('connected');
    const watchdogs = childrenOf(s.child.pid!);
    // The watchdog (sh) has two children: ssh, and a subshell waiting on its pipe.
    const masters = watchdogs
      .flatMap(childrenOf)
      .filter(
        pid => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ssh'
      );
    expect(masters).toHaveLength(1);
    const cmdline = readFileSync(`/proc/${masters[0]}/cmdline`, 'utf8');
    const controlPath = /ControlPath="?([^"\0]+)/.exec(cmdline)![1];
    expect(statSync(dirname(controlPath)).mode & 0o777).toBe(0o700);
    expect(statSync(controlPath).isSocket()).toBe(true);

    s.child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (alive(masters[0]) && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 50));
    }
    expect(alive(masters[0])).toBe(false);
    sidecar = null;
  });
});
