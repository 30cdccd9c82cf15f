import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { JSONValue, PromiseDelegate } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  DEFAULT_CONDA_SETTINGS,
  DEFAULT_JOB_DEFAULTS,
  IClusterConfig,
  IClusterKernelSettings,
  ICondaSettings,
  IJobDefaults,
  ISessionPreset,
  ISessionWarnings,
  checkClusters,
  describeRejected,
  readClusterKernelSettings,
  readCondaSettings,
  readJobDefaults,
  readSessionPresets,
  readSessionWarnings
} from '../../common/settings';

export interface IClusterSettings extends IDisposable {
  /** Resolves once the settings were read (or failed to be). */
  readonly ready: Promise<void>;
  readonly clusters: readonly IClusterConfig[];
  readonly jobDefaults: IJobDefaults;
  /** The launch form's named presets, as the schema accepts them. */
  readonly sessionPresets: readonly ISessionPreset[];
  /** Installing conda where a cluster has none (the Miniforge installer). */
  readonly conda: ICondaSettings;
  /** When to warn that a session nears its wall time. */
  readonly sessionWarnings: ISessionWarnings;
  /** Cluster kernels (the allocation grace period); absent in older fakes. */
  readonly clusterKernels?: IClusterKernelSettings;
  /** Why the settings could not be read (e.g. invalid JSON), or null. */
  readonly error: string | null;
  /**
   * Which cluster entries are left out and why (e.g. a name used twice,
   * which the schema cannot forbid), or null when every entry is used.
   */
  readonly rejected: string | null;
  readonly changed: ISignal<IClusterSettings, void>;
  /** True once there are settings to write to (see `setClusters`). */
  readonly canWrite: boolean;
  /**
   * Replace the cluster list in the user settings. Rejects when the settings
   * could not be loaded or the registry refuses the list (schema errors).
   */
  setClusters(clusters: readonly IClusterConfig[]): Promise<void>;
  /** Replace the launch presets in the user settings; rejects as `setClusters`. */
  setSessionPresets(presets: readonly ISessionPreset[]): Promise<void>;
}

/**
 * The user's cluster list and job defaults, read from the settings registry.
 * It starts empty and fills in when the registry has loaded, so nothing on
 * JupyterLab's start-up path waits for settings.
 */
export class ClusterSettings implements IClusterSettings {
  get ready(): Promise<void> {
    return this._ready.promise;
  }

  get clusters(): readonly IClusterConfig[] {
    return this._clusters;
  }

  get jobDefaults(): IJobDefaults {
    return this._jobDefaults;
  }

  get sessionPresets(): readonly ISessionPreset[] {
    return this._presets;
  }

  get conda(): ICondaSettings {
    return this._conda;
  }

  get sessionWarnings(): ISessionWarnings {
    return this._sessionWarnings;
  }

  get clusterKernels(): IClusterKernelSettings {
    return this._clusterKernels;
  }

  get error(): string | null {
    return this._error;
  }

  get rejected(): string | null {
    return this._rejected;
  }

  get changed(): ISignal<IClusterSettings, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get canWrite(): boolean {
    return this._settings !== null && !this._isDisposed;
  }

  async setClusters(clusters: readonly IClusterConfig[]): Promise<void> {
    if (!this._settings || this._isDisposed) {
      throw new Error(this._error ?? 'the HPC settings are not loaded yet');
    }
    await this._settings.set(
      'clusters',
      clusters.map(toSettingsEntry) as unknown as JSONValue
    );
  }

  async setSessionPresets(presets: readonly ISessionPreset[]): Promise<void> {
    if (!this._settings || this._isDisposed) {
      throw new Error(this._error ?? 'the HPC settings are not loaded yet');
    }
    await this._settings.set(
      'sessionPresets',
      presets.map(p => ({ ...p })) as unknown as JSONValue
    );
  }

  /** Follow `settings` from now on. */
  attach(settings: ISettingRegistry.ISettings): void {
    this._settings?.changed.disconnect(this._read, this);
    this._settings = settings;
    settings.changed.connect(this._read, this);
    this._error = null;
    this._read(settings);
    this._ready.resolve();
  }

  /** Loading failed: stay empty, say why, and let waiters go on. */
  fail(reason?: unknown): void {
    this._error = describeSettingsError(reason);
    this._ready.resolve();
    this._changed.emit();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._settings?.changed.disconnect(this._read, this);
    Signal.clearData(this);
  }

  private _read(settings: ISettingRegistry.ISettings): void {
    const entries = settings.composite.clusters;
    const { clusters, rejected } = checkClusters(
      Array.isArray(entries) ? entries : []
    );
    this._clusters = clusters;
    this._rejected = rejected.length > 0 ? describeRejected(rejected) : null;
    this._jobDefaults = readJobDefaults(settings.composite.jobDefaults);
    this._presets = readSessionPresets(settings.composite.sessionPresets);
    this._conda = readCondaSettings(settings.composite.conda);
    this._sessionWarnings = readSessionWarnings(
      settings.composite.sessionWarnings
    );
    this._clusterKernels = readClusterKernelSettings(
      settings.composite.clusterKernels
    );
    this._changed.emit();
  }

  private _settings: ISettingRegistry.ISettings | null = null;
  private _error: string | null = null;
  private _rejected: string | null = null;
  private _clusters: IClusterConfig[] = [];
  private _jobDefaults: IJobDefaults = { ...DEFAULT_JOB_DEFAULTS };
  private _presets: ISessionPreset[] = [];
  private _conda: ICondaSettings = { ...DEFAULT_CONDA_SETTINGS };
  private _sessionWarnings: ISessionWarnings = readSessionWarnings(undefined);
  private _clusterKernels: IClusterKernelSettings =
    readClusterKernelSettings(undefined);
  private _changed = new Signal<IClusterSettings, void>(this);
  private _ready = new PromiseDelegate<void>();
  private _isDisposed = false;
}

/**
 * A cluster as it is written to the user settings: only what differs from
 * the schema's defaults, so the file stays as short as one would write it.
 */
export function toSettingsEntry(cluster: IClusterConfig): IClusterConfig {
  const entry: IClusterConfig = { name: cluster.name, host: cluster.host };
  if (typeof cluster.port === 'number') {
    entry.port = cluster.port;
  }
  if (cluster.user) {
    entry.user = cluster.user;
  }
  if (cluster.identityFile) {
    entry.identityFile = cluster.identityFile;
  }
  if (cluster.jumpHost) {
    entry.jumpHost = cluster.jumpHost;
  }
  if (cluster.transport === 'local') {
    entry.transport = 'local';
  }
  if (cluster.jupyterEnvironment) {
    entry.jupyterEnvironment = cluster.jupyterEnvironment;
  }
  if (cluster.sshClient === 'openssh' || cluster.sshClient === 'builtin') {
    entry.sshClient = cluster.sshClient;
  }
  return entry;
}

/**
 * One line from what the settings registry throws: an array of schema
 * validation errors for a bad user settings file, or any other error.
 */
export function describeSettingsError(reason: unknown): string {
  if (Array.isArray(reason) && reason.length > 0) {
    return reason
      .map(e => {
        const { instancePath, message } = e as ISchemaError;
        return `${instancePath || '/'}: ${message ?? 'invalid'}`;
      })
      .join('; ');
  }
  if (reason instanceof Error) {
    return reason.message;
  }
  return reason === undefined ? 'unknown error' : String(reason);
}

interface ISchemaError {
  instancePath?: string;
  message?: string;
}
