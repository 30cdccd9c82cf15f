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
