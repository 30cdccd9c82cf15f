import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IAllocationInfo,
  IAllocationList,
  IKernelProfile,
  IKernelProfileList,
  IKernelProfileRequest,
  IKernelStartInfo,
  IKernelStartList,
  Routes,
  SidecarEvent
} from '../../common/api';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { requestSidecar } from '../sidecar/request';
import { Coalescer } from '../util/coalesce';

/** The states of a start the Jupyter server still waits for. */
const WAITING = new Set<IKernelStartInfo['state']>([
  'waiting',
  'queued',
  'starting'
]);

/** Whether the Jupyter server still waits for this start. */
export function isWaiting(start: IKernelStartInfo): boolean {
  return WAITING.has(start.state);
}

/** The part of JupyterLab's KernelSpecManager the model uses. */
export interface IKernelSpecsLike {
  refreshSpecs(): Promise<void>;
}

export interface IKernelsModel extends IDisposable {
  /** Every kernel profile, by display name. */
  readonly profiles: readonly IKernelProfile[];
  /** Every allocation the sidecar holds or held, oldest first. */
  readonly allocations: readonly IAllocationInfo[];
  /** The starts the Jupyter server waits for, oldest first. */
  readonly starts: readonly IKernelStartInfo[];
  /** True while the sidecar is ready to take requests. */
  readonly available: boolean;
  /** Emitted after any change of the lists. */
  readonly changed: ISignal<IKernelsModel, void>;
  /** Every news of a start, the last one (started, failed, cancelled) too. */
  readonly startChanged: ISignal<IKernelsModel, IKernelStartInfo>;
  profile(id: string): IKernelProfile | null;
  /** The profiles of a cluster, or of one of its environments. */
  profilesFor(cluster: string, environment?: string): IKernelProfile[];
  allocation(id: string): IAllocationInfo | null;
  /** Read the lists again from the sidecar. */
  refresh(): Promise<void>;
  /**
   * Add a profile (its kernelspec is written). Rejects with a
   * SidecarRequestError `profile-invalid` with `problems`.
   */
  addProfile(request: IKernelProfileRequest): Promise<IKernelProfile>;
  updateProfile(
    id: string,
    request: IKernelProfileRequest
  ): Promise<IKernelProfile>;
  removeProfile(id: string): Promise<void>;
  /** End the allocation (scancel): its kernels end. */
  endAllocation(id: string): Promise<IAllocationInfo>;
  /** Give up a waiting start: the notebook's kernel error says "cancelled". */
  cancelStart(kernelId: string): Promise<void>;
}

export interface IKernelsModelOptions {
  sidecar: ISidecarModel;
  serverSettings?: ServerConnection.ISettings;
  /** Refreshed after every profile change so the picker follows at once. */
  kernelspecs?: IKernelSpecsLike | null;
}

/**
 * Cluster kernels as the sidecar sees them: profiles (kernelspecs),
 * allocations and waiting starts, kept current by the `kernel-profile`,
 * `kernel-allocation` and `kernel-start` events and read again whenever
 * the sidecar (re)connects.
 */
export class KernelsModel implements IKernelsModel {
  constructor(options: IKernelsModelOptions) {
    this._sidecar = options.sidecar;
    this._kernelspecs = options.kernelspecs ?? null;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._sidecar.stateChanged.connect(this._onSidecarState, this);
    this._sidecar.event.connect(this._onEvent, this);
    this._wasReady = this.available;
    if (this.available) {
      void this.refresh().catch(() => undefined);
    }
  }

  get profiles(): readonly IKernelProfile[] {
    return [...this._profiles.values()].sort(
      (a, b) =>
        a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id)
    );
  }

  get allocations(): readonly IAllocationInfo[] {
    return [...this._allocations.values()].sort(
      (a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)
    );
  }

  get starts(): readonly IKernelStartInfo[] {
    return [...this._starts.values()].sort((a, b) => a.at - b.at);
  }

  get available(): boolean {
    return this._sidecar.state.status === 'ready';
  }

  get changed(): ISignal<IKernelsModel, void> {
    return this._changed;
  }

  get startChanged(): ISignal<IKernelsModel, IKernelStartInfo> {
    return this._startChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  profile(id: string): IKernelProfile | null {
    return this._profiles.get(id) ?? null;
  }

  profilesFor(cluster: string, environment?: string): IKernelProfile[] {
    return this.profiles.filter(
      p =>
        p.cluster === cluster &&
        (environment === undefined || p.environment === environment)
    );
  }

  allocation(id: string): IAllocationInfo | null {
    return this._allocations.get(id) ?? null;
  }

  refresh(): Promise<void> {
    return this._refreshes.request();
  }

  async addProfile(request: IKernelProfileRequest): Promise<IKernelProfile> {
    const profile = await this._request<IKernelProfile>(Routes.kernelProfiles, {
      method: 'POST',
      body: JSON.stringify(request)
    });
    this._applyProfile(profile, false);
    await this._refreshSpecs();
    return profile;
  }

  async updateProfile(
    id: string,
    request: IKernelProfileRequest
  ): Promise<IKernelProfile> {
    const profile = await this._request<IKernelProfile>(
      Routes.kernelProfile(id),
      { method: 'PUT', body: JSON.stringify(request) }
    );
    this._applyProfile(profile, false);
    await this._refreshSpecs();
    return profile;
  }

  async removeProfile(id: string): Promise<void> {
    await this._request(Routes.kernelProfile(id), { method: 'DELETE' });
    const known = this._profiles.get(id);
    if (known) {
      this._applyProfile(known, true);
    }
    await this._refreshSpecs();
  }

  async endAllocation(id: string): Promise<IAllocationInfo> {
    const allocation = await this._request<IAllocationInfo>(
      Routes.kernelAllocation(id),
      { method: 'DELETE' }
    );
    this._applyAllocation(allocation, false);
    return allocation;
  }

  async cancelStart(kernelId: string): Promise<void> {
    await this._request(Routes.kernelStartCancel(kernelId), {
      method: 'POST'
    });
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._sidecar.stateChanged.disconnect(this._onSidecarState, this);
    this._sidecar.event.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  private async _refreshOnce(): Promise<void> {
    if (!this.available) {
      return;
    }
    const [profiles, allocations, starts] = await Promise.all([
      this._request<IKernelProfileList>(Routes.kernelProfiles),
      this._request<IAllocationList>(Routes.kernelAllocations),
      this._request<IKernelStartList>(Routes.kernelStarts)
    ]);
    if (this._isDisposed) {
      return;
    }
    this._profiles = new Map(profiles.profiles.map(p => [p.id, p]));
    this._allocations = new Map(allocations.allocations.map(a => [a.id, a]));
    const listed = new Map(
      starts.starts.filter(isWaiting).map(s => [s.kernelId, s])
    );
    // A start the list no longer has ended while nobody listened: its
    // views must let go of it.
    for (const [id, start] of this._starts) {
      if (!listed.has(id)) {
        this._startChanged.emit({ ...start, state: 'cancelled' });
      }
    }
    this._starts = listed;
    for (const start of listed.values()) {
      this._startChanged.emit(start);
    }
    this._changed.emit();
  }

  private _applyProfile(profile: IKernelProfile, removed: boolean): void {
    if (this._isDisposed) {
      return;
    }
    if (removed) {
      if (!this._profiles.delete(profile.id)) {
        return;
      }
    } else {
      const known = this._profiles.get(profile.id);
      if (known && known.updatedAt > profile.updatedAt) {
        return;
      }
      this._profiles.set(profile.id, profile);
    }
    this._changed.emit();
  }

  private _applyAllocation(allocation: IAllocationInfo, removed: boolean) {
    if (this._isDisposed) {
      return;
    }
    if (removed) {
      if (!this._allocations.delete(allocation.id)) {
        return;
      }
    } else {
      const known = this._allocations.get(allocation.id);
      // An ended allocation never comes back to life (events and answers
      // can cross).
      if (known?.phase === 'ended' && allocation.phase !== 'ended') {
        return;
      }
      this._allocations.set(allocation.id, allocation);
    }
    this._changed.emit();
  }

  private _applyStart(start: IKernelStartInfo): void {
    if (this._isDisposed) {
      return;
    }
    if (isWaiting(start)) {
      this._starts.set(start.kernelId, start);
    } else {
      this._starts.delete(start.kernelId);
    }
    this._startChanged.emit(start);
    this._changed.emit();
  }

  private async _refreshSpecs(): Promise<void> {
    await this._kernelspecs?.refreshSpecs().catch(() => undefined);
  }

  private _request<T>(path: string, init: RequestInit = {}): Promise<T> {
    return requestSidecar<T>(path, init, this._serverSettings);
  }

  private _onSidecarState(_: ISidecarModel, state: SidecarState): void {
    const ready = state.status === 'ready';
    if (ready && !this._wasReady) {
      void this.refresh().catch(() => undefined);
    }
    this._wasReady = ready;
  }

  private _onEvent(_: ISidecarModel, event: SidecarEvent): void {
    switch (event.type) {
      case 'hello':
        void this.refresh().catch(() => undefined);
        break;
      case 'kernel-profile':
        this._applyProfile(event.profile, event.removed === true);
        // Another tab or the sidecar changed a kernelspec: the picker follows.
        void this._refreshSpecs();
        break;
      case 'kernel-allocation':
        this._applyAllocation(event.allocation, event.removed === true);
        break;
      case 'kernel-start':
        this._applyStart(event.start);
        break;
      default:
        break;
    }
  }

  private _sidecar: ISidecarModel;
  private _kernelspecs: IKernelSpecsLike | null;
  private _serverSettings: ServerConnection.ISettings;
  private _profiles = new Map<string, IKernelProfile>();
  private _allocations = new Map<string, IAllocationInfo>();
  private _starts = new Map<string, IKernelStartInfo>();
  private _wasReady = false;
  private _refreshes = new Coalescer({
    work: () => this._refreshOnce(),
    stopped: () => this._isDisposed
  });
  private _changed = new Signal<IKernelsModel, void>(this);
  private _startChanged = new Signal<IKernelsModel, IKernelStartInfo>(this);
  private _isDisposed = false;
}
