/**
 * Sessions started elsewhere (another computer, or a sidecar whose state
 * was lost): their directories on the cluster whose job is still alive,
 * found with one remote command (list.sh) and one squeue, and the record a
 * sidecar keeps when it attaches to one.
 */
import type { IAttachableSession, ILaunchRequest } from '../../common/sessions';
import { SidecarError } from '../errors';
import { firstErrorLine } from '../slurm/output';
import { parseSqueue, squeueArgv, type IJobStatus } from '../slurm/squeue';
import type { ITransport } from '../transport/types';
import { asText } from './offer';
import { observe, type ISessionRecord } from './record';
import { listCommand, parseSessionList, type IListedSession } from './remote';

export interface IAliveSession {
  listed: IListedSession;
  job: IJobStatus;
}

/**
 * The session directories (all but those `skip` says, or just `ids`) whose
 * job squeue shows queued or running, and the cluster's UTC offset.
 */
export async function listAlive(
  transport: ITransport,
  cluster: string,
  ids: string[],
  skip: (id: string) => boolean
): Promise<{ alive: IAliveSession[]; utcOffsetMinutes: number }> {
  const text = asText(await transport.run(listCommand(ids)));
  if (text.exitCode !== 0) {
    throw new SidecarError(
      'command-failed',
      `The sessions on ${cluster} could not be listed: ${firstErrorLine(text, 'sh')}`
    );
  }
  const { utcOffsetMinutes, sessions } = parseSessionList(text.stdout);
  const candidates = sessions.filter(l => !skip(l.id));
  if (candidates.length === 0) {
    return { alive: [], utcOffsetMinutes };
  }
  const jobIds = [...new Set(candidates.map(l => l.jobId))];
  const answer = parseSqueue(
    asText(
      await transport.run({ argv: squeueArgv(jobIds), timeoutSeconds: 30 })
    ),
    utcOffsetMinutes
  );
  if (answer.kind === 'unreachable') {
    throw new SidecarError(
      'slurm-unavailable',
      `The scheduler of ${cluster} did not answer: ${answer.message}`
    );
  }
  const alive: IAliveSession[] = [];
  for (const listed of candidates) {
    const job = answer.jobs.get(listed.jobId);
    if (job && job.phase !== 'ended') {
      alive.push({ listed, job });
    }
  }
  return { alive, utcOffsetMinutes };
}

/** How the list shows a session that can be attached to. */
export function attachableView(
  cluster: string,
  { listed, job }: IAliveSession
): IAttachableSession {
  return {
    id: listed.id,
    cluster,
    jobId: listed.jobId,
    jobState: job.state,
    reason: job.reason,
    node: job.batchHost ?? job.nodes,
    startTime: job.startTime,
    timeLeftSeconds:
      typeof job.timeLeftSeconds === 'number' ? job.timeLeftSeconds : null,
    origin: listed.meta.origin,
    createdAt: listed.meta.createdAt,
    request: listed.meta.request
  };
}

/** The request of an attached session whose directory lacks it. */
const UNKNOWN_REQUEST: ILaunchRequest = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '',
  cpus: 0,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '',
  workingDirectory: '',
  startTimeoutSeconds: 300
};

/** The record of a session attached to, as squeue shows its job now. */
export function attachedRecord(
  cluster: string,
  { listed, job }: IAliveSession,
  now: number
): ISessionRecord {
  const record: ISessionRecord = {
    id: listed.id,
    cluster,
    request: listed.meta.request ?? UNKNOWN_REQUEST,
    createdAt: listed.meta.createdAt ?? now,
    jobId: listed.jobId,
    phase:
      job.phase === 'queued'
        ? 'queued'
        : job.phase === 'ending'
          ? 'ending'
          : 'starting',
    job: null,
    server: null,
    localPort: null,
    portMoved: null,
    schedulerUnreachable: false,
    end: null,
    origin: listed.meta.origin,
    attached: true
  };
  observe(record, job, now);
  return record;
}
