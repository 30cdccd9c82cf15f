import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ITask, Routes, SidecarEvent } from '../../common/api';
import { ISidecarModel } from '../sidecar/model';
import { requestSidecar } from '../sidecar/request';

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

export interface ITasksModel extends IDisposable {
  /** Emitted with the target of a task that started or changed state ('' after a fetch). */
  readonly changed: ISignal<ITasksModel, string>;
  /** A task started, changed state or has new output. */
  readonly taskChanged: ISignal<ITasksModel, ITaskState>;
  /** A task started from this page ended (succeeded, failed or cancelled). */
  readonly taskEnded: ISignal<ITasksModel, ITaskState>;
  /** Any task succeeded while this page watched: what is installed changed. */
  readonly taskSucceeded: ISignal<ITasksModel, ITaskState>;
  /** Every task seen, oldest first. */
  readonly tasks: readonly ITaskState[];
  task(id: string): ITaskState | null;
  /** The running task of `kind` on `target` (and `prefix`, when given). */
  runningTask(
    target: string,
    kind: ITask['kind'],
    prefix?: string
  ): ITaskState | null;
  /** Record a task this page started (the sidecar's answer to the start). */
  started(task: ITask, prefix: string | null): ITaskState;
  /** Fetch a task with its whole output (for a view that shows it). */
  loadTask(id: string): Promise<ITaskState>;
  cancelTask(id: string): Promise<void>;
}

export interface ITasksModelOptions {
  sidecar: ISidecarModel;
  serverSettings?: ServerConnection.ISettings;
}

/**
 * The sidecar's tasks as this page knows them: started here or seen in the
 * event stream, with the output streamed since. A new event connection
 * (`hello`) fetches the list again, since events went by unseen meanwhile.
 */
export class TasksModel implements ITasksModel {
  constructor(options: ITasksModelOptions) {
    this._sidecar = options.sidecar;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._sidecar.event.connect(this._onEvent, this);
  }

  get changed(): ISignal<ITasksModel, string> {
    return this._changed;
  }

  get taskChanged(): ISignal<ITasksModel, ITaskState> {
    return this._taskChanged;
  }

  get taskEnded(): ISignal<ITasksModel, ITaskState> {
    return this._taskEnded;
  }

  get taskSucceeded(): ISignal<ITasksModel, ITaskState> {
    return this._taskSucceeded;
  }

  get tasks(): readonly ITaskState[] {
    return Array.from(this._tasks.values());
  }

  get isDisposed(): boolean {
    return this._isDisposed;
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

  started(task: ITask, prefix: string | null): ITaskState {
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
    Signal.clearData(this);
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
      this._taskSucceeded.emit(state);
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
        void this._loadTasks();
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

  private _sidecar: ISidecarModel;
  private _serverSettings: ServerConnection.ISettings;
  private _tasks = new Map<string, ITaskState>();
  private _endedTasks = new Set<string>();
  private _changed = new Signal<ITasksModel, string>(this);
  private _taskChanged = new Signal<ITasksModel, ITaskState>(this);
  private _taskEnded = new Signal<ITasksModel, ITaskState>(this);
  private _taskSucceeded = new Signal<ITasksModel, ITaskState>(this);
  private _isDisposed = false;
}

/** The most output a page keeps per task, as the sidecar does (1 MiB). */
export const MAX_TASK_OUTPUT = 1024 * 1024;

function trimOutput(state: ITaskState): void {
  const extra = state.output.length - MAX_TASK_OUTPUT;
  if (extra > 0) {
    state.output = state.output.slice(extra);
    state.outputStart += extra;
  }
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
