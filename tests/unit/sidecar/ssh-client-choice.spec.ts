import {
  opensshCanAskpass,
  sshClientFor
} from '../../../src/sidecar/clusters/manager';

describe('opensshCanAskpass', () => {
  it.each([
    ['OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026', true],
    ['OpenSSH_8.4p1, LibreSSL 3.3.6', true],
    ['OpenSSH_10.0p2, OpenSSL 3.5.0', true],
    ['OpenSSH_8.2p1 Ubuntu-4ubuntu0.11, OpenSSL 1.1.1f', false],
    ['OpenSSH_7.4p1, OpenSSL 1.0.2k-fips', false],
    ['Sun_SSH_1.5', false],
    ['', false]
  ])('%p → %p', (version, expected) => {
    expect(opensshCanAskpass(version)).toBe(expected);
  });
});

describe('sshClientFor', () => {
  it('keeps an explicit choice', () => {
    expect(sshClientFor({ name: 'a', host: 'b', sshClient: 'builtin' })).toBe(
      'builtin'
    );
    expect(sshClientFor({ name: 'a', host: 'b', sshClient: 'openssh' })).toBe(
      'openssh'
    );
  });

  it('picks OpenSSH on this machine (OpenSSH 9.2) for auto', () => {
    expect(sshClientFor({ name: 'a', host: 'b', sshClient: 'auto' })).toBe(
      'openssh'
    );
    expect(sshClientFor({ name: 'a', host: 'b' })).toBe('openssh');
  });
});
