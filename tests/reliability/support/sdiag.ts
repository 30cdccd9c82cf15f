/**
 * How often a cluster user asks Slurm about jobs, counted by Slurm itself:
 * sdiag's remote procedure call counts (by message type, and by user), as
 * bench/sections/slurm.mjs reads them. Runs here as root, so the reading
 * is not counted with the user's calls.
 */
import { execFileSync } from 'child_process';

export interface ISdiagCounts {
  byType: Record<string, number>;
  byUser: Record<string, number>;
}

/** The RPCs one squeue makes to list jobs (one of them per call). */
const JOB_QUERIES = [
  'REQUEST_JOB_INFO',
  'REQUEST_JOB_INFO_SINGLE',
  'REQUEST_JOB_USER_INFO'
];

export function sdiagCounts(): ISdiagCounts {
  const text = execFileSync('sdiag', [], { encoding: 'utf8', timeout: 10_000 });
  const byType: Record<string, number> = {};
  const byUser: Record<string, number> = {};
  let into: Record<string, number> | null = null;
  for (const line of text.split('\n')) {
    if (/statistics by message type/.test(line)) {
      into = byType;
    } else if (/statistics by user/.test(line)) {
      into = byUser;
    } else if (/^\S/.test(line) && line.trim() !== '') {
      into = null;
    } else if (into) {
      const m = /^\s+(\S+)\s+\(\s*\d+\)\s+count:(\d+)/.exec(line);
      if (m) {
        into[m[1]] = Number(m[2]);
      }
    }
  }
  return { byType, byUser };
}

const jobQueries = (c: ISdiagCounts): number =>
  JOB_QUERIES.reduce((sum, t) => sum + (c.byType[t] ?? 0), 0);

/**
 * Counts `user`'s squeue calls while it runs, reading sdiag every
 * `everyMs`. sdiag counts by type and by user, not both: a call is counted
 * in a sample where the job queries and the user's RPCs both rose (each
 * squeue makes 2 or 3 RPCs), so other users' squeue calls (other suites run
 * them as root) are left out. `perMinute()` gives the calls in each whole
 * minute since start.
 */
export class SqueueCounter {
  private _prev: ISdiagCounts;
  private readonly _t0 = Date.now();
  private readonly _calls: number[] = [];
  private _others = 0;
  private readonly _timer: NodeJS.Timeout;
  private _error: Error | null = null;

  constructor(
    private readonly _user: string,
    everyMs = 1000
  ) {
    this._prev = sdiagCounts();
    this._timer = setInterval(() => this._sample(), everyMs);
  }

  private _sample(): void {
    let now: ISdiagCounts;
    try {
      now = sdiagCounts();
    } catch (err) {
      this._error = err as Error;
      return;
    }
    const queries = jobQueries(now) - jobQueries(this._prev);
    const userRpcs =
      (now.byUser[this._user] ?? 0) - (this._prev.byUser[this._user] ?? 0);
    if (queries < 0 || userRpcs < 0) {
      this._error = new Error('sdiag counts went down: slurmctld restarted');
    } else {
      const ours = Math.min(queries, Math.floor(userRpcs / 2));
      this._others += queries - ours;
      for (let i = 0; i < ours; i++) {
        this._calls.push(Date.now());
      }
    }
    this._prev = now;
  }

  /** Stop counting (no error thrown: for a `finally`). */
  dispose(): void {
    clearInterval(this._timer);
  }

  stop(): void {
    clearInterval(this._timer);
    this._sample();
    if (this._error) {
      throw this._error;
    }
  }

  /** Calls in each whole minute since the counter started. */
  perMinute(): number[] {
    const minutes = Math.floor((Date.now() - this._t0) / 60_000);
    const out = new Array<number>(minutes).fill(0);
    for (const at of this._calls) {
      const i = Math.floor((at - this._t0) / 60_000);
      if (i < minutes) {
        out[i]++;
      }
    }
    return out;
  }

  get total(): number {
    return this._calls.length;
  }

  /** Job queries of other users while counting, left out. */
  get others(): number {
    return this._others;
  }
}
