/**
 * One `squeue` for every tracked job of a cluster, and what its answer
 * means. Pure: the caller runs the command through the cluster's transport.
 *
 * Slurm 22.05's `squeue --json` ignores `-j`, so the classic format is used.
 * `-t all` is needed to see jobs that ended (until MinJobAge, 300 s by
 * default, removes them); without it squeue shows only live ones even when
 * their ids are named. When every named id is gone squeue exits 1 with
 * "Invalid job id specified": that means "none of them is known any more",
 * not a failure. A controller that does not answer ("Socket timed out",
 * "Unable to contact slurm controller") says nothing about the jobs: they
 * are reported as unknown, never as ended (batchspawner#174).
 */
import {
  parseSlurmDuration,
  parseSlurmTimestamp,
  type SlurmDuration
} from './duration';
import { firstErrorLine, type ICommandText } from './output';

/** squeue's fields, in the order of SQUEUE_FORMAT. */
const FIELDS = [
  'jobId', // %i
  'state', // %T
  'reason', // %r
  'start', // %S: actual, or expected when pending and the backfill knows
  'timeLeft', // %L
  'end', // %e
  'nodes', // %N
  'batchHost', // %B
  'elapsed' // %M
] as const;

export const SQUEUE_FORMAT = '%i|%T|%r|%S|%L|%e|%N|%B|%M';

/** What a job is doing, in the words the panel uses. */
export type JobPhase = 'queued' | 'running' | 'ending' | 'ended';

/** Why a job ended, as far as Slurm's state tells. */
export type JobOutcome =
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timeout'
  | 'node-failure'
  | 'out-of-memory'
  | 'preempted'
  | 'boot-failure'
  | 'deadline';

export interface IJobStatus {
  jobId: string;
  /** Slurm's own state word (RUNNING, PENDING, …). */
  state: string;
  phase: JobPhase;
  /** Set once the job ended. */
  outcome: JobOutcome | null;
  /** Why it waits or ended (`Priority`, `Resources`, …); null for `None`. */
  reason: string | null;
  /** When it started, or is expected to start; epoch ms. */
  startTime: number | null;
  endTime: number | null;
  elapsedSeconds: SlurmDuration;
  timeLeftSeconds: SlurmDuration;
  /** The allocated node list (`node[01-02]`), null while pending. */
  nodes: string | null;
  /** The node running the batch script, null while pending. */
  batchHost: string | null;
}

/** What one squeue tells about the tracked jobs. */
export type SqueueResult =
  /** `jobs` has every job squeue still knows; the others have left it. */
  | { kind: 'answered'; jobs: Map<string, IJobStatus> }
  /** The scheduler did not answer: nothing is known about any job. */
  | { kind: 'unreachable'; message: string };

const PHASES: Record<string, JobPhase> = {
  PENDING: 'queued',
  REQUEUED: 'queued',
  REQUEUE_FED: 'queued',
  REQUEUE_HOLD: 'queued',
  RESV_DEL_HOLD: 'queued',
  CONFIGURING: 'running',
  RUNNING: 'running',
  RESIZING: 'running',
  SUSPENDED: 'running',
  STOPPED: 'running',
  SIGNALING: 'running',
  COMPLETING: 'ending',
  STAGE_OUT: 'ending'
};

const OUTCOMES: Record<string, JobOutcome> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  SPECIAL_EXIT: 'failed',
  CANCELLED: 'cancelled',
  REVOKED: 'cancelled',
  TIMEOUT: 'timeout',
  NODE_FAIL: 'node-failure',
  OUT_OF_MEMORY: 'out-of-memory',
  PREEMPTED: 'preempted',
  BOOT_FAIL: 'boot-failure',
  DEADLINE: 'deadline'
};

/** What an end state word (COMPLETED, TIMEOUT, …) says; null for others. */
export function endStateOutcome(state: string): JobOutcome | null {
  return OUTCOMES[state.trim().toUpperCase()] ?? null;
}

/** Messages of a controller that is down, busy or failing over. */
const UNREACHABLE =
  /socket timed out|unable to contact slurm controller|connection refused|zero bytes were transmitted|backup controller in standby|communication connection failure|slurmctld.*(down|not responding)/i;

const ALL_IDS_GONE = /invalid job id specified/i;

/**
 * Messages of a controller that is not there at all (stopped, or its host
 * down), as opposed to one that is there but busy: Slurm's clients print
 * them only after retrying the connection for a while themselves (about
 * 18 s with the default MessageTimeout of 22.05).
 */
const CONTROLLER_DOWN =
  /unable to contact slurm controller \(connect failure\)|connection refused/i;

/** Whether an unreachable poll's message says the controller is not running. */
export function controllerDown(message: string): boolean {
  return CONTROLLER_DOWN.test(message);
}

/** A job id as sbatch --parsable prints it (an optional `;cluster` cut). */
const JOB_ID = /^\d+$/;

export function isJobId(text: string): boolean {
  return JOB_ID.test(text);
}

/** The squeue argv for these jobs; the ids must be plain job ids. */
export function squeueArgv(jobIds: readonly string[]): string[] {
  if (jobIds.length === 0) {
    throw new Error('squeue needs at least one job id.');
  }
  for (const id of jobIds) {
    if (!isJobId(id)) {
      throw new Error(`Not a Slurm job id: ${JSON.stringify(id)}`);
    }
  }
  return [
    'squeue',
    '--noheader',
    '--states=all',
    `--jobs=${jobIds.join(',')}`,
    `--format=${SQUEUE_FORMAT}`
  ];
}

function orNull(text: string): string | null {
  const t = text.trim();
  return t === '' || /^(n\/a|none|\(null\))$/i.test(t) ? null : t;
}

/** One line of SQUEUE_FORMAT output. */
export function parseSqueueLine(
  line: string,
  utcOffsetMinutes: number
): IJobStatus {
  const parts = line.split('|');
  if (parts.length !== FIELDS.length) {
    throw new Error(`Unexpected squeue line: ${JSON.stringify(line)}`);
  }
  const f = Object.fromEntries(FIELDS.map((name, i) => [name, parts[i]])) as {
    [K in (typeof FIELDS)[number]]: string;
  };
  const state = f.state.trim().toUpperCase();
  const outcome = OUTCOMES[state] ?? null;
  const phase: JobPhase = outcome ? 'ended' : (PHASES[state] ?? 'running');
  return {
    jobId: f.jobId.trim(),
    state,
    phase,
    outcome,
    reason: orNull(f.reason),
    startTime: parseSlurmTimestamp(f.start, utcOffsetMinutes),
    endTime: parseSlurmTimestamp(f.end, utcOffsetMinutes),
    elapsedSeconds: parseSlurmDuration(f.elapsed),
    timeLeftSeconds: parseSlurmDuration(f.timeLeft),
    nodes: orNull(f.nodes),
    batchHost: orNull(f.batchHost)
  };
}

/** Read what `squeueArgv` printed (`utcOffsetMinutes`: see duration.ts). */
export function parseSqueue(
  output: ICommandText,
  utcOffsetMinutes: number
): SqueueResult {
  const stderr = output.stderr.trim();
  if (output.exitCode !== 0) {
    if (ALL_IDS_GONE.test(stderr) && !UNREACHABLE.test(stderr)) {
      return { kind: 'answered', jobs: new Map() };
    }
    return { kind: 'unreachable', message: firstErrorLine(output, 'squeue') };
  }
  const jobs = new Map<string, IJobStatus>();
  for (const line of output.stdout.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    const job = parseSqueueLine(line, utcOffsetMinutes);
    jobs.set(job.jobId, job);
  }
  return { kind: 'answered', jobs };
}
