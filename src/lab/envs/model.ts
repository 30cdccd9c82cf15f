import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ICondaEnvironment,
  IEnvironmentList,
  IInstallIpykernelRequest,
  IInstallMiniforgeRequest,
  IRegisterKernelRequest,
  IRegisterKernelResult,
  ITask,
  LOCAL_TARGET,
  Routes,
  SidecarEvent
} from '../../common/api';
import { IRequestFailure, toFailure } from '../clusters/model';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { requestSidecar, SidecarRequestError } from '../sidecar/request';
import { BusyTracker } from '../util/busy';
import { Coalescer } from '../util/coalesce';
import { ITaskState, ITasksModel, TasksModel } from './tasks-model';

export {
  ITaskState,
  ITasksModel,
  MAX_TASK_OUTPUT,
  isTask
} from './tasks-model';

/** What a user can do to one environment; at most one of each at a time. */
export type EnvAction =
  'register' | 'unregister' | 'install-ipykernel' | 'use-for-jupyterlab';

/** The environments of one target (this computer or a cluster). */
export interface IEnvTargetState {
  /** The last list the sidecar sent; kept while a new one loads. */
  list: IEnvironmentList | null;
  /** A request for the list is on its way. */
  loading: boolean;
  /** That request asked for a rescan (`?refresh=1`). */
  refreshing: boolean;
  /** Why the last request failed; cleared by the next answer. */
  error: IRequestFailure | null;
}

/** The part of JupyterLab's KernelSpec.IManager the model uses. */
export interface IKernelspecRefresher {
  refreshSpecs(): Promise<void>;
}

export interface IEnvironmentsModel extends IDisposable {
  /** True while the sidecar is ready to take requests. */
  readonly available: boolean;
  /** Emitted with the target whose state changed ('' for tasks only). */
  readonly changed: ISignal<IEnvironmentsModel, string>;
  /** The install tasks; the task members below are its, for the views. */
  readonly taskModel: ITasksModel;
  /** A task started, changed state or has new output. */
  readonly taskChanged: ISignal<ITasksModel, ITaskState>;
  /** A task started from this page ended (succeeded, failed or cancelled). */
  readonly taskEnded: ISignal<ITasksModel, ITaskState>;
  /** The targets that can have environments: this computer, then the clusters. */
  readonly targets: readonly string[];
  state(target: string): IEnvTargetState;
  /** An environment of the last list, by prefix. */
  env(target: string, prefix: string): ICondaEnvironment | null;
  /** Whether the list of `target` was ever asked for (and so is followed). */
  isWatched(target: string): boolean;
  /**
   * Fetch the list (a rescan with `refresh`). Never rejects: a failure is
   * kept in `state(target).error`. Concurrent calls share one request.
   */
  load(target: string, options?: { refresh?: boolean }): Promise<void>;
  isBusy(target: string, prefix: string, action?: EnvAction): boolean;
  /** Each of these rejects with a SidecarRequestError that says why. */
  register(
    target: string,
    request: IRegisterKernelRequest
  ): Promise<IRegisterKernelResult>;
  unregister(target: string, kernelName: string): Promise<void>;
  installIpykernel(target: string, prefix: string): Promise<ITaskState>;
  installMiniforge(
    cluster: string,
    request: IInstallMiniforgeRequest
  ): Promise<ITaskState>;
  /** Mark an action on an environment as running while `run` runs. */
  runAction<T>(
    target: string,
    prefix: string,
    action: EnvAction,
    run: () => Promise<T>
  ): Promise<T>;
  /** Every task seen, oldest first. */
  readonly tasks: readonly ITaskState[];
  task(id: string): ITaskState | null;
  /** The running task of `kind` on `target` (and `prefix`, when given). */
  runningTask(
    target: string,
    kind: ITask['kind'],
    prefix?: string
  ): ITaskState | null;
  /** Fetch a task with its whole output (for a view that shows it). */
  loadTask(id: string): Promise<ITaskState>;
  cancelTask(id: string): Promise<void>;
}

export interface IEnvironmentsModelOptions {
  sidecar: ISidecarModel;
  settings: IClusterSettings;
  serverSettings?: ServerConnection.ISettings;
  /**
   * JupyterLab's kernelspec manager: refreshed as soon as a local kernelspec
   * changes, so the kernel picker and the launcher show it at once instead
   * of after JupyterLab's next poll (~61 s).
   */
  kernelspecs?: IKernelspecRefresher | null;
  /**
   * Hand the clusters to the sidecar again (IClusterModel.sync); run once
   * before retrying a request the sidecar answered with `unknown-cluster`.
   */
  syncClusters?: () => Promise<void>;
  /** The tasks model to start tasks in; one of its own without it. */
  tasks?: ITasksModel | null;
}

interface ITargetSlot extends IEnvTargetState {
  watched: boolean;
  wantRefresh: boolean;
  fetches: Coalescer;
}

/**
 * The conda environments of this computer and of each cluster, fetched
 * lazily (only targets someone looked at), re-fetched when the sidecar says
 * they changed or a task succeeded, and the actions on them. The tasks
 * themselves live in an ITasksModel. Holds no user-facing text.
 */
export class EnvironmentsModel implements IEnvironmentsModel {
  constructor(options: IEnvironmentsModelOptions) {
    this._sidecar = options.sidecar;
    this._settings = options.settings;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._kernelspecs = options.kernelspecs ?? null;
    this._syncClusters = options.syncClusters ?? null;
    this._ownsTasks = !options.tasks;
    this._tasks =
      options.tasks ??
      new TasksModel({
        sidecar: options.sidecar,
        serverSettings: this._serverSettings
      });
    this._tasks.changed.connect(this._onTasksChanged, this);
    this._tasks.taskSucceeded.connect(this._onTaskSucceeded, this);
    this._sidecar.event.connect(this._onEvent, this);
    this._sidecar.stateChanged.connect(this._onSidecarState, this);
    this._settings.changed.connect(this._onSettingsChanged, this);
    this._wasReady = this.available;
  }

  get available(): boolean {
    return this._sidecar.state.status === 'ready';
  }

  get changed(): ISignal<IEnvironmentsModel, string> {
    return this._changed;
  }

  get taskModel(): ITasksModel {
    return this._tasks;
  }

  get taskChanged(): ISignal<ITasksModel, ITaskState> {
    return this._tasks.taskChanged;
  }

  get taskEnded(): ISignal<ITasksModel, ITaskState> {
    return this._tasks.taskEnded;
  }

  get targets(): readonly string[] {
    return [LOCAL_TARGET, ...this._settings.clusters.map(c => c.name)];
  }

  get tasks(): readonly ITaskState[] {
    return this._tasks.tasks;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  state(target: string): IEnvTargetState {
    const slot = this._slots.get(target);
    if (!slot) {
      return { list: null, loading: false, refreshing: false, error: null };
    }
    const { list, loading, refreshing, error } = slot;
    return { list, loading, refreshing, error };
  }

  env(target: string, prefix: string): ICondaEnvironment | null {
    const list = this._slots.get(target)?.list;
    return list?.envs.find(e => e.prefix === prefix) ?? null;
  }

  isWatched(target: string): boolean {
    return this._slots.get(target)?.watched ?? false;
  }

  load(target: string, options: { refresh?: boolean } = {}): Promise<void> {
    const slot = this._slot(target);
    slot.watched = true;
    if (options.refresh) {
      slot.wantRefresh = true;
    }
    return slot.fetches.request();
  }

  isBusy(target: string, prefix: string, action?: EnvAction): boolean {
    return this._busy.isBusy(busyKey(target, prefix), action);
  }

  runAction<T>(
    target: string,
    prefix: string,
    action: EnvAction,
    run: () => Promise<T>
  ): Promise<T> {
    return this._busy.run(busyKey(target, prefix), action, run, () => {
      if (!this._isDisposed) {
        this._changed.emit(target);
      }
    });
  }

  register(
    target: string,
    request: IRegisterKernelRequest
  ): Promise<IRegisterKernelResult> {
    return this.runAction(target, request.prefix, 'register', async () => {
      const result = await this._request<IRegisterKernelResult>(
        target,
        Routes.kernels(target),
        { method: 'POST', body: JSON.stringify(request) }
      );
      // Show it at once; the list that follows confirms it.
      this._patchList(target, list => ({
        ...list,
        envs: list.envs.map(e =>
          e.prefix === request.prefix ? { ...e, registered: result.kernel } : e
        ),
        kernelspecs: [
          ...list.kernelspecs.filter(k => k.name !== result.kernel.name),
          result.kernel
        ]
      }));
      this._kernelsChanged(target);
      void this.load(target);
      return result;
    });
  }

  async unregister(target: string, kernelName: string): Promise<void> {
    const owner = this._slots
      .get(target)
      ?.list?.envs.find(e => e.registered?.name === kernelName);
    const run = async () => {
      await this._request<unknown>(target, Routes.kernel(target, kernelName), {
        method: 'DELETE'
      });
      this._patchList(target, list => ({
        ...list,
        envs: list.envs.map(e =>
          e.registered?.name === kernelName ? { ...e, registered: null } : e
        ),
        kernelspecs: list.kernelspecs.filter(k => k.name !== kernelName)
      }));
      this._kernelsChanged(target);
      void this.load(target);
    };
    if (owner) {
      await this.runAction(target, owner.prefix, 'unregister', run);
    } else {
      await run();
    }
  }

  installIpykernel(target: string, prefix: string): Promise<ITaskState> {
    return this.runAction(target, prefix, 'install-ipykernel', async () => {
      const body: IInstallIpykernelRequest = { prefix };
      const task = await this._request<ITask>(
        target,
        Routes.installIpykernel(target),
        { method: 'POST', body: JSON.stringify(body) }
      );
      return this._tasks.started(task, prefix);
    });
  }

  async installMiniforge(
    cluster: string,
    request: IInstallMiniforgeRequest
  ): Promise<ITaskState> {
    const task = await this._request<ITask>(
      cluster,
      Routes.installMiniforge(cluster),
      { method: 'POST', body: JSON.stringify(request) }
    );
    return this._tasks.started(task, null);
  }

  task(id: string): ITaskState | null {
    return this._tasks.task(id);
  }

  runningTask(
    target: string,
    kind: ITask['kind'],
    prefix?: string
  ): ITaskState | null {
    return this._tasks.runningTask(target, kind, prefix);
  }

  loadTask(id: string): Promise<ITaskState> {
    return this._tasks.loadTask(id);
  }

  cancelTask(id: string): Promise<void> {
    return this._tasks.cancelTask(id);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._tasks.changed.disconnect(this._onTasksChanged, this);
    this._tasks.taskSucceeded.disconnect(this._onTaskSucceeded, this);
    if (this._ownsTasks) {
      this._tasks.dispose();
    }
    this._sidecar.event.disconnect(this._onEvent, this);
    this._sidecar.stateChanged.disconnect(this._onSidecarState, this);
    this._settings.changed.disconnect(this._onSettingsChanged, this);
    Signal.clearData(this);
  }

  private _slot(target: string): ITargetSlot {
    let slot = this._slots.get(target);
    if (!slot) {
      slot = {
        list: null,
        loading: false,
        refreshing: false,
        error: null,
        watched: false,
        wantRefresh: false,
        fetches: new Coalescer({
          work: (): Promise<void> => {
            const refresh = created.wantRefresh;
            created.wantRefresh = false;
            return this._fetch(target, created, refresh);
          },
          stopped: () => this._isDisposed
        })
      };
      const created: ITargetSlot = slot;
      this._slots.set(target, slot);
    }
    return slot;
  }

  private async _fetch(
    target: string,
    slot: ITargetSlot,
    refresh: boolean
  ): Promise<void> {
    if (!this.available) {
      return;
    }
    slot.loading = true;
    slot.refreshing = refresh;
    this._changed.emit(target);
    try {
      const path = Routes.envs(target) + (refresh ? '?refresh=1' : '');
      const list = await this._request<IEnvironmentList>(target, path);
      if (this._slots.get(target) !== slot) {
        return; // the cluster was removed meanwhile
      }
      slot.list = isEnvironmentList(list) ? list : null;
      slot.error = isEnvironmentList(list)
        ? null
        : {
            code: 'internal',
            message: 'The sidecar sent no environment list.'
          };
    } catch (err) {
      slot.error = toFailure(err);
    } finally {
      slot.loading = false;
      slot.refreshing = false;
      if (!this._isDisposed) {
        this._changed.emit(target);
      }
    }
  }

  /**
   * A request about a target. A cluster the sidecar does not know yet (just
   * added, or the sidecar restarted) is handed over once and tried again.
   */
  private async _request<T>(
    target: string,
    path: string,
    init: RequestInit = {}
  ): Promise<T> {
    const send = () => requestSidecar<T>(path, init, this._serverSettings);
    try {
      return await send();
    } catch (err) {
      if (
        target !== LOCAL_TARGET &&
        this._syncClusters &&
        err instanceof SidecarRequestError &&
        err.code === 'unknown-cluster'
      ) {
        await this._syncClusters();
        return send();
      }
      throw err;
    }
  }

  private _patchList(
    target: string,
    patch: (list: IEnvironmentList) => IEnvironmentList
  ): void {
    const slot = this._slots.get(target);
    if (slot?.list) {
      slot.list = patch(slot.list);
      this._changed.emit(target);
    }
  }

  /** A kernelspec of `target` was added or removed. */
  private _kernelsChanged(target: string): void {
    if (target === LOCAL_TARGET && this._kernelspecs) {
      void this._kernelspecs.refreshSpecs().catch(() => undefined);
    }
  }

  private _onTasksChanged(_: ITasksModel, target: string): void {
    this._changed.emit(target);
  }

  private _onTaskSucceeded(_: ITasksModel, state: ITaskState): void {
    // The task changed what is installed: rescan what is shown.
    const target = state.task.target;
    if (this.isWatched(target)) {
      void this.load(target, { refresh: true });
    }
  }

  private _onEvent(_: ISidecarModel, event: SidecarEvent): void {
    switch (event.type) {
      case 'hello':
        // A new event connection: whatever changed meanwhile went unseen.
        for (const [target, slot] of this._slots) {
          if (slot.watched) {
            void this.load(target);
          }
        }
        break;
      case 'envs-changed':
        if (event.kernelsChanged) {
          this._kernelsChanged(event.target);
        }
        if (this.isWatched(event.target)) {
          void this.load(event.target);
        }
        break;
      default:
        break;
    }
  }

  private _onSidecarState(_: ISidecarModel, state: SidecarState): void {
    const ready = state.status === 'ready';
    if (ready !== this._wasReady) {
      this._wasReady = ready;
      // Commands and views enable or disable their actions.
      for (const target of this._slots.keys()) {
        this._changed.emit(target);
      }
      this._changed.emit('');
    }
  }

  private _onSettingsChanged(): void {
    const known = new Set(this.targets);
    for (const target of Array.from(this._slots.keys())) {
      if (!known.has(target)) {
        this._slots.delete(target);
      }
    }
    this._changed.emit('');
  }

  private _sidecar: ISidecarModel;
  private _settings: IClusterSettings;
  private _serverSettings: ServerConnection.ISettings;
  private _kernelspecs: IKernelspecRefresher | null;
  private _syncClusters: (() => Promise<void>) | null;
  private _slots = new Map<string, ITargetSlot>();
  private _busy = new BusyTracker<EnvAction>();
  private _tasks: ITasksModel;
  private _ownsTasks: boolean;
  private _wasReady: boolean;
  private _changed = new Signal<IEnvironmentsModel, string>(this);
  private _isDisposed = false;
}

const busyKey = (target: string, prefix: string) => `${target}\n${prefix}`;

export function isEnvironmentList(value: unknown): value is IEnvironmentList {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const l = value as Partial<IEnvironmentList>;
  return (
    Array.isArray(l.envs) &&
    Array.isArray(l.kernelspecs) &&
    typeof l.tools === 'object' &&
    l.tools !== null
  );
}
