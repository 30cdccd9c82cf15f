import { spawnSync } from 'child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  ensureKeyPair,
  installKeyCommand,
  parseInstallResult,
  parsePublicKeyLine,
  resolveKeyPath
} from '../../../src/sidecar/ssh/keys';
import { generateEd25519KeyPair } from '../../../src/sidecar/ssh/ed25519-key';
import type { ICommandOutput } from '../../../src/sidecar/shell/remote-command';
import { SidecarError } from '../../../src/sidecar/errors';
import { LocalTransport } from '../../../src/sidecar/transport/local';
import { skipMissing } from '../../support/skip';

/*
 * Keys are checked with the real ssh-keygen; the install script runs for
 * real with /bin/sh (and bash and busybox where installed) in a scratch home.
 */

let work: string;
let counter = 0;

/** A key pair made as the key setup makes one. */
const newKeyPair = (comment = '') =>
  generateEd25519KeyPair({ comment, rounds: 16 });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-keys-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A fresh directory under the scratch area. */
function scratch(name: string): string {
  const dir = join(work, `${++counter}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sshKeygen(...args: string[]): {
  status: number | null;
  out: string;
  err: string;
} {
  const result = spawnSync('ssh-keygen', args, { encoding: 'utf8' });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

/** `SHA256:…` as ssh-keygen -lf prints it. */
function keygenFingerprint(file: string): string {
  const { status, out } = sshKeygen('-l', '-E', 'sha256', '-f', file);
  expect(status).toBe(0);
  return out.split(' ')[1];
}

/** The public key ssh-keygen reads out of a private key, without comment. */
function keygenPublic(file: string, passphrase = ''): string {
  const { status, out, err } = sshKeygen('-y', '-P', passphrase, '-f', file);
  if (status !== 0) {
    throw new Error(`ssh-keygen -y failed: ${err}`);
  }
  return out.split(' ').slice(0, 2).join(' ').trim();
}

function typeAndBase64(line: string): string {
  return line.split(' ').slice(0, 2).join(' ');
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

async function rejection(promise: Promise<unknown>): Promise<SidecarError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarError);
    return err as SidecarError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): SidecarError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SidecarError);
    return err as SidecarError;
  }
  throw new Error('expected an error');
}

/** A key made by the real ssh-keygen. */
function keygenKey(
  dir: string,
  type: 'ed25519' | 'rsa' | 'ecdsa',
  passphrase = '',
  comment = 'made-by-ssh-keygen'
): string {
  const path = join(dir, `id_${type}`);
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  const { status, err } = sshKeygen(
    '-q',
    '-t',
    type,
    ...bits,
    '-N',
    passphrase,
    '-C',
    comment,
    '-f',
    path
  );
  if (status !== 0) {
    throw new Error(`ssh-keygen failed: ${err}`);
  }
  return path;
}

describe('resolveKeyPath', () => {
  it.each([
    ['~/.ssh/id_x', '/home/u/.ssh/id_x'],
    ['~/a/../b/./k', '/home/u/b/k'],
    ['/abs/key', '/abs/key'],
    ['~', '/home/u']
  ])('reads %j as %j', (path, expected) => {
    expect(resolveKeyPath(path, '/home/u')).toBe(expected);
  });

  it.each([
    ['a relative path', 'id_ed25519', /absolute or start with ~\//],
    ["another user's home", '~bob/.ssh/id', /absolute or start with ~\//],
    ['a newline', '/tmp/a\nb', /line break or NUL/],
    ['a carriage return', '/tmp/a\rb', /line break or NUL/],
    ['a NUL byte', '/tmp/a\0b', /line break or NUL/]
  ])('refuses %s', (_case, path, message) => {
    const error = thrown(() => resolveKeyPath(path, '/home/u'));
    expect(error.code).toBe('key-setup-failed');
    expect(error.message).toMatch(message);
  });
});

describe('ensureKeyPair: a new key', () => {
  it('creates an ed25519 pair that ssh-keygen reads, with safe modes', async () => {
    const dir = scratch('new');
    const keyPath = join(dir, 'fresh', '.ssh', 'id_ed25519_hpc');
    const key = await ensureKeyPair({
      path: keyPath,
      comment: 'jupyterlab-hpc alice@hpc'
    });
    expect(key.created).toBe(true);
    expect(key.keyPath).toBe(keyPath);
    expect(key.publicKeyLine).toMatch(
      /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=* jupyterlab-hpc alice@hpc$/
    );
    expect(readFileSync(`${keyPath}.pub`, 'utf8')).toBe(
      `${key.publicKeyLine}\n`
    );
    expect(mode(keyPath)).toBe(0o600);
    expect(mode(`${keyPath}.pub`)).toBe(0o644);
    expect(mode(join(dir, 'fresh'))).toBe(0o700);
    expect(mode(join(dir, 'fresh', '.ssh'))).toBe(0o700);

    expect(keygenPublic(keyPath)).toBe(typeAndBase64(key.publicKeyLine));
    expect(key.fingerprint).toBe(keygenFingerprint(`${keyPath}.pub`));
    expect(key.fingerprint).toBe(keygenFingerprint(keyPath));
    expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('encrypts the key with the passphrase, as ssh-keygen would', async () => {
    const keyPath = join(scratch('secret'), 'id_ed25519');
    const key = await ensureKeyPair({
      path: keyPath,
      passphrase: "correct horse 'battery' $(staple)",
      comment: 'c'
    });
    expect(keygenPublic(keyPath, "correct horse 'battery' $(staple)")).toBe(
      typeAndBase64(key.publicKeyLine)
    );
    expect(() => keygenPublic(keyPath, 'wrong')).toThrow(
      /incorrect passphrase/
    );
    expect(() => keygenPublic(keyPath, '')).toThrow(/incorrect passphrase/);
    expect(key.fingerprint).toBe(keygenFingerprint(`${keyPath}.pub`));
    // aes256-ctr with bcrypt, the format ssh-keygen writes today.
    const blob = Buffer.from(
      readFileSync(keyPath, 'utf8').replace(/-----[^-]+-----|\s/g, ''),
      'base64'
    );
    expect(blob.includes('aes256-ctr')).toBe(true);
    expect(blob.includes('bcrypt')).toBe(true);
  });

  it('leaves the parent directory of an existing ~/.ssh as it was', async () => {
    const dir = scratch('parent');
    chmodSync(dir, 0o755);
    await ensureKeyPair({ path: join(dir, 'id'), comment: 'c' });
    expect(mode(dir)).toBe(0o755);
  });

  it('replaces a .pub left without its private key', async () => {
    const keyPath = join(scratch('stale'), 'id_ed25519');
    writeFileSync(`${keyPath}.pub`, 'ssh-ed25519 AAAA stale\n');
    const key = await ensureKeyPair({ path: keyPath, comment: 'c' });
    expect(key.created).toBe(true);
    expect(readFileSync(`${keyPath}.pub`, 'utf8')).toBe(
      `${key.publicKeyLine}\n`
    );
    expect(mode(`${keyPath}.pub`)).toBe(0o644);
  });

  it('expands ~/ to the given home', async () => {
    const home = scratch('home');
    const key = await ensureKeyPair({
      path: '~/.ssh/id_tilde',
      comment: 'c',
      home
    });
    expect(key.keyPath).toBe(join(home, '.ssh', 'id_tilde'));
    expect(existsSync(key.keyPath)).toBe(true);
  });

  it.each([
    ['a newline', 'a\nb'],
    ['a tab', 'a\tb'],
    ['an escape', 'a\u001bb']
  ])('refuses a comment with %s', async (_case, comment) => {
    const keyPath = join(scratch('comment'), 'id');
    const error = await rejection(ensureKeyPair({ path: keyPath, comment }));
    expect(error.code).toBe('key-setup-failed');
    expect(existsSync(keyPath)).toBe(false);
  });

  it('refuses a relative path', async () => {
    const error = await rejection(
      ensureKeyPair({ path: '.ssh/id_ed25519', comment: 'c' })
    );
    expect(error.code).toBe('key-setup-failed');
  });

  it('says so when the directory cannot be made', async () => {
    const dir = scratch('blocked');
    writeFileSync(join(dir, 'file'), '');
    const error = await rejection(
      ensureKeyPair({ path: join(dir, 'file', 'id'), comment: 'c' })
    );
    expect(error.code).toBe('key-setup-failed');
    expect(error.message).toContain(join(dir, 'file'));
  });
});

describe('ensureKeyPair: an existing key', () => {
  it('reuses a key it made, changing nothing', async () => {
    const keyPath = join(scratch('reuse'), 'id_ed25519');
    const first = await ensureKeyPair({ path: keyPath, comment: 'c' });
    const before = readFileSync(keyPath);
    const second = await ensureKeyPair({ path: keyPath, comment: 'other' });
    expect(second).toEqual({ ...first, created: false });
    expect(readFileSync(keyPath).equals(before)).toBe(true);
  });

  it.each(['ed25519', 'rsa', 'ecdsa'] as const)(
    'reuses an %s key made by ssh-keygen, with or without its .pub',
    async type => {
      const keyPath = keygenKey(scratch(type), type);
      const pub = readFileSync(`${keyPath}.pub`, 'utf8').trim();
      const withPub = await ensureKeyPair({ path: keyPath, comment: 'c' });
      expect(withPub.publicKeyLine).toBe(pub);
      expect(withPub.fingerprint).toBe(keygenFingerprint(keyPath));
      expect(withPub.created).toBe(false);

      unlinkSync(`${keyPath}.pub`);
      const derived = await ensureKeyPair({ path: keyPath, comment: 'c' });
      expect(typeAndBase64(derived.publicKeyLine)).toBe(typeAndBase64(pub));
      expect(derived.fingerprint).toBe(withPub.fingerprint);
      expect(existsSync(`${keyPath}.pub`)).toBe(false);
    },
    20_000
  );

  it('reuses an encrypted key through its .pub without the passphrase', async () => {
    const keyPath = keygenKey(scratch('enc-pub'), 'ed25519', 'sekrit');
    const key = await ensureKeyPair({ path: keyPath, comment: 'c' });
    expect(key.publicKeyLine).toBe(
      readFileSync(`${keyPath}.pub`, 'utf8').trim()
    );
  });

  describe('an encrypted key without its .pub', () => {
    let keyPath: string;
    let expected: string;
    beforeAll(() => {
      keyPath = keygenKey(scratch('enc'), 'ed25519', 'sekrit', 'enc comment');
      expected = keygenPublic(keyPath, 'sekrit');
      unlinkSync(`${keyPath}.pub`);
    });

    it('asks for the passphrase', async () => {
      const error = await rejection(
        ensureKeyPair({ path: keyPath, comment: 'c' })
      );
      expect(error.code).toBe('key-unreadable');
      expect(error.message).toBe(
        `${keyPath}: the key is protected by a passphrase and ${keyPath}.pub is missing: enter the passphrase.`
      );
    });

    it('says when the passphrase is wrong', async () => {
      const error = await rejection(
        ensureKeyPair({ path: keyPath, comment: 'c', passphrase: 'nope' })
      );
      expect(error.code).toBe('key-unreadable');
      expect(error.message).toBe(`${keyPath}: the passphrase is wrong.`);
    });

    it('opens it with the right passphrase', async () => {
      const key = await ensureKeyPair({
        path: keyPath,
        comment: 'c',
        passphrase: 'sekrit'
      });
      expect(key.publicKeyLine).toBe(`${expected} enc comment`);
      expect(key.fingerprint).toBe(keygenFingerprint(keyPath));
    });
  });

  it('says when a passphrase given for a key with a .pub is wrong', async () => {
    const keyPath = keygenKey(scratch('enc-wrong'), 'ed25519', 'sekrit');
    const error = await rejection(
      ensureKeyPair({ path: keyPath, comment: 'c', passphrase: 'nope' })
    );
    expect(error.code).toBe('key-unreadable');
    expect(error.message).toMatch(/passphrase is wrong/);
  });

  it('refuses a .pub that belongs to another key', async () => {
    const dir = scratch('mismatch');
    const keyPath = keygenKey(dir, 'ed25519');
    const other = keygenKey(scratch('other'), 'ed25519');
    writeFileSync(`${keyPath}.pub`, readFileSync(`${other}.pub`));
    const error = await rejection(
      ensureKeyPair({ path: keyPath, comment: 'c' })
    );
    expect(error.code).toBe('key-unreadable');
    expect(error.message).toMatch(/belongs to another key/);
  });

  it.each([
    [
      'a directory',
      (dir: string) => mkdirSync(join(dir, 'id')),
      /not a key file/
    ],
    [
      'a public key',
      (dir: string) =>
        writeFileSync(join(dir, 'id'), newKeyPair().public + '\n'),
      /this is a public key/
    ],
    [
      'garbage',
      (dir: string) => writeFileSync(join(dir, 'id'), 'not a key\n'),
      /not a private key that can be read/
    ],
    [
      'a DSA key',
      (dir: string) => {
        const { status } = sshKeygen(
          '-q',
          '-t',
          'dsa',
          '-N',
          '',
          '-f',
          join(dir, 'id')
        );
        if (status !== 0) {
          // This ssh-keygen no longer makes DSA keys: the same refusal.
          writeFileSync(join(dir, 'id'), 'not a key\n');
        } else {
          unlinkSync(join(dir, 'id.pub'));
        }
      },
      /not supported|not a private key/
    ],
    [
      'a malformed .pub',
      (dir: string) => {
        keygenKey(dir, 'ed25519');
        writeFileSync(join(dir, 'id'), readFileSync(join(dir, 'id_ed25519')));
        writeFileSync(join(dir, 'id.pub'), 'ssh-ed25519 !!!\n');
      },
      /id\.pub: Not an OpenSSH public key/
    ]
  ])('refuses %s as the key', async (_case, make, message) => {
    const dir = scratch('bad');
    make(dir);
    const error = await rejection(
      ensureKeyPair({ path: join(dir, 'id'), comment: 'c' })
    );
    expect(error.code).toBe('key-unreadable');
    expect(error.message).toMatch(message);
  });
});

describe('parsePublicKeyLine', () => {
  const ed = newKeyPair('me@host').public;
  const [type, base64] = ed.split(' ');

  it('normalizes blanks and keeps the comment', () => {
    const key = parsePublicKeyLine(`${type}\t ${base64}   a  comment é  `);
    expect(key.line).toBe(`${type} ${base64} a  comment é`);
    expect(key.keyType).toBe('ssh-ed25519');
    expect(key.comment).toBe('a  comment é');
    expect(key.fingerprint).toMatch(/^SHA256:/);
    expect(parsePublicKeyLine(`${type} ${base64}`).line).toBe(
      `${type} ${base64}`
    );
  });

  it.each([
    ['two lines', `${ed}\n${ed}`, /control characters/],
    ['a trailing newline', `${ed}\n`, /control characters/],
    ['an escape in the comment', `${ed} \u001b[31m`, /control characters/],
    ['a DSA key', `ssh-dss ${base64}`, /ssh-dss keys are not supported/],
    [
      'a security key',
      `sk-ssh-ed25519@openssh.com ${base64}`,
      /sk-ssh-ed25519@openssh\.com keys are not supported/
    ],
    [
      'a type that does not match the blob',
      `ssh-rsa ${base64}`,
      /not a ssh-rsa key/
    ],
    ['base64 that is not a key', 'ssh-ed25519 AAAA', /not a ssh-ed25519 key/],
    ['no base64', 'ssh-ed25519', /expected/],
    ['options in front', `restrict ${ed}`, /expected/],
    ['a huge line', `${ed} ${'x'.repeat(20_000)}`, /longer than/]
  ])('refuses %s', (_case, line, message) => {
    const error = thrown(() => parsePublicKeyLine(line));
    expect(error.code).toBe('key-setup-failed');
    expect(error.message).toMatch(message);
  });
});

describe('installKeyCommand', () => {
  it('passes the key as an argument, never as shell code', () => {
    const a = installKeyCommand(newKeyPair().public);
    const b = installKeyCommand(newKeyPair("$(x) ' `y`").public);
    expect(a.argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(a.argv[3]).toBe('jlhpc-install-key');
    expect(b.argv[2]).toBe(a.argv[2]);
    expect(b.argv[4]).toMatch(/ \$\(x\) ' `y`$/);
    expect(a.argv).toHaveLength(5);
  });

  it('refuses what is not a public key line', () => {
    expect(thrown(() => installKeyCommand('rm -rf ~')).code).toBe(
      'key-setup-failed'
    );
  });
});

describe('parseInstallResult', () => {
  const output = (
    stdout: string,
    exitCode: number | null,
    stderr = ''
  ): ICommandOutput => ({
    nonce: '',
    stdout: Buffer.from(stdout),
    stderr: Buffer.from(stderr),
    exitCode,
    stdoutBytes: stdout.length,
    stderrBytes: stderr.length,
    stdoutTruncated: false,
    stderrTruncated: false
  });

  it.each([
    ['jlhpc-key:installed\n', 'installed'],
    ['jlhpc-key:present\n', 'present'],
    ['jlhpc-key:present', 'present'],
    ['Welcome to the cluster\njlhpc-key:installed\n', 'installed']
  ])('reads %j', (stdout, expected) => {
    expect(parseInstallResult(output(stdout, 0))).toBe(expected);
  });

  it.each([
    [
      'a failure with a message',
      output('', 1, 'jlhpc-install-key: cannot read /h/.ssh/authorized_keys\n'),
      'Could not add the public key to ~/.ssh/authorized_keys (exit status 1): jlhpc-install-key: cannot read /h/.ssh/authorized_keys'
    ],
    [
      'a success without the result line',
      output('something else\n', 0),
      'Could not add the public key to ~/.ssh/authorized_keys (exit status 0).'
    ],
    [
      'the result line with a failure status',
      output('jlhpc-key:installed\n', 2),
      'Could not add the public key to ~/.ssh/authorized_keys (exit status 2).'
    ],
    [
      'a cut-off command',
      output('', null),
      'Could not add the public key to ~/.ssh/authorized_keys (it did not finish).'
    ]
  ])('refuses %s', (_case, out, message) => {
    const error = thrown(() => parseInstallResult(out));
    expect(error.code).toBe('key-setup-failed');
    expect(error.message).toBe(message);
  });
});

function findProgram(name: string): string | null {
  for (const dir of ['/bin', '/usr/bin', '/usr/local/bin']) {
    if (existsSync(join(dir, name))) {
      return join(dir, name);
    }
  }
  return null;
}

const busybox = findProgram('busybox');
const isRoot = process.getuid?.() === 0;

/** Shells a cluster's /bin/sh may be; the script must work in each. */
const ALL_SHELLS = [
  ['/bin/sh', ['/bin/sh']],
  ['bash --posix', findProgram('bash') && [findProgram('bash')!, '--posix']],
  ['busybox sh', busybox && [busybox, 'sh']]
] as [string, string[] | null][];
const SHELLS = ALL_SHELLS.filter(
  (entry): entry is [string, string[]] => !!entry[1]
);
skipMissing(
  'installKeyCommand with',
  ALL_SHELLS.filter(entry => !entry[1]).map(entry => entry[0])
);

function runScript(
  home: string,
  line: string,
  shell: string[] = ['/bin/sh'],
  path = '/usr/bin:/bin',
  uid?: number
): ICommandOutput {
  const argv = installKeyCommand(line).argv;
  const result = spawnSync(shell[0], [...shell.slice(1), ...argv.slice(1)], {
    env: { HOME: home, PATH: path },
    cwd: home,
    uid,
    gid: uid
  });
  return {
    nonce: '',
    stdout: result.stdout,
    stderr: result.stderr,
    exitCode: result.status,
    stdoutBytes: result.stdout.length,
    stderrBytes: result.stderr.length,
    stdoutTruncated: false,
    stderrTruncated: false
  };
}

describe('the install script, run for real', () => {
  const key = newKeyPair('new key').public;
  const other = newKeyPair('old key').public;

  /** A directory with only busybox applets, for the PATH, as on Alpine. */
  let busyboxBin: string;
  beforeAll(() => {
    if (busybox) {
      busyboxBin = scratch('busybox-bin');
      for (const applet of ['sh', 'awk', 'tail', 'mkdir', 'chmod']) {
        symlinkSync(busybox, join(busyboxBin, applet));
      }
    }
  });

  it('installs through the local transport, then finds it present', async () => {
    const home = scratch('home-local');
    const local = new LocalTransport({ env: { HOME: home, SHELL: '/bin/sh' } });
    try {
      const first = await local.run(installKeyCommand(key));
      expect(first.stderr.toString()).toBe('');
      expect(parseInstallResult(first)).toBe('installed');
      const second = await local.run(installKeyCommand(key));
      expect(parseInstallResult(second)).toBe('present');
    } finally {
      await local.close();
    }
    expect(readFileSync(join(home, '.ssh', 'authorized_keys'), 'utf8')).toBe(
      `${key}\n`
    );
    expect(mode(join(home, '.ssh'))).toBe(0o700);
    expect(mode(join(home, '.ssh', 'authorized_keys'))).toBe(0o600);
  });

  describe.each(SHELLS)('with %s as /bin/sh', (_name, shell) => {
    const install = (home: string, line = key) =>
      parseInstallResult(runScript(home, line, shell));
    const authorized = (home: string) =>
      readFileSync(join(home, '.ssh', 'authorized_keys'), 'utf8');
    const sshDir = (home: string) => {
      mkdirSync(join(home, '.ssh'), { recursive: true });
      return join(home, '.ssh');
    };

    it('creates ~/.ssh and authorized_keys, once', () => {
      const home = scratch('home');
      expect(install(home)).toBe('installed');
      expect(install(home)).toBe('present');
      expect(authorized(home)).toBe(`${key}\n`);
      expect(mode(join(home, '.ssh'))).toBe(0o700);
      expect(mode(join(home, '.ssh', 'authorized_keys'))).toBe(0o600);
    });

    it('adds a line break to a file that lacks one', () => {
      const home = scratch('home');
      writeFileSync(join(sshDir(home), 'authorized_keys'), other);
      expect(install(home)).toBe('installed');
      expect(authorized(home)).toBe(`${other}\n${key}\n`);
      for (const line of authorized(home).trim().split('\n')) {
        expect(() => parsePublicKeyLine(line)).not.toThrow();
      }
    });

    it('adds no blank line to an empty file', () => {
      const home = scratch('home');
      writeFileSync(join(sshDir(home), 'authorized_keys'), '');
      expect(install(home)).toBe('installed');
      expect(authorized(home)).toBe(`${key}\n`);
    });

    it.each([
      ['another comment', (k: string) => `${typeAndBase64(k)} laptop`],
      ['no comment', (k: string) => typeAndBase64(k)],
      [
        'options in front',
        (k: string) => `restrict,command="echo a b",from="10.0.0.0/8" ${k}`
      ],
      ['tabs and blanks around', (k: string) => `  ${k.replace(' ', '\t')}\t`]
    ])('counts the key as present with %s', (_case, line) => {
      const home = scratch('home');
      const text = `${other}\n${line(key)}\n`;
      writeFileSync(join(sshDir(home), 'authorized_keys'), text);
      expect(install(home)).toBe('present');
      expect(authorized(home)).toBe(text);
    });

    it('adds the key when it is only in a comment', () => {
      const home = scratch('home');
      writeFileSync(join(sshDir(home), 'authorized_keys'), `# ${key}\n`);
      expect(install(home)).toBe('installed');
      expect(authorized(home)).toBe(`# ${key}\n${key}\n`);
    });

    it('stores a hostile comment literally and runs nothing', () => {
      const home = scratch('home');
      const canary = join(home, 'pwned');
      const hostile = newKeyPair(
        `$(touch ${canary}) \`touch ${canary}\` ;touch ${canary}; "q" 'q' \\ %s %n !! *`
      ).public;
      expect(install(home, hostile)).toBe('installed');
      expect(authorized(home)).toBe(`${hostile}\n`);
      expect(install(home, hostile)).toBe('present');
      expect(existsSync(canary)).toBe(false);
      expect(existsSync(join(home, '.ssh', 'pwned'))).toBe(false);
    });

    it('tightens the modes of a ~/.ssh the user owns', () => {
      const home = scratch('home');
      chmodSync(sshDir(home), 0o775);
      writeFileSync(join(home, '.ssh', 'authorized_keys'), `${other}\n`);
      chmodSync(join(home, '.ssh', 'authorized_keys'), 0o664);
      expect(install(home)).toBe('installed');
      expect(mode(join(home, '.ssh'))).toBe(0o700);
      expect(mode(join(home, '.ssh', 'authorized_keys'))).toBe(0o600);
    });

    it('appends through a symlinked authorized_keys, leaving the target mode', () => {
      const home = scratch('home');
      const shared = join(home, 'shared_keys');
      writeFileSync(shared, `${other}\n`);
      chmodSync(shared, 0o644);
      symlinkSync(shared, join(sshDir(home), 'authorized_keys'));
      expect(install(home)).toBe('installed');
      expect(
        lstatSync(join(home, '.ssh', 'authorized_keys')).isSymbolicLink()
      ).toBe(true);
      expect(readFileSync(shared, 'utf8')).toBe(`${other}\n${key}\n`);
      expect(mode(shared)).toBe(0o644);
    });

    // Only root can make a file another user owns (and still write it).
    (isRoot ? it : it.skip)(
      'leaves the mode of an authorized_keys owned by someone else',
      () => {
        const home = scratch('home');
        const file = join(sshDir(home), 'authorized_keys');
        writeFileSync(file, `${other}\n`);
        chmodSync(file, 0o644);
        chownSync(file, 65534, 65534);
        expect(install(home)).toBe('installed');
        expect(mode(file)).toBe(0o644);
        expect(statSync(file).uid).toBe(65534);
        expect(authorized(home)).toBe(`${other}\n${key}\n`);
      }
    );

    // As root, run the script as nobody against a file root owns, as an
    // administrator-managed authorized_keys is.
    (isRoot ? describe : describe.skip)(
      'as a user, with a root-owned file',
      () => {
        const NOBODY = 65534;
        let home: string;
        let file: string;
        beforeEach(() => {
          home = mkdtempSync(join(tmpdir(), 'jlhpc-keys-nobody-'));
          mkdirSync(join(home, '.ssh'));
          file = join(home, '.ssh', 'authorized_keys');
          chownSync(home, NOBODY, NOBODY);
          chownSync(join(home, '.ssh'), NOBODY, NOBODY);
        });
        afterEach(() => rmSync(home, { recursive: true, force: true }));
        const asNobody = () =>
          parseInstallResult(runScript(home, key, shell, undefined, NOBODY));

        it('finds the key present and touches nothing', () => {
          writeFileSync(file, `${other}\n${key}\n`);
          chmodSync(file, 0o444);
          expect(asNobody()).toBe('present');
          expect(mode(file)).toBe(0o444);
          expect(statSync(file).uid).toBe(0);
        });

        it('says it cannot add the key', () => {
          writeFileSync(file, `${other}\n`);
          chmodSync(file, 0o644);
          const error = thrown(asNobody);
          expect(error.code).toBe('key-setup-failed');
          expect(error.message).toMatch(
            /could not add the key to .*authorized_keys/
          );
          expect(readFileSync(file, 'utf8')).toBe(`${other}\n`);
          expect(mode(file)).toBe(0o644);
        });

        it('says it cannot read the file', () => {
          writeFileSync(file, `${key}\n`);
          chmodSync(file, 0o600);
          expect(thrown(asNobody).message).toMatch(
            /cannot read .*authorized_keys/
          );
        });
      }
    );

    it('fails when authorized_keys is a dangling symlink', () => {
      const home = scratch('home');
      symlinkSync(join(home, 'nowhere'), join(sshDir(home), 'authorized_keys'));
      const error = thrown(() => install(home));
      expect(error.code).toBe('key-setup-failed');
      expect(error.message).toMatch(/cannot read .*authorized_keys/);
      expect(existsSync(join(home, 'nowhere'))).toBe(false);
    });

    it('fails with what went wrong when ~/.ssh cannot be made', () => {
      const home = scratch('home');
      writeFileSync(join(home, '.ssh'), 'a file');
      const error = thrown(() => install(home));
      expect(error.code).toBe('key-setup-failed');
      expect(error.message).toMatch(
        /^Could not add the public key to ~\/\.ssh\/authorized_keys \(exit status 1\): .*jlhpc-install-key: could not create .*\.ssh/s
      );
    });

    it('refuses a line that is not a key, even when called directly', () => {
      const home = scratch('home');
      const argv = installKeyCommand(key).argv;
      const result = spawnSync(
        shell[0],
        [...shell.slice(1), ...argv.slice(1, 4), `ssh-ed25519 $(touch x)`],
        { env: { HOME: home, PATH: '/usr/bin:/bin' }, cwd: home }
      );
      expect(result.status).toBe(1);
      expect(result.stderr.toString()).toMatch(/not a public key line/);
      expect(existsSync(join(home, '.ssh'))).toBe(false);
    });
  });

  (busybox ? it : it.skip)(
    'works with busybox tools only (as on Alpine)',
    () => {
      const home = scratch('home-busybox');
      mkdirSync(join(home, '.ssh'));
      writeFileSync(join(home, '.ssh', 'authorized_keys'), other);
      const run = (line: string) =>
        parseInstallResult(
          runScript(home, line, [join(busyboxBin, 'sh')], busyboxBin)
        );
      expect(run(key)).toBe('installed');
      expect(run(`${typeAndBase64(key)} renamed`)).toBe('present');
      expect(readFileSync(join(home, '.ssh', 'authorized_keys'), 'utf8')).toBe(
        `${other}\n${key}\n`
      );
    }
  );
});
