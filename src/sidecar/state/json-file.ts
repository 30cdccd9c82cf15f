/**
 * A JSON state file that survives crashes, full disks and hand edits: every
 * write goes to a fresh owner-only file beside it, is flushed, and replaces
 * the old one by rename, so a reader sees the old state or the new one,
 * never half of one. The last state written is copied to `<file>.bak`. A file
 * that cannot be read back (truncated, not JSON, not of the expected shape)
 * is set aside as `<file>.bad-<time>` and the backup is used instead; the
 * caller is told what happened, so the user can be too: `onProblem` hears
 * of a damaged file at load and of writes that fail (a full disk), and of
 * the end of that once a write succeeds again.
 */
import { constants, promises as fs } from 'fs';
import { dirname, join, basename } from 'path';

export interface IStateFileOptions<T> {
  path: string;
  /** Check and convert parsed JSON; throw an Error saying what is wrong. */
  parse(raw: unknown): T;
  /** The state when there is no file yet. */
  empty(): T;
  /** What the file holds, for messages ("sessions"). */
  label?: string;
  /** The file's path as messages show it (`~/…`); the path by default. */
  shownPath?: string;
  /** Said after a damaged file's message when no good copy was left. */
  lostHint?: string;
  /**
   * A problem of the file appeared, or (null) one of that kind is over:
   * a damaged file is told once and stays told; failing writes end with
   * the next write that works.
   */
  onProblem?(
    kind: IStateFileProblem['kind'],
    problem: IStateFileProblem | null
  ): void;
}

/** Why the file is not what the state in memory is. */
export interface IStateFileProblem {
  kind: 'damaged' | 'unwritable';
  /** A sentence for the user, naming the file. */
  message: string;
}

/** What loading found, beside the state itself. */
export interface ILoadReport {
  source: 'file' | 'backup' | 'empty';
  /** Why the file was not used, when it was not. */
  problem: string | null;
  /** Where a bad file was moved to. */
  setAside: string | null;
}

export class StateFile<T> {
  constructor(private readonly _options: IStateFileOptions<T>) {}

  get path(): string {
    return this._options.path;
  }

  /** The file's problem now: failing writes, else damage found at load. */
  get problem(): IStateFileProblem | null {
    return this._unwritable ?? this._damaged;
  }

  /** Read the state; never throws for a bad file (see ILoadReport). */
  async load(): Promise<{ state: T; report: ILoadReport }> {
    const { path } = this._options;
    const main = await this._read(path);
    if (main.ok) {
      return {
        state: main.state,
        report: { source: 'file', problem: null, setAside: null }
      };
    }
    if (main.missing) {
      return {
        state: this._options.empty(),
        report: { source: 'empty', problem: null, setAside: null }
      };
    }
    const setAside = `${path}.bad-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await fs.rename(path, setAside).catch(() => undefined);
    const backup = await this._read(`${path}.bak`);
    this._setDamaged(main.problem, setAside, backup.ok);
    if (backup.ok) {
      return {
        state: backup.state,
        report: { source: 'backup', problem: main.problem, setAside }
      };
    }
    return {
      state: this._options.empty(),
      report: { source: 'empty', problem: main.problem, setAside }
    };
  }

  /**
   * Write the state. Writes are queued: each starts after the previous one
   * ended. Rejects when the state could not be written; the file on disk
   * then still holds the previous state.
   */
  save(state: T): Promise<void> {
    const text = `${JSON.stringify(state, null, 1)}\n`;
    const next = this._queue.then(() => this._write(text));
    this._queue = next.then(
      () => this._setUnwritable(null),
      err => this._setUnwritable(err as Error)
    );
    return next;
  }

  /** Resolves once every write asked for so far has ended. */
  flush(): Promise<void> {
    return this._queue;
  }

  private _shown(): { label: string; path: string } {
    return {
      label: this._options.label ?? 'state',
      path: this._options.shownPath ?? this._options.path
    };
  }

  private _setDamaged(
    problem: string,
    setAside: string,
    backupUsed: boolean
  ): void {
    const { label, path } = this._shown();
    const what = problem.replace(`${this._options.path} is damaged: `, '');
    const aside = `it was set aside as ${basename(setAside)}`;
    this._damaged = {
      kind: 'damaged',
      message: backupUsed
        ? `The ${label} file ${path} was damaged (${what}): ${aside}, and its last good copy was used.`
        : `The ${label} file ${path} was damaged (${what}) and no good copy of it was left: ${aside}.` +
          (this._options.lostHint ? ` ${this._options.lostHint}` : '')
    };
    this._options.onProblem?.('damaged', this._damaged);
  }

  private _setUnwritable(err: Error | null): void {
    const before = this._unwritable;
    if (!err) {
      if (before) {
        this._unwritable = null;
        this._options.onProblem?.('unwritable', null);
      }
      return;
    }
    const { label, path } = this._shown();
    const message =
      `The ${label} file ${path} cannot be written (${err.message}): ` +
      'it keeps the last state written, and the sidecar goes on from memory ' +
      'until it can write it again. Free some space or fix the permissions.';
    if (before?.message !== message) {
      this._unwritable = { kind: 'unwritable', message };
      this._options.onProblem?.('unwritable', this._unwritable);
    }
  }

  private async _write(text: string): Promise<void> {
    const { path } = this._options;
    const dir = dirname(path);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(
      dir,
      `.${basename(path)}.${process.pid}.${++this._serial}.tmp`
    );
    let handle: fs.FileHandle | null = null;
    try {
      handle = await fs.open(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
        0o600
      );
      await handle.writeFile(text, 'utf8');
      await handle.sync();
      await handle.close();
      handle = null;
      await fs.rename(tmp, path);
      // The state just written is the last good copy, in a file of its own
      // (a copy, not a link: a damaged file is often damaged in place). One
      // write behind, it could predate what the cluster now has (a
      // forward's port). A failed copy leaves the older backup.
      await fs
        .copyFile(path, `${path}.bak.new`)
        .then(() => fs.rename(`${path}.bak.new`, `${path}.bak`))
        .catch(() => undefined);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      await fs.rm(`${path}.bak.new`, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  private async _read(
    path: string
  ): Promise<
    { ok: true; state: T } | { ok: false; missing: boolean; problem: string }
  > {
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      return { ok: false, missing, problem: (err as Error).message };
    }
    try {
      return { ok: true, state: this._options.parse(JSON.parse(text)) };
    } catch (err) {
      return {
        ok: false,
        missing: false,
        problem: `${path} is damaged: ${(err as Error).message}`
      };
    }
  }

  private _queue: Promise<void> = Promise.resolve();
  private _damaged: IStateFileProblem | null = null;
  private _unwritable: IStateFileProblem | null = null;
  private _serial = 0;
}
