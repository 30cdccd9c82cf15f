/**
 * Why a session ended, and how that is said. In this order: what the
 * sidecar did (its start time-out, a cancel) and the job's own record of a
 * JupyterLab shut down from its page; then Slurm accounting; then, without
 * it, what the job recorded and squeue's last word.
 */
import type { SessionOutcome } from '../../common/sessions';
import type { ILogger } from '../log';
import type { ICommandText } from '../slurm/output';
import { parseSacct, sacctArgv, type IAccountedEnd } from '../slurm/sacct';
import type { ISessionRecord } from './record';

/** What job.sh wrote into the session's `exit` file. */
export interface IExitRecord {
  status: number;
  why: string;
}

/** The messages shown for each way a session can end. */
export const END_MESSAGES: Record<SessionOutcome, string> = {
  'shut-down': 'JupyterLab was shut down; its job ended.',
  completed: 'The job ended.',
  cancelled: 'The job was cancelled.',
  timeout: 'The job reached its wall time.',
  failed: 'The job failed.',
  'node-failure': 'The node running the job failed.',
  'out-of-memory': 'The job ran out of memory.',
  preempted: 'The job was preempted by the scheduler.',
  'start-timeout': 'JupyterLab did not start in time; the job was cancelled.',
  unknown: 'The job left the queue; the cluster kept no record of why.'
};

/** What our own actions or the job's own record of a shut down say. */
export function ownOutcome(facts: {
  startTimedOut: boolean;
  cancelled: boolean;
  exit: IExitRecord | undefined;
}): SessionOutcome | null {
  if (facts.startTimedOut) {
    return 'start-timeout';
  }
  if (facts.exit?.why === 'jupyterlab shut down') {
    return 'shut-down';
  }
  if (facts.cancelled) {
    return 'cancelled';
  }
  return null;
}

/**
 * Without accounting: squeue's last word, or, for a job squeue no longer
 * knows, what the job recorded when it stopped on its own.
 */
export function recordedOutcome(
  slurm: SessionOutcome,
  exit: IExitRecord | undefined
): SessionOutcome {
  if (slurm === 'unknown' && exit && !exit.why.startsWith('signal ')) {
    return exit.status === 0 ? 'completed' : 'failed';
  }
  return slurm;
}

export function endMessage(
  record: ISessionRecord,
  outcome: SessionOutcome,
  exit: IExitRecord | undefined,
  books?: IAccountedEnd
): string {
  if (outcome === 'start-timeout') {
    return `JupyterLab did not listen within ${record.request.startTimeoutSeconds} s of the job starting; the job was cancelled. Its log says why.`;
  }
  if (books) {
    const code = `exit code ${books.exitCode}${books.signal ? `, signal ${books.signal}` : ''}`;
    switch (outcome) {
      case 'failed':
        return `The job failed (${code}${exit ? `: ${exit.why}` : ''}). Its log says more.`;
      case 'out-of-memory':
        return `The job ran out of memory (${code}). Its log says more.`;
      case 'cancelled':
        return books.cancelledBy
          ? `The job was cancelled (by user id ${books.cancelledBy}).`
          : END_MESSAGES.cancelled;
      default:
        return END_MESSAGES[outcome];
    }
  }
  if (exit && outcome === 'failed') {
    return `The job failed: ${exit.why} (status ${exit.status}). Its log says more.`;
  }
  if (exit && outcome === 'unknown' && exit.why.startsWith('signal ')) {
    // Without accounting, a job squeue has forgotten leaves only its own
    // record: a signal is scancel, the wall time or preemption alike.
    return `JupyterLab was stopped by SIG${exit.why.slice(7)} and the job then left the queue: it was cancelled, reached its wall time or was preempted; the cluster kept no record of which.`;
  }
  return END_MESSAGES[outcome];
}

/**
 * What sacct says of these jobs, asked again after each of `delays` for
 * those it does not show as ended yet (accounting lags a moment behind the
 * controller). Empty when sacct cannot answer.
 */
export async function askAccounting(
  run: (argv: string[]) => Promise<ICommandText>,
  jobIds: string[],
  delays: readonly number[],
  log: ILogger
): Promise<Map<string, IAccountedEnd>> {
  const found = new Map<string, IAccountedEnd>();
  let left = jobIds;
  for (let attempt = 0; left.length > 0; attempt++) {
    try {
      const ended = parseSacct(await run(sacctArgv(left)));
      if (!ended) {
        break;
      }
      ended.forEach((e, id) => found.set(id, e));
      left = left.filter(id => !ended.has(id));
    } catch (err) {
      log.debug(`sessions: sacct failed: ${(err as Error).message}`);
      break;
    }
    if (left.length === 0 || attempt >= delays.length) {
      break;
    }
    await new Promise(resolve => setTimeout(resolve, delays[attempt]));
  }
  return found;
}
