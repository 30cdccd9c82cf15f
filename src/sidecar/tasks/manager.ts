/**
 * Long-running actions (installs) whose output the user watches live. A task
 * runs one async function that reports steps and output through its context;
 * every change goes out as an event to every open JupyterLab tab:
 *
 * - `task` (the whole task, without output) when it starts, when its step
 *   changes and when it ends, always after the output that came before it;
 * - `task-output` with the new text and its offset in the whole output,
 *   gathered for OUTPUT_FLUSH_MS so that a chatty pip does not send an event
 *   per line.
 *
 * Memory is bounded: each task keeps the last MAX_OUTPUT_CHARS characters of
 * its output (1 MiB of text, counted in UTF-16 code units; older text is
 * dropped and `outputOffset` says where the kept part starts), and only the
 * last KEEP_FINISHED finished tasks are kept at all.
 */
import { randomBytes } from 'crypto';
import { StringDecoder } from 'string_decoder';

import type { ErrorCode, ITask, SidecarEvent } from '../../common/api';
import { quoteArg } from '../shell/quote';
import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';
import { SidecarError } from '../errors';
import type { ITransport } from '../transport/types';

/** Output kept per task: the last 1 MiB (in characters). */
export const MAX_OUTPUT_CHARS = 1024 * 1024;

/** Finished tasks kept for GET Routes.tasks. */
export const KEEP_FINISHED = 20;

/** Milliseconds output is gathered before a `task-output` event. */
export const OUTPUT_FLUSH_MS = 50;

/** Pending output that is sent at once, without waiting for the timer. */
const FLUSH_CHARS = 64 * 1024;

/** Bytes of each stream's end kept per command, for the error message. */
const TAIL_BYTES = 4096;

export interface ITaskManagerOptions {
  broadcast: (event: SidecarEvent) => void;
  maxOutputChars?: number;
  keepFinished?: number;
  outputFlushMs?: number;
  now?: () => number;
}

/** What a task's work gets to report progress and to run commands. */
export interface ITaskContext {
  /** Fires when the task is cancelled. */
  readonly signal: AbortSignal;
  readonly id: string;
  /** Start a new step ("Downloading the installer"); sends a `task` event. */
  step(name: string): void;
  /** Append text to the output. */
  write(text: string): void;
  /**
   * Run a command with its output streamed into the task's output, after a
   * `$ command` line (`display` replaces the quoted argv there, e.g. to leave
   * a URL's query out). Stopped when the task is cancelled. Rejects with a
   * SidecarError: 'task-failed' for a non-zero exit status, whose message
   * names the step and quotes the last line of error output.
   */
  run(
    transport: ITransport,
    command: IRemoteCommand,
    options?: { display?: string; quiet?: boolean }
  ): Promise<ICommandOutput>;
}

export interface ITaskSpec {
  kind: ITask['kind'];
  target: string;
  title: string;
  /** The environment or install prefix the task works on. */
  prefix: string | null;
  /** The first step's name. */
  step: string;
  /** The work. Resolve to succeed; reject to fail (SidecarError codes kept). */
  run(context: ITaskContext): Promise<void>;
}

interface IEntry {
  task: ITask;
  controller: AbortController;
  /** The output kept: `text` starts at character `offset` of the whole. */
  text: string;
  offset: number;
  /** Written but not yet sent, starting at `pendingOffset`. */
  pending: string;
  pendingOffset: number;
  timer: NodeJS.Timeout | null;
  done: Promise<void>;
}

export class TaskManager {
  constructor(private readonly _options: ITaskManagerOptions) {
    this._maxChars = _options.maxOutputChars ?? MAX_OUTPUT_CHARS;
    this._keep = _options.keepFinished ?? KEEP_FINISHED;
    this._flushMs = _options.outputFlushMs ?? OUTPUT_FLUSH_MS;
    this._now = _options.now ?? Date.now;
  }

  /** Start a task now; returns it as it is at its start. */
  start(spec: ITaskSpec): ITask {
    if (this._closed) {
      throw new SidecarError(
        'disconnected',
        'The sidecar is shutting down; try again when it is back.'
      );
    }
    const task: ITask = {
      id: `t${randomBytes(6).toString('hex')}`,
      kind: spec.kind,
      target: spec.target,
      title: spec.title,
      prefix: spec.prefix,
      state: 'running',
      startedAt: this._now(),
      endedAt: null,
      step: spec.step,
      error: null,
      outputLength: 0
    };
    const entry: IEntry = {
      task,
      controller: new AbortController(),
      text: '',
      offset: 0,
      pending: '',
      pendingOffset: 0,
      timer: null,
      done: Promise.resolve()
    };
    this._entries.set(task.id, entry);
    this._emitTask(entry);
    entry.done = this._execute(entry, spec);
    return { ...task };
  }

  /** Running and recently finished tasks, oldest first, without output. */
  list(): ITask[] {
    return [...this._entries.values()].map(e => ({ ...e.task }));
  }

  /**
   * One task with the output kept; `outputOffset` is where it starts (more
   * than 0 once older output was dropped).
   */
  get(id: string): ITask {
    const entry = this._entry(id);
    return { ...entry.task, output: entry.text, outputOffset: entry.offset };
  }

  /** A running task with this kind and target that `match` accepts. */
  findRunning(
    kind: ITask['kind'],
    target: string,
    match: (task: ITask) => boolean = () => true
  ): ITask | null {
    for (const { task } of this._entries.values()) {
      if (
        task.state === 'running' &&
        task.kind === kind &&
        task.target === target &&
        match(task)
      ) {
        return { ...task };
      }
    }
    return null;
  }

  /**
   * Cancel a running task: its commands are stopped (with everything they
   * started) and its clean-up runs; resolves with the task once it ended.
   * A task that already ended is returned as it is.
   */
  async cancel(id: string): Promise<ITask> {
    const entry = this._entry(id);
    if (entry.task.state === 'running') {
      entry.controller.abort();
      await entry.done;
    }
    return this.get(id);
  }

  /** Resolves when the task has ended (for tests and shutdown). */
  async settled(id: string): Promise<ITask> {
    await this._entry(id).done;
    return this.get(id);
  }

  /** Cancel every running task and wait (at most `timeoutMs`) for them. */
  async close(timeoutMs = 10_000): Promise<void> {
    this._closed = true;
    const running = [...this._entries.values()].filter(
      e => e.task.state === 'running'
    );
    for (const entry of running) {
      entry.controller.abort();
    }
    await Promise.race([
      Promise.all(running.map(e => e.done)),
      new Promise(resolve => setTimeout(resolve, timeoutMs).unref())
    ]);
  }

  private async _execute(entry: IEntry, spec: ITaskSpec): Promise<void> {
    const { signal } = entry.controller;
    const context: ITaskContext = {
      signal,
      id: entry.task.id,
      step: name => {
        if (entry.task.state === 'running' && entry.task.step !== name) {
          entry.task.step = name;
          this._emitTask(entry);
        }
      },
      write: text => this._write(entry, text),
      run: (transport, command, options) =>
        this._run(entry, transport, command, options)
    };
    let error: { code: ErrorCode; message: string } | null = null;
    try {
      // Never synchronously: start() returns before the first event of the work.
      await Promise.resolve();
      if (!signal.aborted) {
        await spec.run(context);
      }
      if (signal.aborted) {
        throw new Error('cancelled');
      }
    } catch (err) {
      error = signal.aborted
        ? { code: 'task-cancelled', message: 'Cancelled.' }
        : taskError(err);
    }
    if (error) {
      this._write(entry, `\n${error.message}\n`);
    }
    this._flush(entry);
    entry.task.state = error
      ? error.code === 'task-cancelled'
        ? 'cancelled'
        : 'failed'
      : 'succeeded';
    entry.task.error = error;
    entry.task.endedAt = this._now();
    this._emitTask(entry);
    this._prune();
  }

  private async _run(
    entry: IEntry,
    transport: ITransport,
    command: IRemoteCommand,
    options: { display?: string; quiet?: boolean } = {}
  ): Promise<ICommandOutput> {
    const { signal } = entry.controller;
    if (signal.aborted) {
      throw new SidecarError('task-cancelled', 'Cancelled.');
    }
    if (!options.quiet) {
      this._write(
        entry,
        `$ ${options.display ?? displayCommand(command.argv)}\n`
      );
    }
    const decoders = {
      stdout: new StringDecoder('utf8'),
      stderr: new StringDecoder('utf8')
    };
    const tails = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
    const out = await transport.run(command, {
      signal,
      maxOutputBytes: 64 * 1024,
      onOutput: (stream, chunk) => {
        const joined = Buffer.concat([tails[stream], chunk]);
        tails[stream] = joined.subarray(
          Math.max(0, joined.length - TAIL_BYTES)
        );
        if (!options.quiet) {
          this._write(entry, decoders[stream].write(chunk));
        }
      }
    });
    if (!options.quiet) {
      this._write(entry, decoders.stdout.end() + decoders.stderr.end());
    }
    if (out.exitCode !== 0) {
      const said =
        lastLine(tails.stderr.toString('utf8')) ||
        lastLine(tails.stdout.toString('utf8'));
      const status =
        out.exitCode === null
          ? 'ended without an exit status'
          : `exited with status ${out.exitCode}`;
      throw new SidecarError(
        'task-failed',
        `${entry.task.step} failed: ${command.argv[0]} ${status}${said ? `: ${said}` : '.'}`
      );
    }
    return out;
  }

  private _write(entry: IEntry, text: string): void {
    if (text === '') {
      return;
    }
    if (entry.pending === '') {
      entry.pendingOffset = entry.task.outputLength;
    }
    entry.task.outputLength += text.length;
    entry.pending += text;
    entry.text += text;
    // Trim in batches so that a long output is not copied on every write.
    if (entry.text.length > this._maxChars + this._maxChars / 4) {
      let cut = entry.text.length - this._maxChars;
      if (isLowSurrogate(entry.text.charCodeAt(cut))) {
        cut++;
      }
      entry.text = entry.text.slice(cut);
      entry.offset += cut;
    }
    if (entry.pending.length >= FLUSH_CHARS) {
      this._flush(entry);
    } else if (!entry.timer) {
      entry.timer = setTimeout(() => this._flush(entry), this._flushMs);
    }
  }

  private _flush(entry: IEntry): void {
    if (entry.timer) {
      clearTimeout(entry.timer);
      entry.timer = null;
    }
    if (entry.pending === '') {
      return;
    }
    const text = entry.pending;
    entry.pending = '';
    this._options.broadcast({
      type: 'task-output',
      id: entry.task.id,
      offset: entry.pendingOffset,
      text
    });
  }

  private _emitTask(entry: IEntry): void {
    // Output written before a change is sent before it.
    this._flush(entry);
    this._options.broadcast({ type: 'task', task: { ...entry.task } });
  }

  /** Keep every running task and the last `keepFinished` finished ones. */
  private _prune(): void {
    const finished = [...this._entries.values()]
      .filter(e => e.task.state !== 'running')
      .sort((a, b) => (a.task.endedAt ?? 0) - (b.task.endedAt ?? 0));
    for (const entry of finished.slice(
      0,
      Math.max(0, finished.length - this._keep)
    )) {
      this._entries.delete(entry.task.id);
    }
  }

  private _entry(id: string): IEntry {
    const entry = this._entries.get(id);
    if (!entry) {
      throw new SidecarError(
        'task-not-found',
        `There is no task ${id}: it never existed, or it ended long enough ago to be forgotten.`
      );
    }
    return entry;
  }

  private readonly _maxChars: number;
  private readonly _keep: number;
  private readonly _flushMs: number;
  private readonly _now: () => number;
  private readonly _entries = new Map<string, IEntry>();
  private _closed = false;
}

/** A command line as the output shows it (shell-quoted, to copy and paste). */
export function displayCommand(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ');
}

/** The code and sentence a failed task reports. */
export function taskError(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof SidecarError) {
    return { code: err.code, message: err.message };
  }
  return {
    code: 'task-failed',
    message: `The task failed: ${err instanceof Error ? err.message : String(err)}`
  };
}

/** The last non-empty line, without progress-bar carriage returns. */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map(l => {
      const parts = l.split('\r').filter(p => p.trim() !== '');
      return (parts[parts.length - 1] ?? '').trim();
    })
    .filter(l => l !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
