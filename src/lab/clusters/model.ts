import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IClusterConfigSync,
  IClusterList,
  IClusterStatus,
  IConnectionTest,
  IKeySetupRequest,
  IKeySetupResult,
  ISshHosts,
  Routes,
  SidecarEvent
} from '../../common/api';
import { IClusterConfig } from '../../common/settings';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { requestSidecar, SidecarRequestError } from '../sidecar/request';
import { BusyTracker } from '../util/busy';
import { Coalescer } from '../util/coalesce';

/** What a user can ask of one cluster; at most one of each runs at a time. */
export type ClusterAction = 'connect' | 'disconnect' | 'test' | 'setup-key';

/** A failed request, as the views show it: a stable code and a sentence. */
export interface IRequestFailure {
  code: string;
  message: string;
}

/** The last "Test connection" of a cluster. */
export type TestOutcome =
  { ok: true; result: IConnectionTest } | { ok: false; error: IRequestFailure };

export interface IClusterModel extends IDisposable {
  /** The configured clusters, in settings order. */
  readonly clusters: readonly IClusterConfig[];
  /** True while the sidecar is ready to take requests. */
  readonly available: boolean;
  /** Why the last hand-over of the clusters to the sidecar failed, or null. */
  readonly syncError: IRequestFailure | null;
  /** Emitted on any change of the above or of a status, test or action. */
  readonly changed: ISignal<IClusterModel, void>;
  /** The sidecar's view of a cluster's connection; null until it has one. */
  status(name: string): IClusterStatus | null;
  /** Whether `action` (or, without it, any action) runs for `name`. */
  isBusy(name: string, action?: ClusterAction): boolean;
  lastTest(name: string): TestOutcome | null;
  clearTest(name: string): void;
  /** Hand the clusters from settings to the sidecar, then read its states. */
  sync(): Promise<void>;
  /** Each rejects with a SidecarRequestError whose message says why. */
  connect(name: string): Promise<IClusterStatus | null>;
  disconnect(name: string): Promise<void>;
  test(name: string): Promise<IConnectionTest>;
  setupKey(name: string, request: IKeySetupRequest): Promise<IKeySetupResult>;
  /** The Host aliases of ~/.ssh/config, for "Add cluster". */
  sshHosts(): Promise<ISshHosts>;
}

export interface IClusterModelOptions {
  sidecar: ISidecarModel;
  settings: IClusterSettings;
  serverSettings?: ServerConnection.ISettings;
}

/**
 * Keeps one IClusterStatus per configured cluster. The sidecar keeps no copy
 * of the cluster list on disk, so the model hands it over whenever the
 * settings change, when the sidecar becomes ready and after every `hello`
 * (a restarted sidecar has forgotten it). Between syncs the `cluster-state`
 * events keep the statuses current. The model holds no user-facing text.
 */
export class ClusterModel implements IClusterModel {
  constructor(options: IClusterModelOptions) {
    this._sidecar = options.sidecar;
    this._settings = options.settings;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._settings.changed.connect(this._onSettingsChanged, this);
    this._sidecar.stateChanged.connect(this._onSidecarState, this);
    this._sidecar.event.connect(this._onEvent, this);
    this._wasReady = this.available;
    if (this._wasReady) {
      void this.sync();
    }
  }

  get clusters(): readonly IClusterConfig[] {
    return this._settings.clusters;
  }

  get available(): boolean {
    return this._sidecar.state.status === 'ready';
  }

  get syncError(): IRequestFailure | null {
    return this._syncError;
  }

  get changed(): ISignal<IClusterModel, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  status(name: string): IClusterStatus | null {
    return this._statuses.get(name) ?? null;
  }

  isBusy(name: string, action?: ClusterAction): boolean {
    return this._busy.isBusy(name, action);
  }

  lastTest(name: string): TestOutcome | null {
    return this._tests.get(name) ?? null;
  }

  clearTest(name: string): void {
    if (this._tests.delete(name)) {
      this._changed.emit();
    }
  }

  sync(): Promise<void> {
    return this._syncs.request();
  }

  connect(name: string): Promise<IClusterStatus | null> {
    return this._act(name, 'connect', async () => {
      const status = await this._request<unknown>(Routes.connect(name), {
        method: 'POST'
      });
      return this._applyAnswer(status);
    });
  }

  disconnect(name: string): Promise<void> {
    return this._act(name, 'disconnect', async () => {
      const status = await this._request<unknown>(Routes.disconnect(name), {
        method: 'POST'
      });
      this._applyAnswer(status);
    });
  }

  test(name: string): Promise<IConnectionTest> {
    // The last result stays shown until this one replaces it.
    return this._act(name, 'test', async () => {
      try {
        const result = await this._request<IConnectionTest>(Routes.test(name), {
          method: 'POST'
        });
        this._tests.set(name, { ok: true, result });
        this._applyAnswer(result.status);
        return result;
      } catch (err) {
        this._tests.set(name, { ok: false, error: toFailure(err) });
        throw err;
      }
    });
  }

  setupKey(name: string, request: IKeySetupRequest): Promise<IKeySetupResult> {
    return this._act(name, 'setup-key', () =>
      this._request<IKeySetupResult>(Routes.keySetup(name), {
        method: 'POST',
        body: JSON.stringify(request)
      })
    );
  }

  sshHosts(): Promise<ISshHosts> {
    return this._request<ISshHosts>(Routes.sshHosts);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private async _syncOnce(): Promise<void> {
    if (!this.available) {
      return;
    }
    const body: IClusterConfigSync = { clusters: [...this._settings.clusters] };
    const kernels = this._settings.clusterKernels;
    if (kernels) {
      body.allocationGraceMinutes = kernels.allocationGraceMinutes;
    }
    try {
      await this._request(Routes.clusters, {
        method: 'PUT',
        body: JSON.stringify(body)
      });
      const list = await this._request<IClusterList>(Routes.clusters);
      this._applyList(list);
      this._syncError = null;
    } catch (err) {
      this._syncError = toFailure(err);
    }
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  /** Run an action once the sidecar has the current cluster list. */
  private _act<T>(
    name: string,
    action: ClusterAction,
    run: () => Promise<T>
  ): Promise<T> {
    return this._busy.run(
      name,
      action,
      async () => {
        await this._syncs.running;
        return run();
      },
      () => {
        if (!this._isDisposed) {
          this._changed.emit();
        }
      }
    );
  }

  private _request<T>(path: string, init: RequestInit = {}): Promise<T> {
    return requestSidecar<T>(path, init, this._serverSettings);
  }

  /** Replace the statuses by the sidecar's list, keeping newer ones. */
  private _applyList(list: IClusterList | null): void {
    const statuses = (list?.clusters ?? []).filter(isClusterStatus);
    const listed = new Set(statuses.map(s => s.name));
    for (const name of this._statuses.keys()) {
      if (!listed.has(name)) {
        this._statuses.delete(name);
      }
    }
    statuses.forEach(s => this._keepNewer(s));
  }

  /** A status in an action's answer; older than what events said: ignored. */
  private _applyAnswer(status: unknown): IClusterStatus | null {
    if (!isClusterStatus(status)) {
      return null;
    }
    this._keepNewer(status);
    return status;
  }

  private _keepNewer(status: IClusterStatus): void {
    const known = this._statuses.get(status.name);
    if (!known || status.since >= known.since) {
      this._statuses.set(status.name, status);
    }
  }

  private _onSettingsChanged(): void {
    const names = new Set(this._settings.clusters.map(c => c.name));
    for (const name of this._tests.keys()) {
      if (!names.has(name)) {
        this._tests.delete(name);
      }
    }
    this._changed.emit();
    void this.sync();
  }

  private _onSidecarState(_: ISidecarModel, state: SidecarState): void {
    const ready = state.status === 'ready';
    if (ready && !this._wasReady) {
      void this.sync();
    }
    if (!ready && this._wasReady) {
      // Whatever the sidecar knew is unknown now.
      this._statuses.clear();
      this._changed.emit();
    }
    this._wasReady = ready;
  }

  private _onEvent(_: ISidecarModel, event: SidecarEvent): void {
    switch (event.type) {
      case 'hello':
        if (
          this._sidecarPid !== null &&
          event.health.pid !== this._sidecarPid
        ) {
          // Another sidecar process: the old statuses are gone with it.
          this._statuses.clear();
          this._changed.emit();
        }
        this._sidecarPid = event.health.pid;
        void this.sync();
        break;
      case 'cluster-state':
        if (isClusterStatus(event.cluster)) {
          this._statuses.set(event.cluster.name, event.cluster);
          this._changed.emit();
        }
        break;
      default:
        break;
    }
  }

  private _sidecar: ISidecarModel;
  private _settings: IClusterSettings;
  private _serverSettings: ServerConnection.ISettings;
  private _statuses = new Map<string, IClusterStatus>();
  private _tests = new Map<string, TestOutcome>();
  private _busy = new BusyTracker<ClusterAction>();
  private _syncError: IRequestFailure | null = null;
  private _syncs = new Coalescer({
    // Never tell the sidecar "no clusters" only because settings are late.
    before: () => this._settings.ready,
    work: () => this._syncOnce(),
    stopped: () => this._isDisposed
  });
  private _wasReady: boolean;
  private _sidecarPid: number | null = null;
  private _changed = new Signal<IClusterModel, void>(this);
  private _isDisposed = false;
}

/** The code and message of whatever a request rejected with. */
export function toFailure(err: unknown): IRequestFailure {
  if (err instanceof SidecarRequestError) {
    return { code: err.code, message: err.message };
  }
  return {
    code: 'internal',
    message: err instanceof Error ? err.message : String(err)
  };
}

function isClusterStatus(value: unknown): value is IClusterStatus {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const s = value as Partial<IClusterStatus>;
  return (
    typeof s.name === 'string' &&
    typeof s.state === 'string' &&
    typeof s.since === 'number'
  );
}
