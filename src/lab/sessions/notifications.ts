import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { ISessionInfo, IStateProblem } from '../../common/api';
import { CommandIDs } from '../tokens';
import {
  formatSpan,
  formatWhen,
  isFailure,
  secondsLeft,
  sessionTitle
} from './messages';
import { ISessionChange, ISessionsModel } from './model';

export interface ISessionNotifierOptions {
  sessions: ISessionsModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** Minutes before the wall time to warn at; [] for none. */
  minutesBeforeWallTime?: readonly number[];
  /** Clock; injectable for tests (jest's fake timers move Date.now too). */
  now?: () => number;
}

/** Phases in which a session may be warned about its wall time. */
const WARNED_PHASES = new Set(['starting', 'connecting', 'running']);

interface ISessionMemory {
  /** The toast shown last about it: a newer one replaces it. */
  toast: string | null;
  /** What was announced already: each once per session. */
  announced: Set<'running' | 'ended'>;
  /** It was seen running. */
  ran: boolean;
  /** Wall-time thresholds (minutes) warned about already. */
  warned: Set<number>;
  timers: ReturnType<typeof setTimeout>[];
}

/**
 * JupyterLab's notifications about sessions, driven by their transitions
 * (the model's previous → current): running (with Open), ended before it
 * ran or failed (with its log), ended (with the reason), and the wall time
 * coming (at the configured minutes before it). A newer toast about a
 * session replaces the last one instead of stacking up.
 */
export class SessionNotifier implements IDisposable {
  constructor(options: ISessionNotifierOptions) {
    this._o = options;
    this._minutes = [...(options.minutesBeforeWallTime ?? [10, 2])];
    options.sessions.sessionChanged.connect(this._onChange, this);
    options.sessions.changed.connect(this._onStateProblems, this);
    // Sessions listed already (a reload): warnings yes, transitions no.
    for (const session of options.sessions.sessions) {
      this._schedule(session);
    }
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Change the warning minutes; the timers follow at once. */
  setMinutesBeforeWallTime(minutes: readonly number[]): void {
    this._minutes = [...minutes];
    for (const session of this._o.sessions.sessions) {
      this._schedule(session);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const memory of this._memory.values()) {
      memory.timers.forEach(clearTimeout);
    }
    this._memory.clear();
    Signal.disconnectReceiver(this);
    this._o.sessions.sessionChanged.disconnect(this._onChange, this);
  }

  private _onChange(_: ISessionsModel, change: ISessionChange): void {
    const { session, previous, removed } = change;
    const memory = this._remember(session.id);
    if (removed) {
      memory.timers.forEach(clearTimeout);
      this._memory.delete(session.id);
      return;
    }
    if (session.phase === 'running') {
      memory.ran = true;
    }
    // A session first seen now (a reload, another page's launch) has no
    // transition to tell.
    if (previous) {
      if (
        session.portMoved &&
        session.portMoved.at !== previous.portMoved?.at
      ) {
        this._announcePortMoved(session, memory);
      } else if (previous.phase !== 'running' && session.phase === 'running') {
        this._announceRunning(session, memory);
      } else if (previous.phase !== 'ended' && session.phase === 'ended') {
        this._announceEnd(session, previous, memory);
      }
    }
    this._schedule(session);
  }

  private _announceRunning(session: ISessionInfo, memory: ISessionMemory) {
    if (memory.announced.has('running')) {
      return;
    }
    memory.announced.add('running');
    const { trans } = this._o;
    this._show(
      memory,
      'success',
      trans.__(
        'JupyterLab on %1 (job %2) is running on %3.',
        session.cluster,
        session.jobId ?? '?',
        session.node ?? trans.__('its node')
      ),
      { autoClose: false, actions: [this._openAction(session)] }
    );
  }

  private _announcePortMoved(session: ISessionInfo, memory: ISessionMemory) {
    const { trans } = this._o;
    const moved = session.portMoved!;
    this._show(
      memory,
      'warning',
      trans.__(
        'JupyterLab on %1: another program took port %2 while the connection was down. The session is on port %3 now; tabs still on port %2 reach that other program: close them and open it again.',
        sessionTitle(session, trans),
        moved.from,
        moved.to
      ),
      { autoClose: false, actions: [this._openAction(session)] }
    );
  }

  private _announceEnd(
    session: ISessionInfo,
    previous: ISessionInfo,
    memory: ISessionMemory
  ): void {
    if (memory.announced.has('ended')) {
      return;
    }
    memory.announced.add('ended');
    const { trans } = this._o;
    const outcome = session.end?.outcome ?? 'unknown';
    const why = session.end?.message ?? trans.__('no reason known');
    const name = sessionTitle(session, trans);
    const ranBefore = memory.ran || previous.phase === 'running';
    const log = [this._logAction(session)];
    if (!ranBefore && isFailure(outcome)) {
      this._show(
        memory,
        'error',
        trans.__('JupyterLab on %1 failed before it ran: %2', name, why),
        { autoClose: false, actions: log }
      );
    } else if (isFailure(outcome)) {
      this._show(
        memory,
        'error',
        trans.__('JupyterLab on %1 ended: %2', name, why),
        { autoClose: false, actions: log }
      );
    } else {
      this._show(
        memory,
        'info',
        trans.__('JupyterLab on %1 ended: %2', name, why),
        { autoClose: 10_000, actions: log }
      );
    }
  }

  /** (Re)plan the wall-time warnings of a session from its latest reading. */
  private _schedule(session: ISessionInfo): void {
    const memory = this._remember(session.id);
    memory.timers.forEach(clearTimeout);
    memory.timers = [];
    if (
      !WARNED_PHASES.has(session.phase) ||
      session.timeLeftSeconds === null ||
      this._isDisposed
    ) {
      return;
    }
    const now = this._now();
    const left = secondsLeft(session, now);
    if (left === null || left <= 0) {
      return;
    }
    // Thresholds passed already and not warned about: one warning now.
    const passed = this._minutes.filter(
      m => left <= m * 60 && !memory.warned.has(m)
    );
    if (passed.length > 0) {
      passed.forEach(m => memory.warned.add(m));
      this._warn(session.id);
    }
    for (const minutes of this._minutes) {
      if (left > minutes * 60) {
        const delay = (left - minutes * 60) * 1000;
        memory.timers.push(
          setTimeout(() => {
            memory.warned.add(minutes);
            this._warn(session.id);
          }, delay)
        );
      }
    }
  }

  private _warn(id: string): void {
    const session = this._o.sessions.get(id);
    const memory = this._memory.get(id);
    if (!session || !memory || !WARNED_PHASES.has(session.phase)) {
      return;
    }
    const { trans } = this._o;
    const now = this._now();
    const left = secondsLeft(session, now) ?? 0;
    const actions =
      session.phase === 'running' ? [this._openAction(session)] : [];
    this._show(
      memory,
      'warning',
      trans.__(
        'JupyterLab on %1 reaches its wall time in %2 (at %3): save your work; the job is then stopped.',
        sessionTitle(session, trans),
        formatSpan(left, trans),
        formatWhen(now + left * 1000, now)
      ),
      { autoClose: false, actions }
    );
  }

  /**
   * A state file of the sidecar that is damaged or cannot be written: an
   * error that stays until it is over (each message once), then a word
   * that it is.
   */
  private _onStateProblems(): void {
    const now = new Map(
      (this._o.sessions.stateProblems ?? []).map(p => [
        `${p.file} ${p.code}`,
        p
      ])
    );
    // A full disk's toast goes once it is over; a damaged file's stays.
    for (const [key, shown] of this._stateToasts) {
      const p = now.get(key);
      if (!p && shown.code === 'state-unwritable') {
        Notification.dismiss(shown.toast);
        this._stateToasts.delete(key);
        Notification.success(
          this._o.trans.__('The %1 file is written again.', shown.file),
          { autoClose: 5000 }
        );
      } else if (p && p.message !== shown.message) {
        Notification.dismiss(shown.toast);
        this._stateToasts.delete(key);
      }
    }
    for (const [key, p] of now) {
      if (!this._stateToasts.has(key)) {
        const toast = Notification.error(p.message, { autoClose: false });
        this._stateToasts.set(key, { ...p, toast });
      }
    }
  }

  private _openAction(session: ISessionInfo): Notification.IAction {
    const { commands, trans } = this._o;
    return {
      label: trans.__('Open'),
      caption: trans.__('Open this JupyterLab in a new browser tab'),
      displayType: 'accent',
      callback: () =>
        void commands.execute(CommandIDs.openSession, { id: session.id })
    };
  }

  private _logAction(session: ISessionInfo): Notification.IAction {
    const { commands, trans } = this._o;
    return {
      label: trans.__('Show log'),
      caption: trans.__("Show the job's output"),
      callback: () =>
        void commands.execute(CommandIDs.showSessionLog, { id: session.id })
    };
  }

  private _show(
    memory: ISessionMemory,
    type: Notification.TypeOptions,
    message: string,
    options: Notification.IOptions<never>
  ): void {
    if (
      memory.toast &&
      Notification.update({ id: memory.toast, type, message, ...options })
    ) {
      return;
    }
    memory.toast = Notification.emit(message, type, options);
  }

  private _remember(id: string): ISessionMemory {
    let memory = this._memory.get(id);
    if (!memory) {
      memory = {
        toast: null,
        announced: new Set(),
        ran: false,
        warned: new Set(),
        timers: []
      };
      this._memory.set(id, memory);
    }
    return memory;
  }

  private _now(): number {
    return (this._o.now ?? Date.now)();
  }

  private readonly _o: ISessionNotifierOptions;
  private _minutes: number[];
  private _memory = new Map<string, ISessionMemory>();
  private _stateToasts = new Map<string, IStateProblem & { toast: string }>();
  private _isDisposed = false;
}
