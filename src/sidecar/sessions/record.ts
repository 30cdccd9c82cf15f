/**
 * A session as the sidecar keeps it (in memory and in its state file), and
 * the public view of it. The state file holds no secret: the remote
 * JupyterLab's token is read again from the cluster when needed.
 */
import type {
  ILaunchRequest,
  ISessionInfo,
  ISessionOrigin,
  SessionOutcome,
  SessionPhase
} from '../../common/sessions';
import type { IJobStatus, JobOutcome } from '../slurm/squeue';

export interface ISessionRecord {
  id: string;
  cluster: string;
  request: ILaunchRequest;
  createdAt: number;
  jobId: string | null;
  phase: SessionPhase;
  job: {
    state: string;
    reason: string | null;
    startTime: number | null;
    node: string | null;
    timeLeftSeconds: number | null;
    observedAt: number;
  } | null;
  /** Where JupyterLab listens, once its record was read. */
  server: { node: string; port: number; baseUrl: string } | null;
  /** The local port of its forward; kept to make it again after a restart. */
  localPort: number | null;
  /** Absent in state files written before it existed. */
  portMoved?: ISessionInfo['portMoved'];
  schedulerUnreachable: boolean;
  end: ISessionInfo['end'];
  /** Absent in state files written before origins were recorded. */
  origin?: ISessionOrigin | null;
  /** Started elsewhere and attached to from here. */
  attached?: boolean;
}

export interface ISessionState {
  version: 1;
  sessions: ISessionRecord[];
  /**
   * A random id of this state, recorded with each session this sidecar
   * submits (ISessionOrigin.sidecar). Absent in older files: made then.
   */
  sidecar?: string;
}

export function emptyState(): ISessionState {
  return { version: 1, sessions: [] };
}

const PHASES: readonly SessionPhase[] = [
  'submitting',
  'queued',
  'starting',
  'connecting',
  'running',
  'ending',
  'ended'
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The state file's content, checked. Throws for a file of another shape;
 * a single bad entry is a bad file too (it was written by us, so something
 * else changed it).
 */
export function parseSessionState(raw: unknown): ISessionState {
  if (!isObject(raw) || raw.version !== 1 || !Array.isArray(raw.sessions)) {
    throw new Error('expected {"version": 1, "sessions": [...]}');
  }
  if (raw.sidecar !== undefined && typeof raw.sidecar !== 'string') {
    throw new Error('"sidecar" must be text');
  }
  for (const s of raw.sessions) {
    if (
      !isObject(s) ||
      typeof s.id !== 'string' ||
      typeof s.cluster !== 'string' ||
      !isObject(s.request) ||
      typeof s.createdAt !== 'number' ||
      !(s.jobId === null || typeof s.jobId === 'string') ||
      !PHASES.includes(s.phase as SessionPhase)
    ) {
      throw new Error(
        `a session entry is not valid: ${JSON.stringify(s).slice(0, 200)}`
      );
    }
  }
  return raw as unknown as ISessionState;
}

/** What Slurm's end state means for a session. */
export function outcomeOf(job: JobOutcome): SessionOutcome {
  switch (job) {
    case 'completed':
      return 'completed';
    case 'cancelled':
      return 'cancelled';
    case 'timeout':
    case 'deadline':
      return 'timeout';
    case 'node-failure':
      return 'node-failure';
    case 'out-of-memory':
      return 'out-of-memory';
    case 'preempted':
      return 'preempted';
    default:
      return 'failed';
  }
}

/** Take squeue's facts about the job into the record. */
export function observe(
  record: ISessionRecord,
  job: IJobStatus,
  now: number
): void {
  record.job = {
    state: job.state,
    reason: job.reason,
    startTime: job.startTime,
    node: job.batchHost ?? job.nodes,
    timeLeftSeconds:
      typeof job.timeLeftSeconds === 'number' ? job.timeLeftSeconds : null,
    observedAt: now
  };
  record.schedulerUnreachable = false;
}

export function publicView(record: ISessionRecord): ISessionInfo {
  return {
    id: record.id,
    cluster: record.cluster,
    phase: record.phase,
    request: record.request,
    createdAt: record.createdAt,
    jobId: record.jobId,
    jobState: record.job?.state ?? null,
    reason: record.job?.reason ?? null,
    startTime: record.job?.startTime ?? null,
    node: record.server?.node ?? record.job?.node ?? null,
    timeLeftSeconds: record.job?.timeLeftSeconds ?? null,
    observedAt: record.job?.observedAt ?? null,
    localPort: record.phase === 'running' ? record.localPort : null,
    portMoved: record.portMoved ?? null,
    schedulerUnreachable: record.schedulerUnreachable,
    end: record.end,
    origin: record.origin ?? null,
    attached: record.attached ?? false
  };
}
