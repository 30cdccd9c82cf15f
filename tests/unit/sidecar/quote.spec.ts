import { spawnSync } from 'child_process';
import {
  chmodSync,
  existsSync,
  realpathSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  isEnvName,
  quoteArg,
  quoteCommand,
  quoteEnvAssignment,
  ShellQuoteError
} from '../../../src/sidecar/shell/quote';
import { skipMissing } from '../../support/skip';

/** The error `fn` throws, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('quoteArg', () => {
  it.each([
    ['the empty string', '', "''"],
    ['a plain word', 'squeue', 'squeue'],
    ['an option with a value', '--format=%i,%T', '--format=%i,%T'],
    ['a path', '/home/ana/envs/py3.11', '/home/ana/envs/py3.11'],
    ['an address', 'ana@hpc-gw1:22', 'ana@hpc-gw1:22'],
    ['a leading dash', '-rf', '-rf'],
    ['a space', 'my env', "'my env'"],
    ['an embedded quote', "it's", "'it'\\''s'"],
    ['only a quote', "'", "\\'"],
    ['two quotes', "''", "\\'\\'"],
    ['a trailing quote', "a'", "'a'\\'"],
    ['a leading quote', "'a", "\\''a'"],
    ['a leading = (zsh would expand =cmd)', '=ls', "'=ls'"],
    ['a variable', '$HOME', "'$HOME'"],
    ['a command substitution', '$(id)', "'$(id)'"],
    ['backquotes', '`id`', "'`id`'"],
    ['a glob', '*.py', "'*.py'"],
    ['a tilde', '~', "'~'"],
    ['history expansion', '!!', "'!!'"],
    ['a newline', 'a\nb', "'a\nb'"],
    ['a backslash', 'a\\b', "'a\\b'"],
    ['non-ASCII', 'données', "'données'"],
    ['an emoji', '🚀', "'🚀'"]
  ])('quotes %s', (_case, input, expected) => {
    expect(quoteArg(input)).toBe(expected);
  });

  it.each([
    ['a NUL byte', 'a\0b', 'nul-byte'],
    ['a lone high surrogate', 'a\uD83Db', 'invalid-unicode'],
    ['a lone low surrogate', '\uDE80', 'invalid-unicode']
  ])('refuses %s', (_case, input, code) => {
    const error = thrown(() => quoteArg(input));
    expect(error).toBeInstanceOf(ShellQuoteError);
    expect((error as ShellQuoteError).code).toBe(code);
  });
});

describe('quoteCommand', () => {
  it.each([
    ['a command with options', ['squeue', '--me', '-h'], "'squeue' --me -h"],
    ['an empty argument', ['echo', ''], "'echo' ''"],
    ['a reserved word as command', ['if'], "'if'"],
    ['an assignment-like command', ['A=b', 'c'], "'A=b' c"],
    ['an empty command name', [''], "''"],
    ['a quote in the command name', ["a'b"], "'a'\\''b'"]
  ])('quotes %s', (_case, argv, expected) => {
    expect(quoteCommand(argv)).toBe(expected);
  });

  it('refuses an empty argv', () => {
    const error = thrown(() => quoteCommand([]));
    expect((error as ShellQuoteError).code).toBe('empty-command');
  });

  it.each([
    ['in the command name', ['a\0']],
    ['in an argument', ['echo', 'x', 'a\0']]
  ])('refuses a NUL byte %s', (_case, argv) => {
    const error = thrown(() => quoteCommand(argv));
    expect(error).toBeInstanceOf(ShellQuoteError);
    expect((error as ShellQuoteError).code).toBe('nul-byte');
  });
});

describe('quoteEnvAssignment', () => {
  it.each([
    ['CONDA_ENV', 'py311', 'CONDA_ENV=py311'],
    ['_x1', '', "_x1=''"],
    ['PATH', '/opt/a b:/usr/bin', "PATH='/opt/a b:/usr/bin'"],
    ['V', '~/x:$(id)', "V='~/x:$(id)'"]
  ])('%s=%j', (name, value, expected) => {
    expect(isEnvName(name)).toBe(true);
    expect(quoteEnvAssignment(name, value)).toBe(expected);
  });

  it.each(['', '1A', 'A-B', 'A B', 'A=B', '$(x)', 'Ä', 'A\n', 'a;b'])(
    'refuses the name %j',
    name => {
      expect(isEnvName(name)).toBe(false);
      const error = thrown(() => quoteEnvAssignment(name, 'v'));
      expect(error).toBeInstanceOf(ShellQuoteError);
      expect((error as ShellQuoteError).code).toBe('invalid-env-name');
      expect((error as Error).message).toContain('not a valid environment');
    }
  );

  it('refuses a NUL byte in the value', () => {
    const error = thrown(() => quoteEnvAssignment('A', '\0'));
    expect((error as ShellQuoteError).code).toBe('nul-byte');
  });
});

/*
 * Real shells as the oracle: the quoted words must reach a program as exactly
 * the strings we started from, and nothing in them may run.
 */

/** POSIX shells that read quote.ts output; those not installed are listed. */
const POSIX_SHELLS = ['dash', 'bash', 'zsh', 'mksh', 'ksh', 'yash', 'busybox'];

function findShell(name: string): string | null {
  for (const dir of ['/bin', '/usr/bin', '/usr/local/bin']) {
    if (existsSync(join(dir, name))) {
      return join(dir, name);
    }
  }
  return null;
}

const shells = POSIX_SHELLS.map(name => [name, findShell(name)] as const)
  .filter((entry): entry is readonly [string, string] => entry[1] !== null)
  // Debian's ksh may be a link to mksh: check each shell once.
  .filter(
    ([, path], i, all) =>
      all.findIndex(
        ([, other]) => realpathSync(other) === realpathSync(path)
      ) === i
  )
  .map(([name, path]) =>
    // busybox is a multi-call binary: its shell is `busybox sh`.
    name === 'busybox'
      ? { name: 'busybox sh', command: [path, 'sh'] }
      : { name, command: [path] }
  );
skipMissing(
  'quoteCommand read by',
  POSIX_SHELLS.filter(name => findShell(name) === null)
);

let work: string;
let canary: string;
let bin: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-quote-'));
  canary = join(work, 'pwned');
  bin = join(work, 'bin');
  mkdirSync(bin);
  // Prints its arguments NUL-terminated, then its own name.
  const oracle =
    '#!/bin/sh\nprintf \'%s\\0\' "$@"\nprintf \'[%s]\' "${0##*/}"\n';
  // Names a shell would treat specially if they were not quoted.
  for (const name of ['oracle', 'if', 'time', 'A=b', '{', '!', 'nocorrect']) {
    writeFileSync(join(bin, name), oracle);
    chmodSync(join(bin, name), 0o755);
  }
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Strings that would do something if a shell interpreted them. */
function nastyStrings(): string[] {
  return [
    '',
    ' ',
    'two words',
    '  leading and trailing  ',
    "it's",
    "'",
    "''",
    '"double"',
    '\'"mixed"\'',
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `;touch ${canary}`,
    `&& touch ${canary} #`,
    `| touch ${canary}`,
    `> ${canary}`,
    `\ntouch ${canary}\n`,
    'line1\nline2\n',
    '\ttab\t',
    '\r\n',
    '!',
    '!!',
    '!$',
    '!-1',
    'a!b',
    '^x^y',
    '$HOME',
    '${HOME}',
    '$((1+1))',
    '$1 $@ $* $# $?',
    '*',
    '?',
    '[a-z]*',
    '{a,b}',
    '~',
    '~root',
    'a=b',
    '=ls',
    '%1',
    '\\',
    'back\\slash\\',
    '\\n\\t\\047',
    '-',
    '--',
    '-n',
    '-e',
    '--help',
    'données',
    'ελληνικά',
    '中文',
    '🚀 emoji 👩‍💻',
    '\u0001\u0007\u001b[31m\u007f',
    'x'.repeat(5000)
  ];
}

function expectNoSideEffect(): void {
  expect(existsSync(canary)).toBe(false);
}

describe.each(shells)('quoteCommand read by $name', ({ name, command }) => {
  const run = (script: string, viaStdin = false) => {
    const [shell, ...shellArgs] = command;
    const result = spawnSync(
      shell,
      viaStdin ? [...shellArgs, '-s'] : [...shellArgs, '-c', script],
      {
        input: viaStdin ? script : '',
        env: { PATH: `${bin}:/usr/bin:/bin`, HOME: work, LANG: 'C.UTF-8' },
        maxBuffer: 64 * 1024 * 1024
      }
    );
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr.toString()
    };
  };

  /** NUL-terminated strings, then the trailing `[name]`. */
  const parse = (stdout: Buffer): { args: string[]; name: string } => {
    const text = stdout.toString('utf8');
    const end = text.lastIndexOf('\0') + 1;
    const args = text.slice(0, end).split('\0').slice(0, -1);
    return { args, name: text.slice(end) };
  };

  it('passes every nasty string to a program unchanged', () => {
    const args = nastyStrings();
    const result = run(quoteCommand(['oracle', ...args]));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(parse(result.stdout)).toEqual({ args, name: '[oracle]' });
    expectNoSideEffect();
  });

  it('passes them to a builtin unchanged, 200 KB ones included', () => {
    const args = [...nastyStrings(), 'y'.repeat(200 * 1024)];
    // Builtins only: no execve, so no per-argument size limit; the script
    // goes on stdin because `-c` has one. mksh has no printf builtin.
    const write =
      name === 'mksh'
        ? 'print -rn -- "$a"; print -n "\\0"'
        : 'printf "%s\\0" "$a"';
    const script = `${quoteCommand(['set', '--', ...args])}\nfor a in "$@"; do ${write}; done`;
    const result = run(script, true);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const text = result.stdout.toString('utf8');
    expect(text.split('\0').slice(0, -1)).toEqual(args);
    expectNoSideEffect();
  });

  it.each(['if', 'time', 'A=b', '{', '!', 'nocorrect'])(
    'runs a program called %s',
    name => {
      const result = run(quoteCommand([name, 'x']));
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(parse(result.stdout)).toEqual({ args: ['x'], name: `[${name}]` });
    }
  );

  it('exports values through quoteEnvAssignment unchanged', () => {
    const values = nastyStrings().filter(v => v !== '');
    const script = values
      .map((v, i) => `export ${quoteEnvAssignment(`V${i}`, v)}`)
      .concat(`oracle ${values.map((_, i) => `"$V${i}"`).join(' ')}`)
      .join('\n');
    const result = run(script);
    expect(result.stderr).toBe('');
    expect(parse(result.stdout).args).toEqual(values);
    expectNoSideEffect();
  });
});

it('has at least dash and bash to check against', () => {
  expect(shells.map(s => s.name)).toEqual(
    expect.arrayContaining(['dash', 'bash'])
  );
});
