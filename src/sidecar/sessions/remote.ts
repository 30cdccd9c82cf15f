/**
 * The commands a session runs on the login node (submit, watch, cancel) as
 * argument lists for the cluster's transport, and the readers of what they
 * print. Pure: the shell programs are constants (submit.sh, watch.sh) and
 * every value reaches them as a positional parameter.
 */
import type { ILaunchRequest, ISessionOrigin } from '../../common/sessions';
import type { IRemoteCommand } from '../shell/remote-command';
import { parseUtcOffset } from '../slurm/duration';
import { isJobId } from '../slurm/squeue';
import { isSessionId, parseSbatchParsable } from './batch-script';
import LIST_SH from './list.sh';
import SUBMIT_SH from './submit.sh';
import WATCH_SH from './watch.sh';

/** What jupyter_server wrote into its jpserver-<pid>.json. */
export interface IServerRecord {
  port: number;
  token: string;
  base_url: string;
  pid: number;
  version: string | null;
}

export type WatchEvent =
  | { kind: 'watching' }
  | { kind: 'started'; id: string; at: number; node: string; jobId: string }
  | { kind: 'ready'; id: string; server: IServerRecord }
  | { kind: 'exit'; id: string; status: number; at: number; why: string };

function checkId(id: string): void {
  if (!isSessionId(id)) {
    throw new Error(`Not a session id: ${JSON.stringify(id)}`);
  }
}

/** Where a job's directory lies under ~/.jupyterlab-hpc (see submit.sh). */
export type JobDirKind = 'sessions' | 'allocations';

/**
 * Lay out the job's directory (`~/.jupyterlab-hpc/<kind>/<id>`, 0700, with
 * its script, META and an 0600 log) and run sbatch there.
 */
export function submitCommand(
  id: string,
  script: string,
  meta: string,
  sbatch: readonly string[],
  kind: JobDirKind = 'sessions'
): IRemoteCommand {
  checkId(id);
  if (sbatch[0] !== 'sbatch') {
    throw new Error('A session is submitted with sbatch.');
  }
  return {
    argv: [
      'sh',
      '-c',
      SUBMIT_SH,
      'jlhpc-submit',
      kind,
      id,
      script,
      meta,
      ...sbatch
    ],
    timeoutSeconds: 60
  };
}

/**
 * Follow these sessions' records for at most `seconds`; of `exitOnly` (whose
 * JupyterLab is known) only the exit record. With `untilInputEnds`, run it
 * with an input that stays open while it is wanted: its end (a closed
 * channel) stops the watch even while it prints nothing.
 */
export function watchCommand(
  ids: readonly string[],
  seconds: number,
  exitOnly: readonly string[] = [],
  untilInputEnds = false
): IRemoteCommand {
  ids.forEach(checkId);
  exitOnly.forEach(checkId);
  return {
    argv: [
      'sh',
      '-c',
      WATCH_SH,
      'jlhpc-watch',
      String(Math.max(1, Math.floor(seconds))),
      ...ids,
      ...(exitOnly.length > 0 ? ['--', ...exitOnly] : [])
    ],
    ...(untilInputEnds ? { env: { JLHPC_WATCH_INPUT: '1' } } : {}),
    stdinFromDevNull: !untilInputEnds
  };
}

/** Print the job's exit record (`<status> <epoch> <why>`), if it wrote one. */
export function exitRecordCommand(id: string): IRemoteCommand {
  checkId(id);
  return {
    argv: [
      'sh',
      '-c',
      'cat "$HOME/.jupyterlab-hpc/sessions/$1/exit" 2>/dev/null || true',
      'jlhpc-exit',
      id
    ],
    timeoutSeconds: 30
  };
}

/**
 * Print the job id submit.sh kept for the session, if sbatch accepted it
 * (for a sidecar killed between sbatch's answer and its state file).
 */
export function jobIdCommand(id: string): IRemoteCommand {
  checkId(id);
  return {
    argv: [
      'sh',
      '-c',
      'cat "$HOME/.jupyterlab-hpc/sessions/$1/job-id" 2>/dev/null || true',
      'jlhpc-job-id',
      id
    ],
    timeoutSeconds: 30
  };
}

/** What exitRecordCommand printed; null when the job wrote none. */
export function parseExitRecord(
  id: string,
  text: string
): { status: number; why: string } | null {
  const e = parseWatchLine(`exit ${id} ${text.trim()}`);
  return e?.kind === 'exit' ? { status: e.status, why: e.why } : null;
}

/** Largest piece of a job log one request returns. */
export const LOG_CHUNK_BYTES = 256 * 1024;

/**
 * The job log from byte `offset` on (at most LOG_CHUNK_BYTES), after a
 * first line with the log's whole size, so a viewer can follow it.
 */
export function logCommand(id: string, offset: number): IRemoteCommand {
  checkId(id);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`Not a log offset: ${offset}`);
  }
  return {
    argv: [
      'sh',
      '-c',
      'f="$HOME/.jupyterlab-hpc/sessions/$1/job.log"; [ -r "$f" ] || exit 3; ' +
        'wc -c <"$f"; tail -c +"$(($2 + 1))" "$f" | head -c "$3"',
      'jlhpc-log',
      id,
      String(offset),
      String(LOG_CHUNK_BYTES)
    ],
    timeoutSeconds: 30
  };
}

/**
 * What logCommand printed: the log's size, and the bytes from the offset as
 * text. A character cut by the chunk's end (or by a write in progress) is
 * left for the next read: `bytes` counts only what `text` holds, so offsets
 * never drift by a replacement character.
 */
export function parseLogOutput(
  stdout: Buffer
): { size: number; text: string; bytes: number } | null {
  const nl = stdout.indexOf(10);
  const size =
    nl === -1 ? NaN : Number(stdout.subarray(0, nl).toString().trim());
  if (!Number.isSafeInteger(size)) {
    return null;
  }
  const chunk = stdout.subarray(nl + 1);
  const bytes = completeUtf8Length(chunk);
  return { size, text: chunk.subarray(0, bytes).toString('utf8'), bytes };
}

/** The length of `buf` without a UTF-8 sequence that its end cuts short. */
export function completeUtf8Length(buf: Buffer): number {
  // A sequence is at most 4 bytes: look back at most 3 for its lead byte.
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const byte = buf[buf.length - back];
    if ((byte & 0xc0) === 0x80) {
      continue; // a continuation byte: the lead is further back
    }
    // 0xf8 and up never start a sequence: a byte of its own.
    const needed =
      byte >= 0xf8
        ? 1
        : byte >= 0xf0
          ? 4
          : byte >= 0xe0
            ? 3
            : byte >= 0xc0
              ? 2
              : 1;
    return needed > back ? buf.length - back : buf.length;
  }
  return buf.length;
}

export function cancelCommand(jobIds: readonly string[]): IRemoteCommand {
  for (const id of jobIds) {
    if (!isJobId(id)) {
      throw new Error(`Not a Slurm job id: ${JSON.stringify(id)}`);
    }
  }
  return { argv: ['scancel', ...jobIds], timeoutSeconds: 30 };
}

function serverRecord(json: string): IServerRecord {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const port = raw.port;
  const token = raw.token;
  if (
    typeof port !== 'number' ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535 ||
    typeof token !== 'string'
  ) {
    throw new Error('The jpserver file has no port or token.');
  }
  return {
    port,
    token,
    base_url: typeof raw.base_url === 'string' ? raw.base_url : '/',
    pid: typeof raw.pid === 'number' ? raw.pid : 0,
    version: typeof raw.version === 'string' ? raw.version : null
  };
}

/** One line of watch.sh; null for a line that is none of its own. */
export function parseWatchLine(line: string): WatchEvent | null {
  if (line === 'watching') {
    return { kind: 'watching' };
  }
  const m = /^(started|ready|exit) ([a-z0-9]{8,32}) (.*)$/.exec(line);
  if (!m) {
    return null;
  }
  const [, kind, id, rest] = m;
  if (kind === 'ready') {
    try {
      return { kind, id, server: serverRecord(rest) };
    } catch {
      return null;
    }
  }
  if (kind === 'started') {
    const s = /^(\d+) (\S+) (\d*)$/.exec(rest);
    return s
      ? { kind, id, at: Number(s[1]) * 1000, node: s[2], jobId: s[3] }
      : null;
  }
  const e = /^(\d+) (\d+) (.*)$/.exec(rest);
  return e
    ? {
        kind: 'exit',
        id,
        status: Number(e[1]),
        at: Number(e[2]) * 1000,
        why: e[3]
      }
    : null;
}

/** What session.json says: who submitted the session, when, with what. */
export interface ISessionMeta {
  origin: ISessionOrigin | null;
  createdAt: number | null;
  request: ILaunchRequest | null;
}

/** A session directory whose job may still run (see list.sh). */
export interface IListedSession {
  id: string;
  jobId: string;
  meta: ISessionMeta;
}

/**
 * The session directories on the cluster that have a job and no exit
 * record, with the cluster's UTC offset; all of them, or these `ids`.
 */
export function listCommand(ids: readonly string[] = []): IRemoteCommand {
  ids.forEach(checkId);
  return {
    argv: ['sh', '-c', LIST_SH, 'jlhpc-list', ...ids],
    timeoutSeconds: 30,
    stdinFromDevNull: true
  };
}

/** session.json as submit.sh wrote it; anything unreadable is left null. */
export function parseSessionMeta(text: string): ISessionMeta {
  let raw: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      raw = parsed as Record<string, unknown>;
    }
  } catch {
    // an old or damaged file: nothing known
  }
  let origin: ISessionOrigin | null = null;
  const o = raw.origin;
  if (typeof o === 'string') {
    origin = { host: o, sidecar: '' };
  } else if (
    typeof o === 'object' &&
    o !== null &&
    typeof (o as ISessionOrigin).host === 'string'
  ) {
    const { host, sidecar } = o as ISessionOrigin;
    origin = { host, sidecar: typeof sidecar === 'string' ? sidecar : '' };
  }
  const at =
    typeof raw.createdAt === 'string' ? Date.parse(raw.createdAt) : NaN;
  const request =
    typeof raw.request === 'object' && raw.request !== null
      ? (raw.request as ILaunchRequest)
      : null;
  return {
    origin,
    createdAt: Number.isFinite(at) ? at : null,
    request
  };
}

/** What listCommand printed. */
export function parseSessionList(stdout: string): {
  utcOffsetMinutes: number;
  sessions: IListedSession[];
} {
  const lines = stdout.split('\n');
  let utcOffsetMinutes = 0;
  try {
    utcOffsetMinutes = parseUtcOffset(lines[0] ?? '');
  } catch {
    // a login node without date +%z: times read as UTC
  }
  const sessions: IListedSession[] = [];
  for (const line of lines.slice(1)) {
    const m = /^session (\S+) (\S+) ?(.*)$/.exec(line);
    const jobId = m ? parseSbatchParsable(m[2]) : null;
    if (!m || !isSessionId(m[1]) || !jobId) {
      continue;
    }
    sessions.push({ id: m[1], jobId, meta: parseSessionMeta(m[3]) });
  }
  return { utcOffsetMinutes, sessions };
}
