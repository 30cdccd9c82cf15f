/**
 * The contract for cluster kernels: kernels listed in this JupyterLab's
 * kernel picker that run as job steps on a cluster's compute node.
 *
 * Three parties use it:
 * - the frontend (src/lab) adds, edits and removes kernel profiles and shows
 *   allocations and pending starts (REST routes in api.ts, events below);
 * - the sidecar (src/sidecar/kernels) owns profiles, allocations and relays;
 * - the kernel provisioner (jupyterlab_hpc/provisioner.py), run by the
 *   Jupyter server for each cluster kernel, holds one lease WebSocket per
 *   kernel (`Routes.kernelLease`, messages `LeaseRequest`/`LeaseReply`).
 *   provisioner.py mirrors these shapes by hand: change both together.
 *
 * A profile *is* a kernelspec: `<jupyter data dir>/kernels/<specName>/`
 * holds kernel.json with `metadata.jupyterlab_hpc` = IKernelProfile and
 * `metadata.kernel_provisioner` = { provisioner_name: PROVISIONER_NAME,
 * config: { profile: <id> } }. No secret is ever written there.
 */
import type { IJobResources, LaunchField } from './sessions';

/** The provisioner's entry point name (group jupyter_client.kernel_provisioners). */
export const PROVISIONER_NAME = 'jupyterlab-hpc';

/** Kernelspec names of cluster kernels start with this. */
export const CLUSTER_KERNEL_PREFIX = 'hpc-';

/** How a cluster kernel is started: what the panel's profile editor edits. */
export interface IKernelProfile {
  /** Stable id ([a-z0-9]{8,32}); also names the kernelspec: `hpc-<id>`. */
  id: string;
  /** The cluster's name (a configured cluster, or LOCAL_TARGET's cluster form). */
  cluster: string;
  /** The environment's prefix on the cluster; its `bin/python` runs the kernel. */
  environment: string;
  /** "Python [conda env:torch] on hpc": the picker's name for it. */
  displayName: string;
  /** The job's resources; empty fields take the cluster's defaults. */
  resources: IJobResources;
  /** Where the kernel runs, on the cluster; empty for the home directory. */
  workingDirectory: string;
  /** From the environment's own ipykernel spec. */
  language: string;
  interruptMode: 'signal' | 'message';
  /** The kernelspec's name (`hpc-<id>`), for the picker and for events. */
  specName: string;
  /** When it was made and last changed (epoch ms). */
  createdAt: number;
  updatedAt: number;
}

/** POST Routes.kernelProfiles: add one. PUT Routes.kernelProfile(id): change one. */
export interface IKernelProfileRequest {
  cluster: string;
  environment: string;
  resources: IJobResources;
  workingDirectory: string;
  /** Empty for the generated "Python [conda env:x] on <cluster>". */
  displayName: string;
}

/** The fields of an IKernelProfileRequest a problem can point at. */
export type KernelProfileField = LaunchField | 'cluster' | 'displayName';

/**
 * With 400 `profile-invalid`, the error body's `problems` are these: what is
 * wrong with each field, as ILaunchProblem is for the launch form.
 */
export interface IKernelProfileProblem {
  field: KernelProfileField;
  message: string;
}

/** GET Routes.kernelProfiles */
export interface IKernelProfileList {
  profiles: IKernelProfile[];
}

/** Where an allocation is in its life. */
export type AllocationPhase =
  /** sbatch has not answered yet. */
  | 'submitting'
  /** The job waits in the queue. */
  | 'queued'
  /** The job runs; kernels can start in it. */
  | 'running'
  /** Release or cancel was asked for; Slurm is ending the job. */
  | 'ending'
  /** The job is over; `end` says why. */
  | 'ended';

/** One kernel running (or starting) in an allocation. */
export interface IClusterKernelInfo {
  /** The Jupyter server's kernel id. */
  kernelId: string;
  profile: string;
  /** The notebook's path relative to the server's root, when known. */
  notebookPath: string | null;
  state: 'waiting' | 'starting' | 'running' | 'restarting' | 'ended';
  /** The job step running its relay, once started (`<job>.<step>`). */
  stepId: string | null;
  startedAt: number | null;
}

/** A job held for cluster kernels, as the panel shows it. No secret. */
export interface IAllocationInfo {
  id: string;
  cluster: string;
  /** The profile it was submitted for (null: a JupyterLab session's job). */
  profile: string | null;
  /** Set when the allocation is a JupyterLab session's job. */
  sessionId: string | null;
  resources: IJobResources;
  phase: AllocationPhase;
  jobId: string | null;
  /** Slurm's state word and reason while squeue knows the job. */
  jobState: string | null;
  reason: string | null;
  /** Actual start, or the scheduler's estimate while queued (epoch ms). */
  startTime: number | null;
  node: string | null;
  /** Seconds of wall time left when `observedAt` was taken. */
  timeLeftSeconds: number | null;
  observedAt: number | null;
  kernels: IClusterKernelInfo[];
  /** With no kernel left: when it will be released (epoch ms). */
  releaseAt: number | null;
  schedulerUnreachable: boolean;
  createdAt: number;
  end: { outcome: string; message: string; at: number } | null;
}

/** GET Routes.kernelAllocations */
export interface IAllocationList {
  allocations: IAllocationInfo[];
}

/**
 * A kernel start the Jupyter server is waiting for: the notebook shows it
 * ("queued: Priority, estimated 14:05", Cancel) until it ends.
 */
export interface IKernelStartInfo {
  kernelId: string;
  profile: string;
  specName: string;
  notebookPath: string | null;
  state: 'waiting' | 'queued' | 'starting' | 'started' | 'failed' | 'cancelled';
  allocationId: string | null;
  jobId: string | null;
  /** Slurm's pending reason while queued. */
  reason: string | null;
  estimatedStart: number | null;
  /** Why it failed or was cancelled, in words for the user. */
  message: string | null;
  /** A restart of an existing kernel (no requeue) rather than a first start. */
  restart: boolean;
  at: number;
}

/** GET Routes.kernelStarts: the starts in progress. */
export interface IKernelStartList {
  starts: IKernelStartInfo[];
}

// --- The lease: one WebSocket per kernel between provisioner and sidecar ---

/** Bumped on every incompatible change of the lease messages. */
export const LEASE_PROTOCOL_VERSION = 2;

/** Provisioner → sidecar. */
export type LeaseRequest =
  | {
      /** First message: start the kernel (again, on a restart). */
      type: 'start';
      version: number;
      kernelId: string;
      profile: string;
      /** The Jupyter KernelManager's HMAC key; only ever in this message. */
      key: string;
      signatureScheme: string;
      /** Relative to the server root, from JPY_SESSION_NAME; may be absent. */
      notebookPath: string | null;
      restart: boolean;
    }
  | {
      /**
       * First message to a new sidecar after the last one went away: take
       * up the kernel that still runs (its relay outlives a sidecar), with
       * what `started` said, on the same local ports.
       */
      type: 'resume';
      version: number;
      kernelId: string;
      profile: string;
      notebookPath: string | null;
      jobId: string;
      relay: ILeaseRelayHandle;
      connection: ILeaseConnection;
    }
  /** Send a signal to the kernel process (SIGINT for interrupt). */
  | { type: 'signal'; signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL' }
  /** End the kernel step, keep lease and allocation (kill/terminate, restart). */
  | { type: 'stop' }
  /** The kernel is gone for good: release it (closing the socket does the same). */
  | { type: 'release' };

/** The relayed kernel's connection, on this computer; the key is the provisioner's. */
export interface ILeaseConnection {
  transport: 'tcp';
  ip: '127.0.0.1';
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  signature_scheme: string;
}

/**
 * Where a kernel's relay runs, for a sidecar that takes it up again: its
 * launcher's directory and process group on the login node. No secret: the
 * link's token stays in that owner-only directory.
 */
export interface ILeaseRelayHandle {
  dir: string;
  pid: number;
}

/** Sidecar → provisioner. */
export type LeaseReply =
  /** First message on connect: the sidecar instance (a new one ⇒ kernels lost). */
  | { type: 'hello'; version: number; sidecar: string }
  | {
      type: 'progress';
      state: 'waiting' | 'queued' | 'starting';
      jobId: string | null;
      reason: string | null;
      estimatedStart: number | null;
    }
  | {
      type: 'started';
      connection: ILeaseConnection;
      allocationId: string;
      jobId: string;
      node: string;
      stepId: string | null;
      /** Null when the relay cannot outlive this sidecar (attached to its channel). */
      relay: ILeaseRelayHandle | null;
    }
  /** The start failed or was cancelled; `message` is for the kernel error dialog. */
  | { type: 'failed'; message: string; cancelled: boolean }
  /**
   * The kernel ended. `fatal`: its allocation is gone (wall time, node
   * failure, scancel, released), so a restart cannot keep it.
   */
  | { type: 'exited'; reason: string; exitCode: number | null; fatal: boolean }
  /** Answer to `stop`: the step is gone. */
  | { type: 'stopped' }
  | { type: 'error'; message: string };
