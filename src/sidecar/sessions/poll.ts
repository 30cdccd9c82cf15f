/**
 * What one squeue (job-poller.ts) means for the sessions of a cluster: the
 * facts are taken into their records, and the service is told which jobs
 * started, which ended and which no session wants any more.
 */
import type { SessionOutcome } from '../../common/sessions';
import type { PollOutcome } from '../slurm/job-poller';
import { observe, outcomeOf, type ISessionRecord } from './record';

export interface IPollReading {
  /** Tracked jobs of no session that is still on: to stop tracking. */
  untrack: string[];
  /** Sessions whose job started running: they went 'starting'. */
  started: ISessionRecord[];
  /** Sessions whose facts changed, to be saved and sent. */
  changed: ISessionRecord[];
  /** Sessions whose job is over, with squeue's word on why. */
  ended: { record: ISessionRecord; slurm: SessionOutcome }[];
}

/**
 * Take a poll's answer into the records (`find`: the session, not ended,
 * of a job id). A scheduler that did not answer only marks them.
 */
export function readPoll(
  outcome: PollOutcome,
  find: (jobId: string) => ISessionRecord | undefined,
  now: number
): IPollReading {
  const reading: IPollReading = {
    untrack: [],
    started: [],
    changed: [],
    ended: []
  };
  for (const jobId of outcome.asked) {
    const record = find(jobId);
    if (!record) {
      reading.untrack.push(jobId);
      continue;
    }
    if (outcome.kind === 'unreachable') {
      if (!record.schedulerUnreachable) {
        record.schedulerUnreachable = true;
        reading.changed.push(record);
      }
      continue;
    }
    const job = outcome.jobs.get(jobId);
    if (!job) {
      reading.ended.push({ record, slurm: 'unknown' });
      continue;
    }
    observe(record, job, now);
    if (job.phase === 'ended') {
      reading.ended.push({ record, slurm: outcomeOf(job.outcome!) });
      continue;
    }
    if (
      job.phase === 'running' &&
      (record.phase === 'queued' || record.phase === 'submitting')
    ) {
      record.phase = 'starting';
      reading.started.push(record);
    } else if (job.phase === 'ending' && record.phase !== 'ending') {
      record.phase = 'ending';
    }
    reading.changed.push(record);
  }
  return reading;
}
