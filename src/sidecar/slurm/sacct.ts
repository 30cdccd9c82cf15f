/**
 * Why jobs ended, from Slurm accounting: one `sacct` for every job of a
 * cluster that just left the queue. Pure: the caller runs the command.
 *
 * squeue forgets a job MinJobAge (300 s by default) after it ended, and a
 * sidecar that was not running then never saw its last state; sacct keeps
 * it, with the exit code. It can lag a moment behind the controller (the
 * job still RUNNING, or not known yet): such a job is reported as not
 * known, and the caller asks again shortly.
 *
 * `-X` keeps one line per job (no steps); `-P` separates fields with `|`.
 * The State of a job cancelled by a user reads `CANCELLED by <uid>`.
 * ExitCode is `<status>:<signal>`.
 */
import { isJobId, endStateOutcome, type JobOutcome } from './squeue';
import type { ICommandText } from './output';

const FORMAT = 'JobID,State,ExitCode';

/** What accounting knows of a job that ended. */
export interface IAccountedEnd {
  jobId: string;
  /** Slurm's state word, without `by <uid>`. */
  state: string;
  outcome: JobOutcome;
  /** The batch script's exit status and the signal that ended it (0: none). */
  exitCode: number;
  signal: number;
  /** The uid that cancelled it (`CANCELLED by 1001`); null otherwise. */
  cancelledBy: string | null;
}

export function sacctArgv(jobIds: readonly string[]): string[] {
  if (jobIds.length === 0) {
    throw new Error('sacct needs at least one job id.');
  }
  for (const id of jobIds) {
    if (!isJobId(id)) {
      throw new Error(`Not a Slurm job id: ${JSON.stringify(id)}`);
    }
  }
  return [
    'sacct',
    '--allocations',
    '--noheader',
    '--parsable2',
    `--jobs=${jobIds.join(',')}`,
    `--format=${FORMAT}`
  ];
}

/**
 * The ended jobs in what `sacctArgv` printed; jobs still running (or not
 * there) are left out. Null when sacct failed (no accounting, slurmdbd not
 * answering): nothing is known then.
 */
export function parseSacct(
  output: ICommandText
): Map<string, IAccountedEnd> | null {
  if (output.exitCode !== 0) {
    return null;
  }
  const ended = new Map<string, IAccountedEnd>();
  for (const line of output.stdout.split('\n')) {
    const parts = line.trim().split('|');
    if (parts.length !== 3 || !isJobId(parts[0])) {
      continue;
    }
    const [jobId, stateText, exitText] = parts;
    const m = /^(\S+)(?:\s+by\s+(\S+))?/.exec(stateText.trim());
    const state = (m?.[1] ?? '').toUpperCase();
    const outcome = endStateOutcome(state);
    if (!outcome) {
      continue;
    }
    const code = /^(\d+):(\d+)$/.exec(exitText.trim());
    ended.set(jobId, {
      jobId,
      state,
      outcome,
      exitCode: code ? Number(code[1]) : 0,
      signal: code ? Number(code[2]) : 0,
      cancelledBy: m?.[2] ?? null
    });
  }
  return ended;
}
