/**
 * The master's argv against the real OpenSSH client: `ssh -G` prints the
 * configuration ssh makes of it without connecting. The ProxyCommands of
 * jump hosts are expanded as ssh expands them, split into words by a POSIX
 * shell, and checked with `ssh -G` in their turn.
 */
import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type { IResolvedHost } from '../../../src/sidecar/ssh/config';
import {
  CIPHER_PREFERENCE,
  masterArgs,
  muxArgs
} from '../../../src/sidecar/ssh/openssh/args';

const HAS_SSH = (() => {
  const run = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return run.error === undefined && /^OpenSSH/.test(run.stderr ?? '');
})();

const SSH = '/usr/bin/ssh';

let dir: string;

function host(overrides: Partial<IResolvedHost> = {}): IResolvedHost {
  return {
    alias: 'hpc',
    hostName: 'login.example.org',
    port: 22,
    user: 'alice',
    identityFiles: [],
    identityFilesExplicit: false,
    identitiesOnly: false,
    proxyJump: [],
    proxyCommand: null,
    proxyCommandText: null,
    serverAliveInterval: 0,
    serverAliveCountMax: 3,
    connectTimeout: null,
    strictHostKeyChecking: 'ask',
    userKnownHostsFiles: ['/home/alice/.ssh/known_hosts'],
    globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts'],
    hostKeyAlias: null,
    opensshOptions: [],
    source: [],
    warnings: [],
    ...overrides
  };
}

/** A key file that exists, so that ssh's `-i` keeps it. */
function keyFile(name: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '');
  return path;
}

function args(route: IResolvedHost[], exists = (_path: string) => true) {
  return masterArgs(route, join(dir, 'ctl'), { ssh: SSH, exists });
}

/** What `ssh -G` makes of `argv`: every value of every option. */
function sshG(argv: string[], program = 'ssh'): Map<string, string[]> {
  const run = spawnSync(program, ['-G', ...argv], {
    encoding: 'utf8',
    input: '',
    timeout: 10000
  });
  if (run.status !== 0) {
    throw new Error(`ssh -G failed: ${run.stderr}`);
  }
  const values = new Map<string, string[]>();
  for (const line of run.stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) {
      const name = line.slice(0, space);
      values.set(name, [...(values.get(name) ?? []), line.slice(space + 1)]);
    }
  }
  return values;
}

function one(values: Map<string, string[]>, name: string): string | undefined {
  const all = values.get(name);
  if (all && all.length !== 1) {
    throw new Error(`${name} has ${all.length} values: ${all.join(' | ')}`);
  }
  return all?.[0];
}

/** OpenSSH's expansion of a ProxyCommand line for the host it connects to. */
function expandProxyCommand(text: string, target: IResolvedHost): string {
  const tokens: Record<string, string> = {
    '%': '%',
    h: target.hostName,
    p: String(target.port),
    n: target.alias,
    r: target.user
  };
  return text.replace(/%(.?)/g, (_m, c: string) => {
    if (!(c in tokens)) {
      throw new Error(`ssh would refuse %${c} in ${text}`);
    }
    return tokens[c];
  });
}

/** The argv a POSIX shell makes of `exec <line>`. */
function shellWords(line: string): string[] {
  const run = spawnSync(
    '/bin/sh',
    ['-c', 'eval "set -- $1"; for a; do printf "%s\\0" "$a"; done', 'sh', line],
    { encoding: 'utf8' }
  );
  if (run.status !== 0) {
    throw new Error(`sh failed: ${run.stderr}`);
  }
  return run.stdout.split('\0').slice(0, -1);
}

/** The argv ssh runs as the ProxyCommand of the connection to `target`. */
function proxyArgv(
  values: Map<string, string[]>,
  target: IResolvedHost
): string[] {
  const text = one(values, 'proxycommand');
  if (text === undefined) {
    throw new Error('no proxycommand');
  }
  return shellWords(expandProxyCommand(text, target));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-openssh-args-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('CIPHER_PREFERENCE', () => {
  it('puts AES-GCM first', () => {
    expect(CIPHER_PREFERENCE.split(',').slice(0, 2)).toEqual([
      'aes128-gcm@openssh.com',
      'aes256-gcm@openssh.com'
    ]);
  });
});

describe('masterArgs', () => {
  it('reads no ssh_config and ends with the alias of the login node', () => {
    const argv = args([host({ alias: 'gw' }), host({ alias: 'hpc' })]);
    expect(argv.slice(0, 2)).toEqual(['-F', 'none']);
    expect(argv.slice(-2)).toEqual(['--', 'hpc']);
  });

  it('refuses a known_hosts path holding a double quote', () => {
    expect(() =>
      args([host({ userKnownHostsFiles: ['/home/alice/"kh"'] })])
    ).toThrow(/quote, backslash or newline/);
  });

  it('refuses a known_hosts path holding a double quote on a jump host', () => {
    expect(() =>
      args([host({ userKnownHostsFiles: ['/tmp/a"b'] }), host()])
    ).toThrow(/"\/tmp\/a\\"b"/);
  });
});

(HAS_SSH ? describe : describe.skip)('masterArgs through ssh -G', () => {
  it('connects to the host name, port and user of the login node', () => {
    const g = sshG(
      args([host({ hostName: 'login2.example.org', port: 2222, user: 'bob' })])
    );
    expect(one(g, 'hostname')).toBe('login2.example.org');
    expect(one(g, 'port')).toBe('2222');
    expect(one(g, 'user')).toBe('bob');
  });

  it('keeps a % in the host name literal', () => {
    expect(one(sshG(args([host({ hostName: 'a%hb' })])), 'hostname')).toBe(
      'a%hb'
    );
  });

  it('gives only the identity files that exist, in order', () => {
    const first = keyFile('keys/id_ed25519');
    const second = keyFile('keys/id with space');
    const missing = join(dir, 'keys/id_rsa');
    const g = sshG(
      args(
        [host({ identityFiles: [first, missing, second] })],
        path => path !== missing
      )
    );
    expect(g.get('identityfile')).toEqual([first, second]);
  });

  it('keeps a key file with % in its path, escaped for ssh to expand back', () => {
    const key = keyFile('keys/id%dkey');
    const g = sshG(args([host({ identityFiles: [key] })]));
    // -G prints IdentityFile before token expansion.
    expect(g.get('identityfile')).toEqual([key.replace('%', '%%')]);
  });

  it('passes a user name and HostKeyAlias with % as they are (ssh expands no tokens there)', () => {
    const g = sshG(args([host({ user: 'a%b', hostKeyAlias: 'al%ias' })]));
    expect(one(g, 'user')).toBe('a%b');
    expect(one(g, 'hostkeyalias')).toBe('al%ias');
  });

  it('quotes a control path with a space', () => {
    const g = sshG(
      masterArgs([host()], '/tmp/my dir/ctl', { ssh: SSH, exists: () => true })
    );
    expect(one(g, 'controlpath')).toBe('/tmp/my dir/ctl');
  });

  it("passes the lines only OpenSSH uses, the user's Ciphers winning over ours", () => {
    const g = sshG(
      args([
        host({
          opensshOptions: [
            'GSSAPIAuthentication=yes',
            'Ciphers=aes256-ctr',
            'SendEnv=LANG LC_*'
          ]
        })
      ])
    );
    expect(one(g, 'gssapiauthentication')).toBe('yes');
    expect(one(g, 'ciphers')).toBe('aes256-ctr');
    expect(g.get('sendenv')).toEqual(['LANG', 'LC_*']);
  });

  it('gives identityfile none when no key file exists', () => {
    const g = sshG(
      args([host({ identityFiles: ['/nonexistent/id_ed25519'] })], () => false)
    );
    expect(g.get('identityfile')).toEqual(['none']);
  });

  it.each([
    [true, 'yes'],
    [false, 'no']
  ])('passes IdentitiesOnly %s', (identitiesOnly, expected) => {
    expect(one(sshG(args([host({ identitiesOnly })])), 'identitiesonly')).toBe(
      expected
    );
  });

  it('keeps spaces and % in known_hosts paths literal', () => {
    const g = sshG(
      args([
        host({
          userKnownHostsFiles: ['/tmp/my dir/known_hosts', '/tmp/100%h/kh'],
          globalKnownHostsFiles: []
        })
      ])
    );
    expect(one(g, 'userknownhostsfile')).toBe(
      '/tmp/my dir/known_hosts /tmp/100%h/kh'
    );
    expect(one(g, 'globalknownhostsfile')).toBe('none');
  });

  it('gives userknownhostsfile none for an empty list', () => {
    expect(
      one(sshG(args([host({ userKnownHostsFiles: [] })])), 'userknownhostsfile')
    ).toBe('none');
  });

  it.each(['yes', 'no', 'ask', 'accept-new'] as const)(
    'passes StrictHostKeyChecking %s',
    strict => {
      expect(
        one(
          sshG(args([host({ strictHostKeyChecking: strict })])),
          'stricthostkeychecking'
        )
      ).toBe(strict === 'no' ? 'false' : strict === 'yes' ? 'true' : strict);
    }
  );

  it('sends keepalives every 5 s when the route has none', () => {
    const g = sshG(args([host({ serverAliveInterval: 0 })]));
    expect(one(g, 'serveraliveinterval')).toBe('5');
  });

  it('keeps the keepalive settings of the route', () => {
    const g = sshG(
      args([host({ serverAliveInterval: 15, serverAliveCountMax: 5 })])
    );
    expect(one(g, 'serveraliveinterval')).toBe('15');
    expect(one(g, 'serveralivecountmax')).toBe('5');
  });

  it('waits 10 s for the TCP connection unless the route says otherwise', () => {
    expect(
      one(sshG(args([host({ connectTimeout: null })])), 'connecttimeout')
    ).toBe('10');
    expect(
      one(sshG(args([host({ connectTimeout: 7 })])), 'connecttimeout')
    ).toBe('7');
  });

  it('starts a master on the control path that ends with it', () => {
    const g = sshG(
      masterArgs([host()], '/tmp/100%d/ctl', { ssh: SSH, exists: () => true })
    );
    expect(one(g, 'controlmaster')).toBe('true');
    expect(one(g, 'controlpath')).toBe('/tmp/100%d/ctl');
    expect(one(g, 'controlpersist')).toBe('no');
  });

  it('runs no command, allocates no tty and reads no stdin', () => {
    const g = sshG(args([host()]));
    expect(one(g, 'sessiontype')).toBe('none');
    expect(one(g, 'requesttty')).toBe('false');
    expect(one(g, 'stdinnull')).toBe('yes');
  });

  it('prefers AES-GCM', () => {
    const g = sshG(args([host()]));
    expect(one(g, 'ciphers')).toBe(CIPHER_PREFERENCE);
    expect(one(g, 'ciphers')?.startsWith('aes128-gcm@openssh.com,')).toBe(true);
  });

  it('may ask questions, at most three passwords', () => {
    const g = sshG(args([host()]));
    expect(one(g, 'batchmode')).toBe('no');
    expect(one(g, 'numberofpasswordprompts')).toBe('3');
  });

  it('forwards neither agent nor X11 and has no escape character', () => {
    const g = sshG(args([host()]));
    expect(one(g, 'forwardagent')).toBe('no');
    expect(one(g, 'forwardx11')).toBe('no');
    expect(one(g, 'escapechar')).toBe('none');
    expect(one(g, 'checkhostip')).toBe('no');
    expect(one(g, 'updatehostkeys')).toBe('false');
  });

  it('passes the HostKeyAlias', () => {
    expect(
      one(sshG(args([host({ hostKeyAlias: 'cluster-key' })])), 'hostkeyalias')
    ).toBe('cluster-key');
  });

  it('has no ProxyCommand for a direct host', () => {
    expect(sshG(args([host()])).has('proxycommand')).toBe(false);
  });

  it('runs an argv ProxyCommand of the first hop', () => {
    const login = host({ proxyCommand: ['nc', 'gw', '22'] });
    const g = sshG(args([login]));
    expect(one(g, 'proxycommand')).toBe("'nc' gw 22");
    expect(proxyArgv(g, login)).toEqual(['nc', 'gw', '22']);
  });

  it('runs a shell ProxyCommand of the first hop as its shell text', () => {
    const login = host({
      proxyCommand: ['/bin/sh', '-c', 'exec nc -X 5 "$PROXY" 100%']
    });
    const g = sshG(args([login]));
    expect(one(g, 'proxycommand')).toBe('nc -X 5 "$PROXY" 100%%');
    expect(expandProxyCommand(one(g, 'proxycommand')!, login)).toBe(
      'nc -X 5 "$PROXY" 100%'
    );
  });

  it('keeps a % in an argv ProxyCommand literal', () => {
    const login = host({ proxyCommand: ['connect', '-H', 'proxy%h', 'gw'] });
    expect(proxyArgv(sshG(args([login])), login)).toEqual([
      'connect',
      '-H',
      'proxy%h',
      'gw'
    ]);
  });

  describe('with two jump hosts', () => {
    let jump1: IResolvedHost;
    let jump2: IResolvedHost;
    let login: IResolvedHost;
    let outer: Map<string, string[]>;

    beforeAll(() => {
      jump1 = host({
        alias: 'gw1',
        hostName: 'gw1.example.org',
        port: 2201,
        user: 'g1user',
        identityFiles: [keyFile('hop1/id_gw1')],
        identitiesOnly: true,
        userKnownHostsFiles: ['/tmp/hop 1/p%c/known_hosts'],
        strictHostKeyChecking: 'yes',
        proxyCommand: ['nc', 'bastion', '22']
      });
      jump2 = host({
        alias: 'gw2',
        hostName: 'gw2.example.org',
        port: 2202,
        user: 'g2user',
        identityFiles: [keyFile('hop2/id_gw2')],
        userKnownHostsFiles: ['/tmp/hop2%n/known_hosts'],
        strictHostKeyChecking: 'accept-new'
      });
      login = host({
        alias: 'hpc',
        hostName: 'login.example.org',
        port: 2203,
        user: 'alice',
        identityFiles: [keyFile('login/id_login')]
      });
      outer = sshG(args([jump1, jump2, login]));
    });

    it('gives the master the login node itself', () => {
      expect(one(outer, 'hostname')).toBe('login.example.org');
      expect(one(outer, 'port')).toBe('2203');
      expect(one(outer, 'user')).toBe('alice');
      expect(outer.get('identityfile')).toEqual([login.identityFiles[0]]);
    });

    it('leaves %h and %p of the -W target for ssh to expand', () => {
      expect(one(outer, 'proxycommand')).toContain(" -W '[%h]:%p' -- gw2");
    });

    it('reaches the login node through the second jump host', () => {
      const argv = proxyArgv(outer, login);
      expect(argv[0]).toBe(SSH);
      expect(argv.slice(argv.indexOf('-W'), argv.indexOf('-W') + 2)).toEqual([
        '-W',
        '[login.example.org]:2203'
      ]);
      expect(argv.slice(-2)).toEqual(['--', 'gw2']);
      const g = sshG(argv.slice(1), argv[0]);
      expect(one(g, 'hostname')).toBe('gw2.example.org');
      expect(one(g, 'port')).toBe('2202');
      expect(one(g, 'user')).toBe('g2user');
      expect(g.get('identityfile')).toEqual([jump2.identityFiles[0]]);
      expect(one(g, 'userknownhostsfile')).toBe('/tmp/hop2%n/known_hosts');
      expect(one(g, 'stricthostkeychecking')).toBe('accept-new');
      expect(one(g, 'controlmaster')).toBe('false');
      expect(g.has('controlpath')).toBe(false);
      expect(one(g, 'requesttty')).toBe('false');
    });

    it('reaches the second jump host through the first one', () => {
      const second = sshG(proxyArgv(outer, login).slice(1));
      const argv = proxyArgv(second, jump2);
      expect(argv[0]).toBe(SSH);
      expect(argv.slice(argv.indexOf('-W'), argv.indexOf('-W') + 2)).toEqual([
        '-W',
        '[gw2.example.org]:2202'
      ]);
      expect(argv.slice(-2)).toEqual(['--', 'gw1']);
      const g = sshG(argv.slice(1), argv[0]);
      expect(one(g, 'hostname')).toBe('gw1.example.org');
      expect(one(g, 'port')).toBe('2201');
      expect(one(g, 'user')).toBe('g1user');
      expect(g.get('identityfile')).toEqual([jump1.identityFiles[0]]);
      expect(one(g, 'identitiesonly')).toBe('yes');
      expect(one(g, 'userknownhostsfile')).toBe('/tmp/hop 1/p%c/known_hosts');
      expect(one(g, 'stricthostkeychecking')).toBe('true');
      expect(one(g, 'ciphers')).toBe(CIPHER_PREFERENCE);
      expect(proxyArgv(g, jump1)).toEqual(['nc', 'bastion', '22']);
    });
  });

  it('gives every jump host its own known_hosts and keys', () => {
    const gw = host({
      alias: 'gw',
      hostName: 'gw.example.org',
      identityFiles: [],
      userKnownHostsFiles: []
    });
    const login = host({ identityFiles: [keyFile('own/id_login')] });
    const g = sshG(proxyArgv(sshG(args([gw, login])), login).slice(1));
    expect(g.get('identityfile')).toEqual(['none']);
    expect(one(g, 'userknownhostsfile')).toBe('none');
  });
});

(HAS_SSH ? describe : describe.skip)('muxArgs through ssh -G', () => {
  it('only uses the control socket and never connects itself', () => {
    const g = sshG([...muxArgs('/tmp/100%C/ctl'), '--', 'cluster']);
    expect(one(g, 'controlmaster')).toBe('false');
    expect(one(g, 'controlpath')).toBe('/tmp/100%C/ctl');
    expect(one(g, 'batchmode')).toBe('yes');
    expect(one(g, 'proxycommand')).toBe('false');
    expect(one(g, 'escapechar')).toBe('none');
  });
});
