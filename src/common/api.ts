/**
 * The contract between the JupyterLab frontend (src/lab) and the Node sidecar
 * (src/sidecar). Both sides import this module; nothing else crosses the line.
 *
 * The sidecar is reached at `<base_url>jupyterlab-hpc/` through
 * jupyter-server-proxy, which strips that prefix: the sidecar sees the paths
 * in `Routes` as they are written here.
 */

import type {
  IAttachableSession,
  ILaunchProblem,
  ISessionInfo
} from './sessions';
import type {
  IAllocationInfo,
  IKernelProfile,
  IKernelStartInfo
} from './kernels';
import type { IClusterConfig } from './settings';

export * from './sessions';
export * from './kernels';

/** The jupyter-server-proxy server name, and so the URL prefix. */
export const SIDECAR_NAME = 'jupyterlab-hpc';

/**
 * Bumped on every incompatible change of the routes or bodies below. The
 * frontend refuses to talk to a sidecar of another API version and tells the
 * user how to fix the install.
 */
export const API_VERSION = 1;

/**
 * State-changing requests must carry this header (or a JSON content type):
 * jupyter-server-proxy enforces Jupyter's authentication but not its XSRF
 * check, and a cross-site form can set neither without a CORS preflight.
 */
export const REQUEST_HEADER = 'X-Jupyterlab-Hpc';

export namespace Routes {
  export const health = '/api/v1/health';
  export const events = '/api/v1/events';
  /** GET: IClusterList. PUT IClusterConfigSync: the clusters from settings. */
  export const clusters = '/api/v1/clusters';
  /** GET: ISshHosts, the Host aliases of ~/.ssh/config for "Add cluster". */
  export const sshHosts = '/api/v1/ssh/hosts';
  /** GET: IPrompt[] still waiting for an answer. */
  export const prompts = '/api/v1/prompts';
  /** GET: IForward[]. */
  export const forwards = '/api/v1/forwards';

  const base = (name: string) => `${clusters}/${encodeURIComponent(name)}`;
  /** GET: IClusterStatus. */
  export const cluster = (name: string): string => base(name);
  /** POST (no body): connect now; answers IClusterStatus once connected. */
  export const connect = (name: string): string => `${base(name)}/connect`;
  /** POST (no body): close the connection and its forwards. */
  export const disconnect = (name: string): string =>
    `${base(name)}/disconnect`;
  /** POST (no body): IConnectionTest. */
  export const test = (name: string): string => `${base(name)}/test`;
  /** POST IRunRequest: IRunResult. */
  export const run = (name: string): string => `${base(name)}/run`;
  /** POST IForwardRequest: IForward. */
  export const clusterForwards = (name: string): string =>
    `${base(name)}/forwards`;
  /** POST IKeySetupRequest: IKeySetupResult. */
  export const keySetup = (name: string): string => `${base(name)}/key-setup`;
  /** DELETE: close one forward. */
  export const forward = (id: string): string =>
    `${forwards}/${encodeURIComponent(id)}`;
  /** POST IPromptAnswer. */
  export const prompt = (id: string): string =>
    `${prompts}/${encodeURIComponent(id)}`;

  // Conda environments and kernels. `target` is LOCAL_TARGET for this
  // computer (the machine JupyterLab runs on), else a cluster's name.
  const envBase = (target: string) =>
    target === LOCAL_TARGET ? '/api/v1/local' : base(target);
  /** GET (`?refresh=1` to rescan instead of answering from the cache): IEnvironmentList. */
  export const envs = (target: string): string => `${envBase(target)}/envs`;
  /** POST IRegisterKernelRequest: IRegisterKernelResult. */
  export const kernels = (target: string): string =>
    `${envBase(target)}/kernels`;
  /** DELETE: unregister the kernelspec of that name (only ones we manage). */
  export const kernel = (target: string, kernelName: string): string =>
    `${envBase(target)}/kernels/${encodeURIComponent(kernelName)}`;
  /** POST IInstallIpykernelRequest: ITask (output streamed as events). */
  export const installIpykernel = (target: string): string =>
    `${envBase(target)}/envs/install-ipykernel`;
  /** POST IInstallMiniforgeRequest: ITask (clusters only). */
  export const installMiniforge = (name: string): string =>
    `${base(name)}/miniforge`;
  /** GET: ITask[] (running and recently finished). */
  export const tasks = '/api/v1/tasks';
  /** GET: ITask with its whole output so far. DELETE: cancel it. */
  export const task = (id: string): string =>
    `${tasks}/${encodeURIComponent(id)}`;

  // JupyterLab sessions in SLURM jobs.
  /** GET: ISessionList, every session on every cluster. */
  export const sessions = '/api/v1/sessions';
  /** GET (`?refresh=1` to ask the cluster again): ILaunchOffer. */
  export const launchOffer = (name: string): string =>
    `${base(name)}/launch-offer`;
  /** POST ILaunchRequest: ILaunchCheck, the problems of each field. */
  export const launchCheck = (name: string): string =>
    `${base(name)}/launch-check`;
  /**
   * POST ILaunchRequest: ISessionInfo (201). 400 `launch-invalid` with
   * `problems` when a check fails; 422 `sbatch-refused` in sbatch's words.
   */
  export const clusterSessions = (name: string): string =>
    `${base(name)}/sessions`;
  /**
   * GET: IAttachableSessionList, the sessions on the cluster whose job is
   * alive and that this sidecar does not follow (started elsewhere).
   */
  export const attachableSessions = (name: string): string =>
    `${clusterSessions(name)}/attachable`;
  /**
   * POST (no body): follow that session from here; ISessionInfo (201) with
   * `attached: true`. 409 `session-exists` when it is already followed,
   * 409 `session-not-attachable` when its job is over or it is not there.
   */
  export const attachSession = (name: string, id: string): string =>
    `${clusterSessions(name)}/${encodeURIComponent(id)}/attach`;
  /** GET: ISessionInfo. DELETE: remove an ended session from the list. */
  export const session = (id: string): string =>
    `${sessions}/${encodeURIComponent(id)}`;
  /** POST (no body): scancel the session's job; ISessionInfo. */
  export const sessionCancel = (id: string): string => `${session(id)}/cancel`;
  /** GET (`?offset=N`): ISessionLog, the job's output from byte N on. */
  export const sessionLog = (id: string): string => `${session(id)}/log`;
  /** GET: ISessionOpen, the URL that opens it logged in. */
  export const sessionOpen = (id: string): string => `${session(id)}/open`;
  /** PUT IVisibility: whether a JupyterLab page is visible (polling speed). */
  export const visibility = '/api/v1/visibility';

  // Cluster kernels (kernels.ts).
  /**
   * GET: IKernelProfileList. POST IKernelProfileRequest: IKernelProfile (201),
   * after its kernelspec is written; 400 `profile-invalid` with problems.
   */
  export const kernelProfiles = '/api/v1/kernel-profiles';
  /** PUT IKernelProfileRequest: IKernelProfile. DELETE: remove it and its kernelspec. */
  export const kernelProfile = (id: string): string =>
    `${kernelProfiles}/${encodeURIComponent(id)}`;
  /** GET: IAllocationList. */
  export const kernelAllocations = '/api/v1/kernel-allocations';
  /** DELETE: end the allocation (scancel); its kernels end as dead, with the reason. */
  export const kernelAllocation = (id: string): string =>
    `${kernelAllocations}/${encodeURIComponent(id)}`;
  /** GET: IKernelStartList, the starts the Jupyter server waits for. */
  export const kernelStarts = '/api/v1/kernel-starts';
  /** POST (no body): give up a waiting start; the kernel error dialog says "cancelled". */
  export const kernelStartCancel = (kernelId: string): string =>
    `${kernelStarts}/${encodeURIComponent(kernelId)}/cancel`;
  /**
   * WebSocket: a kernel's lease (LeaseRequest/LeaseReply). Only the
   * provisioner inside the Jupyter server uses it, over the unix socket;
   * browsers are refused (they always send Origin).
   */
  export const kernelLease = '/api/v1/kernel-lease';
}

/** The `target` of the environment routes that means this computer. */
export const LOCAL_TARGET = ':local';

/** GET /api/v1/health */
export interface IHealth {
  /** Always 'jupyterlab-hpc-sidecar'; tells our sidecar from anything else. */
  name: 'jupyterlab-hpc-sidecar';
  /** The package version the sidecar was built from. */
  version: string;
  apiVersion: number;
  /** Seconds since the sidecar process started. */
  uptimeSeconds: number;
  /** The Node.js version running the sidecar. */
  node: string;
  pid: number;
}

/** Every error body the sidecar sends; `code` is stable, `message` is for people. */
export interface IErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /**
     * With `launch-invalid`: the problem of each field. With `profile-invalid`
     * these are IKernelProfileProblem (field may also be cluster, displayName).
     */
    problems?: ILaunchProblem[];
  };
}

export type ErrorCode =
  | 'not-found'
  | 'method-not-allowed'
  | 'missing-request-header'
  | 'bad-request'
  | 'forbidden-origin'
  | 'payload-too-large'
  | 'request-header-too-large'
  | 'internal'
  // Clusters and connections
  | 'unknown-cluster'
  | 'ssh-config'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'host-key-unknown'
  | 'host-key-rejected'
  | 'host-key-invalid'
  | 'known-hosts-write-failed'
  | 'auth-failed'
  | 'auth-cancelled'
  | 'key-unreadable'
  | 'unreachable'
  | 'connect-timeout'
  | 'proxy-command-failed'
  | 'connection-lost'
  | 'disconnected'
  | 'channel-refused'
  | 'command-failed'
  | 'command-timeout'
  | 'command-too-long'
  | 'forward-failed'
  | 'key-setup-failed'
  // Environments, kernels and install tasks
  | 'env-not-found'
  | 'env-scan-failed'
  | 'ipykernel-missing'
  | 'kernel-exists'
  | 'kernel-not-found'
  | 'kernel-not-managed'
  | 'kernels-dir-unknown'
  | 'kernel-write-failed'
  | 'task-not-found'
  | 'task-failed'
  | 'task-cancelled'
  | 'conda-exists'
  | 'installer-url'
  // JupyterLab sessions in SLURM jobs
  | 'session-not-found'
  | 'session-not-running'
  | 'launch-invalid'
  | 'sbatch-refused'
  | 'slurm-unavailable'
  | 'session-exists'
  | 'session-not-attachable'
  // The sidecar's own state files
  | 'state-damaged'
  | 'state-unwritable'
  // cluster kernels
  | 'kernel-relay-failed'
  | 'profile-invalid'
  | 'profile-not-found'
  | 'allocation-not-found'
  | 'allocation-ended'
  | 'kernel-start-not-found'
  | 'kernel-start-cancelled';

/** Messages pushed on the event WebSocket, one JSON object per frame. */
export type SidecarEvent =
  | IHelloEvent
  | IHeartbeatEvent
  | IClusterStateEvent
  | IPromptEvent
  | IPromptClosedEvent
  | IForwardsEvent
  | IEnvsChangedEvent
  | ITaskEvent
  | ITaskOutputEvent
  | ISessionEvent
  | IKernelProfileEvent
  | IAllocationEvent
  | IKernelStartEvent
  | IStateProblemEvent;

/**
 * Something is wrong with one of the files where the sidecar keeps what it
 * follows (sessions, kernel allocations): the user is told, since the
 * sidecar works on from memory and the cluster meanwhile.
 */
export interface IStateProblem {
  code: 'state-damaged' | 'state-unwritable';
  /** Which file: what it holds. */
  file: 'sessions' | 'allocations';
  /** A sentence the user can act on; names the file. */
  message: string;
}

/** A state file's problem appeared or (`problem: null`) is over. */
export interface IStateProblemEvent {
  type: 'state-problem';
  file: IStateProblem['file'];
  code: IStateProblem['code'];
  problem: IStateProblem | null;
}

/** A kernel profile was added or changed, or (`removed`) deleted. */
export interface IKernelProfileEvent {
  type: 'kernel-profile';
  profile: IKernelProfile;
  removed?: boolean;
}

/** An allocation changed, or (`removed`) left the list. */
export interface IAllocationEvent {
  type: 'kernel-allocation';
  allocation: IAllocationInfo;
  removed?: boolean;
}

/** A waiting kernel start moved on (queued, starting, started, failed, cancelled). */
export interface IKernelStartEvent {
  type: 'kernel-start';
  start: IKernelStartInfo;
}

/** A session changed, or (`removed`) left the list. */
export interface ISessionEvent {
  type: 'session';
  session: ISessionInfo;
  removed?: boolean;
}

/** GET Routes.sessions */
export interface ISessionList {
  sessions: ISessionInfo[];
  /** Problems of the sidecar's state files now (none: empty or absent). */
  stateProblems?: IStateProblem[];
}

/** GET Routes.attachableSessions(name) */
export interface IAttachableSessionList {
  cluster: string;
  sessions: IAttachableSession[];
}

/** GET Routes.sessionOpen(id) */
export interface ISessionOpen {
  /** `http://127.0.0.1:<port>/lab?token=…`: open it, never log it. */
  url: string;
}

/** GET Routes.sessionLog(id) */
export interface ISessionLog {
  /** The log's size now, in bytes. */
  size: number;
  /** Where `text` starts, and where the next request should start. */
  offset: number;
  next: number;
  text: string;
}

/** POST Routes.launchCheck(name) */
export interface ILaunchCheck {
  problems: ILaunchProblem[];
  /**
   * Values passed on to sbatch without a check, and why (an account or QOS
   * on a cluster without accounting): sbatch's own answer then counts.
   */
  unchecked?: ILaunchProblem[];
}

/** PUT Routes.visibility */
export interface IVisibility {
  visible: boolean;
}

/** The first message on every event connection. */
export interface IHelloEvent {
  type: 'hello';
  health: IHealth;
}

/** Sent periodically so both sides notice a dead connection. */
export interface IHeartbeatEvent {
  type: 'heartbeat';
  /** Milliseconds since the epoch, on the sidecar's clock. */
  time: number;
}

/** A cluster's connection changed state. */
export interface IClusterStateEvent {
  type: 'cluster-state';
  cluster: IClusterStatus;
}

/** The sidecar needs the user: show a dialog and POST Routes.prompt(id). */
export interface IPromptEvent {
  type: 'prompt';
  prompt: IPrompt;
}

/** A prompt was answered (in any tab), cancelled or is no longer needed. */
export interface IPromptClosedEvent {
  type: 'prompt-closed';
  id: string;
}

/** The forwards changed; the whole list. */
export interface IForwardsEvent {
  type: 'forwards';
  forwards: IForward[];
}

/**
 * A target's environments or kernels changed (a scan finished, a kernel was
 * registered or removed): GET Routes.envs(target) for the new list. Local
 * kernelspec changes also mean "refresh JupyterLab's kernelspecs now".
 */
export interface IEnvsChangedEvent {
  type: 'envs-changed';
  target: string;
  /** True when a kernelspec was added or removed on that target. */
  kernelsChanged: boolean;
}

/** A task started, changed state or finished; the whole task, without output. */
export interface ITaskEvent {
  type: 'task';
  task: ITask;
}

/** New output of a running task, in order; `offset` is where `text` starts. */
export interface ITaskOutputEvent {
  type: 'task-output';
  id: string;
  offset: number;
  text: string;
}

const EVENT_TYPES = new Set([
  'hello',
  'heartbeat',
  'cluster-state',
  'prompt',
  'prompt-closed',
  'forwards',
  'envs-changed',
  'task',
  'task-output',
  'session',
  'kernel-profile',
  'kernel-allocation',
  'kernel-start',
  'state-problem'
]);

/** Narrow an unknown JSON value to a SidecarEvent, or null. */
export function parseEvent(data: unknown): SidecarEvent | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type === 'string' && EVENT_TYPES.has(type)) {
    return data as SidecarEvent;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Clusters and connections

/**
 * The clusters as the frontend has them in settings, sent whenever they
 * change (PUT Routes.clusters). The sidecar keeps no copy on disk.
 */
export interface IClusterConfigSync {
  clusters: IClusterConfig[];
  /** clusterKernels.allocationGraceMinutes of the settings, when known. */
  allocationGraceMinutes?: number;
}

/**
 * - `idle`: no connection, none wanted (connects on first use).
 * - `connecting`: opening (TCP, jump hosts, key exchange, authentication).
 * - `needs-input`: waiting for the user to answer a prompt.
 * - `connected`: ready.
 * - `reconnecting`: the connection was lost while in use; retrying with
 *   backoff (`nextAttemptAt`).
 * - `error`: the last attempt failed (`error` says why); retried on next use.
 */
export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'needs-input'
  | 'connected'
  | 'reconnecting'
  | 'error';

export interface IClusterStatus {
  name: string;
  transport: 'ssh' | 'local';
  state: ConnectionState;
  /** For people: `hpcdemo@127.0.0.1:2222 via gw`. */
  target: string;
  /** The hosts connected through, first to last (the last is the cluster). */
  route: string[];
  /** Set in `error` and `reconnecting`. */
  error: { code: ErrorCode; message: string } | null;
  /** Milliseconds since the epoch of the last state change. */
  since: number;
  /** When the next reconnect attempt starts, in `reconnecting`. */
  nextAttemptAt: number | null;
  /** Reconnect attempts since the connection was lost. */
  attempt: number;
  /** Commands running or queued, and forwards open, on this connection. */
  activeCommands: number;
  queuedCommands: number;
  openForwards: number;
}

/** GET Routes.clusters */
export interface IClusterList {
  clusters: IClusterStatus[];
}

/** GET Routes.sshHosts */
export interface ISshHosts {
  /** Concrete Host names of ~/.ssh/config and what it Includes. */
  aliases: ISshHostAlias[];
  /** The config file read, for messages (`~/.ssh/config`). */
  configPath: string;
  /** Why the config could not be read completely, or null. */
  error: { code: ErrorCode; message: string } | null;
}

export interface ISshHostAlias {
  alias: string;
  /** As `ssh -G <alias>` resolves it; null if it cannot be resolved. */
  hostName: string | null;
  user: string | null;
  port: number | null;
  /** The jump hosts or the ProxyCommand, in one line; '' for none. */
  via: string;
}

/** The package managers of conda environments. */
export type CondaToolName = 'conda' | 'mamba' | 'micromamba';

/** POST Routes.test(name) */
export interface IConnectionTest {
  /** Median of a few no-op round trips over the open connection. */
  rttMs: number;
  /** Time to connect, if this test had to (0 when already connected). */
  connectMs: number;
  /** The SSH client that carries the connection; null on this computer. */
  sshClient: 'openssh' | 'builtin' | null;
  /** `sinfo --version` output ("slurm 22.05.8"), or null when not found. */
  slurmVersion: string | null;
  /**
   * Absolute paths of conda, mamba and micromamba: what the login
   * environment finds, else those of the install roots the environment scan
   * knows (~/.local/miniforge before `conda init`, ...).
   */
  tools: {
    conda: string | null;
    mamba: string | null;
    micromamba: string | null;
  };
  /** Which of `tools` the login shell's PATH finds by name. */
  toolsOnPath: CondaToolName[];
  /** The remote host name (`hostname`) and login shell ($SHELL). */
  remoteHost: string;
  shell: string;
  status: IClusterStatus;
}

/** POST Routes.run(name) */
export interface IRunRequest {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  maxOutputBytes?: number;
}

/** Output is UTF-8 text (invalid bytes replaced). */
export interface IRunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
}

/** POST Routes.clusterForwards(name) */
export interface IForwardRequest {
  /** As seen from the cluster's login node, e.g. a compute node name. */
  remoteHost: string;
  remotePort: number;
  /** 0 or absent: any free port. Always bound on 127.0.0.1. */
  localPort?: number;
}

export interface IForward {
  id: string;
  cluster: string;
  remoteHost: string;
  remotePort: number;
  localPort: number;
  /**
   * Connections open now through it, and since it started; null when the
   * OpenSSH client holds the forward (it does not count them).
   */
  openConnections: number | null;
  totalConnections: number | null;
}

/** POST Routes.keySetup(name) */
export interface IKeySetupRequest {
  /** Where to create the key; `~/.ssh/id_ed25519_<cluster>` by default. */
  keyPath?: string;
  /** Encrypt the new key with it; never stored. Empty: no passphrase. */
  passphrase?: string;
}

export interface IKeySetupResult {
  keyPath: string;
  /** False when the key file existed and was reused. */
  created: boolean;
  /** False when the cluster already had the public key. */
  installed: boolean;
  fingerprint: string;
  /** The cluster connects with the key now without a password. */
  verified: boolean;
}

/** A question the sidecar asks the user. Answers are never stored. */
export interface IPrompt {
  id: string;
  cluster: string;
  kind: 'host-key' | 'passphrase' | 'password' | 'keyboard-interactive';
  /** Short, for a dialog title: "hpcdemo@login1: verification code". */
  title: string;
  /** Longer text from the server or from us; may be ''. */
  instructions: string;
  /** One answer per field, in order. */
  fields: IPromptField[];
  /** For 'host-key'. */
  hostKey?: {
    host: string;
    keyType: string;
    /** `SHA256:…` as OpenSSH prints it. */
    fingerprint: string;
    /** The whole question, OpenSSH's words. */
    message: string;
  };
  /** Milliseconds since the epoch after which it is cancelled. */
  expiresAt: number;
}

export interface IPromptField {
  label: string;
  /** False for secrets: render as a password input. */
  echo: boolean;
}

/** POST Routes.prompt(id): answers, or cancel. 'host-key' wants ['yes']. */
export interface IPromptAnswer {
  answers?: string[];
  cancel?: boolean;
}

/** True if `body` looks like a health answer from our sidecar. */
export function isHealth(body: unknown): body is IHealth {
  if (typeof body !== 'object' || body === null) {
    return false;
  }
  const h = body as Partial<IHealth>;
  return (
    h.name === 'jupyterlab-hpc-sidecar' &&
    typeof h.version === 'string' &&
    typeof h.apiVersion === 'number'
  );
}

// ---------------------------------------------------------------------------
// Conda environments and kernels

/**
 * Why an environment was found; several when more than one source knows it.
 * - `environments.txt`: listed in ~/.conda/environments.txt.
 * - `envs-dir`: a directory of an `envs_dirs` entry (.condarc, $CONDA_ENVS_PATH,
 *   `<root>/envs`, ~/.conda/envs).
 * - `root`: a conda, mamba or micromamba install root (its base env).
 * - `env-var`: $CONDA_PREFIX, $CONDA_EXE, $MAMBA_EXE or $MAMBA_ROOT_PREFIX.
 * - `conda`: only `conda env list --json` (or mamba's, micromamba's) knew it.
 * - `settings`: the cluster's `jupyterEnvironment` setting names its prefix.
 */
export type EnvSource =
  'environments.txt' | 'envs-dir' | 'root' | 'env-var' | 'conda' | 'settings';

/**
 * Something wrong with an environment; it is still listed.
 * - `missing-python`: no executable bin/python.
 * - `unreadable`: conda-meta/ cannot be read (permissions).
 * - `missing-prefix`: listed (environments.txt) but the directory is gone.
 * - `not-conda`: the directory has no conda-meta/.
 * - `bad-kernelspec`: a kernel.json in it that is not valid JSON.
 */
export interface IEnvProblem {
  code:
    | 'missing-python'
    | 'unreadable'
    | 'missing-prefix'
    | 'not-conda'
    | 'bad-kernelspec';
  message: string;
}

/** A kernelspec directory: `<kernels dir>/<name>/kernel.json`. */
export interface IKernelspecInfo {
  name: string;
  displayName: string;
  language: string;
  /** argv[0] of the kernel.json: the python that runs the kernel. */
  executable: string;
  /** Absolute path of the kernelspec directory. */
  path: string;
  /** The environment prefix the kernel runs in, when argv[0] lies in one. */
  envPrefix: string | null;
  /** Written by jupyterlab-hpc (metadata marks it), so we may remove it. */
  managed: boolean;
}

export interface ICondaEnvironment {
  /** `base`, the env's directory name under an envs dir, or for `-p` envs the last path component. */
  name: string;
  /** Absolute path, as conda prints it. */
  prefix: string;
  kind: 'base' | 'named' | 'prefix';
  /** The base prefix of the conda install it belongs to, when known. */
  root: string | null;
  /** From conda-meta/python-<version>-<build>.json; null if not installed. */
  pythonVersion: string | null;
  /** Versions from conda-meta; null when not installed. */
  ipykernelVersion: string | null;
  jupyterlabVersion: string | null;
  /** Kernelspecs inside the env (`<prefix>/share/jupyter/kernels`). */
  kernelspecs: IKernelspecInfo[];
  /** The kernel name and display name it is registered under (nb_conda_kernels' scheme). */
  kernelName: string;
  displayName: string;
  /** The kernelspec in the target's kernels dir that runs this env, if any. */
  registered: IKernelspecInfo | null;
  sources: EnvSource[];
  problems: IEnvProblem[];
}

/** GET Routes.envs(target) */
export interface IEnvironmentList {
  target: string;
  envs: ICondaEnvironment[];
  /** Install roots found (base prefixes of conda/mamba/micromamba). */
  roots: string[];
  /** Absolute paths of the conda, mamba and micromamba executables found. */
  tools: {
    conda: string | null;
    mamba: string | null;
    micromamba: string | null;
  };
  /** Which of `tools` the login shell's PATH finds by name. */
  toolsOnPath: CondaToolName[];
  /**
   * Where registered kernelspecs go: the local Jupyter's user kernels
   * directory, or on a cluster `<jupyterlab env>/share/jupyter/kernels`.
   * Null when unknown (a cluster whose JupyterLab env was not found).
   */
  kernelsDir: string | null;
  /** The env that runs remote JupyterLab on a cluster (null locally, or not found). */
  jupyterlabPrefix: string | null;
  /** Kernelspecs in `kernelsDir`, including ones that match no env. */
  kernelspecs: IKernelspecInfo[];
  /** Milliseconds since the epoch of the scan, and how long it took. */
  scannedAt: number;
  durationMs: number;
  /** Remote round trips the scan took (0 locally). */
  roundTrips: number;
  /** True when answered from the cache without scanning. */
  cached: boolean;
  /** What went wrong with a whole source (an unreadable .condarc, a conda that failed). */
  warnings: string[];
}

/** POST Routes.kernels(target) */
export interface IRegisterKernelRequest {
  /** The environment to run the kernel in. */
  prefix: string;
  /** Defaults: the env's `kernelName` / `displayName`. */
  kernelName?: string;
  displayName?: string;
}

export interface IRegisterKernelResult {
  kernel: IKernelspecInfo;
  /** False when a kernelspec for that env already existed and was kept. */
  created: boolean;
}

/** DELETE Routes.kernel(target, name): the kernelspec that was removed. */
export interface IUnregisterKernelResult {
  kernel: IKernelspecInfo;
}

/** POST Routes.installIpykernel(target) */
export interface IInstallIpykernelRequest {
  prefix: string;
}

/** POST Routes.installMiniforge(cluster) */
export interface IInstallMiniforgeRequest {
  /** Default: the `conda.installerUrl` setting. http(s) only. */
  installerUrl?: string;
  /** Default: ~/.local/miniforge, as in the cluster tutorial. */
  prefix?: string;
  /** Also create the `jupyterlab` env (jupyterlab + ipykernel). */
  createJupyterlabEnv: boolean;
}

/** A long-running action whose output is streamed (ITaskOutputEvent). */
export interface ITask {
  id: string;
  kind: 'install-ipykernel' | 'install-miniforge';
  target: string;
  /** For people: "Install ipykernel into my-project-env on demo". */
  title: string;
  /**
   * The environment (install-ipykernel) or install prefix (install-miniforge)
   * it works on, so every tab can show which row is busy.
   */
  prefix: string | null;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  startedAt: number;
  endedAt: number | null;
  /** The step running now or last ("Downloading the installer"). */
  step: string;
  error: { code: ErrorCode; message: string } | null;
  /** Characters of output so far; GET Routes.task(id) returns `output`. */
  outputLength: number;
  output?: string;
  /**
   * With `output`: where it starts in the whole output. The sidecar keeps
   * the last 1 MiB of each task's output; older text is dropped, and this is
   * then more than 0.
   */
  outputOffset?: number;
}
