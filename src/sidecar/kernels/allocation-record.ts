/**
 * An allocation as the sidecar keeps it (in memory, and without its
 * kernels in its state file), the public view of it, and the words for
 * why one ended.
 */
import type {
  AllocationPhase,
  IAllocationInfo,
  IClusterKernelInfo
} from '../../common/kernels';
import type { IJobResources } from '../../common/sessions';
import type { IJobStatus, JobOutcome } from '../slurm/squeue';

export interface IAllocationRecord {
  id: string;
  cluster: string;
  profile: string | null;
  sessionId: string | null;
  resources: IJobResources;
  createdAt: number;
  jobId: string | null;
  phase: AllocationPhase;
  job: {
    state: string;
    reason: string | null;
    startTime: number | null;
    node: string | null;
    timeLeftSeconds: number | null;
    observedAt: number;
  } | null;
  kernels: IClusterKernelInfo[];
  releaseAt: number | null;
  schedulerUnreachable: boolean;
  end: IAllocationInfo['end'];
}

/** What the state file keeps of an allocation of ours. */
export interface IStoredAllocation {
  id: string;
  cluster: string;
  profile: string | null;
  resources: IJobResources;
  createdAt: number;
  /** Null while sbatch had not answered yet. */
  jobId: string | null;
}

export interface IAllocationState {
  version: 1;
  allocations: IStoredAllocation[];
  /** The last grace period the settings gave (seconds). */
  graceSeconds?: number;
}

export function emptyAllocationState(): IAllocationState {
  return { version: 1, allocations: [] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseAllocationState(raw: unknown): IAllocationState {
  if (!isObject(raw) || raw.version !== 1 || !Array.isArray(raw.allocations)) {
    throw new Error('expected {"version": 1, "allocations": [...]}');
  }
  if (
    raw.graceSeconds !== undefined &&
    (typeof raw.graceSeconds !== 'number' || raw.graceSeconds < 0)
  ) {
    throw new Error('"graceSeconds" must be a number of seconds');
  }
  for (const a of raw.allocations) {
    if (
      !isObject(a) ||
      typeof a.id !== 'string' ||
      !/^[a-z0-9]{8,32}$/.test(a.id) ||
      typeof a.cluster !== 'string' ||
      !(a.profile === null || typeof a.profile === 'string') ||
      !isObject(a.resources) ||
      typeof a.createdAt !== 'number' ||
      !(
        a.jobId === null ||
        (typeof a.jobId === 'string' && /^\d+$/.test(a.jobId))
      )
    ) {
      throw new Error(
        `an allocation entry is not valid: ${JSON.stringify(a).slice(0, 200)}`
      );
    }
  }
  return raw as unknown as IAllocationState;
}

export function storedView(r: IAllocationRecord): IStoredAllocation {
  return {
    id: r.id,
    cluster: r.cluster,
    profile: r.profile,
    resources: r.resources,
    createdAt: r.createdAt,
    jobId: r.jobId
  };
}

export function publicView(r: IAllocationRecord): IAllocationInfo {
  return {
    id: r.id,
    cluster: r.cluster,
    profile: r.profile,
    sessionId: r.sessionId,
    resources: r.resources,
    phase: r.phase,
    jobId: r.jobId,
    jobState: r.job?.state ?? null,
    reason: r.job?.reason ?? null,
    startTime: r.job?.startTime ?? null,
    node: r.job?.node ?? null,
    timeLeftSeconds: r.job?.timeLeftSeconds ?? null,
    observedAt: r.job?.observedAt ?? null,
    kernels: r.kernels.map(k => ({ ...k })),
    releaseAt: r.releaseAt,
    schedulerUnreachable: r.schedulerUnreachable,
    createdAt: r.createdAt,
    end: r.end
  };
}

/** Take squeue's facts about the job into the record. */
export function observe(r: IAllocationRecord, job: IJobStatus, now: number) {
  r.job = {
    state: job.state,
    reason: job.reason,
    startTime: job.startTime,
    node: job.batchHost ?? job.nodes,
    timeLeftSeconds:
      typeof job.timeLeftSeconds === 'number' ? job.timeLeftSeconds : null,
    observedAt: now
  };
  r.schedulerUnreachable = false;
}

/** Why an allocation ended: Slurm's outcomes, and our own actions. */
export type AllocationOutcome =
  | JobOutcome
  | 'unknown'
  | 'ended-from-panel'
  | 'released'
  | 'unwanted'
  | 'session-ended'
  | 'server-stopped';

/** The reason a kernel of the allocation is reported dead with. */
export const ALLOCATION_END_MESSAGES: Record<AllocationOutcome, string> = {
  completed: 'The allocation’s job ended.',
  failed: 'The allocation’s job failed.',
  cancelled: 'The allocation’s job was cancelled (scancel).',
  timeout: 'The allocation’s job reached its wall time.',
  deadline: 'The allocation’s job reached its deadline.',
  'node-failure': 'The node running the allocation failed (node failure).',
  'out-of-memory': 'The allocation’s job ran out of memory.',
  preempted: 'The allocation’s job was preempted by the scheduler.',
  'boot-failure': 'The allocation’s node failed to boot.',
  unknown:
    'The allocation’s job left the queue; the cluster kept no record of why.',
  'ended-from-panel': 'The allocation was ended from the panel.',
  released:
    'The allocation was released: no kernel used it for the grace period.',
  unwanted:
    'No kernel waits for the allocation any more: its job was cancelled.',
  'session-ended': 'The JupyterLab session whose job the kernel ran in ended.',
  'server-stopped':
    'The allocation was released: the Jupyter server that used it stopped.'
};
