/**
 * known_hosts against the real OpenSSH tools: keys come from `ssh-keygen`,
 * fingerprints are compared with `ssh-keygen -l`, hashed names with
 * `ssh-keygen -H`, appended lines are looked up with `ssh-keygen -F`, and
 * whole decisions with the `ssh` client against an in-process ssh2 server.
 * Every key and file lives in a temporary directory made for the run.
 */
import { execFile, execFileSync, spawnSync } from 'child_process';
import {
  mkdtempSync,
  promises as fs,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client, Connection, Server } from 'ssh2';

import {
  appendKnownHost,
  checkHostKey,
  checkHostKeyInEntries,
  fingerprintLine,
  fingerprintSha256,
  hashKnownHostsName,
  HostKeyCheck,
  HostKeyError,
  hostKeyError,
  hostKeyMessage,
  IHostKeyChanged,
  IHostKeyQuery,
  IHostKeyRevoked,
  IHostKeyUnknown,
  KeyFormatError,
  knownHostKeyTypes,
  knownHostsName,
  parseKnownHosts,
  parsePublicKey,
  unknownHostPrompt
} from '../../../src/sidecar/ssh/known-hosts';
import { matchPatternList } from '../../../src/sidecar/ssh/host-patterns';

interface ITestKey {
  /** Private key file (the public one is `${path}.pub`). */
  path: string;
  keyType: string;
  blob: Buffer;
}

let dir: string;
const keys: Record<string, ITestKey> = {};

function keygen(name: string, args: string[]): ITestKey {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', name, '-f', path]);
  return readPub(path, `${path}.pub`);
}

function readPub(path: string, pubPath: string): ITestKey {
  const [keyType, base64] = readFileSync(pubPath, 'utf8').split(' ');
  return { path, keyType, blob: Buffer.from(base64, 'base64') };
}

/** An SSH wire-format blob from its strings. */
function blobOf(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    parts.flatMap(part => {
      const data = typeof part === 'string' ? Buffer.from(part) : part;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      return [len, data];
    })
  );
}

/** The strings of an SSH wire-format blob. */
function stringsOf(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < blob.length;) {
    const len = blob.readUInt32BE(pos);
    out.push(blob.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return out;
}

/** A FIDO key's public half, built from a software key of the same curve. */
function skKey(name: string, keyType: string, from: ITestKey): ITestKey {
  const [, ...rest] = stringsOf(from.blob);
  const blob = blobOf(keyType, ...rest, 'ssh:');
  const pubPath = join(dir, `${name}.pub`);
  writeFileSync(pubPath, `${keyType} ${blob.toString('base64')} ${name}\n`);
  return readPub(join(dir, name), pubPath);
}

/** `ssh-keygen -lf`: bits, fingerprint and type as OpenSSH prints them. */
function sshKeygenList(pubPath: string) {
  const out = execFileSync('ssh-keygen', ['-lf', pubPath], {
    encoding: 'utf8'
  }).trim();
  const match = /^(\d+) (SHA256:\S+) .* \((\S+)\)$/.exec(out);
  if (!match) {
    throw new Error(`unexpected ssh-keygen -l output: ${out}`);
  }
  return { bits: Number(match[1]), fingerprint: match[2], type: match[3] };
}

/**
 * `ssh-keygen -F name -f file`: the lines it finds. Exit status 1 with no
 * output is its "not found"; any other failure (no ssh-keygen, a file it
 * cannot read, exit 255) fails the test instead of passing for "not found".
 */
function sshKeygenFind(name: string, file: string): string[] {
  const run = spawnSync('ssh-keygen', ['-F', name, '-f', file], {
    encoding: 'utf8'
  });
  if (run.error) {
    throw run.error;
  }
  if (run.status === 1 && run.stdout === '' && run.stderr === '') {
    return [];
  }
  if (run.status !== 0) {
    throw new Error(
      `ssh-keygen -F ${name} -f ${file} failed (status ${run.status}, ` +
        `signal ${run.signal}): ${run.stderr.trim()}`
    );
  }
  return run.stdout
    .split('\n')
    .filter(line => line !== '' && !line.startsWith('#'));
}

function line(hosts: string, key: ITestKey, marker = ''): string {
  return `${marker ? marker + ' ' : ''}${hosts} ${key.keyType} ${key.blob.toString('base64')}`;
}

let fileCount = 0;
async function writeKnownHosts(...lines: string[]): Promise<string> {
  const file = join(dir, `known_hosts_${++fileCount}`);
  await fs.writeFile(file, lines.map(l => l + '\n').join(''));
  return file;
}

function check(text: string, query: IHostKeyQuery): HostKeyCheck {
  return checkHostKeyInEntries(parseKnownHosts(text, '/kh'), query);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hpc-known-hosts-'));
  keys.ed25519 = keygen('ed25519', ['-t', 'ed25519']);
  keys.ed25519b = keygen('ed25519b', ['-t', 'ed25519']);
  keys.ecdsa256 = keygen('ecdsa256', ['-t', 'ecdsa', '-b', '256']);
  keys.ecdsa384 = keygen('ecdsa384', ['-t', 'ecdsa', '-b', '384']);
  keys.ecdsa521 = keygen('ecdsa521', ['-t', 'ecdsa', '-b', '521']);
  keys.rsa = keygen('rsa', ['-t', 'rsa', '-b', '2048']);
  keys.rsa3072 = keygen('rsa3072', ['-t', 'rsa', '-b', '3072']);
  keys.skEd25519 = skKey(
    'sk-ed25519',
    'sk-ssh-ed25519@openssh.com',
    keys.ed25519
  );
  keys.skEcdsa = skKey(
    'sk-ecdsa',
    'sk-ecdsa-sha2-nistp256@openssh.com',
    keys.ecdsa256
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fingerprints and key descriptions match ssh-keygen -l', () => {
  it.each([
    ['ed25519', 'ssh-ed25519', 'ED25519', 256],
    ['ecdsa256', 'ecdsa-sha2-nistp256', 'ECDSA', 256],
    ['ecdsa384', 'ecdsa-sha2-nistp384', 'ECDSA', 384],
    ['ecdsa521', 'ecdsa-sha2-nistp521', 'ECDSA', 521],
    ['rsa', 'ssh-rsa', 'RSA', 2048],
    ['rsa3072', 'ssh-rsa', 'RSA', 3072],
    ['skEd25519', 'sk-ssh-ed25519@openssh.com', 'ED25519-SK', 256],
    ['skEcdsa', 'sk-ecdsa-sha2-nistp256@openssh.com', 'ECDSA-SK', 256]
  ])('%s', (name, keyType, displayType, bits) => {
    const key = keys[name];
    const listed = sshKeygenList(`${key.path}.pub`);
    expect(fingerprintSha256(key.blob)).toBe(listed.fingerprint);
    expect(parsePublicKey(key.blob)).toEqual({
      keyType,
      displayType: listed.type,
      bits: listed.bits,
      fingerprint: listed.fingerprint,
      blob: key.blob
    });
    expect([displayType, bits]).toEqual([listed.type, listed.bits]);
    expect(fingerprintLine(parsePublicKey(key.blob))).toBe(
      `${displayType} key fingerprint is ${listed.fingerprint}`
    );
  });

  it('has no base64 padding, like OpenSSH', () => {
    // sha256 is 32 bytes: 44 base64 characters with one '='.
    expect(fingerprintSha256(Buffer.from('x'))).toMatch(
      /^SHA256:[A-Za-z0-9+/]{43}$/
    );
  });

  it('shows a type it does not know by its name, without a size', () => {
    const blob = blobOf('ssh-future@example.org', 'data');
    expect(parsePublicKey(blob)).toMatchObject({
      keyType: 'ssh-future@example.org',
      displayType: 'ssh-future@example.org',
      bits: undefined
    });
  });

  it.each([
    ['an empty blob', () => Buffer.alloc(0)],
    ['a truncated length', () => Buffer.from([0, 0, 0])],
    ['a length past the end', () => Buffer.from([0, 0, 0, 9, 0x61])],
    ['an empty type', () => blobOf('')],
    ['a type with a space', () => blobOf('ssh ed25519', Buffer.alloc(32))],
    ['a short ed25519 key', () => blobOf('ssh-ed25519', Buffer.alloc(31))],
    [
      'trailing bytes',
      () => Buffer.concat([keys.ed25519.blob, Buffer.from([0])])
    ],
    [
      'an ECDSA key naming another curve',
      () =>
        blobOf('ecdsa-sha2-nistp384', ...stringsOf(keys.ecdsa256.blob).slice(1))
    ],
    [
      'a compressed ECDSA point',
      () => blobOf('ecdsa-sha2-nistp256', 'nistp256', Buffer.alloc(33, 2))
    ],
    [
      'an RSA key without modulus',
      () => blobOf('ssh-rsa', Buffer.from([1, 0, 1]))
    ]
  ])('rejects %s', (_what, make) => {
    expect(() => parsePublicKey(make())).toThrow(KeyFormatError);
  });
});

describe('knownHostsName', () => {
  it.each([
    ['hpc-gw1', 22, undefined, 'hpc-gw1'],
    ['hpc-gw1', 2222, undefined, '[hpc-gw1]:2222'],
    ['HPC-GW1.Example.ORG', 22, undefined, 'hpc-gw1.example.org'],
    ['HPC-GW1', 2222, undefined, '[hpc-gw1]:2222'],
    ['10.0.0.5', 22, undefined, '10.0.0.5'],
    ['::1', 2222, undefined, '[::1]:2222'],
    ['hpc-gw1', 22, 'Cluster', 'cluster'],
    ['hpc-gw1', 2222, 'cluster', 'cluster']
  ])('%s port %p alias %p → %p', (host, port, alias, name) => {
    expect(knownHostsName(host, port, alias)).toBe(name);
  });
});

describe('hashed names', () => {
  it('equal what ssh-keygen -H writes, for bare and [host]:port names', async () => {
    const names = ['hpc-gw1', '[hpc-gw1]:2222', 'login.cluster.example.org'];
    const file = await writeKnownHosts(
      ...names.map((name, i) =>
        line(name, [keys.ed25519, keys.ecdsa384, keys.rsa][i])
      )
    );
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const parsed = parseKnownHosts(await fs.readFile(file, 'utf8'), file);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.entries).toHaveLength(3);
    parsed.entries.forEach((entry, i) => {
      expect(entry.hosts).toMatch(/^\|1\|/);
      expect(entry.hosts).not.toContain(names[i]);
      expect(hashKnownHostsName(names[i], entry.salt)).toBe(entry.hosts);
    });
  });

  it('differ with every fresh salt and are found by ssh-keygen -F', async () => {
    const a = hashKnownHostsName('[hpc-gw1]:2222');
    const b = hashKnownHostsName('[hpc-gw1]:2222');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}=$/);
    const file = await writeKnownHosts(
      `${a} ${keys.ed25519.keyType} ${keys.ed25519.blob.toString('base64')}`
    );
    expect(sshKeygenFind('[hpc-gw1]:2222', file)).toHaveLength(1);
    expect(sshKeygenFind('hpc-gw1', file)).toHaveLength(0);
  });

  it.each([
    ['hpc-gw1', 22, 'known'],
    ['HPC-GW1', 22, 'known'],
    ['hpc-gw1', 2222, 'known'],
    ['hpc-gw2', 22, 'unknown'],
    ['hpc-gw1', 2223, 'known'] // port fallback to the bare name
  ])(
    'a file hashed by ssh-keygen -H: %s port %p is %s',
    async (host, port, status) => {
      const file = await writeKnownHosts(
        line('hpc-gw1', keys.ed25519),
        line('[hpc-gw1]:2222', keys.ed25519)
      );
      execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
      const result = await checkHostKey({
        host,
        port,
        key: keys.ed25519.blob,
        files: [file],
        globalFiles: []
      });
      expect(result.status).toBe(status);
    }
  );
});

describe('matchPatternList on a known_hosts host field', () => {
  it.each([
    ['hpc-gw1', ['hpc-gw1'], 1],
    ['hpc-gw1', ['HPC-GW1'], 1],
    ['hpc-gw1', ['hpc-gw2'], 0],
    ['hpc-gw1', ['hpc-gw'], 0],
    ['hpc-gw1', ['other', 'hpc-gw1'], 1],
    ['hpc-gw1', ['hpc-gw?'], 1],
    ['hpc-gw10', ['hpc-gw?'], 0],
    ['login1.cluster.org', ['*.cluster.org'], 1],
    ['cluster.org', ['*.cluster.org'], 0],
    ['a.b.cluster.org', ['*.cluster.org'], 1],
    ['x', ['*'], 1],
    ['[hpc-gw1]:2222', ['[hpc-gw1]:*'], 1],
    ['[hpc-gw1]:2222', ['hpc-gw1'], 0],
    ['bad.cluster.org', ['*.cluster.org', '!bad.cluster.org'], -1],
    ['bad.cluster.org', ['!bad.cluster.org', '*.cluster.org'], -1],
    ['good.cluster.org', ['*.cluster.org', '!bad.cluster.org'], 1],
    ['bad.cluster.org', ['!bad.cluster.org'], -1],
    ['good.cluster.org', ['!bad.cluster.org'], 0],
    ['abc', ['a*c*'], 1],
    ['ab', ['a*c'], 0],
    ['a.c', ['a?c'], 1],
    ['', [''], 1]
  ])('%p in %p → %p', (name, patterns, expected) => {
    expect(matchPatternList(name, patterns, true)).toBe(expected);
  });
});

describe('parseKnownHosts', () => {
  it('reads patterns, markers, comments, blank lines and several key types', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      line('hpc-gw1,10.0.0.5', keys.ed25519) + ' a comment on the key',
      '  \t' + line('[hpc-gw1]:2222', keys.ecdsa384),
      line('*.cluster.org', keys.rsa, '@cert-authority'),
      line('*', keys.ed25519b, '@revoked'),
      line('sk.cluster.org', keys.skEd25519),
      line('crlf', keys.ecdsa521) + '\r',
      line('tabs', keys.ecdsa256).replace(/ /g, '\t'),
      ''
    ].join('\n');
    const { entries, warnings } = parseKnownHosts(text, '/kh');
    expect(warnings).toEqual([]);
    expect(
      entries.map(e => [e.line, e.marker, e.patterns, e.key.keyType])
    ).toEqual([
      [4, 'none', ['hpc-gw1', '10.0.0.5'], 'ssh-ed25519'],
      [5, 'none', ['[hpc-gw1]:2222'], 'ecdsa-sha2-nistp384'],
      [6, 'cert-authority', ['*.cluster.org'], 'ssh-rsa'],
      [7, 'revoked', ['*'], 'ssh-ed25519'],
      [8, 'none', ['sk.cluster.org'], 'sk-ssh-ed25519@openssh.com'],
      [9, 'none', ['crlf'], 'ecdsa-sha2-nistp521'],
      [10, 'none', ['tabs'], 'ecdsa-sha2-nistp256']
    ]);
  });

  const good = () => keys.ed25519.blob.toString('base64');
  it.each([
    ['a host without a key', () => 'hpc-gw1', 'no key after the host names'],
    [
      'a host and a comment',
      () => 'hpc-gw1 # x',
      'no key after the host names'
    ],
    ['a type without data', () => 'hpc-gw1 ssh-ed25519', 'no key data'],
    [
      'an SSH-1 RSA key',
      () => 'hpc-gw1 1024 35 1234567890',
      'SSH-1 RSA keys are not supported'
    ],
    ['bad base64', () => 'hpc-gw1 ssh-ed25519 AAAA$$$$', 'not base64'],
    [
      'cut base64',
      () => `hpc-gw1 ssh-ed25519 ${good().slice(0, 30)}`,
      'not base64'
    ],
    [
      'a type that does not match the key',
      () => `hpc-gw1 ssh-rsa ${good()}`,
      'line says ssh-rsa but the key is ssh-ed25519'
    ],
    [
      'an unknown marker',
      () => `@trusted hpc-gw1 ssh-ed25519 ${good()}`,
      'unknown marker'
    ],
    [
      'two markers',
      () => `@revoked @cert-authority hpc-gw1 ssh-ed25519 ${good()}`,
      'more than one marker'
    ],
    [
      'a hash of another version',
      () => `|2|${hashKnownHostsName('x').slice(3)} ssh-ed25519 ${good()}`,
      'not |1|salt|hash'
    ],
    [
      'a hash with a short salt',
      () => `|1|AAAA|${'A'.repeat(27)}= ssh-ed25519 ${good()}`,
      'wrong length'
    ],
    [
      'a hash without its hash',
      () => `|1|${'A'.repeat(27)}= ssh-ed25519 ${good()}`,
      'not |1|salt|hash'
    ]
  ])('skips %s with a file:line warning', (_what, make, why) => {
    const text = [
      line('before', keys.ed25519),
      make(),
      line('after', keys.rsa)
    ].join('\n');
    const { entries, warnings } = parseKnownHosts(
      text,
      '/home/u/.ssh/known_hosts'
    );
    expect(entries.map(e => e.hosts)).toEqual(['before', 'after']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      code: 'malformed-line',
      file: '/home/u/.ssh/known_hosts',
      line: 2
    });
    expect(warnings[0].message).toMatch(
      /^\/home\/u\/\.ssh\/known_hosts:2: skipped: /
    );
    expect(warnings[0].message).toContain(why);
  });

  it('never throws, whatever the text', () => {
    const noise = Array.from({ length: 200 }, (_, i) =>
      String.fromCharCode(
        ...Array.from({ length: i % 40 }, (_, j) => (i * 7 + j * 13) % 128)
      )
    ).join('\n');
    expect(() => parseKnownHosts(noise, '/kh')).not.toThrow();
  });
});

describe('checkHostKeyInEntries', () => {
  const K = () => keys;

  const table: [string, () => string[], Partial<IHostKeyQuery>, string][] = [
    ['an exact line', () => [line('hpc-gw1', K().ed25519)], {}, 'known'],
    [
      'one of several names',
      () => [line('a,hpc-gw1,b', K().ed25519)],
      {},
      'known'
    ],
    ['a wildcard', () => [line('hpc-gw*', K().ed25519)], {}, 'known'],
    ['a ? wildcard', () => [line('hpc-gw?', K().ed25519)], {}, 'known'],
    [
      'a negated name among wildcards',
      () => [line('hpc-*,!hpc-gw1', K().ed25519)],
      {},
      'unknown'
    ],
    [
      'a negated name after a line that matches',
      () => [line('hpc-*,!hpc-gw1', K().ed25519), line('hpc-gw1', K().ed25519)],
      {},
      'known'
    ],
    [
      'upper case in the file',
      () => [line('HPC-GW1', K().ed25519)],
      {},
      'known'
    ],
    [
      'upper case in the query',
      () => [line('hpc-gw1', K().ed25519)],
      { host: 'HPC-GW1' },
      'known'
    ],
    ['no line at all', () => [], {}, 'unknown'],
    ['only other hosts', () => [line('hpc-gw2', K().rsa)], {}, 'unknown'],
    [
      'a [host]:port line for port 22',
      () => [line('[hpc-gw1]:22', K().ed25519)],
      {},
      'unknown'
    ],
    [
      'a [host]:port line',
      () => [line('[hpc-gw1]:2222', K().ed25519)],
      { port: 2222 },
      'known'
    ],
    [
      'port 22 only, asked for 2222',
      () => [line('hpc-gw1', K().ed25519)],
      { port: 2222 },
      'known'
    ],
    [
      'another key under the bare name, asked for 2222',
      () => [line('hpc-gw1', K().rsa)],
      { port: 2222 },
      'unknown'
    ],
    [
      'a line for port 2222, asked for 22',
      () => [line('[hpc-gw1]:2222', K().ed25519)],
      {},
      'unknown'
    ],
    [
      'the same key twice',
      () => [line('hpc-gw1', K().ed25519), line('hpc-gw1', K().ed25519)],
      {},
      'known'
    ],
    [
      'an old key and the current one',
      () => [line('hpc-gw1', K().ed25519b), line('hpc-gw1', K().ed25519)],
      {},
      'known'
    ],
    [
      'a different key of the same type',
      () => [line('hpc-gw1', K().ed25519b)],
      {},
      'changed'
    ],
    [
      'only a key of another type',
      () => [line('hpc-gw1', K().rsa)],
      {},
      'changed'
    ],
    [
      'a different key under a wildcard',
      () => [line('*.cluster.org,hpc-*', K().ed25519b)],
      {},
      'changed'
    ],
    [
      'the key, revoked',
      () => [line('hpc-gw1', K().ed25519, '@revoked')],
      {},
      'revoked'
    ],
    [
      'the key, listed and revoked',
      () => [
        line('hpc-gw1', K().ed25519),
        line('hpc-gw1', K().ed25519, '@revoked')
      ],
      {},
      'revoked'
    ],
    [
      'the key, revoked for every host',
      () => [line('*', K().ed25519, '@revoked'), line('hpc-gw1', K().ed25519)],
      {},
      'revoked'
    ],
    [
      'another key revoked',
      () => [line('*', K().rsa, '@revoked'), line('hpc-gw1', K().ed25519)],
      {},
      'known'
    ],
    [
      'a revocation for other hosts only',
      () => [
        line('*,!hpc-gw1', K().ed25519, '@revoked'),
        line('hpc-gw1', K().ed25519)
      ],
      {},
      'known'
    ],
    [
      'the key revoked under the bare name, asked for 2222',
      () => [line('hpc-gw1', K().ed25519, '@revoked')],
      { port: 2222 },
      'revoked'
    ],
    [
      'the key as a @cert-authority',
      () => [line('hpc-gw1', K().ed25519, '@cert-authority')],
      {},
      'unknown'
    ],
    [
      'a @cert-authority next to another plain key',
      () => [
        line('hpc-gw1', K().ed25519, '@cert-authority'),
        line('hpc-gw1', K().rsa)
      ],
      {},
      'changed'
    ],
    [
      'the alias',
      () => [line('cluster', K().ed25519)],
      { hostKeyAlias: 'cluster' },
      'known'
    ],
    [
      'the alias, whatever the port',
      () => [line('cluster', K().ed25519)],
      { hostKeyAlias: 'cluster', port: 2222 },
      'known'
    ],
    [
      'the host but not the alias',
      () => [line('hpc-gw1', K().ed25519)],
      { hostKeyAlias: 'cluster' },
      'unknown'
    ],
    [
      'the host but not the alias, on another port',
      () => [line('hpc-gw1', K().ed25519)],
      { hostKeyAlias: 'cluster', port: 2222 },
      'unknown'
    ],
    [
      'another key under the alias',
      () => [line('cluster', K().ed25519b), line('hpc-gw1', K().ed25519)],
      { hostKeyAlias: 'cluster' },
      'changed'
    ],
    [
      'a malformed line with the key',
      () => [`hpc-gw1 ssh-rsa ${K().ed25519.blob.toString('base64')}`],
      {},
      'unknown'
    ]
  ];
  it.each(
    table.map(([what, lines, query, status]) => [
      `${what} → ${status}`,
      lines,
      query,
      status
    ])
  )('%s', (_title, lines, query, status) => {
    const result = check(lines().join('\n'), {
      host: 'hpc-gw1',
      key: keys.ed25519.blob,
      ...query
    });
    expect(result.status).toBe(status);
  });

  it('names the line that holds a known key', () => {
    const result = check(
      ['# c', line('other', keys.rsa), line('hpc-gw1', keys.ed25519)].join(
        '\n'
      ),
      { host: 'hpc-gw1', key: keys.ed25519.blob }
    );
    expect(result).toMatchObject({
      status: 'known',
      name: 'hpc-gw1',
      matchedName: 'hpc-gw1',
      file: '/kh',
      line: 3,
      fingerprint: fingerprintSha256(keys.ed25519.blob)
    });
  });

  it('says when the key was found under the bare name for another port', () => {
    const result = check(line('hpc-gw1', keys.ed25519), {
      host: 'hpc-gw1',
      port: 2222,
      key: keys.ed25519.blob
    });
    expect(result).toMatchObject({
      status: 'known',
      name: '[hpc-gw1]:2222',
      matchedName: 'hpc-gw1'
    });
  });

  it('reports a changed key of the same type with every known fingerprint', () => {
    const result = check(
      [
        line('hpc-gw1', keys.rsa),
        line('hpc-gw1', keys.ed25519b),
        line('hpc-gw1', keys.ed25519b, '@cert-authority')
      ].join('\n'),
      { host: 'hpc-gw1', key: keys.ed25519.blob }
    ) as IHostKeyChanged;
    expect(result.status).toBe('changed');
    expect(result.sameType).toBe(true);
    expect(result.fingerprint).toBe(fingerprintSha256(keys.ed25519.blob));
    expect(result.knownFingerprints).toEqual([
      fingerprintSha256(keys.rsa.blob),
      fingerprintSha256(keys.ed25519b.blob)
    ]);
    expect(result.knownKeys.map(k => [k.displayType, k.line])).toEqual([
      ['RSA', 1],
      ['ED25519', 2]
    ]);
    // The line shown is the one of the offered type.
    expect([result.file, result.line]).toEqual(['/kh', 2]);
  });

  it('reports a key of another type as changed, saying so', () => {
    const result = check(line('hpc-gw1', keys.ed25519), {
      host: 'hpc-gw1',
      keyType: 'rsa-sha2-512',
      key: keys.rsa.blob
    }) as IHostKeyChanged;
    expect(result).toMatchObject({
      status: 'changed',
      sameType: false,
      line: 1,
      offered: { displayType: 'RSA', bits: 2048 },
      knownFingerprints: [fingerprintSha256(keys.ed25519.blob)]
    });
  });

  it('warns about a @cert-authority for the host and trusts nothing from it', () => {
    const result = check(
      [
        line('*.cluster.org', keys.ed25519, '@cert-authority'),
        line('x', keys.rsa, '@cert-authority')
      ].join('\n'),
      { host: 'login.cluster.org', key: keys.ed25519.blob }
    );
    expect(result.status).toBe('unknown');
    expect(result.warnings).toEqual([
      expect.objectContaining({
        code: 'cert-authority-unsupported',
        file: '/kh',
        line: 1
      })
    ]);
  });

  it('passes the file warnings on', () => {
    const result = check(
      ['garbage', line('hpc-gw1', keys.ed25519)].join('\n'),
      {
        host: 'hpc-gw1',
        key: keys.ed25519.blob
      }
    );
    expect(result.status).toBe('known');
    expect(result.warnings).toEqual([
      expect.objectContaining({ code: 'malformed-line', line: 1 })
    ]);
  });

  it.each([
    ['a key type other than the blob', { keyType: 'ssh-ed25519', key: 'rsa' }],
    ['an unreadable blob', { keyType: undefined, key: 'junk' }]
  ])('refuses %s with host-key-invalid', (_what, { keyType, key }) => {
    const blob = key === 'junk' ? Buffer.from('junk') : keys[key].blob;
    let error: unknown;
    try {
      check('', { host: 'hpc-gw1', keyType, key: blob });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HostKeyError);
    expect((error as HostKeyError).code).toBe('host-key-invalid');
  });
});

describe('checkHostKey reads files', () => {
  const query = () => ({
    host: 'hpc-gw1',
    key: keys.ed25519.blob,
    globalFiles: []
  });

  it('treats a missing file as one without hosts', async () => {
    const result = await checkHostKey({
      ...query(),
      files: [join(dir, 'absent', 'known_hosts')]
    });
    expect(result.status).toBe('unknown');
    expect(result.warnings).toEqual([]);
  });

  it('warns about a file it cannot read and goes on', async () => {
    const good = await writeKnownHosts(line('hpc-gw1', keys.ed25519));
    const result = await checkHostKey({ ...query(), files: [dir, good] });
    expect(result).toMatchObject({ status: 'known', file: good, line: 1 });
    expect(result.warnings).toEqual([
      expect.objectContaining({ code: 'unreadable-file', file: dir })
    ]);
  });

  it('looks through every user file, then the global ones', async () => {
    const empty = await writeKnownHosts('# nothing');
    const second = await writeKnownHosts(
      line('other', keys.rsa),
      line('hpc-gw1', keys.ed25519)
    );
    const result = await checkHostKey({ ...query(), files: [empty, second] });
    expect(result).toMatchObject({ status: 'known', file: second, line: 2 });
  });

  it('marks a changed key from a global file as read only', async () => {
    const global = await writeKnownHosts(line('hpc-gw1', keys.ed25519b));
    const result = (await checkHostKey({
      ...query(),
      files: [],
      globalFiles: [global]
    })) as IHostKeyChanged;
    expect(result).toMatchObject({
      status: 'changed',
      file: global,
      readOnly: true
    });
  });

  it('honours a @revoked line in a global file over a user line', async () => {
    const user = await writeKnownHosts(line('hpc-gw1', keys.ed25519));
    const global = await writeKnownHosts(line('*', keys.ed25519, '@revoked'));
    const result = await checkHostKey({
      ...query(),
      files: [user],
      globalFiles: [global]
    });
    expect(result).toMatchObject({ status: 'revoked', file: global, line: 1 });
  });

  it('lists the key types known for a host, for the connection to prefer', async () => {
    const file = await writeKnownHosts(
      line('hpc-gw1', keys.ecdsa256),
      line('*', keys.rsa, '@revoked'),
      line('hpc-*', keys.ed25519),
      line('hpc-gw1', keys.ed25519b),
      line('other', keys.rsa)
    );
    expect(
      await knownHostKeyTypes({
        host: 'hpc-gw1',
        files: [file],
        globalFiles: []
      })
    ).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(
      await knownHostKeyTypes({
        host: 'hpc-gw1',
        port: 2222,
        files: [file],
        globalFiles: []
      })
    ).toEqual([]);
  });
});

describe('messages', () => {
  const home = '/home/ada';
  const fpA = () => fingerprintSha256(keys.ed25519.blob);
  const fpB = () => fingerprintSha256(keys.ed25519b.blob);

  function changed(
    port = 22,
    file = `${home}/.ssh/known_hosts`,
    offered = keys.ed25519,
    hostKeyAlias?: string
  ): IHostKeyChanged {
    const text =
      Array.from({ length: 11 }, () => '#').join('\n') +
      '\n' +
      line('hpc-gw1,[hpc-gw1]:2222,cluster', keys.ed25519b);
    return checkHostKeyInEntries(parseKnownHosts(text, file), {
      host: 'hpc-gw1',
      port,
      key: offered.blob,
      hostKeyAlias
    }) as IHostKeyChanged;
  }

  it('explains a changed key as the issue asks', () => {
    expect(hostKeyMessage(changed(), { home })).toBe(
      `Host key for hpc-gw1 (port 22) changed: the server offered ED25519 ${fpA()} ` +
        `but ~/.ssh/known_hosts line 12 has ${fpB()}. This may be an attack, or the cluster ` +
        'was reinstalled; ask its admins, then remove the old line with `ssh-keygen -R hpc-gw1`.'
    );
  });

  it('quotes a [host]:port name and names a file other than the default', () => {
    const message = hostKeyMessage(
      changed(2222, `${home}/.ssh/cluster hosts`),
      { home }
    );
    expect(message).toContain('Host key for hpc-gw1 (port 2222) changed');
    expect(message).toContain('~/.ssh/cluster hosts line 12');
    expect(message).toContain(
      "`ssh-keygen -f '/home/ada/.ssh/cluster hosts' -R '[hpc-gw1]:2222'`"
    );
  });

  it('names the alias to remove', () => {
    const message = hostKeyMessage(
      changed(22, undefined, keys.ed25519, 'cluster'),
      { home }
    );
    expect(message).toContain('(port 22, HostKeyAlias cluster)');
    expect(message).toContain('`ssh-keygen -R cluster`');
  });

  it('says when only a key of another type is known', () => {
    const message = hostKeyMessage(changed(22, undefined, keys.rsa), { home });
    expect(message).toContain(
      `the server offered RSA ${fingerprintSha256(keys.rsa.blob)} but ~/.ssh/known_hosts line 12 ` +
        `has a key of another type, ED25519 ${fpB()}; ssh refuses this too.`
    );
  });

  it('sends the admins to a global file instead of ssh-keygen -R', () => {
    const result = {
      ...changed(),
      readOnly: true,
      file: '/etc/ssh/ssh_known_hosts'
    };
    result.knownKeys = result.knownKeys.map(k => ({ ...k, file: result.file }));
    const message = hostKeyMessage(result, { home });
    expect(message).toContain(
      'who must also update /etc/ssh/ssh_known_hosts line 12'
    );
    expect(message).not.toContain('ssh-keygen');
  });

  it.each<[string, () => HostKeyCheck, string, RegExp]>([
    [
      'changed',
      () => changed(),
      'host-key-changed',
      /changed: the server offered/
    ],
    [
      'revoked',
      () =>
        check(line('*', keys.ed25519, '@revoked'), {
          host: 'hpc-gw1',
          key: keys.ed25519.blob
        }),
      'host-key-revoked',
      /^Host key for hpc-gw1 \(port 22\) is revoked: the server offered ED25519 SHA256:\S+, which \/kh line 1 marks @revoked\./
    ],
    [
      'unknown',
      () => check('', { host: 'hpc-gw1', port: 2222, key: keys.ed25519.blob }),
      'host-key-unknown',
      /is not known and was not accepted: .* or with `ssh -p 2222 hpc-gw1` in a terminal\.$/
    ]
  ])('makes a HostKeyError for %s', (_what, make, code, message) => {
    const result = make();
    expect(result.status).not.toBe('known');
    const error = hostKeyError(result as IHostKeyRevoked, { home });
    expect(error).toBeInstanceOf(HostKeyError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('asks about an unknown host the way ssh does', () => {
    const result = check('', {
      host: 'hpc-gw1',
      port: 2222,
      key: keys.ecdsa384.blob
    });
    expect(unknownHostPrompt(result as IHostKeyUnknown)).toBe(
      "The authenticity of host '[hpc-gw1]:2222' can't be established.\n" +
        `ECDSA key fingerprint is ${fingerprintSha256(keys.ecdsa384.blob)}.\n` +
        'Are you sure you want to continue connecting?'
    );
  });
});

describe('appendKnownHost', () => {
  const mode = async (path: string) => (await fs.stat(path)).mode & 0o777;

  it.each([
    ['ed25519', 22, false],
    ['ed25519', 2222, false],
    ['ecdsa384', 22, true],
    ['rsa', 2222, true],
    ['ecdsa521', 2222, true],
    ['skEd25519', 22, false]
  ])(
    'writes %s for port %p (hashed %p) so that ssh-keygen -F finds it',
    async (name, port, hash) => {
      const key = keys[name];
      const file = join(dir, `append-${name}-${port}-${hash}`, 'known_hosts');
      const result = await appendKnownHost(
        file,
        'hpc-gw1',
        port,
        key.keyType,
        key.blob,
        {
          hash
        }
      );
      const sshName = port === 22 ? 'hpc-gw1' : `[hpc-gw1]:${port}`;
      expect(result).toMatchObject({ appended: true, name: sshName });
      const text = await fs.readFile(file, 'utf8');
      expect(text).toBe(result.text + '\n');
      expect(text.startsWith(sshName + ' ')).toBe(!hash);
      expect(text.includes('hpc-gw1')).toBe(!hash);
      const found = sshKeygenFind(sshName, file);
      expect(found).toEqual([result.text]);
      expect(found[0]).toContain(
        `${key.keyType} ${key.blob.toString('base64')}`
      );
      // The other port's name must not find it.
      expect(
        sshKeygenFind(port === 22 ? '[hpc-gw1]:2222' : 'hpc-gw1', file)
      ).toEqual([]);
      const check = await checkHostKey({
        host: 'hpc-gw1',
        port,
        key: key.blob,
        files: [file],
        globalFiles: []
      });
      expect(check).toMatchObject({ status: 'known', line: 1 });
    }
  );

  it('creates the file 0600 and a missing directory 0700', async () => {
    const sshDir = join(dir, 'home-new', '.ssh');
    const file = join(sshDir, 'known_hosts');
    await appendKnownHost(
      file,
      'hpc-gw1',
      22,
      'ssh-ed25519',
      keys.ed25519.blob,
      {
        hash: false
      }
    );
    expect(await mode(sshDir)).toBe(0o700);
    expect(await mode(file)).toBe(0o600);
  });

  it('never changes the modes of an existing file and directory', async () => {
    const sshDir = join(dir, 'home-old', '.ssh');
    await fs.mkdir(sshDir, { recursive: true });
    await fs.chmod(sshDir, 0o750);
    const file = join(sshDir, 'known_hosts');
    await fs.writeFile(file, line('other', keys.rsa) + '\n');
    await fs.chmod(file, 0o640);
    const result = await appendKnownHost(
      file,
      'hpc-gw1',
      22,
      'ssh-ed25519',
      keys.ed25519.blob,
      {
        hash: false
      }
    );
    expect(result.appended).toBe(true);
    expect(await mode(sshDir)).toBe(0o750);
    expect(await mode(file)).toBe(0o640);
  });

  it.each([false, true])(
    'appends once, however often asked (hashed %p)',
    async hash => {
      const file = join(dir, `idempotent-${hash}`);
      const first = await appendKnownHost(
        file,
        'hpc-gw1',
        2222,
        'ssh-ed25519',
        keys.ed25519.blob,
        {
          hash
        }
      );
      const before = await fs.readFile(file, 'utf8');
      const again = await appendKnownHost(
        file,
        'HPC-GW1',
        2222,
        'ssh-ed25519',
        keys.ed25519.blob,
        {
          hash
        }
      );
      expect(first.appended).toBe(true);
      expect(again).toEqual({
        appended: false,
        name: '[hpc-gw1]:2222',
        text: ''
      });
      expect(await fs.readFile(file, 'utf8')).toBe(before);
    }
  );

  it('appends once when asked many times at once', async () => {
    const file = join(dir, 'concurrent');
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        appendKnownHost(file, 'hpc-gw1', 22, 'ssh-ed25519', keys.ed25519.blob, {
          hash: true
        })
      )
    );
    expect(results.filter(r => r.appended)).toHaveLength(1);
    expect((await fs.readFile(file, 'utf8')).split('\n')).toHaveLength(2);
  });

  it('adds a second host and keeps the first', async () => {
    const file = await writeKnownHosts(line('hpc-gw1', keys.ed25519));
    await appendKnownHost(file, 'hpc-gw2', 22, 'ssh-rsa', keys.rsa.blob, {
      hash: false
    });
    expect(sshKeygenFind('hpc-gw1', file)).toHaveLength(1);
    expect(sshKeygenFind('hpc-gw2', file)).toEqual([line('hpc-gw2', keys.rsa)]);
  });

  it('starts a new line after a file without a final newline', async () => {
    const file = join(dir, 'no-newline');
    await fs.writeFile(file, line('hpc-gw2', keys.rsa));
    await appendKnownHost(
      file,
      'hpc-gw1',
      22,
      'ssh-ed25519',
      keys.ed25519.blob,
      {
        hash: false
      }
    );
    expect(await fs.readFile(file, 'utf8')).toBe(
      `${line('hpc-gw2', keys.rsa)}\n${line('hpc-gw1', keys.ed25519)}\n`
    );
    expect(sshKeygenFind('hpc-gw2', file)).toHaveLength(1);
    expect(sshKeygenFind('hpc-gw1', file)).toHaveLength(1);
  });

  it('stores under the HostKeyAlias when one is set', async () => {
    const file = join(dir, 'alias');
    const result = await appendKnownHost(
      file,
      'hpc-gw1',
      2222,
      'ssh-ed25519',
      keys.ed25519.blob,
      {
        hash: false,
        hostKeyAlias: 'Cluster'
      }
    );
    expect(result.name).toBe('cluster');
    expect(sshKeygenFind('cluster', file)).toHaveLength(1);
    expect(sshKeygenFind('[hpc-gw1]:2222', file)).toHaveLength(0);
  });

  it('accepts an RSA signature algorithm name for an ssh-rsa key', async () => {
    const file = join(dir, 'rsa-sha2');
    const result = await appendKnownHost(
      file,
      'hpc-gw1',
      22,
      'rsa-sha2-512',
      keys.rsa.blob,
      {
        hash: false
      }
    );
    expect(result.text).toBe(line('hpc-gw1', keys.rsa));
  });

  it.each([
    [
      'a different key',
      () => line('hpc-gw1', keys.ed25519b),
      'host-key-changed'
    ],
    [
      'a key of another type',
      () => line('hpc-gw1', keys.rsa),
      'host-key-changed'
    ],
    [
      'a revocation',
      () => line('*', keys.ed25519, '@revoked'),
      'host-key-revoked'
    ]
  ])(
    'refuses to add next to %s and leaves the file alone',
    async (_what, make, code) => {
      const file = await writeKnownHosts(make());
      const before = await fs.readFile(file, 'utf8');
      await expect(
        appendKnownHost(file, 'hpc-gw1', 22, 'ssh-ed25519', keys.ed25519.blob, {
          hash: false
        })
      ).rejects.toMatchObject({ name: 'HostKeyError', code });
      expect(await fs.readFile(file, 'utf8')).toBe(before);
    }
  );

  it.each([
    [
      'a parent that is a file',
      async () => join(await writeKnownHosts('#'), 'known_hosts')
    ],
    ['a path that is a directory', async () => dir]
  ])('fails with known-hosts-write-failed for %s', async (_what, make) => {
    const file = await make();
    await expect(
      appendKnownHost(file, 'hpc-gw1', 22, 'ssh-ed25519', keys.ed25519.blob, {
        hash: false
      })
    ).rejects.toMatchObject({ code: 'known-hosts-write-failed' });
  });

  it('refuses a key whose type is not the one named', async () => {
    await expect(
      appendKnownHost(
        join(dir, 'mismatch'),
        'hpc-gw1',
        22,
        'ssh-rsa',
        keys.ed25519.blob,
        {
          hash: false
        }
      )
    ).rejects.toMatchObject({ code: 'host-key-invalid' });
    await expect(fs.stat(join(dir, 'mismatch'))).rejects.toThrow();
  });
});

describe('the same decisions as the ssh client', () => {
  let server: Server;
  let port: number;
  const connections = new Set<Connection>();

  beforeAll(async () => {
    server = new Server(
      { hostKeys: [readFileSync(keys.ed25519.path)] },
      client => {
        connections.add(client);
        client.on('error', () => undefined);
        client.on('close', () => connections.delete(client));
        client.on('authentication', ctx => ctx.reject(['publickey']));
      }
    );
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    connections.forEach(c => c.end());
    await new Promise(resolve => server.close(resolve));
  });

  /** ssh's verdict: 'known' when it got past the host key to authentication. */
  function ssh(file: string, extra: string[] = []): Promise<string> {
    const args = [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${file}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'UpdateHostKeys=no',
      '-o',
      'CheckHostIP=no',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityFile=/dev/null',
      '-o',
      'ConnectTimeout=5',
      ...extra,
      '-p',
      String(port),
      'nobody@127.0.0.1',
      'true'
    ];
    return new Promise(resolve => {
      execFile('ssh', args, { timeout: 8000 }, (_error, _stdout, stderr) => {
        if (/Permission denied/.test(stderr)) {
          resolve('known');
        } else if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) {
          resolve('changed');
        } else if (/REVOKED HOST KEY/.test(stderr)) {
          resolve('revoked');
        } else if (
          /host key is known for .* requested strict checking/.test(stderr)
        ) {
          resolve('unknown');
        } else {
          resolve(`unexpected: ${stderr}`);
        }
      });
    });
  }

  const self = () => `[127.0.0.1]:${port}`;

  it.each<[string, () => string[], string | undefined, string]>([
    ['no line', () => [], undefined, 'unknown'],
    [
      'the key under [host]:port',
      () => [line(self(), keys.ed25519)],
      undefined,
      'known'
    ],
    [
      'the key under the bare host',
      () => [line('127.0.0.1', keys.ed25519)],
      undefined,
      'known'
    ],
    [
      'another key under the bare host',
      () => [line('127.0.0.1', keys.ed25519b)],
      undefined,
      'unknown'
    ],
    [
      'another key of the same type',
      () => [line(self(), keys.ed25519b)],
      undefined,
      'changed'
    ],
    [
      'only a key of another type',
      () => [line(self(), keys.rsa)],
      undefined,
      'changed'
    ],
    [
      'the key and an old one',
      () => [line(self(), keys.ed25519b), line(self(), keys.ed25519)],
      undefined,
      'known'
    ],
    [
      'the key, listed and revoked',
      () => [line(self(), keys.ed25519), line('*', keys.ed25519, '@revoked')],
      undefined,
      'revoked'
    ],
    [
      'a wildcard',
      () => [line('[127.0.0.*]:*', keys.ed25519)],
      undefined,
      'known'
    ],
    [
      'a wildcard with the host negated',
      () => [line(`[127.0.0.*]:*,!${self()}`, keys.ed25519)],
      undefined,
      'unknown'
    ],
    [
      'the key as @cert-authority only',
      () => [line(self(), keys.ed25519, '@cert-authority')],
      undefined,
      'unknown'
    ],
    ['the alias', () => [line('cluster', keys.ed25519)], 'cluster', 'known'],
    [
      'the host but not the alias',
      () => [line(self(), keys.ed25519)],
      'cluster',
      'unknown'
    ],
    [
      'another key under the alias',
      () => [line('cluster', keys.ed25519b)],
      'cluster',
      'changed'
    ]
  ])('%s', async (_what, lines, alias, expected) => {
    const file = await writeKnownHosts(...lines());
    const hashed = await writeKnownHosts(...lines());
    execFileSync('ssh-keygen', ['-q', '-H', '-f', hashed]);
    const extra = alias ? ['-o', `HostKeyAlias=${alias}`] : [];
    expect(await ssh(file, extra)).toBe(expected);
    for (const f of [file, hashed]) {
      const result = await checkHostKey({
        host: '127.0.0.1',
        port,
        key: keys.ed25519.blob,
        hostKeyAlias: alias,
        files: [f],
        globalFiles: []
      });
      expect(result.status).toBe(expected);
    }
  });

  it.each([false, true])(
    'lets ssh in through a line appendKnownHost wrote (hashed %p)',
    async hash => {
      const file = join(dir, `for-ssh-${hash}`, 'known_hosts');
      expect(await ssh(file)).toBe('unknown');
      await appendKnownHost(
        file,
        '127.0.0.1',
        port,
        'ssh-ed25519',
        keys.ed25519.blob,
        { hash }
      );
      expect(await ssh(file)).toBe('known');
    }
  );

  it("gets the raw key from ssh2's hostVerifier and checks it", async () => {
    const file = await writeKnownHosts(line(self(), keys.ed25519));
    const seen: HostKeyCheck[] = [];
    const client = new Client();
    const outcome = await new Promise<string>(resolve => {
      client.on('error', error => resolve(error.message));
      client.connect({
        host: '127.0.0.1',
        port,
        username: 'nobody',
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          checkHostKey({
            host: '127.0.0.1',
            port,
            key,
            files: [file],
            globalFiles: []
          }).then(
            result => {
              seen.push(result);
              verify(result.status === 'known');
            },
            () => verify(false)
          );
        }
      });
    });
    client.end();
    expect(seen.map(r => [r.status, r.fingerprint])).toEqual([
      ['known', fingerprintSha256(keys.ed25519.blob)]
    ]);
    // It got past the host key: authentication is what failed.
    expect(outcome).toMatch(/authentication methods failed/);
  });
});
