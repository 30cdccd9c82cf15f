/**
 * POSIX shell quoting: the one place where text becomes shell words.
 *
 * Everything the sidecar runs on a cluster is an argument list; these
 * functions turn it into words that a POSIX shell (sh, dash, bash, zsh, ksh)
 * reads back as exactly those arguments, so that no user text (environment
 * names, paths, job names) is ever interpreted. They are *not* safe for csh or
 * fish syntax; remote-command.ts takes care of getting to a POSIX shell first.
 */

/** Why a value cannot be passed to a remote program. */
export type ShellQuoteErrorCode =
  'nul-byte' | 'invalid-unicode' | 'invalid-env-name' | 'empty-command';

export class ShellQuoteError extends Error {
  constructor(
    readonly code: ShellQuoteErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'ShellQuoteError';
  }
}

/**
 * Characters that mean nothing to any POSIX shell, left bare so commands stay
 * readable in logs. `=` only counts when it is not the first character: zsh
 * expands a leading `=word` to the path of the command `word`.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/;

/** A lone UTF-16 surrogate cannot be encoded as UTF-8 and would be replaced. */
const LONE_SURROGATE =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throw unless `s` can be passed through execve() unchanged. */
function checkArg(s: string): void {
  if (s.includes('\0')) {
    throw new ShellQuoteError(
      'nul-byte',
      `A command argument contains a NUL byte, which no program can receive: ${JSON.stringify(s.slice(0, 80))}`
    );
  }
  if (LONE_SURROGATE.test(s)) {
    throw new ShellQuoteError(
      'invalid-unicode',
      `A command argument is not valid Unicode (it has a lone surrogate): ${JSON.stringify(s.slice(0, 80))}`
    );
  }
}

/** Single-quote `s`; an embedded `'` becomes `'\''`. No `''` pairs are left. */
function singleQuote(s: string): string {
  return s
    .split("'")
    .map(part => (part === '' ? '' : `'${part}'`))
    .join("\\'");
}

/**
 * Quote one argument for a POSIX shell. The empty string becomes `''`, a word
 * of safe characters stays bare, anything else is single-quoted: inside single
 * quotes a POSIX shell interprets nothing ($, `, \, !, newlines, globs).
 *
 * @throws ShellQuoteError for a NUL byte or invalid Unicode.
 */
export function quoteArg(s: string): string {
  checkArg(s);
  if (s === '') {
    return "''";
  }
  return SAFE_WORD.test(s) ? s : singleQuote(s);
}

/**
 * Quote a whole command line. The command name is always single-quoted, even
 * when it is a safe word: a quoted word is never an alias, a reserved word
 * (`if`, `time`, zsh's `nocorrect`) or a variable assignment (`A=b`), while
 * functions and builtins are still found. (zsh still reads a quoted `noglob`
 * or `-` as a precommand modifier; neither is a program.)
 *
 * @throws ShellQuoteError for an empty argv, a NUL byte or invalid Unicode.
 */
export function quoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) {
    throw new ShellQuoteError('empty-command', 'The command to run is empty.');
  }
  const [name, ...args] = argv;
  checkArg(name);
  const quotedName = name === '' ? "''" : singleQuote(name);
  return [quotedName, ...args.map(quoteArg)].join(' ');
}

/** Whether `name` can be an environment variable in a POSIX shell. */
export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/**
 * `NAME=value` with the value quoted, for `export NAME=value`.
 *
 * @throws ShellQuoteError when `name` is not `[A-Za-z_][A-Za-z0-9_]*` (a
 *   shell would otherwise run `name=value` as a command), or for a value
 *   with a NUL byte or invalid Unicode.
 */
export function quoteEnvAssignment(name: string, value: string): string {
  if (!isEnvName(name)) {
    throw new ShellQuoteError(
      'invalid-env-name',
      `${JSON.stringify(name)} is not a valid environment variable name: use letters, digits and _ and do not start with a digit.`
    );
  }
  return `${name}=${quoteArg(value)}`;
}
