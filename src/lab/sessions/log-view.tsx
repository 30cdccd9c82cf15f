import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { toFailure } from '../clusters/model';
import { hpcIcon } from '../icons';
import { CommandIDs } from '../tokens';
import { sessionStatus, sessionTitle } from './messages';
import { ISessionChange, ISessionsModel } from './model';

export interface ISessionLogViewOptions {
  sessions: ISessionsModel;
  id: string;
  trans: TranslationBundle;
  /** Runs Open and Cancel from the view's header; none without it. */
  commands?: CommandRegistry | null;
  /** Milliseconds between reads while the job runs. */
  interval?: number;
  /** Clock for the times; injectable for tests. */
  now?: () => number;
}

/**
 * The log without the remote JupyterLab's token: jupyter_server prints its
 * URLs with `?token=…`, and a log on screen is read over shoulders, shared
 * in screenshots and pasted into tickets. Open gets the URL on its own.
 */
export function redactTokens(text: string): string {
  return text.replace(/([?&]token=)[^\s&#"'<>]+/g, '$1…');
}

/** The most of the log kept on the page; older text is dropped. */
const MAX_CHARS = 2_000_000;

/**
 * The output of a session's job (its `job.log` on the cluster), followed
 * by reading what was added every couple of seconds while the session
 * lives, and once more after it ended (the last lines say why).
 */
export class SessionLogView extends ReactWidget {
  constructor(private readonly _options: ISessionLogViewOptions) {
    super();
    this.addClass('jp-HpcTask');
    this.addClass('jp-HpcSessionLog');
    _options.sessions.sessionChanged.connect(this._onSession, this);
    this._following = this._follow();
  }

  /** Resolves once the view stopped reading (the session ended, or closed). */
  get following(): Promise<void> {
    return this._following;
  }

  /** The text read so far (shown with tokens redacted). */
  get text(): string {
    return this._text;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.sessions.sessionChanged.disconnect(this._onSession, this);
    super.dispose();
    this._wake();
  }

  protected render(): React.ReactElement {
    const { sessions, id, trans, commands } = this._options;
    const session = sessions.get(id);
    const now = (this._options.now ?? Date.now)();
    const status = session ? sessionStatus(session, now, trans) : null;
    const args = { id };
    const action = (command: string, label: string) =>
      commands && commands.hasCommand(command) ? (
        <Button
          small={true}
          className="jp-HpcPanel-action"
          disabled={!commands.isEnabled(command, args)}
          title={commands.caption(command, args)}
          onClick={() => void commands.execute(command, args)}
        >
          {label}
        </Button>
      ) : null;
    return (
      <div className="jp-HpcTask-content" data-phase={session?.phase ?? ''}>
        <header className="jp-HpcTask-header">
          <h2 className="jp-HpcTask-title">
            {session
              ? trans.__('Log of %1', sessionTitle(session, trans))
              : trans.__('Log of a session that is no longer listed')}
          </h2>
          {session?.phase === 'running' &&
            action(CommandIDs.openSession, trans.__('Open'))}
          {session &&
            session.phase !== 'ended' &&
            action(CommandIDs.cancelSession, trans.__('Cancel'))}
        </header>
        {status && (
          <div
            className={`jp-HpcTask-state jp-mod-${status.tone}`}
            role="status"
          >
            <span className="jp-HpcPanel-dot" aria-hidden="true" />
            <span className="jp-HpcTask-stateLabel">{status.label}</span>
            {status.detail && (
              <span className="jp-HpcTask-step">{status.detail}</span>
            )}
          </div>
        )}
        {this._error && (
          <p className="jp-HpcTask-error" role="alert">
            {this._error}
          </p>
        )}
        {this._dropped > 0 && (
          <p className="jp-HpcTask-step">
            {trans.__(
              'The first %1 characters are not shown, to keep this page light.',
              this._dropped
            )}
          </p>
        )}
        {this._text === '' && !this._error && (
          <p className="jp-HpcTask-step">
            {this._done
              ? trans.__('The job wrote nothing.')
              : trans.__('Waiting for the job to write something…')}
          </p>
        )}
        <LogOutput text={redactTokens(this._text)} label={trans.__('Output')} />
      </div>
    );
  }

  private async _follow(): Promise<void> {
    const { sessions, id, interval = 2000 } = this._options;
    while (!this.isDisposed) {
      const session = sessions.get(id);
      // A read that starts after the end is the last one.
      const last = session === null || session.phase === 'ended';
      let more = false;
      try {
        const chunk = await sessions.log(id, this._next);
        if (this.isDisposed) {
          return;
        }
        this._append(chunk.text);
        this._next = chunk.next;
        this._error = null;
        more = chunk.next < chunk.size && chunk.text.length > 0;
      } catch (err) {
        // Before the job starts there is no log yet: not an error then.
        if (last || this._text !== '') {
          this._error = this._options.trans.__(
            'The log could not be read: %1',
            toFailure(err).message
          );
        }
      }
      this.update();
      if (more) {
        continue;
      }
      if (last) {
        break;
      }
      await this._sleep(interval);
    }
    this._done = true;
    if (!this.isDisposed) {
      this.update();
    }
  }

  private _append(text: string): void {
    if (!text) {
      return;
    }
    this._text += text;
    if (this._text.length > MAX_CHARS) {
      const cut = this._text.length - MAX_CHARS;
      this._text = this._text.slice(cut);
      this._dropped += cut;
    }
  }

  private _sleep(ms: number): Promise<void> {
    return new Promise(resolve => {
      const timer = setTimeout(() => this._wake(), ms);
      this._wake = () => {
        clearTimeout(timer);
        this._wake = () => undefined;
        resolve();
      };
    });
  }

  private _onSession(_: ISessionsModel, change: ISessionChange): void {
    if (change.session.id !== this._options.id) {
      return;
    }
    if (change.session.phase === 'ended' || change.removed) {
      // Read the last lines now, not at the next tick.
      this._wake();
    }
    this.update();
  }

  private _following: Promise<void>;
  private _wake: () => void = () => undefined;
  private _text = '';
  private _dropped = 0;
  private _next = 0;
  private _error: string | null = null;
  private _done = false;
}

/** The log text, kept scrolled to the end unless the user scrolled up. */
function LogOutput(props: { text: string; label: string }): React.ReactElement {
  const ref = React.useRef<HTMLPreElement>(null);
  const stick = React.useRef(true);
  React.useLayoutEffect(() => {
    const pre = ref.current;
    if (pre && stick.current) {
      pre.scrollTop = pre.scrollHeight;
    }
  }, [props.text]);
  return (
    <pre
      ref={ref}
      className="jp-HpcTask-output"
      aria-label={props.label}
      tabIndex={0}
      onScroll={event => {
        const pre = event.currentTarget;
        stick.current =
          pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      }}
    >
      {props.text}
    </pre>
  );
}

/** A main-area tab around a SessionLogView. */
export function createSessionLogWidget(
  options: ISessionLogViewOptions
): MainAreaWidget<SessionLogView> {
  const content = new SessionLogView(options);
  const widget = new MainAreaWidget({ content });
  const { sessions, id, trans } = options;
  widget.id = `jp-hpc-session-log-${id}`;
  widget.title.icon = hpcIcon;
  widget.title.closable = true;
  const retitle = () => {
    const session = sessions.get(id);
    widget.title.label = session
      ? trans.__('Log: %1', sessionTitle(session, trans))
      : trans.__('Session log');
    widget.title.caption = session
      ? sessionStatus(session, Date.now(), trans).label
      : '';
  };
  retitle();
  sessions.sessionChanged.connect((_, change) => {
    if (change.session.id === id) {
      retitle();
    }
  }, widget);
  return widget;
}
