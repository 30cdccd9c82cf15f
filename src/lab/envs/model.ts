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

/** A task and the part of its output this page has. */
export interface ITaskState {
  task: ITask;
  /** The output this page has, from `outputStart` on. */
  output: string;
  /**
   * Where `output` starts in the task's whole output: more than 0 when the
   * beginning was dropped (the sidecar and this page keep the last 1 MiB).
   */
  outputStart: number;
  /** False when output between `outputStart` and now went by unseen. */
  complete: boolean;
  /** The environment it acts on, for the tasks started from this page. */
  prefix: string | null;
  /** Started from this page (so this page tells how it ended). */
  startedHere: boolean;
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
  /** A task started, changed state or has new output. */
  readonly taskChanged: ISignal<IEnvironmentsModel, ITaskState>;
  /** A task started from this page ended (succeeded, failed or cancelled). */
  readonly taskEnded: ISignal<IEnvironmentsModel, ITaskState>;
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
}

interface ITargetSlot extends IEnvTargetState {
  watched: boolean;
  dirty: boolean;
  wantRefresh: boolean;
  draining: Promise<void> | null;
}

/**
 * The conda environments of this computer and of each cluster, fetched
 * lazily (only targets someone looked at), re-fetched when the sidecar says
 * they changed, plus the streamed install tasks. Holds no user-facing text.
 */
export class EnvironmentsModel implements IEnvironmentsModel {
  constructor(options: IEnvironmentsModelOptions) {
    this._sidecar = options.sidecar;
    this._settings = options.settings;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._kernelspecs = options.kernelspecs ?? null;
    this._syncClusters = options.syncClusters ?? null;
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

  get taskChanged(): ISignal<IEnvironmentsModel, ITaskState> {
    return this._taskChanged;
  }

  get taskEnded(): ISignal<IEnvironmentsModel, ITaskState> {
    return this._taskEnded;
  }

  get targets(): readonly string[] {
    return [LOCAL_TARGET, ...this._settings.clusters.map(c => c.name)];
  }

  get tasks(): readonly ITaskState[] {
    return Array.from(this._tasks.values());
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
    slot.dirty = true;
    if (options.refresh) {
      slot.wantRefresh = true;
    }
    if (!slot.draining) {
      slot.draining = this._drain(target, slot);
    }
    return slot.draining;
  }

  isBusy(target: string, prefix: string, action?: EnvAction): boolean {
    const running = this._busy.get(busyKey(target, prefix));
    if (!running) {
      return false;
    }
    return action ? running.has(action) : running.size > 0;
  }

  async runAction<T>(
    target: string,
    prefix: string,
    action: EnvAction,
    run: () => Promise<T>
  ): Promise<T> {
    const key = busyKey(target, prefix);
    let running = this._busy.get(key);
    if (!running) {
      running = new Set();
      this._busy.set(key, running);
    }
    running.add(action);
    this._changed.emit(target);
    try {
      return await run();
    } finally {
      running.delete(action);
      if (running.size === 0) {
        this._busy.delete(key);
      }
      if (!this._isDisposed) {
        this._changed.emit(target);
      }
    }
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
      return this._started(task, prefix);
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
    return this._started(task, null);
  }

  task(id: string): ITaskState | null {
    return this._tasks.get(id) ?? null;
  }

  runningTask(
    target: string,
    kind: ITask['kind'],
    prefix?: string
  ): ITaskState | null {
    for (const state of this._tasks.values()) {
      if (
        state.task.state === 'running' &&
        state.task.target === target &&
        state.task.kind === kind &&
        (prefix === undefined || state.prefix === prefix)
      ) {
        return state;
      }
    }
    return null;
  }

  async loadTask(id: string): Promise<ITaskState> {
    const task = await requestSidecar<ITask>(
      Routes.task(id),
      {},
      this._serverSettings
    );
    const state = this._upsertTask(task);
    const output = task.output ?? '';
    const start = task.outputOffset ?? 0;
    // Output only grows: keep whichever of the two reaches further.
    if (start + output.length >= state.outputStart + state.output.length) {
      state.output = output;
      state.outputStart = start;
      state.complete = true;
      trimOutput(state);
    }
    this._taskChanged.emit(state);
    this._changed.emit('');
    return state;
  }

  async cancelTask(id: string): Promise<void> {
    const task = await requestSidecar<ITask | null>(
      Routes.task(id),
      { method: 'DELETE' },
      this._serverSettings
    );
    if (isTask(task)) {
      this._applyTask(task);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
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
        dirty: false,
        wantRefresh: false,
        draining: null
      };
      this._slots.set(target, slot);
    }
    return slot;
  }

  private async _drain(target: string, slot: ITargetSlot): Promise<void> {
    try {
      while (slot.dirty && !this._isDisposed) {
        slot.dirty = false;
        const refresh = slot.wantRefresh;
        slot.wantRefresh = false;
        await this._fetch(target, slot, refresh);
      }
    } finally {
      slot.draining = null;
    }
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

  private _started(task: ITask, prefix: string | null): ITaskState {
    const state = this._upsertTask(task);
    state.prefix = prefix;
    state.startedHere = true;
    this._taskChanged.emit(state);
    this._changed.emit(task.target);
    // It may have ended before its answer arrived (events came first).
    if (state.task.state !== 'running') {
      this._ended(state);
    }
    return state;
  }

  private _upsertTask(task: ITask): ITaskState {
    const bare: ITask = { ...task };
    delete bare.output;
    delete bare.outputOffset;
    let state = this._tasks.get(task.id);
    if (state && state.task.state !== 'running' && bare.state === 'running') {
      // An answer older than the events that ended it: a task never restarts.
      return state;
    }
    if (!state) {
      state = {
        task: bare,
        output: '',
        outputStart: 0,
        complete: task.outputLength === 0,
        prefix: task.prefix ?? null,
        startedHere: false
      };
      this._tasks.set(task.id, state);
    } else {
      state.task = bare;
    }
    return state;
  }

  private _applyTask(task: ITask): void {
    const before = this._tasks.get(task.id)?.task.state;
    const state = this._upsertTask(task);
    this._taskChanged.emit(state);
    this._changed.emit(task.target);
    if (before === 'running' && task.state !== 'running') {
      this._ended(state);
    }
  }

  private _ended(state: ITaskState): void {
    if (state.task.state === 'succeeded') {
      // The task changed what is installed: rescan what is shown.
      const target = state.task.target;
      if (this.isWatched(target)) {
        void this.load(target, { refresh: true });
      }
    }
    if (state.startedHere && !this._endedTasks.has(state.task.id)) {
      this._endedTasks.add(state.task.id);
      this._taskEnded.emit(state);
    }
  }

  private _appendOutput(id: string, offset: number, text: string): void {
    const state = this._tasks.get(id);
    if (!state) {
      return;
    }
    const end = state.outputStart + state.output.length;
    if (offset > end) {
      // Some output went by unseen: only a view that fetches it has it all.
      if (state.complete) {
        state.complete = false;
        this._taskChanged.emit(state);
      }
      return;
    }
    if (offset + text.length <= end) {
      return; // already known (a fetch overtook the event)
    }
    state.output += text.slice(end - offset);
    trimOutput(state);
    this._taskChanged.emit(state);
  }

  private async _loadTasks(): Promise<void> {
    let tasks: unknown;
    try {
      tasks = await requestSidecar<unknown>(
        Routes.tasks,
        {},
        this._serverSettings
      );
    } catch {
      return; // events keep what this page knows current
    }
    if (Array.isArray(tasks)) {
      tasks.filter(isTask).forEach(t => this._applyTask(t));
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
        void this._loadTasks();
        break;
      case 'envs-changed':
        if (event.kernelsChanged) {
          this._kernelsChanged(event.target);
        }
        if (this.isWatched(event.target)) {
          void this.load(event.target);
        }
        break;
      case 'task':
        if (isTask(event.task)) {
          this._applyTask(event.task);
        }
        break;
      case 'task-output':
        if (
          typeof event.offset === 'number' &&
          typeof event.text === 'string'
        ) {
          this._appendOutput(event.id, event.offset, event.text);
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
  private _busy = new Map<string, Set<EnvAction>>();
  private _tasks = new Map<string, ITaskState>();
  private _endedTasks = new Set<string>();
  private _wasReady: boolean;
  private _changed = new Signal<IEnvironmentsModel, string>(this);
  private _taskChanged = new Signal<IEnvironmentsModel, ITaskState>(this);
  private _taskEnded = new Signal<IEnvironmentsModel, ITaskState>(this);
  private _isDisposed = false;
}

const busyKey = (target: string, prefix: string) => `${target}\n${prefix}`;

/** The most output a page keeps per task, as the sidecar does (1 MiB). */
export const MAX_TASK_OUTPUT = 1024 * 1024;

function trimOutput(state: ITaskState): void {
  const extra = state.output.length - MAX_TASK_OUTPUT;
  if (extra > 0) {
    state.output = state.output.slice(extra);
    state.outputStart += extra;
  }
}

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

export function isTask(value: unknown): value is ITask {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const t = value as Partial<ITask>;
  return (
    typeof t.id === 'string' &&
    typeof t.state === 'string' &&
    typeof t.target === 'string'
  );
}
