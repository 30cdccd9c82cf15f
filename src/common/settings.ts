/**
 * The shape of `schema/plugin.json`, the settings a user edits in JupyterLab.
 * Secrets never live here: JupyterLab stores settings in plain text.
 */
import {
  clusterSchemaErrors,
  describeSchemaErrors,
  sessionPresetSchemaErrors
} from './settings-schema';

export type SshClientSetting = 'auto' | 'openssh' | 'builtin';

export interface IClusterConfig {
  /** Short unique name shown in the UI, e.g. "swc". */
  name: string;
  /** A host name, an address or an alias from ~/.ssh/config. */
  host: string;
  port?: number | null;
  user?: string;
  identityFile?: string;
  /** ProxyJump syntax: [user@]host[:port][,[user@]host[:port]...] */
  jumpHost?: string;
  /**
   * 'local' runs everything on this computer, without SSH: for a JupyterLab
   * that itself runs on a login node. `host` is then only a label.
   */
  transport?: 'ssh' | 'local';
  /**
   * Which SSH client carries the connection. 'openssh': an OpenSSH
   * ControlMaster run by the sidecar, whose port forwards never pass through
   * Node (the fastest). 'builtin': the sidecar's own client (ssh2), for
   * computers without OpenSSH. 'auto' (the default): OpenSSH where `ssh`
   * can multiplex (not on Windows), else the built-in one.
   */
  sshClient?: SshClientSetting;
  /**
   * The conda environment (a name or an absolute prefix) that runs remote
   * JupyterLab on this cluster and receives its registered kernels. Empty:
   * `jobDefaults.jupyterEnvironment`.
   */
  jupyterEnvironment?: string;
}

/** Defaults of the launch form; empty text for the cluster's own default. */
export interface IJobDefaults {
  partition: string;
  timeLimit: string;
  cpus: number;
  memory: string;
  gpus: number;
  /** The GPU type of `--gres=gpu:<type>:<count>`; empty for any. */
  gpuType: string;
  account: string;
  qos: string;
  /** `--constraint` (node features). */
  constraint: string;
  /** Where JupyterLab starts on the cluster; empty for the home directory. */
  workingDirectory: string;
  /** Seconds JupyterLab may take to listen once the job runs. */
  startTimeout: number;
  /** The conda environment that runs remote JupyterLab. */
  jupyterEnvironment: string;
}

/**
 * Named launch form values the user saved. Only the fields it sets are
 * applied; a preset with a `cluster` is offered for that cluster only.
 */
export interface ISessionPreset extends Partial<IJobDefaults> {
  name: string;
  /** Empty or absent: offered for every cluster. */
  cluster?: string;
}

/** Installing conda where a cluster has none. */
export interface ICondaSettings {
  /**
   * The Miniforge installer; sites with a mirror point this at it. `{arch}`
   * becomes the cluster's `uname -m` (x86_64, aarch64, ppc64le).
   */
  installerUrl: string;
}

export interface IHpcSettings {
  clusters: IClusterConfig[];
  jobDefaults: IJobDefaults;
  sessionPresets: ISessionPreset[];
  conda: ICondaSettings;
  sessionWarnings: ISessionWarnings;
  clusterKernels: IClusterKernelSettings;
}

export const DEFAULT_CONDA_SETTINGS: ICondaSettings = {
  installerUrl:
    'https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-{arch}.sh'
};

export function readCondaSettings(value: unknown): ICondaSettings {
  const v = (
    typeof value === 'object' && value !== null ? value : {}
  ) as Partial<ICondaSettings>;
  return {
    installerUrl:
      typeof v.installerUrl === 'string' && /^https?:\/\//.test(v.installerUrl)
        ? v.installerUrl
        : DEFAULT_CONDA_SETTINGS.installerUrl
  };
}

/** When to warn that a session's job nears its wall time. */
export interface ISessionWarnings {
  /** Minutes before the wall time, largest first; empty for none. */
  minutesBeforeWallTime: number[];
}

export const DEFAULT_SESSION_WARNINGS: ISessionWarnings = {
  minutesBeforeWallTime: [10, 2]
};

export function readSessionWarnings(value: unknown): ISessionWarnings {
  const minutes = (value as Partial<ISessionWarnings> | null)
    ?.minutesBeforeWallTime;
  if (!Array.isArray(minutes)) {
    return {
      minutesBeforeWallTime: [...DEFAULT_SESSION_WARNINGS.minutesBeforeWallTime]
    };
  }
  const valid = minutes.filter(
    (m): m is number => typeof m === 'number' && Number.isFinite(m) && m > 0
  );
  return {
    minutesBeforeWallTime: [...new Set(valid)].sort((a, b) => b - a)
  };
}

/** Cluster kernels: how long an allocation outlives its last kernel. */
export interface IClusterKernelSettings {
  allocationGraceMinutes: number;
}

export const DEFAULT_CLUSTER_KERNEL_SETTINGS: IClusterKernelSettings = {
  allocationGraceMinutes: 10
};

export function readClusterKernelSettings(
  value: unknown
): IClusterKernelSettings {
  const m = (value as Partial<IClusterKernelSettings> | null)
    ?.allocationGraceMinutes;
  return {
    allocationGraceMinutes:
      typeof m === 'number' && Number.isFinite(m) && m >= 0 && m <= 1440
        ? m
        : DEFAULT_CLUSTER_KERNEL_SETTINGS.allocationGraceMinutes
  };
}

export const DEFAULT_JOB_DEFAULTS: IJobDefaults = {
  partition: '',
  timeLimit: '02:00:00',
  cpus: 2,
  memory: '8G',
  gpus: 0,
  gpuType: '',
  account: '',
  qos: '',
  constraint: '',
  workingDirectory: '',
  startTimeout: 300,
  jupyterEnvironment: 'jupyterlab'
};

/** `user@host:port via jump` — how a cluster is named in one line. */
export function describeCluster(cluster: IClusterConfig): string {
  const user = cluster.user ? `${cluster.user}@` : '';
  const port = cluster.port ? `:${cluster.port}` : '';
  const via = cluster.jumpHost ? ` via ${cluster.jumpHost}` : '';
  return `${user}${cluster.host}${port}${via}`;
}

/** A cluster entry the schema (or the unique-name rule) refuses, and why. */
export interface IRejectedCluster {
  /** Its position in the list. */
  index: number;
  /** Its name, when it has one that is text. */
  name: string | null;
  /** What is wrong, e.g. `port must be <= 65535`. */
  reason: string;
}

/**
 * Check a cluster list against schema/plugin.json entry by entry, and that
 * names are unique (which a JSON schema cannot say). Valid entries come back
 * with the schema's defaults filled in; the others are named with a reason,
 * for the caller to report.
 */
export function checkClusters(value: readonly unknown[]): {
  clusters: IClusterConfig[];
  rejected: IRejectedCluster[];
} {
  const seen = new Map<string, number>();
  const clusters: IClusterConfig[] = [];
  const rejected: IRejectedCluster[] = [];
  value.forEach((item, index) => {
    const c = (
      typeof item === 'object' && item !== null ? item : {}
    ) as Partial<Record<keyof IClusterConfig, unknown>>;
    const name = typeof c.name === 'string' ? c.name : null;
    const errors = clusterSchemaErrors(item);
    if (errors.length > 0) {
      rejected.push({ index, name, reason: describeSchemaErrors(errors) });
      return;
    }
    const config = item as IClusterConfig;
    const first = seen.get(config.name);
    if (first !== undefined) {
      rejected.push({
        index,
        name,
        reason: `the name ${config.name} is already used by entry ${first + 1}`
      });
      return;
    }
    seen.set(config.name, index);
    clusters.push({
      name: config.name,
      host: config.host,
      port: config.port ?? null,
      user: config.user ?? '',
      identityFile: config.identityFile ?? '',
      jumpHost: config.jumpHost ?? '',
      transport: config.transport ?? 'ssh',
      sshClient: config.sshClient ?? 'auto',
      jupyterEnvironment: config.jupyterEnvironment ?? ''
    });
  });
  return { clusters, rejected };
}

/** `entry 2 ("swc"): port must be <= 65535; entry 3: host is required` */
export function describeRejected(
  rejected: readonly IRejectedCluster[]
): string {
  return rejected
    .map(
      r =>
        `entry ${r.index + 1}${r.name !== null ? ` (${JSON.stringify(r.name)})` : ''}: ${r.reason}`
    )
    .join('; ');
}

/**
 * The valid clusters of a composite settings value (see `checkClusters`);
 * one bad entry never hides the others.
 */
export function readClusters(value: unknown): IClusterConfig[] {
  return Array.isArray(value) ? checkClusters(value).clusters : [];
}

export function readJobDefaults(value: unknown): IJobDefaults {
  const v = (
    typeof value === 'object' && value !== null ? value : {}
  ) as Partial<IJobDefaults>;
  const pick = <K extends keyof IJobDefaults>(key: K): IJobDefaults[K] =>
    typeof v[key] === typeof DEFAULT_JOB_DEFAULTS[key]
      ? (v[key] as IJobDefaults[K])
      : DEFAULT_JOB_DEFAULTS[key];
  return {
    partition: pick('partition'),
    timeLimit: pick('timeLimit'),
    cpus: pick('cpus'),
    memory: pick('memory'),
    gpus: pick('gpus'),
    gpuType: pick('gpuType'),
    account: pick('account'),
    qos: pick('qos'),
    constraint: pick('constraint'),
    workingDirectory: pick('workingDirectory'),
    startTimeout: pick('startTimeout'),
    jupyterEnvironment: pick('jupyterEnvironment')
  };
}

/**
 * The presets of a composite settings value that the schema accepts; an
 * invalid one is left out rather than hiding the others. A later preset
 * with the name and cluster of an earlier one is left out too.
 */
export function readSessionPresets(value: unknown): ISessionPreset[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const seen = new Set<string>();
  const presets: ISessionPreset[] = [];
  for (const item of value) {
    if (sessionPresetSchemaErrors(item).length > 0) {
      continue;
    }
    const preset = item as ISessionPreset;
    const key = `${preset.cluster ?? ''}\n${preset.name}`;
    if (!seen.has(key)) {
      seen.add(key);
      presets.push({ ...preset });
    }
  }
  return presets;
}
