import { MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget, stopIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { toFailure } from '../clusters/model';
import { hpcIcon } from '../icons';
import { formatDuration, taskStateLabel } from './messages';
import { ITaskState, ITasksModel } from './tasks-model';

export interface ITaskViewOptions {
  tasks: ITasksModel;
  id: string;
  trans: TranslationBundle;
  /** Clock for the elapsed time; injectable for tests. */
  now?: () => number;
}

/**
 * The output of one install task as it streams in (task-output events),
 * backfilled with everything it printed before the view opened.
 */
export class TaskView extends ReactWidget {
  constructor(private readonly _options: ITaskViewOptions) {
    super();
    this.addClass('jp-HpcTask');
    _options.tasks.taskChanged.connect(this._onTask, this);
    this._backfilled = this._backfill();
  }

  /** Resolves once the output from the start is in (or failed to come). */
  get backfilled(): Promise<void> {
    return this._backfilled;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.tasks.taskChanged.disconnect(this._onTask, this);
    super.dispose();
  }

  protected render(): React.ReactElement {
    const { tasks, id, trans } = this._options;
    const state = tasks.task(id);
    return (
      <TaskOutput
        state={state}
        loadError={this._loadError}
        trans={trans}
        now={this._options.now ?? Date.now}
        cancel={() => void this._cancel()}
        cancelling={this._cancelling}
      />
    );
  }

  private async _backfill(): Promise<void> {
    this._loading = true;
    try {
      await this._options.tasks.loadTask(this._options.id);
      this._loadError = null;
    } catch (err) {
      this._loadError = toFailure(err).message;
    } finally {
      this._loading = false;
    }
    if (!this.isDisposed) {
      this.update();
    }
  }

  private async _cancel(): Promise<void> {
    const { tasks, id, trans } = this._options;
    this._cancelling = true;
    this.update();
    try {
      await tasks.cancelTask(id);
    } catch (err) {
      Notification.error(
        trans.__('The task could not be cancelled: %1', toFailure(err).message),
        { autoClose: false }
      );
    } finally {
      this._cancelling = false;
      if (!this.isDisposed) {
        this.update();
      }
    }
  }

  private _onTask(_: ITasksModel, state: ITaskState): void {
    if (state.task.id !== this._options.id) {
      return;
    }
    if (!state.complete && !this._loading) {
      // Output went by unseen (the event channel dropped): fetch it all.
      this._backfilled = this._backfill();
    }
    this.update();
  }

  private _loading = false;
  private _backfilled: Promise<void>;
  private _loadError: string | null = null;
  private _cancelling = false;
}

function TaskOutput(props: {
  state: ITaskState | null;
  loadError: string | null;
  trans: TranslationBundle;
  now: () => number;
  cancel: () => void;
  cancelling: boolean;
}): React.ReactElement {
  const { state, loadError, trans, cancelling } = props;
  const outputRef = React.useRef<HTMLPreElement>(null);
  // Follow the output while the user has not scrolled up to read.
  const stick = React.useRef(true);
  const length = state?.output.length ?? 0;
  React.useLayoutEffect(() => {
    const pre = outputRef.current;
    if (pre && stick.current) {
      pre.scrollTop = pre.scrollHeight;
    }
  }, [length]);

  if (!state) {
    return (
      <div className="jp-HpcTask-content">
        {loadError ? (
          <p className="jp-HpcTask-error" role="alert">
            {trans.__('This task is not known to the sidecar: %1', loadError)}
          </p>
        ) : (
          <p className="jp-HpcTask-step">{trans.__('Loading the task…')}</p>
        )}
      </div>
    );
  }
  const { task } = state;
  const running = task.state === 'running';
  const elapsed = (task.endedAt ?? props.now()) - task.startedAt;
  return (
    <div className="jp-HpcTask-content" data-state={task.state}>
      <header className="jp-HpcTask-header">
        <h2 className="jp-HpcTask-title">{task.title}</h2>
        <Button
          className="jp-HpcTask-cancel"
          minimal={true}
          disabled={!running || cancelling}
          title={trans.__('Stop this task')}
          onClick={props.cancel}
        >
          <stopIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
          {cancelling ? trans.__('Cancelling…') : trans.__('Cancel')}
        </Button>
      </header>
      <div
        className={`jp-HpcTask-state jp-mod-${toneOf(task.state)}`}
        role="status"
      >
        <span className="jp-HpcPanel-dot" aria-hidden="true" />
        <span className="jp-HpcTask-stateLabel">
          {taskStateLabel(task.state, trans)}
        </span>
        {task.step && <span className="jp-HpcTask-step">{task.step}</span>}
        <span className="jp-HpcTask-elapsed">
          {formatDuration(elapsed, trans)}
        </span>
      </div>
      {task.error && (
        <p className="jp-HpcTask-error" role="alert">
          {task.error.message}
        </p>
      )}
      {!state.complete && (
        <p className="jp-HpcTask-step">
          {trans.__('Earlier output is being fetched…')}
        </p>
      )}
      {state.complete && state.outputStart > 0 && (
        <p className="jp-HpcTask-step">
          {trans.__(
            'The first %1 characters of the output are no longer kept.',
            state.outputStart
          )}
        </p>
      )}
      <pre
        ref={outputRef}
        className="jp-HpcTask-output"
        aria-label={trans.__('Output')}
        tabIndex={0}
        onScroll={event => {
          const pre = event.currentTarget;
          stick.current =
            pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        }}
      >
        {state.output}
      </pre>
    </div>
  );
}

function toneOf(state: string): string {
  switch (state) {
    case 'running':
      return 'busy';
    case 'succeeded':
      return 'ok';
    case 'cancelled':
      return 'warning';
    default:
      return 'error';
  }
}

/** A main-area tab around a TaskView. */
export function createTaskWidget(
  options: ITaskViewOptions
): MainAreaWidget<TaskView> {
  const content = new TaskView(options);
  const widget = new MainAreaWidget({ content });
  widget.id = `jp-hpc-task-${options.id}`;
  widget.title.icon = hpcIcon;
  widget.title.closable = true;
  const retitle = () => {
    const task = options.tasks.task(options.id)?.task;
    widget.title.label = task?.title ?? options.trans.__('HPC task');
    widget.title.caption = task
      ? options.trans.__(
          '%1: %2',
          task.title,
          taskStateLabel(task.state, options.trans)
        )
      : '';
  };
  retitle();
  options.tasks.taskChanged.connect((_, state) => {
    if (state.task.id === options.id) {
      retitle();
    }
  }, widget);
  return widget;
}
