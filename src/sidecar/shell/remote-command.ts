/**
 * The strings the sidecar sends to a cluster, and the parser for what comes
 * back. Pure: nothing here opens a connection or a process.
 *
 * # How a command reaches the program
 *
 * An SSH `exec` request carries ONE string, which sshd hands to the user's
 * login shell as `$SHELL -c <string>`. That shell may be bash, zsh, ksh, sh,
 * tcsh/csh or fish, and they disagree on quoting: csh expands `!` history
 * even inside single quotes and cannot have a newline in them; fish treats
 * `\\` and `\'` as escapes inside single quotes. So the string we send
 * (`buildRemoteCommand`) is written in the small subset of syntax that all of
 * them parse identically:
 *
 *     exec /bin/sh -c 'eval "$1"' jlhpc '<STAGE>' run '<PAYLOAD>'
 *
 * Bare words of safe characters and single-quoted words whose text has no
 * `'`, no `!`, no newline, no byte outside printable ASCII, and a backslash
 * only before a digit, `"`, `$` or a backquote (`assertPortableWord`).
 *
 * `STAGE` is a fixed POSIX sh program (below). `PAYLOAD` is the POSIX script
 * to run (`buildScript`: cd, exports, setup steps, the command, all quoted by
 * quote.ts), with every character outside that subset written as a `\ooo`
 * octal escape; `printf` turns it back into the script, byte for byte. The
 * stage then starts the user's login shell so the script sees the same
 * environment as `$SHELL -lc` (PATH from ~/.bash_profile or ~/.profile,
 * `module`, a conda hook set up by `conda init`):
 *
 * - sh, bash, zsh, ksh, mksh, dash, ash, yash: `exec "$SHELL" -l -c <script>`.
 *   The script runs in the login shell itself, so shell functions the login
 *   files define (`module`, `conda activate`) work in `setup` steps.
 * - tcsh and csh: `-l` must be their only flag, so the stage uses bash's
 *   `exec -a -tcsh` (a leading `-` in argv[0] makes a login shell, as login(1)
 *   does) when bash is installed, or plain `$SHELL -c` (which still reads
 *   /etc/csh.cshrc and ~/.tcshrc or ~/.cshrc) when it is not. fish gets
 *   `fish -l -c`. These shells cannot run a POSIX script, so their job is only
 *   to set up the environment and `exec /bin/sh`, which runs the script.
 *   The hop passes the stage and payload in environment variables, never
 *   through csh or fish quoting. Their shell functions and aliases are not
 *   available to the script; exported variables (PATH, MODULEPATH, LMOD_CMD,
 *   CONDA_EXE, ...) are.
 * - any other or no `$SHELL` (nu, xonsh, ...): `/bin/sh -l -c <script>`.
 *
 * Checked against real dash, bash (also as /bin/sh in POSIX mode), zsh,
 * mksh, ksh93, yash, busybox ash, tcsh, csh and fish in
 * tests/unit/sidecar/remote-command.spec.ts. yash cannot hold non-ASCII
 * bytes in the C locale and then runs nothing; all others run any bytes.
 *
 * A 128 KiB limit per argument (Linux MAX_ARG_STRLEN) applies to the string
 * sshd passes to `$SHELL -c`, so `buildRemoteCommand` refuses a command
 * longer than MAX_REMOTE_COMMAND_BYTES; send bulk data on stdin instead.
 *
 * Piping the script on stdin to `$SHELL -l` would avoid the limit, but it
 * needs a per-shell dialect and takes stdin away from the command.
 *
 * # The long-lived session
 *
 * `buildSessionCommand` starts the same login shell reading POSIX commands
 * from stdin (`$SHELL -l -s`, or `/bin/sh -s` after a csh or fish login).
 * Each command is sent as a frame (`buildSessionFrame`): it prints a begin
 * marker on stdout and stderr, runs the script in a subshell with stdin from
 * /dev/null (so it cannot swallow the next frame, or change the session's
 * directory or variables), then prints an end marker with the exit status on
 * both streams. Markers carry a fresh 128-bit random nonce, and the frame
 * text never contains a marker as one piece (printf joins it from parts), so
 * neither output nor a shell echoing its input (`set -v`) can fake one.
 * Whatever arrives outside a frame (login banners, late output of background
 * jobs) is kept apart as stray output. `FramedOutputParser` reads both
 * streams back, chunk by chunk, with a size limit per stream.
 */

import { randomBytes } from 'crypto';

import { quoteArg, quoteCommand, quoteEnvAssignment } from './quote';

/** Longest string `buildRemoteCommand` returns, in bytes (ASCII). */
export const MAX_REMOTE_COMMAND_BYTES = 120_000;

/** Output kept per stream and command unless the caller says otherwise. */
export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

/** Stray output (outside any frame) kept for diagnostics. */
export const MAX_STRAY_BYTES = 16 * 1024;

/** Seconds `timeout` waits after its signal before it sends SIGKILL. */
export const TIMEOUT_KILL_AFTER_SECONDS = 10;

export type RemoteCommandErrorCode =
  | 'command-too-long'
  | 'invalid-timeout'
  | 'invalid-nonce'
  | 'unexpected-output';

export class RemoteCommandError extends Error {
  constructor(
    readonly code: RemoteCommandErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'RemoteCommandError';
  }
}

/** One program to run on a cluster, as an argument list. */
export interface IRemoteCommand {
  /** The program and its arguments; argv[0] is looked up on the remote PATH. */
  argv: readonly string[];
  /**
   * Directory to run in. `~` and a leading `~/` mean the remote home; any
   * other text is taken literally. Relative paths are relative to the home.
   */
  cwd?: string;
  /** Environment variables set after the login files ran. */
  env?: Readonly<Record<string, string>>;
  /**
   * Commands run first, in the same shell, each of which must succeed, e.g.
   * `['module', 'load', 'anaconda3']` or `['conda', 'activate', 'env']`.
   */
  setup?: readonly (readonly string[])[];
  /**
   * Kill the program after this many seconds with GNU `timeout` (exit status
   * 124; SIGKILL TIMEOUT_KILL_AFTER_SECONDS later if it ignores SIGTERM).
   * argv[0] must then be a program, not a shell function.
   */
  timeoutSeconds?: number;
  /**
   * Replace the shell with the program (default true), so signals reach it
   * and the shell's aliases and functions cannot shadow it. Set false when
   * argv[0] is a shell builtin or function such as `module`.
   */
  exec?: boolean;
  /**
   * Read standard input from /dev/null instead of the channel. Streamed
   * commands (command-runner.ts) use it: they keep the channel's input open,
   * as ssh2 sends no signal request on a channel whose input has ended.
   */
  stdinFromDevNull?: boolean;
}

/** Markers around one command's output; see `buildSessionFrame`. */
export interface IFrameMarkers {
  /** 32 hex digits, fresh for every command. */
  nonce: string;
}

export interface ISessionFrame extends IFrameMarkers {
  /** POSIX shell text to write to the session's stdin. */
  text: string;
}

/** What one command wrote and how it ended. */
export interface ICommandOutput {
  nonce: string;
  stdout: Buffer;
  stderr: Buffer;
  /** The exit status, or null when the output ended before it was known. */
  exitCode: number | null;
  /** Bytes written, including those dropped over the limit. */
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

const MARKER_PREFIX = '##jlhpc:';
const NONCE = /^[0-9a-f]{32}$/;

/** A fresh random nonce for one command's markers. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

function checkNonce(nonce: string): void {
  if (!NONCE.test(nonce)) {
    throw new RemoteCommandError(
      'invalid-nonce',
      'A command marker nonce must be 32 lowercase hex digits (use newNonce()).'
    );
  }
}

function beginMarker(nonce: string): string {
  return `${MARKER_PREFIX}${nonce}:begin\n`;
}

function endPrefix(nonce: string): string {
  return `${MARKER_PREFIX}${nonce}:end:`;
}

/**
 * Shell lines printing a marker on stdout and stderr. The prefix and the
 * nonce are separate printf arguments, so the marker never appears whole in
 * the text a shell reads (or echoes under `set -v`).
 */
function printMarkers(nonce: string, kind: 'begin' | 'end'): string {
  const parts = `'${MARKER_PREFIX}' '${nonce}'`;
  if (kind === 'begin') {
    const line = `printf '%s%s:begin\\n' ${parts}`;
    return `${line}; ${line} >&2`;
  }
  const line = `printf '%s%s:end:%s\\n' ${parts} "$jlhpc_status"`;
  return `jlhpc_status=$?; ${line}; ${line} >&2`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 31_536_000) {
    throw new RemoteCommandError(
      'invalid-timeout',
      `A command timeout must be a positive number of seconds up to a year, got ${seconds}.`
    );
  }
  // Rounded up to milliseconds, never in exponent notation.
  return (Math.ceil(seconds * 1000) / 1000).toFixed(3).replace(/\.?0+$/, '');
}

function quoteDirectory(cwd: string): string {
  if (cwd === '~') {
    return '"$HOME"';
  }
  if (cwd.startsWith('~/')) {
    const rest = cwd.slice(2);
    return rest === '' ? '"$HOME"/' : `"$HOME"/${quoteArg(rest)}`;
  }
  return quoteArg(cwd);
}

/**
 * The POSIX shell script for a command: change directory, export variables,
 * run the setup steps, run the program. Every piece of caller text in it is
 * quoted by quote.ts. With `nonce`, it first prints begin markers, so that
 * output of the login files can be told from the command's own.
 */
export function buildScript(command: IRemoteCommand, nonce?: string): string {
  const lines: string[] = [];
  if (nonce !== undefined) {
    checkNonce(nonce);
    lines.push(printMarkers(nonce, 'begin'));
  }
  if (command.cwd !== undefined) {
    lines.push(`cd -- ${quoteDirectory(command.cwd)} || exit`);
  }
  for (const [name, value] of Object.entries(command.env ?? {})) {
    lines.push(`export ${quoteEnvAssignment(name, value)}`);
  }
  for (const step of command.setup ?? []) {
    lines.push(`${quoteCommand(step)} || exit`);
  }
  let argv = command.argv;
  if (command.timeoutSeconds !== undefined) {
    // `--` ends timeout's options; the program may start with a dash.
    argv = [
      'timeout',
      '-k',
      String(TIMEOUT_KILL_AFTER_SECONDS),
      '--',
      formatSeconds(command.timeoutSeconds),
      ...argv
    ];
  }
  const prefix = command.exec === false ? '' : 'exec ';
  const stdin = command.stdinFromDevNull ? ' </dev/null' : '';
  lines.push(prefix + quoteCommand(argv) + stdin);
  return lines.join('\n');
}

/**
 * Characters a single-quoted word may hold and mean the same to sh, bash,
 * zsh, ksh, csh, tcsh and fish: printable ASCII but `'`, `!` (csh history)
 * and `\`, which is allowed only before a digit, `"`, `$` or a backquote
 * (fish reads `\\` and `\'` as escapes; csh, `\!` and backslash-newline).
 */
const PORTABLE_QUOTED = /^(?:[\x20-\x26\x28-\x5b\x5d-\x7e]|\\[0-9"$`])*$/;
const PORTABLE_FORBIDDEN = /!/;

/** Throw unless `text` reads the same in single quotes in every shell. */
export function assertPortableWord(text: string): void {
  if (!PORTABLE_QUOTED.test(text) || PORTABLE_FORBIDDEN.test(text)) {
    throw new Error(
      `internal error: text is not portable between shells: ${JSON.stringify(text.slice(0, 80))}`
    );
  }
}

/** Kept as is in a payload; everything else becomes a `\ooo` escape. */
const PAYLOAD_PLAIN = /[\x20-\x7e]/;
const PAYLOAD_ESCAPED = new Set(["'", '!', '\\', '%']);

/**
 * `script` as a printf format that prints it back byte for byte, and is
 * portable between shells: `'`, `!`, `\`, `%`, control characters and every
 * byte of a non-ASCII character become three-digit octal escapes.
 */
export function encodePayload(script: string): string {
  let out = '';
  for (const ch of script) {
    if (PAYLOAD_PLAIN.test(ch) && !PAYLOAD_ESCAPED.has(ch)) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) {
        out += '\\' + byte.toString(8).padStart(3, '0');
      }
    }
  }
  return out;
}

/** Login shells that read POSIX syntax and accept `-l -c` and `-l -s`. */
const POSIX_SHELLS = 'sh|bash|zsh|ksh|ksh93|mksh|lksh|pdksh|oksh|dash|ash|yash';

/**
 * The stage program, run by /bin/sh as `eval "$1"` with $1 = this text,
 * $2 = mode (run, session; b-run, b-session after a csh or fish login) and
 * $3 = the payload. It is one line in the portable subset (no `'`, no `!`).
 */
const STAGE = [
  // d: decode a payload into $r (printf strips nothing; $(...) would strip
  // trailing newlines, hence the dot).
  'd() { r=$(printf -- "$1"; echo .); r=${r%.}; };',
  'case $2 in',
  'b-run) unset JLHPC_A JLHPC_E; d "$3"; exec /bin/sh -c "$r" jlhpc;;',
  'b-session) unset JLHPC_A JLHPC_E; exec /bin/sh -s;;',
  'esac;',
  'n=${SHELL##*/};',
  'case $n in',
  `${POSIX_SHELLS})`,
  'case $2 in run) d "$3"; exec "$SHELL" -l -c "$r" jlhpc;;',
  '*) exec "$SHELL" -l -s;; esac;;',
  'csh|tcsh|fish)',
  'JLHPC_A=$1; JLHPC_E=$3; export JLHPC_A JLHPC_E;',
  'c="exec /bin/sh -c \\"\\$JLHPC_A\\" jlhpc \\"\\$JLHPC_A\\" b-$2 \\"\\$JLHPC_E\\"";',
  'if [ $n = fish ]; then exec "$SHELL" -l -c "$c"; fi;',
  'if command -v bash >/dev/null 2>&1; then',
  'exec bash -c "exec -a -$n \\"\\$SHELL\\" -c \\"\\$1\\"" jlhpc "$c"; fi;',
  'exec "$SHELL" -c "$c";;',
  '*) case $2 in run) d "$3"; exec /bin/sh -l -c "$r" jlhpc;;',
  '*) exec /bin/sh -l -s;; esac;;',
  'esac'
].join(' ');

function portableCommand(mode: 'run' | 'session', payload?: string): string {
  assertPortableWord(STAGE);
  const words = [`exec /bin/sh -c 'eval "$1"' jlhpc '${STAGE}' ${mode}`];
  if (payload !== undefined) {
    assertPortableWord(payload);
    words.push(`'${payload}'`);
  }
  return words.join(' ');
}

/**
 * The one string to send in an SSH `exec` request to run `command` in the
 * user's login environment, whatever their login shell. With `nonce`, the
 * output starts with begin markers: give the same nonce to
 * `FramedOutputParser.expect` and call `finish(exitStatus)` at the end.
 *
 * @throws ShellQuoteError for an argument that cannot be passed (NUL byte).
 * @throws RemoteCommandError when the command is too long for one exec
 *   request, or for a bad timeout or nonce.
 */
export function buildRemoteCommand(
  command: IRemoteCommand,
  options: { nonce?: string } = {}
): string {
  const result = portableCommand(
    'run',
    encodePayload(buildScript(command, options.nonce))
  );
  if (result.length > MAX_REMOTE_COMMAND_BYTES) {
    throw new RemoteCommandError(
      'command-too-long',
      `The command is too long to send (${result.length} bytes after quoting, at most ${MAX_REMOTE_COMMAND_BYTES}); send large data on standard input or through the session.`
    );
  }
  return result;
}

/**
 * The one string that starts a long-lived session: a POSIX shell in the
 * user's login environment that reads `buildSessionFrame` texts from stdin.
 */
export function buildSessionCommand(): string {
  return portableCommand('session');
}

/**
 * A command framed for the session shell. Write `text` to its stdin and give
 * the frame to `FramedOutputParser.expect` before the output can arrive.
 */
export function buildSessionFrame(
  command: IRemoteCommand,
  nonce: string = newNonce()
): ISessionFrame {
  checkNonce(nonce);
  const text = [
    printMarkers(nonce, 'begin'),
    '(',
    buildScript(command),
    ') </dev/null',
    printMarkers(nonce, 'end'),
    ''
  ].join('\n');
  return { nonce, text };
}

/** Keeps the first `limit` bytes of a stream and counts the rest. */
export class BoundedOutput {
  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this._bytes += chunk.length;
    const room = this.limit - this._kept;
    if (room <= 0 || chunk.length === 0) {
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this._chunks.push(Buffer.from(part));
    this._kept += part.length;
  }

  /** Bytes pushed, including those dropped. */
  get bytes(): number {
    return this._bytes;
  }

  get truncated(): boolean {
    return this._bytes > this._kept;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this._chunks, this._kept);
  }

  private _chunks: Buffer[] = [];
  private _kept = 0;
  private _bytes = 0;
}

const EMPTY = Buffer.alloc(0);

/** The length of the longest end of `data` that `needle` starts with (< needle). */
function partialMarker(data: Buffer, needle: Buffer): number {
  const first = needle[0];
  for (let k = Math.min(data.length, needle.length - 1); k > 0; k--) {
    const at = data.length - k;
    if (
      data[at] === first &&
      data.compare(needle, 0, k, at, data.length) === 0
    ) {
      return k;
    }
  }
  return 0;
}

/** Longest `<status>\n` after an end marker: exit statuses are 0..255. */
const MAX_TRAILER = 4;

interface IFrameState {
  nonce: string;
  begin: Buffer;
  end: Buffer;
  /** Output before the begin marker, per stream. */
  before: [BoundedOutput, BoundedOutput];
  body: [BoundedOutput, BoundedOutput];
  began: [boolean, boolean];
  status: [number | null, number | null];
}

type StreamIndex = 0 | 1;

/**
 * Reads the stdout and stderr of a session (or of a command built with a
 * nonce) back into one `ICommandOutput` per command, in order. Chunks may be
 * split anywhere, even inside a marker. Each stream is scanned on its own, so
 * stdout may run ahead of stderr; a command is complete when both streams
 * have passed its end marker.
 */
export class FramedOutputParser {
  constructor(
    options: {
      maxOutputBytes?: number;
      /**
       * Called with every piece of a command's own output as soon as it is
       * known not to be part of a marker (the last bytes of a chunk may wait
       * for the next one), whatever the size limit. Output of the login
       * files before the begin marker is not passed on, except when the
       * marker never came (`finish`), as the result then holds it too.
       */
      onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
    } = {}
  ) {
    this._limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this._onOutput = options.onOutput ?? null;
  }

  /** Announce the next command; call before writing its frame. */
  expect(frame: IFrameMarkers): void {
    checkNonce(frame.nonce);
    this._frames.push({
      nonce: frame.nonce,
      begin: Buffer.from(beginMarker(frame.nonce)),
      end: Buffer.from(endPrefix(frame.nonce)),
      before: [new BoundedOutput(this._limit), new BoundedOutput(this._limit)],
      body: [new BoundedOutput(this._limit), new BoundedOutput(this._limit)],
      began: [false, false],
      status: [null, null]
    });
  }

  /** Feed stdout; returns the commands completed by this chunk. */
  pushStdout(chunk: Buffer): ICommandOutput[] {
    return this._push(0, chunk);
  }

  /** Feed stderr; returns the commands completed by this chunk. */
  pushStderr(chunk: Buffer): ICommandOutput[] {
    return this._push(1, chunk);
  }

  /** Commands expected and not yet complete. */
  get pending(): number {
    return this._frames.length;
  }

  /** Output that belonged to no command (login banners, late output). */
  get stray(): { stdout: Buffer; stderr: Buffer; bytes: number } {
    return {
      stdout: this._stray[0].toBuffer(),
      stderr: this._stray[1].toBuffer(),
      bytes: this._stray[0].bytes + this._stray[1].bytes
    };
  }

  /**
   * The streams ended. Returns every command not yet complete, with the
   * output seen so far and `exitCode` (the SSH exit status for a one-shot
   * command; null for a session that died). A stream that never showed its
   * begin marker gives all it had instead: an error from the login files or
   * the stage then reaches the user.
   */
  finish(exitCode: number | null = null): ICommandOutput[] {
    for (const stream of [0, 1] as const) {
      this._flushTail(stream);
      const first = this._frames[0];
      if (first && !first.began[stream] && this._onOutput) {
        // The result gives what came instead of the command: so does the stream.
        this._emit(stream, first.before[stream].toBuffer());
      }
    }
    const results = this._frames.map((frame, i) =>
      this._result(frame, frame.status[0] ?? (i === 0 ? exitCode : null), true)
    );
    this._frames = [];
    this._cursor = [0, 0];
    return results;
  }

  private _push(stream: StreamIndex, chunk: Buffer): ICommandOutput[] {
    this._tail[stream] = this._tail[stream].length
      ? Buffer.concat([this._tail[stream], chunk])
      : chunk;
    this._scan(stream);
    const done: ICommandOutput[] = [];
    while (
      this._frames.length > 0 &&
      this._frames[0].status[0] !== null &&
      this._frames[0].status[1] !== null
    ) {
      const frame = this._frames.shift()!;
      this._cursor = [this._cursor[0] - 1, this._cursor[1] - 1];
      done.push(this._result(frame, frame.status[0], false));
    }
    return done;
  }

  private _scan(stream: StreamIndex): void {
    for (;;) {
      let data = this._tail[stream];
      const frame = this._frames[this._cursor[stream]];
      if (frame === undefined) {
        this._stray[stream].push(data);
        this._tail[stream] = EMPTY;
        return;
      }
      if (!frame.began[stream]) {
        const at = data.indexOf(frame.begin);
        if (at < 0) {
          this._tail[stream] = this._keepTail(
            data,
            frame.begin,
            frame.before[stream]
          );
          return;
        }
        frame.before[stream].push(data.subarray(0, at));
        frame.began[stream] = true;
        data = data.subarray(at + frame.begin.length);
      }
      const at = data.indexOf(frame.end);
      if (at < 0) {
        this._tail[stream] = this._keepTail(
          data,
          frame.end,
          frame.body[stream],
          stream
        );
        return;
      }
      this._pushBody(frame, stream, data.subarray(0, at));
      const from = at + frame.end.length;
      const newline = data.indexOf(0x0a, from);
      if (newline < 0) {
        if (data.length - from > MAX_TRAILER) {
          throw this._garbled(frame, data.subarray(from, from + MAX_TRAILER));
        }
        this._tail[stream] = data.subarray(at);
        return;
      }
      const status = data.subarray(from, newline).toString('latin1');
      if (!/^\d{1,3}$/.test(status)) {
        throw this._garbled(frame, data.subarray(from, newline));
      }
      frame.status[stream] = Number(status);
      this._tail[stream] = data.subarray(newline + 1);
      this._cursor[stream]++;
    }
  }

  /**
   * Hand `data` to `sink` except its end when that is the start of `needle`
   * (a marker split between chunks): output that cannot be part of a marker
   * is never held back, so a streamed command's last line shows at once.
   */
  private _keepTail(
    data: Buffer,
    needle: Buffer,
    sink: BoundedOutput,
    bodyOf?: StreamIndex
  ): Buffer {
    const keep = partialMarker(data, needle);
    const part = data.subarray(0, data.length - keep);
    sink.push(part);
    if (bodyOf !== undefined) {
      this._emit(bodyOf, part);
    }
    return data.subarray(data.length - keep);
  }

  private _pushBody(frame: IFrameState, stream: StreamIndex, data: Buffer) {
    frame.body[stream].push(data);
    this._emit(stream, data);
  }

  private _emit(stream: StreamIndex, data: Buffer): void {
    if (this._onOutput && data.length > 0) {
      this._onOutput(stream === 0 ? 'stdout' : 'stderr', Buffer.from(data));
    }
  }

  private _flushTail(stream: StreamIndex): void {
    const frame = this._frames[this._cursor[stream]];
    const tail = this._tail[stream];
    this._tail[stream] = EMPTY;
    if (frame === undefined) {
      this._stray[stream].push(tail);
    } else if (frame.began[stream]) {
      this._pushBody(frame, stream, tail);
    } else {
      frame.before[stream].push(tail);
    }
  }

  private _result(
    frame: IFrameState,
    exitCode: number | null,
    cutShort: boolean
  ): ICommandOutput {
    const pick = (stream: StreamIndex): BoundedOutput => {
      if (frame.began[stream] || !cutShort) {
        // Output before the begin marker belongs to no command.
        this._stray[stream].push(frame.before[stream].toBuffer());
        return frame.body[stream];
      }
      return frame.before[stream];
    };
    const out = pick(0);
    const err = pick(1);
    return {
      nonce: frame.nonce,
      stdout: out.toBuffer(),
      stderr: err.toBuffer(),
      exitCode,
      stdoutBytes: out.bytes,
      stderrBytes: err.bytes,
      stdoutTruncated: out.truncated,
      stderrTruncated: err.truncated
    };
  }

  private _garbled(frame: IFrameState, trailer: Buffer): RemoteCommandError {
    return new RemoteCommandError(
      'unexpected-output',
      `The remote shell sent a malformed end marker for command ${frame.nonce}: ${JSON.stringify(trailer.toString('latin1'))}.`
    );
  }

  private readonly _limit: number;
  private readonly _onOutput:
    ((stream: 'stdout' | 'stderr', chunk: Buffer) => void) | null;
  private _frames: IFrameState[] = [];
  /** Per stream: index in _frames of the command being read. */
  private _cursor: [number, number] = [0, 0];
  /** Per stream: bytes not yet assigned (a possible partial marker). */
  private _tail: [Buffer, Buffer] = [EMPTY, EMPTY];
  private readonly _stray: [BoundedOutput, BoundedOutput] = [
    new BoundedOutput(MAX_STRAY_BYTES),
    new BoundedOutput(MAX_STRAY_BYTES)
  ];
}
