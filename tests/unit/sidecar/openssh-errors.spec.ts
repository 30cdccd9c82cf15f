/**
 * What OpenSSH 9.2 prints on stderr when it cannot log in, taken from real
 * runs of `ssh` against a local sshd, and the error the sidecar makes of it.
 */
import type { IResolvedHost } from '../../../src/sidecar/ssh/config';
import {
  lastLines,
  masterFailure
} from '../../../src/sidecar/ssh/openssh/errors';

function host(overrides: Partial<IResolvedHost> = {}): IResolvedHost {
  return {
    alias: 'hpc',
    hostName: '127.0.0.1',
    port: 2222,
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
    userKnownHostsFiles: [],
    globalKnownHostsFiles: [],
    hostKeyAlias: null,
    opensshOptions: [],
    source: [],
    warnings: [],
    ...overrides
  };
}

const LABEL = 'alice@hpc';

const CHANGED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:tcxk7mcvLG6zlxfDJovRo8AXhoJTMP85HxCRKlgOGOg.
Please contact your system administrator.
Add correct host key in /root/.ssh/known_hosts to get rid of this message.
Offending ED25519 key in /root/.ssh/known_hosts:3
  remove with:
  ssh-keygen -f "/root/.ssh/known_hosts" -R "[127.0.0.1]:2222"
Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.
Host key verification failed.
`;

const REVOKED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@       WARNING: REVOKED HOST KEY DETECTED!               @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
The ED25519 host key for [127.0.0.1]:2222 is marked as revoked.
This could mean that a stolen key is being used to
impersonate this host.
ED25519 host key for [127.0.0.1]:2222 was revoked and you have requested strict checking.
Host key verification failed.
`;

/** The closed pipe, as ssh reports it after its ProxyCommand has gone. */
const PIPE_CLOSED =
  'kex_exchange_identification: Connection closed by remote host\n' +
  'Connection closed by UNKNOWN port 65535\n';

describe('masterFailure', () => {
  it('reports a changed host key with the line to remove and how', () => {
    const err = masterFailure(CHANGED, [host()], LABEL);
    expect(err.code).toBe('host-key-changed');
    expect(err.message).toContain('The host key of hpc has changed');
    expect(err.message).toContain('(/root/.ssh/known_hosts line 3)');
    expect(err.message).toContain(
      "`ssh-keygen -f /root/.ssh/known_hosts -R '[127.0.0.1]:2222'`"
    );
  });

  it('suggests ssh-keygen -R on the host name when ssh gave no command', () => {
    const err = masterFailure(
      'Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\nHost key verification failed.\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('host-key-changed');
    expect(err.message).toContain('`ssh-keygen -R 127.0.0.1`');
    expect(err.message).not.toContain(' line ');
  });

  it('reports a revoked host key', () => {
    const err = masterFailure(REVOKED, [host()], LABEL);
    expect(err.code).toBe('host-key-revoked');
    expect(err.message).toMatch(/^The host key of hpc is marked as revoked/);
  });

  it('reports an unknown host key under strict checking with its host', () => {
    const err = masterFailure(
      'No ED25519 host key is known for [x]:22 and you have requested strict checking.\nHost key verification failed.\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('host-key-unknown');
    expect(err.message).toBe(
      'The host key of [x]:22 is not in known_hosts, and StrictHostKeyChecking is yes: not connecting.'
    );
  });

  it('reports a host key that was not accepted', () => {
    const err = masterFailure(
      'Host key verification failed.\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('host-key-rejected');
    expect(err.message).toBe(
      'The host key of hpc was not accepted; not connecting.'
    );
  });

  it('reports a host name that does not resolve', () => {
    const err = masterFailure(
      'ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n',
      [host({ hostName: 'nowhere.invalid' })],
      LABEL
    );
    expect(err.code).toBe('unreachable');
    expect(err.message).toBe(
      'Could not resolve the host name nowhere.invalid: Name or service not known. Check the host name, or your network and VPN.'
    );
  });

  it('reports a refused connection', () => {
    const err = masterFailure(
      'ssh: connect to host 127.0.0.1 port 1: Connection refused\n',
      [host({ port: 1 })],
      LABEL
    );
    expect(err.code).toBe('unreachable');
    expect(err.message).toMatch(/^127\.0\.0\.1 port 1 refused the connection/);
  });

  it('names the hop ssh could not reach, not the login node behind it', () => {
    const err = masterFailure(
      'ssh: connect to host gw.example.org port 22: Connection refused\n',
      [
        host({ alias: 'gw', hostName: 'gw.example.org', port: 22 }),
        host({ alias: 'login', hostName: 'login.internal', port: 22 })
      ],
      LABEL
    );
    expect(err.message).toMatch(/^gw\.example\.org port 22 refused/);
  });

  it('reports a server that accepts the connection but says nothing as a timeout', () => {
    const err = masterFailure(
      'Connection timed out during banner exchange\nConnection to 127.0.0.1 port 2222 timed out\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('connect-timeout');
    expect(err.message).toMatch(/^127\.0\.0\.1 port 2222 did not answer/);
  });

  it('blames a jump host that refused the login, with its own keys', () => {
    const err = masterFailure(
      'bob@gw.example.org: Permission denied (publickey).\nConnection closed by UNKNOWN port 65535\n',
      [
        host({
          alias: 'gw',
          hostName: 'gw.example.org',
          user: 'bob',
          identityFiles: ['/home/alice/.ssh/gw_key']
        }),
        host({ identityFiles: ['/home/alice/.ssh/login_key'] })
      ],
      LABEL
    );
    expect(err.code).toBe('auth-failed');
    expect(err.message).toMatch(/^The jump host gw refused the login/);
    expect(err.message).toContain('gw_key');
    expect(err.message).not.toContain('login_key');
  });

  it('reports an option ssh could not parse as a config error, even with a ProxyCommand', () => {
    const err = masterFailure(
      'command-line line 0: keyword controlpath extra arguments at end of line\n',
      [
        host({ proxyCommand: ['nc', 'gw', '22'], proxyCommandText: 'nc gw 22' })
      ],
      LABEL
    );
    expect(err.code).toBe('ssh-config');
  });

  it('says when ssh itself cannot be run', () => {
    const err = masterFailure(
      'jlhpc-ssh: 2: ssh: not found\n',
      [
        host({ proxyCommand: ['nc', 'gw', '22'], proxyCommandText: 'nc gw 22' })
      ],
      LABEL
    );
    expect(err.code).toBe('ssh-config');
    expect(err.message).toMatch(/built-in SSH client/);
  });

  it('reports a connect timeout', () => {
    const err = masterFailure(
      'ssh: connect to host 10.255.255.1 port 22: Connection timed out\n',
      [host({ hostName: '10.255.255.1', port: 22 })],
      LABEL
    );
    expect(err.code).toBe('connect-timeout');
    expect(err.message).toMatch(
      /^10\.255\.255\.1 port 22 did not answer within the connect timeout/
    );
  });

  it('passes on other connect errors', () => {
    const err = masterFailure(
      'ssh: connect to host 10.0.0.9 port 22: No route to host\n',
      [host({ hostName: '10.0.0.9', port: 22 })],
      LABEL
    );
    expect(err.code).toBe('unreachable');
    expect(err.message).toBe(
      'Could not reach 10.0.0.9 port 22: No route to host.'
    );
  });

  it('reports a refused login with the methods offered and the keys tried', () => {
    const err = masterFailure(
      'alice@127.0.0.1: Permission denied (publickey,keyboard-interactive).\n',
      [
        host({
          identityFiles: [
            '/home/alice/.ssh/id_ed25519',
            '/home/alice/.ssh/id_rsa'
          ]
        })
      ],
      LABEL
    );
    expect(err.code).toBe('auth-failed');
    expect(err.message).toMatch(/^alice@hpc refused the login\./);
    expect(err.message).toContain(
      'The server offers: publickey,keyboard-interactive.'
    );
    expect(err.message).toContain(
      'Keys for it: /home/alice/.ssh/id_ed25519, /home/alice/.ssh/id_rsa.'
    );
  });

  it('names no keys for a refused login without identity files', () => {
    const err = masterFailure(
      'alice@127.0.0.1: Permission denied (password).\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('auth-failed');
    expect(err.message).not.toContain('Keys tried');
  });

  it('reports too many authentication failures', () => {
    const err = masterFailure(
      'Received disconnect from 127.0.0.1 port 2222:2: Too many authentication failures\nDisconnected from 127.0.0.1 port 2222\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('auth-failed');
    expect(err.message).toMatch(/too many authentication failures/);
  });

  it('reports options ssh refused', () => {
    const err = masterFailure(
      'command-line: line 0: Bad configuration option: foo\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('ssh-config');
    expect(err.message).toBe(
      'ssh refused its options: command-line: line 0: Bad configuration option: foo'
    );
  });

  it('reports what a failed ProxyCommand said, without the closed pipe', () => {
    const err = masterFailure(
      `gateway says no\n${PIPE_CLOSED}`,
      [
        host({
          proxyCommand: ['nc', 'gw', '22'],
          proxyCommandText: 'nc gw %p'
        })
      ],
      LABEL
    );
    expect(err.code).toBe('proxy-command-failed');
    expect(err.message).toBe(
      'The ProxyCommand for hpc (nc gw %p) ended before the connection was made: gateway says no'
    );
  });

  it('ends the ProxyCommand message with a full stop when it said nothing', () => {
    const err = masterFailure(
      PIPE_CLOSED,
      [host({ proxyCommand: ['false'], proxyCommandText: 'false' })],
      LABEL
    );
    expect(err.code).toBe('proxy-command-failed');
    expect(err.message).toBe(
      'The ProxyCommand for hpc (false) ended before the connection was made.'
    );
  });

  it('names the jump host that could not reach the login node', () => {
    const err = masterFailure(
      `channel 0: open failed: connect failed: No route to host\nstdio forwarding failed\n${PIPE_CLOSED}`,
      [
        host({ alias: 'gw', hostName: 'gw.example.org', port: 22 }),
        host({ alias: 'hpc', hostName: 'login.internal', port: 2222 })
      ],
      LABEL
    );
    expect(err.code).toBe('unreachable');
    expect(err.message).toBe(
      'The jump host gw could not connect to login.internal port 2222: connect failed: No route to host. Check the host name and port.'
    );
  });

  it('does not blame the ProxyCommand of the first hop on a jump route', () => {
    const err = masterFailure(
      `something odd\n${PIPE_CLOSED}`,
      [
        host({
          alias: 'gw',
          proxyCommand: ['nc', 'bastion', '22'],
          proxyCommandText: 'nc bastion 22'
        }),
        host()
      ],
      LABEL
    );
    expect(err.code).toBe('connection-lost');
  });

  it('passes on text it does not know as a lost connection', () => {
    const err = masterFailure(
      'OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026\nsomething odd happened\n',
      [host()],
      LABEL
    );
    expect(err.code).toBe('connection-lost');
    expect(err.message).toBe(
      'Connecting to alice@hpc failed: something odd happened'
    );
  });

  it('says only that it failed when ssh said nothing', () => {
    const err = masterFailure('', [host()], LABEL);
    expect(err.code).toBe('connection-lost');
    expect(err.message).toBe('Connecting to alice@hpc failed.');
  });
});

describe('lastLines', () => {
  it('joins the last lines, trimmed, on one line', () => {
    expect(lastLines('one\n  two  \r\nthree\nfour\nfive\n', 3)).toBe(
      'three four five'
    );
  });

  it('keeps four lines by default', () => {
    expect(lastLines('1\n2\n3\n4\n5\n6')).toBe('3 4 5 6');
  });

  it('drops the version banner, debug lines and blank lines', () => {
    expect(
      lastLines(
        'OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026\n' +
          'debug1: Reading configuration data /etc/ssh/ssh_config\n' +
          '\n' +
          'ssh: connect to host 127.0.0.1 port 1: Connection refused\n' +
          'debug3: expanded UserKnownHostsFile\n',
        4
      )
    ).toBe('ssh: connect to host 127.0.0.1 port 1: Connection refused');
  });

  it('gives the empty string for nothing', () => {
    expect(lastLines('\n\n')).toBe('');
  });
});
