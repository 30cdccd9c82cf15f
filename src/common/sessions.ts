/**
 * The contract for JupyterLab sessions in SLURM jobs: what the launch form
 * sends, what the cluster offers it, and the per-field answers of the
 * checks. Shared by the sidecar and the frontend.
 */

/** The resources of one job, as the launch form and kernel profiles hold them. */
export interface IJobResources {
  /** Empty for the cluster's default partition. */
  partition: string;
  /** Empty for the user's default account. */
  account: string;
  /** Empty for the association's default QOS. */
  qos: string;
  /** sbatch --time: `90`, `1:30:00`, `1-12:00:00`. */
  wallTime: string;
  /** --cpus-per-task. */
  cpus: number;
  /** --mem per node: `8G`, `500M`; empty for the partition's default. */
  memory: string;
  /** GPUs: count 0 for none; type empty for any type. */
  gpus: { type: string; count: number };
  /** --constraint (node features): `a100&ib`; empty for none. */
  constraint: string;
}

/** Everything needed to start JupyterLab in a job. */
export interface ILaunchRequest extends IJobResources {
  /** The prefix of the cluster environment that runs JupyterLab. */
  environment: string;
  /** A directory on the cluster; empty for the home directory. */
  workingDirectory: string;
  /**
   * How long JupyterLab may take to listen once the job runs before the
   * session is given up as failed (the job is then cancelled).
   */
  startTimeoutSeconds: number;
}

/** The fields of a launch request that hold text. */
export const LAUNCH_TEXT_FIELDS = [
  'partition',
  'account',
  'qos',
  'wallTime',
  'memory',
  'constraint',
  'environment',
  'workingDirectory'
] as const;

/** The form fields a check can point at. */
export type LaunchField =
  | keyof IJobResources
  | 'gpus.type'
  | 'gpus.count'
  | 'environment'
  | 'workingDirectory'
  | 'startTimeoutSeconds';

/** A problem with one field, in words a user can act on. */
export interface ILaunchProblem {
  field: LaunchField;
  message: string;
}

/** Where a session is in its life. */
export type SessionPhase =
  /** sbatch has not answered yet. */
  | 'submitting'
  /** The job waits in the queue. */
  | 'queued'
  /** The job runs; JupyterLab does not listen yet. */
  | 'starting'
  /** JupyterLab listens; the forward to it is being made. */
  | 'connecting'
  /** JupyterLab is reachable through its forward: "Open" works. */
  | 'running'
  /** Cancel was asked for, or Slurm is ending the job. */
  | 'ending'
  /** The job is over; `end` says why. */
  | 'ended';

/** Why a session ended. */
export type SessionOutcome =
  | 'shut-down'
  | 'completed'
  | 'cancelled'
  | 'timeout'
  | 'failed'
  | 'node-failure'
  | 'out-of-memory'
  | 'preempted'
  | 'start-timeout'
  | 'unknown';

/**
 * Where a session was started: written into the session's directory on the
 * cluster at submission (owner-only, no secret), so that a sidecar on
 * another computer can tell whose it is.
 */
export interface ISessionOrigin {
  /** The host name of the computer whose sidecar submitted the job. */
  host: string;
  /**
   * A random id of that sidecar's state (kept across its restarts), which
   * tells two sidecars on computers of the same name apart. Empty for
   * sessions submitted before it was recorded.
   */
  sidecar: string;
}

/** A session as the panel shows it. Holds no secret. */
export interface ISessionInfo {
  id: string;
  cluster: string;
  phase: SessionPhase;
  request: ILaunchRequest;
  createdAt: number;
  jobId: string | null;
  /** Slurm's state word and reason while the job is known to squeue. */
  jobState: string | null;
  reason: string | null;
  /** Actual start, or the scheduler's estimate while queued (epoch ms). */
  startTime: number | null;
  /** The node running JupyterLab. */
  node: string | null;
  /** Seconds left of the wall time when `observedAt` was taken. */
  timeLeftSeconds: number | null;
  /** When the job facts above were read (epoch ms). */
  observedAt: number | null;
  /** The local port "Open" goes to, once running. */
  localPort: number | null;
  /**
   * Set when the forward had to move: another program took its local port
   * while the connection was down, so "Open" now goes to `to`, and tabs on
   * `from` reach that other program instead.
   */
  portMoved: { from: number; to: number; at: number } | null;
  /** The scheduler did not answer the last poll: the facts may be old. */
  schedulerUnreachable: boolean;
  /** Set once the session ended. */
  end: { outcome: SessionOutcome; message: string; at: number } | null;
  /** Where it was started; null when the cluster has no record of it. */
  origin: ISessionOrigin | null;
  /** True when this sidecar attached to a session started elsewhere. */
  attached: boolean;
}

/**
 * A session on a cluster that this sidecar does not follow and whose job is
 * still alive (queued or running): one started from another computer, or
 * by a sidecar whose state was lost. Holds no secret.
 */
export interface IAttachableSession {
  id: string;
  cluster: string;
  jobId: string;
  /** Slurm's state word (PENDING, RUNNING, …) and reason. */
  jobState: string;
  reason: string | null;
  /** The node running it; null while queued. */
  node: string | null;
  /** Actual start, or the scheduler's estimate while queued (epoch ms). */
  startTime: number | null;
  timeLeftSeconds: number | null;
  origin: ISessionOrigin | null;
  /** When it was submitted (epoch ms); null when not recorded. */
  createdAt: number | null;
  /** What it was launched with; null when not recorded. */
  request: ILaunchRequest | null;
}

/** A duration in seconds, no limit, or nothing known. */
export type SlurmDuration = number | 'unlimited' | null;

/** One generic resource a node offers: `gpu:tesla:2` → gpu, tesla, 2. */
export interface IGres {
  name: string;
  type: string | null;
  count: number;
}

export interface IPartition {
  name: string;
  isDefault: boolean;
  /** `State=UP`: jobs can be submitted and will start. */
  up: boolean;
  maxTimeSeconds: SlurmDuration;
  defaultTimeSeconds: SlurmDuration;
  nodes: { allocated: number; idle: number; other: number; total: number };
  /** CPUs and memory (MiB) of the smallest and largest node. */
  cpusPerNode: { min: number; max: number };
  memoryMiBPerNode: { min: number; max: number };
  /** The largest count of each GRES name:type any node has. */
  gres: IGres[];
  features: string[];
  /** `ALL`, or the accounts / QOS allowed to use the partition. */
  allowAccounts: 'all' | string[];
  allowQos: 'all' | string[];
  /** `MaxCPUsPerNode`, `MaxMemPerNode`; null when unlimited. */
  maxCpusPerNode: number | null;
  maxMemMiBPerNode: number | null;
}

/** What accounting lets the user use, for the launch form. */
export interface IAccountingInfo {
  enabled: boolean;
  /** Why there is none (the form then takes free text). */
  reason: string | null;
  accounts: string[];
  defaultAccount: string | null;
  /** Account → the QOS it can use. */
  qosByAccount: Record<string, string[]>;
  /** QOS → its MaxWall, for the QOS that have one. */
  qosMaxWallSeconds: Record<string, SlurmDuration>;
}

/** GET Routes.launchOffer(name): what the launch form offers. */
export interface ILaunchOffer {
  cluster: string;
  user: string;
  partitions: IPartition[];
  accounting: IAccountingInfo;
  /** When it was read from the cluster (epoch ms). */
  fetchedAt: number;
}
