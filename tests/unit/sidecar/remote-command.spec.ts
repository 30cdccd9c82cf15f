import { spawn, spawnSync } from 'child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  assertPortableWord,
  BoundedOutput,
  buildRemoteCommand,
  buildScript,
  buildSessionCommand,
  buildSessionFrame,
  encodePayload,
  FramedOutputParser,
  ICommandOutput,
  IRemoteCommand,
  ISessionFrame,
  MAX_REMOTE_COMMAND_BYTES,
  newNonce,
  RemoteCommandError
} from '../../../src/sidecar/shell/remote-command';
import { ShellQuoteError } from '../../../src/sidecar/shell/quote';
import { skipMissing } from '../../support/skip';

const N1 = '0123456789abcdef0123456789abcdef';
const N2 = 'fedcba9876543210fedcba9876543210';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** What printf makes of a payload: `\ooo` escapes back to bytes. */
function decodePayload(payload: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === '\\') {
      bytes.push(parseInt(payload.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(payload.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The words of a built command, which are all bare or single-quoted. */
function portableWords(command: string): string[] {
  return command.match(/'[^']*'|[^ ']+/g) ?? [];
}

/** Markers as the session shell prints them. */
const begin = (nonce: string) => `##jlhpc:${nonce}:begin\n`;
const end = (nonce: string, status: number) =>
  `##jlhpc:${nonce}:end:${status}\n`;

describe('buildScript', () => {
  it.each<[string, IRemoteCommand, string]>([
    ['a plain command', { argv: ['squeue', '--me'] }, "exec 'squeue' --me"],
    [
      'without exec',
      { argv: ['module', 'list'], exec: false },
      "'module' list"
    ],
    [
      'a directory and variables',
      { argv: ['ls'], cwd: '/scratch/a b', env: { A: '1', B_2: "x'y" } },
      "cd -- '/scratch/a b' || exit\nexport A=1\nexport B_2='x'\\''y'\nexec 'ls'"
    ],
    [
      'the home directory',
      { argv: ['ls'], cwd: '~' },
      'cd -- "$HOME" || exit\nexec \'ls\''
    ],
    [
      'a directory under home',
      { argv: ['ls'], cwd: '~/my envs' },
      "cd -- \"$HOME\"/'my envs' || exit\nexec 'ls'"
    ],
    [
      "another user's home, taken literally",
      { argv: ['ls'], cwd: '~root/x' },
      "cd -- '~root/x' || exit\nexec 'ls'"
    ],
    [
      'setup steps',
      {
        argv: ['python', '-V'],
        setup: [
          ['module', 'load', 'anaconda3/2024.02'],
          ['conda', 'activate', 'my env']
        ]
      },
      "'module' load anaconda3/2024.02 || exit\n'conda' activate 'my env' || exit\nexec 'python' -V"
    ],
    [
      'a timeout',
      { argv: ['-weird', 'x'], timeoutSeconds: 30 },
      "exec 'timeout' -k 10 -- 30 -weird x"
    ],
    [
      'a fractional timeout, rounded up to milliseconds',
      { argv: ['sleep', '1'], timeoutSeconds: 0.00011 },
      "exec 'timeout' -k 10 -- 0.001 sleep 1"
    ]
  ])('%s', (_case, command, expected) => {
    expect(buildScript(command)).toBe(expected);
  });

  it('starts with begin markers when given a nonce', () => {
    expect(buildScript({ argv: ['true'] }, N1)).toBe(
      `printf '%s%s:begin\\n' '##jlhpc:' '${N1}'; printf '%s%s:begin\\n' '##jlhpc:' '${N1}' >&2\nexec 'true'`
    );
  });

  it.each([0, -1, NaN, Infinity, 1e9])('refuses the timeout %p', seconds => {
    const error = thrown(() =>
      buildScript({ argv: ['true'], timeoutSeconds: seconds })
    );
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).code).toBe('invalid-timeout');
  });

  it.each([
    [
      'an invalid variable name',
      { argv: ['x'], env: { 'A-B': '1' } },
      'invalid-env-name'
    ],
    ['a NUL in an argument', { argv: ['x', 'a\0'] }, 'nul-byte'],
    ['a NUL in the directory', { argv: ['x'], cwd: '/a\0' }, 'nul-byte'],
    [
      'a NUL in a setup step',
      { argv: ['x'], setup: [['y', '\0']] },
      'nul-byte'
    ],
    ['an empty argv', { argv: [] }, 'empty-command'],
    ['an empty setup step', { argv: ['x'], setup: [[]] }, 'empty-command']
  ])('refuses %s', (_case, command, code) => {
    const error = thrown(() => buildScript(command));
    expect(error).toBeInstanceOf(ShellQuoteError);
    expect((error as ShellQuoteError).code).toBe(code);
  });

  it.each(['', 'ABC', N1.toUpperCase(), N1 + '0', "'; rm -rf ~; '"])(
    'refuses the nonce %j',
    nonce => {
      const error = thrown(() => buildScript({ argv: ['true'] }, nonce));
      expect((error as RemoteCommandError).code).toBe('invalid-nonce');
    }
  );
});

describe('encodePayload', () => {
  it.each([
    ['plain text', 'exec ls -l', 'exec ls -l'],
    [
      'characters csh, fish or printf would read',
      "'!\\%",
      '\\047\\041\\134\\045'
    ],
    ['a newline and a tab', 'a\nb\tc', 'a\\012b\\011c'],
    ['non-ASCII, byte by byte', 'é🚀', '\\303\\251\\360\\237\\232\\200'],
    ['quotes and dollars that single quotes protect', '"$`', '"$`']
  ])('%s', (_case, input, expected) => {
    expect(encodePayload(input)).toBe(expected);
    expect(decodePayload(encodePayload(input))).toBe(input);
  });
});

describe('assertPortableWord', () => {
  it.each([
    ['a single quote', "a'b"],
    ['a bang', 'a!b'],
    ['a newline', 'a\nb'],
    ['a double backslash (fish)', 'a\\\\b'],
    ['a backslash before a quote-like letter', 'a\\nb'],
    ['a trailing backslash', 'a\\'],
    ['non-ASCII', 'é'],
    ['a control character', '\u0007']
  ])('refuses %s', (_case, text) => {
    expect(() => assertPortableWord(text)).toThrow(/not portable/);
  });

  it.each([
    '',
    'exec /bin/sh',
    '"$1" `x` \\047 \\" \\$ ${a%.} #;|&<>(){}[]*?~^'
  ])('accepts %j', text => {
    expect(() => assertPortableWord(text)).not.toThrow();
  });
});

describe('buildRemoteCommand', () => {
  const nasty = "a'b\n!! $(x) `y` \\ % é 🚀";

  it('sends only portable words, the script last', () => {
    const command: IRemoteCommand = {
      argv: ['python', nasty],
      cwd: nasty,
      env: { V: nasty }
    };
    const built = buildRemoteCommand(command);
    expect(built).toMatch(
      /^exec \/bin\/sh -c 'eval "\$1"' jlhpc '[^']+' run '[^']+'$/
    );
    const words = portableWords(built);
    expect(words.join(' ')).toBe(built);
    for (const word of words) {
      assertPortableWord(word.replace(/^'|'$/g, ''));
    }
    expect(decodePayload(words[words.length - 1].slice(1, -1))).toBe(
      buildScript(command)
    );
  });

  it('passes the nonce to the script', () => {
    const built = buildRemoteCommand({ argv: ['true'] }, { nonce: N1 });
    const payload = portableWords(built).pop()!.slice(1, -1);
    expect(decodePayload(payload)).toBe(buildScript({ argv: ['true'] }, N1));
  });

  it('refuses a command too long for one exec request', () => {
    const error = thrown(() =>
      buildRemoteCommand({ argv: ['echo', 'x'.repeat(200 * 1024)] })
    );
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).code).toBe('command-too-long');
    expect((error as Error).message).toMatch(/standard input/);
  });

  it('accepts a command just under the limit', () => {
    const built = buildRemoteCommand({ argv: ['echo', 'x'.repeat(100_000)] });
    expect(built.length).toBeLessThanOrEqual(MAX_REMOTE_COMMAND_BYTES);
  });
});

describe('buildSessionCommand and buildSessionFrame', () => {
  it('starts the session with portable words only', () => {
    const built = buildSessionCommand();
    expect(built).toMatch(
      /^exec \/bin\/sh -c 'eval "\$1"' jlhpc '[^']+' session$/
    );
    for (const word of portableWords(built)) {
      assertPortableWord(word.replace(/^'|'$/g, ''));
    }
  });

  it('never writes a marker whole into the frame text', () => {
    const frame = buildSessionFrame({ argv: ['echo', N1] }, N1);
    expect(frame.nonce).toBe(N1);
    expect(frame.text).toContain(N1);
    expect(frame.text).not.toContain(`##jlhpc:${N1}`);
    expect(frame.text).toMatch(/\) <\/dev\/null\n/);
    expect(frame.text.endsWith('\n')).toBe(true);
  });

  it('draws a fresh nonce for every frame', () => {
    const nonces = new Set(
      Array.from(
        { length: 100 },
        () => buildSessionFrame({ argv: ['true'] }).nonce
      )
    );
    expect(nonces.size).toBe(100);
    for (const nonce of nonces) {
      expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(newNonce()).not.toBe(newNonce());
  });
});

describe('BoundedOutput', () => {
  it.each<[number, string[], string, boolean, number]>([
    [10, [], '', false, 0],
    [10, ['abc', 'def'], 'abcdef', false, 6],
    [4, ['abc', 'def'], 'abcd', true, 6],
    [3, ['abc', 'def'], 'abc', true, 6],
    [0, ['a'], '', true, 1]
  ])('limit %p with %j keeps %j', (limit, chunks, kept, truncated, bytes) => {
    const out = new BoundedOutput(limit);
    for (const chunk of chunks) {
      out.push(Buffer.from(chunk));
    }
    expect(out.toBuffer().toString()).toBe(kept);
    expect(out.truncated).toBe(truncated);
    expect(out.bytes).toBe(bytes);
  });
});

/** Deterministic pseudo-random chunk sizes. */
function* chunkSizes(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield 1 + (x % 97);
  }
}

/** Feed both streams to a parser, interleaved in chunks of the given sizes. */
function feed(
  parser: FramedOutputParser,
  stdout: Buffer,
  stderr: Buffer,
  sizes: Iterator<number> | null
): ICommandOutput[] {
  const results: ICommandOutput[] = [];
  let o = 0;
  let e = 0;
  while (o < stdout.length || e < stderr.length) {
    const n = sizes ? sizes.next().value : Infinity;
    if (o < stdout.length) {
      results.push(...parser.pushStdout(stdout.subarray(o, o + n)));
      o += n;
    }
    if (e < stderr.length) {
      results.push(...parser.pushStderr(stderr.subarray(e, e + n)));
      e += n;
    }
  }
  return results;
}

function summary(result: ICommandOutput) {
  return {
    nonce: result.nonce,
    stdout: result.stdout.toString('latin1'),
    stderr: result.stderr.toString('latin1'),
    exitCode: result.exitCode,
    stdoutTruncated: result.stdoutTruncated,
    stderrTruncated: result.stderrTruncated
  };
}

describe('FramedOutputParser (synthetic streams)', () => {
  const stdout = Buffer.from(
    'banner\n' +
      begin(N1) +
      `out1 ##jlhpc:${N2}:end:0\n##jlhpc:${N1}:en` +
      end(N1, 0) +
      'late\n' +
      begin(N2) +
      'out2 no newline' +
      end(N2, 42)
  );
  const stderr = Buffer.from(
    'warning\n' + begin(N1) + end(N1, 0) + begin(N2) + 'err2\n' + end(N2, 42)
  );
  const expected = [
    {
      nonce: N1,
      stdout: `out1 ##jlhpc:${N2}:end:0\n##jlhpc:${N1}:en`,
      stderr: '',
      exitCode: 0,
      stdoutTruncated: false,
      stderrTruncated: false
    },
    {
      nonce: N2,
      stdout: 'out2 no newline',
      stderr: 'err2\n',
      exitCode: 42,
      stdoutTruncated: false,
      stderrTruncated: false
    }
  ];

  const parser = () => {
    const p = new FramedOutputParser();
    p.expect({ nonce: N1 });
    p.expect({ nonce: N2 });
    return p;
  };

  it('reads whole streams', () => {
    const p = parser();
    expect(feed(p, stdout, stderr, null).map(summary)).toEqual(expected);
    expect(p.pending).toBe(0);
    expect(p.stray.stdout.toString()).toBe('banner\nlate\n');
    expect(p.stray.stderr.toString()).toBe('warning\n');
  });

  it.each([1, 2, 3, 7, 13, 29])('reads streams split every %p bytes', n => {
    const sizes = (function* () {
      for (;;) {
        yield n;
      }
    })();
    expect(feed(parser(), stdout, stderr, sizes).map(summary)).toEqual(
      expected
    );
  });

  it('reads streams split at random places', () => {
    for (let seed = 1; seed < 50; seed++) {
      expect(
        feed(parser(), stdout, stderr, chunkSizes(seed)).map(summary)
      ).toEqual(expected);
    }
  });

  it('completes a command only when both streams are past it', () => {
    const p = parser();
    expect(p.pushStdout(stdout)).toEqual([]);
    const done = p.pushStderr(stderr);
    expect(done.map(summary)).toEqual(expected);
  });

  it('truncates each stream at the limit and counts the rest', () => {
    const p = new FramedOutputParser({ maxOutputBytes: 4 });
    p.expect({ nonce: N1 });
    p.pushStdout(Buffer.from(begin(N1) + '0123456789' + end(N1, 0)));
    const [result] = p.pushStderr(Buffer.from(begin(N1) + 'ab' + end(N1, 0)));
    expect(summary(result)).toEqual({
      nonce: N1,
      stdout: '0123',
      stderr: 'ab',
      exitCode: 0,
      stdoutTruncated: true,
      stderrTruncated: false
    });
    expect(result.stdoutBytes).toBe(10);
    expect(result.stderrBytes).toBe(2);
  });

  it('keeps output that belongs to no command as stray', () => {
    const p = new FramedOutputParser();
    expect(p.pushStdout(Buffer.from('motd'))).toEqual([]);
    expect(p.stray.stdout.toString()).toBe('motd');
    expect(p.pending).toBe(0);
  });

  it.each([
    ['letters', `##jlhpc:${N1}:end:x\n`],
    ['too many digits', `##jlhpc:${N1}:end:1234\n`],
    ['no newline in time', `##jlhpc:${N1}:end:00000`]
  ])('refuses an end marker with %s', (_case, text) => {
    const p = new FramedOutputParser();
    p.expect({ nonce: N1 });
    const error = thrown(() => p.pushStdout(Buffer.from(begin(N1) + text)));
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).code).toBe('unexpected-output');
  });

  it('gives all output when the begin marker never came', () => {
    const p = new FramedOutputParser();
    p.expect({ nonce: N1 });
    p.pushStdout(Buffer.from('partial'));
    p.pushStderr(Buffer.from('bash: /opt/x: No such file'));
    const [result] = p.finish(127);
    expect(summary(result)).toMatchObject({
      stdout: 'partial',
      stderr: 'bash: /opt/x: No such file',
      exitCode: 127
    });
  });

  it('gives the output after the begin marker when cut short', () => {
    const p = new FramedOutputParser();
    p.expect({ nonce: N1 });
    p.expect({ nonce: N2 });
    p.pushStdout(Buffer.from('noise\n' + begin(N1) + 'half a line ##jl'));
    p.pushStderr(Buffer.from(begin(N1)));
    const results = p.finish(null);
    expect(results.map(summary)).toEqual([
      { ...expected[0], stdout: 'half a line ##jl', exitCode: null },
      { ...expected[1], stdout: '', stderr: '', exitCode: null }
    ]);
    expect(p.pending).toBe(0);
    expect(p.stray.stdout.toString()).toBe('noise\n');
  });

  it('keeps the exit status a stream already showed when cut short', () => {
    const p = new FramedOutputParser();
    p.expect({ nonce: N1 });
    p.pushStdout(Buffer.from(begin(N1) + 'x' + end(N1, 3)));
    const [result] = p.finish(null);
    expect(result.exitCode).toBe(3);
    expect(result.stdout.toString()).toBe('x');
  });
});

/*
 * Real shells as the oracle. Each login shell is started the way sshd does,
 * `$SHELL -c <string>`, with SHELL, HOME and a bare PATH; the program is only
 * on the PATH that the shell's login files set up, and those files print
 * noise, as many cluster accounts do.
 */

interface ILoginShell {
  name: string;
  path: string;
  /** What JLHPC_LOGIN says when the login files ran. */
  login: string;
  /** Whether the script sees functions defined by the login files. */
  functions: boolean;
  /**
   * yash cannot hold non-ASCII bytes in the C locale (it says "cannot
   * convert the argument into a wide character string" and runs nothing):
   * it is checked with LANG=C.UTF-8 only.
   */
  needsUtf8?: boolean;
}

/** A directory with `ash` linked to busybox, if busybox is installed. */
const ashLink: string | null = (() => {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!busybox) {
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'jlhpc-ash-'));
  symlinkSync(busybox, join(dir, 'ash'));
  return dir;
})();

function findShell(name: string): string | null {
  for (const dir of ['/bin', '/usr/bin', '/usr/local/bin', ashLink ?? '/bin']) {
    if (existsSync(join(dir, name))) {
      return join(dir, name);
    }
  }
  return null;
}

const LOGIN_SHELLS: Omit<ILoginShell, 'path'>[] = [
  { name: 'sh', login: 'profile', functions: true },
  { name: 'dash', login: 'profile', functions: true },
  { name: 'bash', login: 'bash_profile', functions: true },
  { name: 'zsh', login: 'zprofile', functions: true },
  { name: 'mksh', login: 'profile', functions: true },
  { name: 'ksh93', login: 'profile', functions: true },
  { name: 'yash', login: 'yash_profile', functions: true, needsUtf8: true },
  // Alpine's login shell: busybox called as ash (see `ashLink`).
  { name: 'ash', login: 'profile', functions: true },
  { name: 'tcsh', login: 'login', functions: false },
  { name: 'csh', login: 'login', functions: false },
  { name: 'fish', login: 'fish-login', functions: false }
];

const shells: ILoginShell[] = LOGIN_SHELLS.flatMap(shell => {
  const path = findShell(shell.name);
  return path ? [{ ...shell, path }] : [];
});
skipMissing(
  'login shell',
  LOGIN_SHELLS.filter(s => !findShell(s.name)).map(s => s.name)
);

let work: string;
let home: string;
let canary: string;
let binary: Buffer;

const ORACLE = `#!/bin/sh
printf '%s\\0' "$PWD" "\${JLHPC_LOGIN-unset}" "\${JLHPC_VALUE-unset}" "\${JLHPC_FN-unset}" "$@"
printf 'oracle-stderr' >&2
exit "\${JLHPC_EXIT:-0}"
`;

function posixProfile(name: string): string {
  return `echo "noise: ${name}"
echo "noise: ${name} (stderr)" >&2
JLHPC_LOGIN=${name}; export JLHPC_LOGIN
PATH="$HOME/bin:$PATH"; export PATH
jlhpc_fn() { JLHPC_FN="fn:$*"; export JLHPC_FN; }
`;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-remote-'));
  // A home with a space in its name, as on some Windows-synced clusters.
  home = join(work, 'home dir');
  canary = join(work, 'pwned');
  mkdirSync(join(home, 'bin'), { recursive: true });
  mkdirSync(join(home, 'sub'));
  mkdirSync(join(home, '.config', 'fish'), { recursive: true });
  writeFileSync(join(home, 'bin', 'jlhpc-oracle'), ORACLE);
  chmodSync(join(home, 'bin', 'jlhpc-oracle'), 0o755);
  writeFileSync(join(home, '.profile'), posixProfile('profile'));
  writeFileSync(join(home, '.bash_profile'), posixProfile('bash_profile'));
  writeFileSync(join(home, '.zprofile'), posixProfile('zprofile'));
  writeFileSync(join(home, '.yash_profile'), posixProfile('yash_profile'));
  writeFileSync(
    join(home, '.login'),
    'echo "noise: .login"\nsetenv JLHPC_LOGIN login\nsetenv PATH "${HOME}/bin:${PATH}"\n'
  );
  writeFileSync(
    join(home, '.tcshrc'),
    'echo "noise: .tcshrc"\nsetenv JLHPC_RC tcshrc\nsetenv PATH "${HOME}/bin:${PATH}"\n'
  );
  writeFileSync(
    join(home, '.config', 'fish', 'config.fish'),
    'echo "noise: config.fish"\nif status is-login\n  set -gx JLHPC_LOGIN fish-login\n  set -gx PATH $HOME/bin $PATH\nend\n'
  );
  binary = Buffer.alloc(1024);
  for (let i = 0; i < binary.length; i++) {
    binary[i] = i % 256;
  }
  writeFileSync(join(work, 'binary'), binary);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (ashLink) {
    rmSync(ashLink, { recursive: true, force: true });
  }
});

/** Strings that would do something if any shell interpreted them. */
function nastyStrings(): string[] {
  return [
    '',
    ' ',
    'two words',
    "it's",
    "'",
    '"double"',
    '\'"mixed"\'',
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `;touch ${canary}`,
    `&& touch ${canary} #`,
    `\ntouch ${canary}\n`,
    'line1\nline2\n',
    '\ttab\t',
    '\\\nbackslash-newline',
    '!',
    '!!',
    '!$',
    '!-1',
    '!#',
    'a!b',
    '^x^y',
    '$HOME',
    '${HOME}',
    '$argv[1]',
    '(x)',
    '{a,b}',
    '*',
    '~',
    '%1',
    '=ls',
    '\\',
    "\\'",
    '\\\\',
    'back\\slash\\',
    '-',
    '--',
    '-c',
    '--help',
    'données',
    '中文',
    '🚀 emoji 👩‍💻',
    '\u0001\u001b[31m\u007f',
    'z'.repeat(90 * 1024)
  ];
}

interface IRunResult {
  output: ICommandOutput;
  stray: string;
  status: number | null;
  /** NUL-separated fields the oracle printed. */
  fields: string[];
}

function env(shell: string, extra: Record<string, string> = {}) {
  const utf8 = shells.find(s => s.path === shell)?.needsUtf8;
  return {
    HOME: home,
    SHELL: shell,
    PATH: '/usr/bin:/bin',
    LANG: utf8 ? 'C.UTF-8' : 'C',
    ...extra
  };
}

/** Run `command` as sshd would for a user whose login shell is `shell`. */
function runOneShot(
  shell: string,
  command: IRemoteCommand,
  options: {
    env?: Record<string, string>;
    input?: string;
    spawnWith?: string;
    /** Run the first stage with this shell instead of /bin/sh. */
    stageShell?: string;
  } = {}
): IRunResult {
  const nonce = newNonce();
  let built = buildRemoteCommand(command, { nonce });
  if (options.stageShell) {
    expect(built.startsWith('exec /bin/sh -c ')).toBe(true);
    built = built.replace('/bin/sh', options.stageShell);
  }
  const result = spawnSync(options.spawnWith ?? shell, ['-c', built], {
    env: options.env ?? env(shell),
    cwd: home,
    input: options.input ?? '',
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024
  });
  const parser = new FramedOutputParser();
  parser.expect({ nonce });
  parser.pushStdout(result.stdout);
  parser.pushStderr(result.stderr);
  const [output] = parser.finish(result.status);
  const stray = parser.stray;
  return {
    output,
    stray: stray.stdout.toString() + stray.stderr.toString(),
    status: result.status,
    fields: output.stdout.toString('utf8').split('\0').slice(0, -1)
  };
}

describe.each(shells)('one command, login shell $name', shell => {
  it.each(shell.needsUtf8 ? ['C.UTF-8'] : ['C', 'C.UTF-8'])(
    'finds the program on the login PATH and passes every nasty argument unchanged (LANG=%s)',
    lang => {
      const args = nastyStrings();
      const run = runOneShot(
        shell.path,
        { argv: ['jlhpc-oracle', ...args] },
        {
          env: env(shell.path, { LANG: lang })
        }
      );
      expect(run.output.stderr.toString()).toBe('oracle-stderr');
      expect(run.status).toBe(0);
      const [pwd, login, , , ...received] = run.fields;
      expect(pwd).toBe(home);
      expect(login).toBe(shell.login);
      expect(received).toEqual(args);
      // The login files' noise was there, and was kept out of the output.
      expect(run.stray).toMatch(/noise: /);
      expect(existsSync(canary)).toBe(false);
    },
    30_000
  );

  it('runs in a directory with a nasty name, with nasty variables', () => {
    const dir = join(
      work,
      `dir 'q' $(touch pwned) \`touch pwned\` \n é !! * ${shell.name}`
    );
    mkdirSync(dir);
    const value = `v'\n!! $(touch ${canary}) \\ é`;
    const run = runOneShot(shell.path, {
      argv: ['jlhpc-oracle'],
      cwd: dir,
      env: { JLHPC_VALUE: value }
    });
    expect(run.fields).toEqual([dir, shell.login, value, 'unset']);
    expect(existsSync(canary)).toBe(false);
    expect(existsSync(join(home, 'pwned'))).toBe(false);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('expands ~/ in the directory to the remote home', () => {
    const run = runOneShot(shell.path, {
      argv: ['jlhpc-oracle'],
      cwd: '~/sub'
    });
    expect(run.fields[0]).toBe(join(home, 'sub'));
  });

  it('passes the exit status on', () => {
    const run = runOneShot(shell.path, {
      argv: ['jlhpc-oracle'],
      env: { JLHPC_EXIT: '7' }
    });
    expect(run.status).toBe(7);
    expect(run.output.exitCode).toBe(7);
  });

  it('stops with an error when the directory does not exist', () => {
    const run = runOneShot(shell.path, {
      argv: ['jlhpc-oracle'],
      cwd: '/nonexistent dir'
    });
    expect(run.status).not.toBe(0);
    expect(run.output.stdout.toString()).toBe('');
    expect(run.output.stderr.toString()).toMatch(/nonexistent dir/);
  });

  it('kills the program at the timeout', () => {
    const started = Date.now();
    const run = runOneShot(shell.path, {
      argv: ['sleep', '20'],
      timeoutSeconds: 0.5
    });
    expect(run.status).toBe(124);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('gives the program the channel stdin', () => {
    const input = 'line one\nline two';
    const run = runOneShot(shell.path, { argv: ['cat'] }, { input });
    expect(run.output.stdout.toString()).toBe(input);
  });

  if (shell.functions) {
    it('runs setup steps that use functions from the login files', () => {
      const run = runOneShot(shell.path, {
        argv: ['jlhpc-oracle'],
        setup: [['jlhpc_fn', "a b'", '$(x)']]
      });
      expect(run.fields[3]).toBe("fn:a b' $(x)");
    });
  } else {
    it('does not see login functions (they are in csh or fish syntax)', () => {
      const run = runOneShot(shell.path, {
        argv: ['jlhpc-oracle'],
        setup: [['jlhpc_fn']]
      });
      expect(run.status).toBe(127);
      expect(run.output.stdout.toString()).toBe('');
    });
  }
});

describe('one command, fallbacks', () => {
  const tcsh = findShell('tcsh');
  (tcsh ? it : it.skip)('runs a non-login tcsh when bash is missing', () => {
    // No bash on the PATH: tcsh still reads ~/.tcshrc, not ~/.login.
    const run = runOneShot(
      tcsh!,
      { argv: ['jlhpc-oracle', "a'!b"] },
      {
        env: env(tcsh!, { PATH: '/nonexistent' })
      }
    );
    expect(run.fields.slice(1)).toEqual(['unset', 'unset', 'unset', "a'!b"]);
  });

  it.each([
    ['an unknown shell', '/opt/nu/bin/nu'],
    ['an empty SHELL', '']
  ])('uses a POSIX login shell for %s', (_case, shell) => {
    const run = runOneShot(
      shell,
      { argv: ['jlhpc-oracle', '$x'] },
      {
        env: env(shell),
        spawnWith: '/bin/sh'
      }
    );
    expect(run.fields.slice(1)).toEqual(['profile', 'unset', 'unset', '$x']);
  });

  // /bin/sh is dash on Debian and Ubuntu, bash on RHEL, busybox on Alpine.
  const allStages = [
    ['bash in POSIX mode', '/bin/bash --posix'],
    ['mksh', findShell('mksh')],
    ['busybox sh', findShell('busybox') && `${findShell('busybox')} sh`]
  ];
  const stages = allStages.filter(
    (entry): entry is [string, string] => !!entry[1]
  );
  skipMissing(
    'stage shell',
    allStages.filter(entry => !entry[1]).map(entry => entry[0] as string)
  );
  const logins = shells.filter(s => ['bash', 'tcsh', 'fish'].includes(s.name));
  describe.each(stages)('with %s as /bin/sh', (_name, stageShell) => {
    it.each(logins.map(s => [s.name, s] as const))(
      'runs the stage for a %s user',
      (_login, shell) => {
        const args = ["a'b", '!!', '$(x)\n', '\n', 'é'];
        const run = runOneShot(
          shell.path,
          { argv: ['jlhpc-oracle', ...args] },
          { stageShell }
        );
        expect(run.fields.slice(1)).toEqual([
          shell.login,
          'unset',
          'unset',
          ...args
        ]);
      }
    );
  });
});

/** Output kept per command in the session tests: more than 200 KB. */
const SESSION_LIMIT = 300 * 1024;

/** Frames for a session, with what each must give back. */
function sessionFrames(shell: ILoginShell): {
  frames: ISessionFrame[];
  check: (results: ICommandOutput[]) => void;
} {
  const frames: ISessionFrame[] = [];
  const checks: ((r: ICommandOutput) => void)[] = [];
  const add = (command: IRemoteCommand, check: (r: ICommandOutput) => void) => {
    frames.push(buildSessionFrame(command));
    checks.push(check);
  };
  const fields = (r: ICommandOutput) =>
    r.stdout.toString('utf8').split('\0').slice(0, -1);
  const args = nastyStrings();

  add({ argv: ['jlhpc-oracle', ...args] }, r => {
    expect(fields(r)).toEqual([home, shell.login, 'unset', 'unset', ...args]);
    expect(r.stderr.toString()).toBe('oracle-stderr');
    expect(r.exitCode).toBe(0);
  });
  // Output that looks like markers: of this session's other commands, of a
  // command still to come, and bare prefixes.
  const spoofIndex = frames.length;
  add({ argv: ['true'] }, () => undefined); // replaced below
  add({ argv: ['cat', join(work, 'binary')] }, r => {
    expect(r.stdout.equals(binary)).toBe(true);
    expect(r.stdoutTruncated).toBe(false);
  });
  add({ argv: ['head', '-c', '400000', '/dev/zero'] }, r => {
    expect(r.stdout.length).toBe(SESSION_LIMIT);
    expect(r.stdoutBytes).toBe(400_000);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.exitCode).toBe(0);
  });
  add(
    { argv: ['jlhpc-oracle'], env: { JLHPC_EXIT: '3', JLHPC_VALUE: "x'y" } },
    r => {
      expect(fields(r)[2]).toBe("x'y");
      expect(r.exitCode).toBe(3);
    }
  );
  // Variables and directories do not leak into the next command.
  add({ argv: ['jlhpc-oracle'], cwd: '~/sub' }, r => {
    expect(fields(r).slice(0, 3)).toEqual([
      join(home, 'sub'),
      shell.login,
      'unset'
    ]);
  });
  add({ argv: ['jlhpc-oracle'] }, r => {
    expect(fields(r).slice(0, 3)).toEqual([home, shell.login, 'unset']);
  });
  // Commands that read stdin get end of file, not the next frames.
  add({ argv: ['cat'] }, r => {
    expect(r.stdout.toString()).toBe('');
    expect(r.exitCode).toBe(0);
  });
  add({ argv: ['read', 'line'], exec: false }, r => {
    expect(r.exitCode).not.toBe(0);
  });
  // `exit` leaves the command's subshell, not the session.
  add({ argv: ['exit', '5'], exec: false }, r => {
    expect(r.exitCode).toBe(5);
  });
  add({ argv: ['false'] }, r => {
    expect(r.exitCode).toBe(1);
  });
  add({ argv: ['sleep', '20'], timeoutSeconds: 0.3 }, r => {
    expect(r.exitCode).toBe(124);
  });
  add({ argv: ['jlhpc-oracle'], cwd: '/nonexistent dir' }, r => {
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/nonexistent dir/);
  });
  // A 200 KB argument: too big for execve, fine for a builtin.
  const big = `${'b'.repeat(200 * 1024)}'!\n`;
  const printer =
    shell.name === 'mksh' ? ['print', '-rn', '--', big] : ['printf', '%s', big];
  add({ argv: printer, exec: false }, r => {
    expect(r.stdout.toString()).toBe(big);
  });
  if (shell.functions) {
    add({ argv: ['jlhpc-oracle'], setup: [['jlhpc_fn', 'x y']] }, r => {
      expect(fields(r)[3]).toBe('fn:x y');
    });
  }

  const later = frames[frames.length - 1].nonce;
  const spoof =
    `##jlhpc:${frames[0].nonce}:end:0\n` +
    `##jlhpc:${later}:begin\n##jlhpc:${later}:end:9\n` +
    '##jlhpc:##jlhpc:\n##jlhpc';
  frames[spoofIndex] = buildSessionFrame({ argv: ['printf', '%s', spoof] });
  checks[spoofIndex] = r => {
    expect(r.stdout.toString()).toBe(spoof);
    expect(r.exitCode).toBe(0);
  };

  return {
    frames,
    check: results => {
      expect(results.map(r => r.nonce)).toEqual(frames.map(f => f.nonce));
      results.forEach((r, i) => checks[i](r));
    }
  };
}

describe.each(shells)('session, login shell $name', shell => {
  it('runs pipelined frames and reads them back in any chunking', () => {
    const { frames, check } = sessionFrames(shell);
    const result = spawnSync(shell.path, ['-c', buildSessionCommand()], {
      env: env(shell.path),
      cwd: home,
      input: frames.map(f => f.text).join(''),
      timeout: 20_000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024
    });
    expect(result.status).toBe(0);
    for (const sizes of [null, chunkSizes(7)]) {
      const parser = new FramedOutputParser({ maxOutputBytes: SESSION_LIMIT });
      frames.forEach(f => parser.expect(f));
      const results = feed(parser, result.stdout, result.stderr, sizes);
      check(results);
      expect(parser.pending).toBe(0);
      expect(
        parser.stray.stdout.toString() + parser.stray.stderr.toString()
      ).toMatch(/noise: /);
    }
    expect(existsSync(canary)).toBe(false);
  }, 60_000);

  it('answers each frame before the next is sent', async () => {
    const child = spawn(shell.path, ['-c', buildSessionCommand()], {
      env: env(shell.path),
      cwd: home
    });
    const parser = new FramedOutputParser();
    const waiting: ((r: ICommandOutput) => void)[] = [];
    const deliver = (results: ICommandOutput[]) =>
      results.forEach(r => waiting.shift()!(r));
    child.stdout.on('data', (chunk: Buffer) =>
      deliver(parser.pushStdout(chunk))
    );
    child.stderr.on('data', (chunk: Buffer) =>
      deliver(parser.pushStderr(chunk))
    );
    const exited = new Promise<number | null>(resolve =>
      child.on('exit', resolve)
    );
    // A broken frame would leave the test waiting: fail fast instead.
    const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const run = (command: IRemoteCommand) =>
      Promise.race([
        new Promise<ICommandOutput>(resolve => {
          const frame = buildSessionFrame(command);
          parser.expect(frame);
          waiting.push(resolve);
          child.stdin.write(frame.text);
        }),
        exited.then(code => {
          throw new Error(`the session shell exited (${code}) mid-command`);
        })
      ]);
    try {
      const first = await run({ argv: ['jlhpc-oracle', 'one'] });
      expect(first.stdout.toString()).toContain('one');
      const second = await run({
        argv: ['jlhpc-oracle', "tw'o"],
        env: { JLHPC_EXIT: '2' }
      });
      expect(second.stdout.toString()).toContain("tw'o");
      expect(second.exitCode).toBe(2);
      const third = await run({ argv: ['cat'] });
      expect(third.exitCode).toBe(0);
    } finally {
      child.stdin.end();
      await exited;
      clearTimeout(guard);
    }
    expect(await exited).toBe(0);
  }, 30_000);
});

describe.each([
  ['sh -v (echoes every line it reads)', '/bin/sh', ['-v', '-s']],
  ['sh -x (traces every command)', '/bin/sh', ['-x', '-s']],
  ['bash -xv', '/bin/bash', ['-x', '-v', '-s']]
])('session in %s', (_case, shell, args) => {
  it('is not fooled by the frame text showing up in the output', () => {
    const frames = [
      buildSessionFrame({ argv: ['printf', '%s', 'first'] }),
      buildSessionFrame({ argv: ['printf', '%s', 'second'] })
    ];
    const result = spawnSync(shell, args, {
      input: frames.map(f => f.text).join(''),
      env: { PATH: '/usr/bin:/bin' }
    });
    // The shell did echo the nonces; the markers still come out right.
    expect(result.stderr.toString()).toContain(frames[1].nonce);
    const parser = new FramedOutputParser();
    frames.forEach(f => parser.expect(f));
    const results = feed(parser, result.stdout, result.stderr, null);
    expect(results.map(r => [r.stdout.toString(), r.exitCode])).toEqual([
      ['first', 0],
      ['second', 0]
    ]);
  });
});

it('has at least sh and bash to check against', () => {
  expect(shells.map(s => s.name)).toEqual(
    expect.arrayContaining(['sh', 'bash'])
  );
});
