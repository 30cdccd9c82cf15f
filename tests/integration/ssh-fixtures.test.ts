/**
 * The SSH fixtures the connection tests run against, proven with the real
 * OpenSSH client: a gateway and an inner login node in network namespaces
 * (reached through ProxyJump, `ProxyCommand ssh gw exec nc` and `ssh -W`), a
 * two-factor sshd (public key, then a TOTP code through PAM) and a password
 * sshd. scripts/test.sh starts them (tests/cluster/ssh-fixtures.sh start).
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import { base32Decode, hotp } from '../support/totp';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'fs';
import { connect } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

interface IFixtureHost {
  alias: string;
  host: string;
  port: number;
  user: string;
  knownHostsName: string;
  knownHosts: string[];
}

interface IFixturesInfo {
  clientKey: string;
  knownHostsFile: string;
  sshConfigFile: string;
  hosts: {
    gateway: IFixtureHost & { hostname: string; netns: string };
    inner: IFixtureHost & {
      hostname: string;
      netns: string;
      aliases: {
        proxyJump: string;
        proxyCommandNc: string;
        proxyCommandW: string;
      };
    };
    twoFactor: IFixtureHost & {
      pamService: string;
      totp: { secret: string; digits: number; period: number; window: number };
    };
    password: IFixtureHost & {
      pamService: string;
      password: string;
      authorizedKeys: string;
    };
  };
  netns: {
    gateway: {
      name: string;
      address: string;
      innerAddress: string;
      hostAddress: string;
    };
    login: { name: string; address: string };
  };
}

const INFO_FILE = '/var/lib/jupyterlab-hpc-demo/ssh-fixtures.json';
const SCRIPT = join(__dirname, '..', 'cluster', 'ssh-fixtures.sh');
const info: IFixturesInfo = JSON.parse(readFileSync(INFO_FILE, 'utf8'));
const { gateway, inner, twoFactor, password } = info.hosts;

let work: string;
let askpass: string;
let promptLog: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-fixtures-'));
  askpass = join(work, 'askpass');
  promptLog = join(work, 'prompts');
  // ssh runs SSH_ASKPASS with the prompt as $1 and reads the answer from it.
  writeFileSync(
    askpass,
    '#!/bin/sh\nprintf "%s\\n" "$1" >>"$JLHPC_PROMPT_LOG"\nprintf "%s\\n" "$JLHPC_ANSWER"\n'
  );
  chmodSync(askpass, 0o755);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface ISshOptions {
  /** What askpass answers to every prompt; without it ssh runs in BatchMode. */
  answer?: string;
  extra?: string[];
  input?: string;
}

/** `ssh -F <fixtures config> [extra] ALIAS COMMAND`, as the tests' user. */
function ssh(
  alias: string,
  command: string,
  opts: ISshOptions = {}
): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const args = ['-F', info.sshConfigFile, '-o', 'ConnectTimeout=10'];
  if (opts.answer === undefined) {
    args.push('-o', 'BatchMode=yes');
  } else {
    writeFileSync(promptLog, '');
    Object.assign(env, {
      SSH_ASKPASS: askpass,
      SSH_ASKPASS_REQUIRE: 'force',
      DISPLAY: ':0',
      JLHPC_ANSWER: opts.answer,
      JLHPC_PROMPT_LOG: promptLog
    });
    args.push('-o', 'NumberOfPasswordPrompts=1');
  }
  return spawnSync('ssh', [...args, ...(opts.extra ?? []), alias, command], {
    encoding: 'utf8',
    env,
    input: opts.input ?? '',
    timeout: 30_000
  });
}

function prompts(): string[] {
  return readFileSync(promptLog, 'utf8').split('\n').filter(Boolean);
}

function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) {
    throw new Error(`ssh exited ${r.status}: ${r.stderr}`);
  }
  return r.stdout;
}

function totpCounter(): number {
  return Math.floor(Date.now() / 1000 / twoFactor.totp.period);
}

function totp(counter = totpCounter()): string {
  const { secret, digits } = twoFactor.totp;
  return hotp(base32Decode(secret), counter, digits);
}

/** A code that is none of those the server accepts now (nor near now). */
function wrongTotp(): string {
  const now = totpCounter();
  const near = new Set<string>();
  for (let c = now - 3; c <= now + 3; c++) {
    near.add(totp(c));
  }
  let n = (Number(totp(now)) + 500_000) % 1_000_000;
  while (near.has(String(n).padStart(6, '0'))) {
    n = (n + 1) % 1_000_000;
  }
  return String(n).padStart(6, '0');
}

/** Connect to host:port from here: 'connected', 'error CODE' or 'timeout'. */
function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise(resolve => {
    const socket = connect({ host, port });
    const done = (result: string): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(5_000, () => done('timeout'));
    socket.once('connect', () => done('connected'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(`error ${e.code}`));
  });
}

function fixtures(command: string): void {
  const r = spawnSync('bash', [SCRIPT, command], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`ssh-fixtures.sh ${command} failed: ${r.stderr}`);
  }
}

describe('the SSH fixtures', () => {
  it('describe themselves in ssh-fixtures.json, readable only by their owner', () => {
    expect(statSync(INFO_FILE).mode & 0o077).toBe(0);
    const config = readFileSync(info.sshConfigFile, 'utf8');
    const knownHosts = readFileSync(info.knownHostsFile, 'utf8');
    for (const host of [gateway, inner, twoFactor, password]) {
      expect(config).toMatch(new RegExp(`^Host ${host.alias}$`, 'm'));
      expect(host.knownHosts.length).toBeGreaterThanOrEqual(3);
      for (const line of host.knownHosts) {
        expect(line.split(' ')[0]).toBe(host.knownHostsName);
        expect(knownHosts.split('\n')).toContain(line);
      }
    }
  });

  it('computes TOTP codes as RFC 6238 does', () => {
    // RFC 6238 appendix B: SHA1, the ASCII secret "12345678901234567890", T = 59 s.
    const key = Buffer.from('12345678901234567890', 'ascii');
    expect(hotp(key, Math.floor(59 / 30), 8)).toBe('94287082');
    expect(hotp(key, Math.floor(1111111109 / 30), 8)).toBe('07081804');
    expect(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')).toEqual(key);
  });
});

describe('the gateway and the inner login node', () => {
  it('hpc-gw is the gateway, which forwards no packets', () => {
    const out = ok(
      ssh(gateway.alias, 'hostname; cat /proc/sys/net/ipv4/ip_forward')
    );
    expect(out.trim().split('\n')).toEqual([gateway.hostname, '0']);
  });

  it.each([
    ['proxyJump', /^proxyjump hpc-gw$/m],
    ['proxyCommandNc', /^proxycommand ssh -F \S+ hpc-gw exec nc %h %p$/m],
    ['proxyCommandW', /^proxycommand ssh -F \S+ -W %h:%p hpc-gw$/m]
  ] as const)(
    'the inner node answers through the gateway (%s)',
    (how, directive) => {
      const alias = inner.aliases[how];
      // The alias really goes through the gateway the way it is named for.
      expect(
        ok(
          spawnSync('ssh', ['-F', info.sshConfigFile, '-G', alias], {
            encoding: 'utf8'
          })
        )
      ).toMatch(directive);
      const out = ok(
        ssh(alias, 'hostname; echo $SSH_CONNECTION; /usr/sbin/ip -4 -o addr')
      );
      const [hostname, connection] = out.split('\n');
      expect(hostname).toBe(inner.hostname);
      // The inner sshd saw the connection come from the gateway's inner side.
      const [from, , to, toPort] = connection.split(' ');
      expect(from).toBe(info.netns.gateway.innerAddress);
      expect(to).toBe(inner.host);
      expect(toPort).toBe(String(inner.port));
      expect(out).toContain(` ${inner.host}/`);
      expect(out).not.toContain(` ${gateway.host}/`);
    }
  );

  it('the inner node cannot be reached from here directly', async () => {
    // The control: the gateway can.
    expect(await tcpConnect(gateway.host, gateway.port)).toBe('connected');
    expect(await tcpConnect(inner.host, inner.port)).not.toBe('connected');
  });
});

describe('the two-factor sshd', () => {
  it('lets in with the key and a correct TOTP code', () => {
    const r = ssh(twoFactor.alias, 'whoami', { answer: totp() });
    expect(ok(r).trim()).toBe(twoFactor.user);
    // The code was asked by pam_google_authenticator, through its own PAM service.
    expect(prompts()).toEqual([expect.stringMatching(/Verification code:/)]);
  });

  it('refuses a wrong TOTP code', () => {
    const r = ssh(twoFactor.alias, 'whoami', { answer: wrongTotp() });
    expect(r.status).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Permission denied/);
    expect(prompts()).toHaveLength(1);
  });

  it('asks for no code without the key', () => {
    const r = ssh(twoFactor.alias, 'whoami', {
      answer: totp(),
      extra: ['-o', 'PubkeyAuthentication=no']
    });
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(prompts()).toEqual([]);
  });
});

describe('the password sshd', () => {
  it.each(['password', 'keyboard-interactive'])(
    'lets in with the password (%s)',
    method => {
      const r = ssh(password.alias, 'whoami', {
        answer: password.password,
        extra: ['-o', `PreferredAuthentications=${method}`]
      });
      expect(ok(r).trim()).toBe(password.user);
      expect(prompts()).toEqual([expect.stringMatching(/password:/i)]);
    }
  );

  it('refuses a wrong password', () => {
    const r = ssh(password.alias, 'whoami', {
      answer: `${password.password}x`,
      extra: ['-o', 'PreferredAuthentications=password']
    });
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it('takes a key installed with the password, until reset-keys', () => {
    const key = join(work, 'id_setup');
    ok(
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key], {
        encoding: 'utf8'
      })
    );
    const withKey = (): SpawnSyncReturns<string> =>
      ssh(password.alias, 'whoami', {
        extra: ['-i', key, '-o', 'PreferredAuthentications=publickey']
      });
    fixtures('reset-keys');
    try {
      expect(withKey().status).toBe(255);
      ok(
        ssh(
          password.alias,
          'umask 077 && mkdir -p ~/.ssh && cat >>~/.ssh/authorized_keys',
          {
            answer: password.password,
            input: readFileSync(`${key}.pub`, 'utf8')
          }
        )
      );
      expect(ok(withKey()).trim()).toBe(password.user);
    } finally {
      fixtures('reset-keys');
    }
    expect(withKey().status).toBe(255);
  });
});

describe('host keys', () => {
  it.each([
    ['gateway', gateway, inner],
    ['inner node (through the gateway)', inner, gateway],
    ['two-factor', twoFactor, password],
    ['password', password, twoFactor]
  ])(
    'ssh refuses the %s when its known key is another one',
    (_name, host, other) => {
      const knownHosts = join(work, 'wrong_known_hosts');
      writeFileSync(
        knownHosts,
        other.knownHosts
          .map(
            line =>
              `${host.knownHostsName} ${line.split(' ').slice(1).join(' ')}\n`
          )
          .join('')
      );
      const r = spawnSync(
        'ssh',
        [
          '-F',
          info.sshConfigFile,
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          host.alias,
          'true'
        ],
        { encoding: 'utf8', input: '', timeout: 30_000 }
      );
      expect(r.status).toBe(255);
      expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
      expect(r.stderr).toMatch(/Host key verification failed/);
    }
  );
});
