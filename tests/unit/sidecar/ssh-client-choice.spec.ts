import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { clusterRoute } from '../../../src/sidecar/clusters/route';
import {
  defaultIdentityFilesFor,
  opensshCanAskpass,
  opensshDefaultIdentityFiles,
  parseDefaultIdentityFiles,
  sshClientFor
} from '../../../src/sidecar/clusters/ssh-client';
import { masterArgs } from '../../../src/sidecar/ssh/openssh/args';

const HAS_SSH = (() => {
  const run = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return run.error === undefined && /^OpenSSH/.test(run.stderr ?? '');
})();

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

describe('default identity files per client', () => {
  it('reads them from ssh -G output, whatever the build leaves out', () => {
    // OpenSSH 10.0: no DSA any more.
    const output = [
      'user ana',
      'identityfile ~/.ssh/id_rsa',
      'identityfile ~/.ssh/id_ecdsa',
      'identityfile ~/.ssh/id_ecdsa_sk',
      'identityfile ~/.ssh/id_ed25519',
      'identityfile ~/.ssh/id_ed25519_sk',
      'identityfile ~/.ssh/id_xmss',
      'port 22'
    ].join('\n');
    expect(parseDefaultIdentityFiles(output)).toEqual([
      'id_rsa',
      'id_ecdsa',
      'id_ecdsa_sk',
      'id_ed25519',
      'id_ed25519_sk',
      'id_xmss'
    ]);
  });

  (HAS_SSH ? it : it.skip)(
    'are what the local ssh -G prints (skipped without OpenSSH)',
    () => {
      const run = spawnSync(
        'ssh',
        ['-G', '-F', '/dev/null', '--', 'x.invalid'],
        { encoding: 'utf8' }
      );
      expect(opensshDefaultIdentityFiles()).toEqual(
        parseDefaultIdentityFiles(run.stdout)
      );
    }
  );

  describe('a cluster with no IdentityFile anywhere', () => {
    let home: string;
    beforeAll(() => {
      home = mkdtempSync(join(tmpdir(), 'hpc-identities-'));
      mkdirSync(join(home, '.ssh'));
      writeFileSync(join(home, '.ssh', 'config'), '');
      for (const name of ['id_ed25519', 'id_ed25519_sk', 'id_ecdsa_sk']) {
        writeFileSync(join(home, '.ssh', name), '');
      }
    });
    afterAll(() => rmSync(home, { recursive: true, force: true }));

    function route(client: 'openssh' | 'builtin') {
      return clusterRoute(
        { name: 'hpc', host: 'login.example.org' },
        { home, env: { ...process.env, HOME: home } },
        defaultIdentityFilesFor(client)
      );
    }

    (HAS_SSH ? it : it.skip)(
      'offers security-key files through OpenSSH (skipped without OpenSSH)',
      () => {
        const args = masterArgs(route('openssh'), join(home, 'ctl'), {
          ssh: 'ssh',
          exists: existsSync
        });
        const offered = args
          .filter(arg => arg.startsWith('IdentityFile='))
          .map(arg => arg.slice('IdentityFile='.length).replace(/"/g, ''));
        expect(offered).toEqual([
          join(home, '.ssh', 'id_ecdsa_sk'),
          join(home, '.ssh', 'id_ed25519'),
          join(home, '.ssh', 'id_ed25519_sk')
        ]);
      }
    );

    it('leaves them out for the built-in client, which cannot load them', () => {
      const hosts = route('builtin');
      expect(hosts[hosts.length - 1].identityFiles.filter(existsSync)).toEqual([
        join(home, '.ssh', 'id_ed25519')
      ]);
    });
  });
});
