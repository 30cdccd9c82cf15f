import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IAttachableSession,
  IAttachableSessionList,
  ILaunchCheck,
  ILaunchOffer,
  ILaunchProblem,
  ILaunchRequest,
  ISessionInfo,
  ISessionList,
  ISessionLog,
  ISessionOpen,
  IStateProblem,
  IVisibility,
  Routes,
  SessionPhase,
  SidecarEvent
} from '../../common/api';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { requestSidecar } from '../sidecar/request';
import { Coalescer } from '../util/coalesce';

/**
 * What a check of a launch request found: `problems` keep it from being
 * submitted; `unchecked` are values passed on as typed because the cluster
 * cannot tell whether they are right (an account or QOS without accounting).
 */
export interface ILaunchCheckResult {
  problems: ILaunchProblem[];
  unchecked: ILaunchProblem[];
}

/** One session's change, with what it was before (null: new to the list). */
export interface ISessionChange {
  session: ISessionInfo;
  previous: ISessionInfo | null;
  removed: boolean;
}

export interface ISessionsModel extends IDisposable {
  /** Every session on every cluster, oldest first. */
  readonly sessions: readonly ISessionInfo[];
  /** True while the sidecar is ready to take requests. */
  readonly available: boolean;
  /** Emitted after any change of the list (or of `stateProblems`). */
  readonly changed: ISignal<ISessionsModel, void>;
  /**
   * What is wrong with the sidecar's state files now (damaged at its start,
   * or not writable): the user must be told, since it goes on from memory.
   */
  readonly stateProblems?: readonly IStateProblem[];
  /** Emitted once per session that changed, appeared or left the list. */
  readonly sessionChanged: ISignal<ISessionsModel, ISessionChange>;
  get(id: string): ISessionInfo | null;
  forCluster(cluster: string): ISessionInfo[];
  /** Read the list again from the sidecar. */
  refresh(): Promise<void>;
  /** What the launch form offers; `refresh` reads it from the cluster again. */
  offer(cluster: string, refresh?: boolean): Promise<ILaunchOffer>;
  /**
   * Check a request against the offer: no `problems` when it may be
   * submitted; `unchecked` values go to sbatch as they are.
   */
  check(cluster: string, request: ILaunchRequest): Promise<ILaunchCheckResult>;
  /**
   * Submit a session. Rejects with a SidecarRequestError: `launch-invalid`
   * with `problems`, or `sbatch-refused` with the scheduler's own words.
   */
  launch(cluster: string, request: ILaunchRequest): Promise<ISessionInfo>;
  /**
   * The sessions on `cluster` whose job is alive and that the sidecar does
   * not follow: started from another computer, or by a sidecar whose state
   * was lost. Read from the cluster at each call.
   */
  attachable(cluster: string): Promise<IAttachableSession[]>;
  /**
   * Follow a session of `attachable` from now on. Rejects with a
   * SidecarRequestError `session-exists` or `session-not-attachable`.
   */
  attach(cluster: string, id: string): Promise<ISessionInfo>;
  /** scancel the session's job. */
  cancel(id: string): Promise<ISessionInfo>;
  /** Remove an ended session from the list. */
  dismiss(id: string): Promise<void>;
  /** The URL that opens the session's JupyterLab logged in; never log it. */
  openUrl(id: string): Promise<string>;
  /** The job's output from byte `offset` on. */
  log(id: string, offset: number): Promise<ISessionLog>;
  /** Tell the sidecar whether JupyterLab's page is seen (it polls slower when not). */
  setVisible(visible: boolean): Promise<void>;
}

export interface ISessionsModelOptions {
  sidecar: ISidecarModel;
  serverSettings?: ServerConnection.ISettings;
}

/**
 * The sessions the sidecar runs, kept current by its `session` events and
 * read again whenever the sidecar (re)connects. Holds no token: "Open" asks
 * the sidecar for the URL at the moment it is needed.
 */
export class SessionsModel implements ISessionsModel {
  constructor(options: ISessionsModelOptions) {
    this._sidecar = options.sidecar;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._sidecar.stateChanged.connect(this._onSidecarState, this);
    this._sidecar.event.connect(this._onEvent, this);
    this._wasReady = this.available;
    if (this.available) {
      void this.refresh();
    }
  }

  get stateProblems(): readonly IStateProblem[] {
    return [...this._stateProblems.values()];
  }

  get sessions(): readonly ISessionInfo[] {
    return [...this._sessions.values()].sort(
      (a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)
    );
  }

  get available(): boolean {
    return this._sidecar.state.status === 'ready';
  }

  get changed(): ISignal<ISessionsModel, void> {
    return this._changed;
  }

  get sessionChanged(): ISignal<ISessionsModel, ISessionChange> {
    return this._sessionChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get(id: string): ISessionInfo | null {
    return this._sessions.get(id) ?? null;
  }

  forCluster(cluster: string): ISessionInfo[] {
    return this.sessions.filter(s => s.cluster === cluster);
  }

  refresh(): Promise<void> {
    return this._refreshes.request();
  }

  offer(cluster: string, refresh = false): Promise<ILaunchOffer> {
    const query = refresh ? '?refresh=1' : '';
    return this._request<ILaunchOffer>(Routes.launchOffer(cluster) + query);
  }

  async check(
    cluster: string,
    request: ILaunchRequest
  ): Promise<ILaunchCheckResult> {
    const answer = await this._request<ILaunchCheck>(
      Routes.launchCheck(cluster),
      { method: 'POST', body: JSON.stringify(request) }
    );
    return { problems: answer.problems, unchecked: answer.unchecked ?? [] };
  }

  async launch(
    cluster: string,
    request: ILaunchRequest
  ): Promise<ISessionInfo> {
    const session = await this._request<ISessionInfo>(
      Routes.clusterSessions(cluster),
      { method: 'POST', body: JSON.stringify(request) }
    );
    this._apply(session, false);
    return session;
  }

  async attachable(cluster: string): Promise<IAttachableSession[]> {
    const list = await this._request<IAttachableSessionList>(
      Routes.attachableSessions(cluster)
    );
    return list.sessions;
  }

  async attach(cluster: string, id: string): Promise<ISessionInfo> {
    // A session this page saw leave (its sidecar lost its state) comes
    // back: its events and the answer count again.
    this._removed.delete(id);
    const session = await this._request<ISessionInfo>(
      Routes.attachSession(cluster, id),
      { method: 'POST' }
    );
    this._apply(session, false);
    return session;
  }

  async cancel(id: string): Promise<ISessionInfo> {
    const session = await this._request<ISessionInfo>(
      Routes.sessionCancel(id),
      { method: 'POST' }
    );
    this._apply(session, false);
    return session;
  }

  async dismiss(id: string): Promise<void> {
    await this._request(Routes.session(id), { method: 'DELETE' });
    const known = this._sessions.get(id);
    if (known) {
      this._apply(known, true);
    }
  }

  async openUrl(id: string): Promise<string> {
    const answer = await this._request<ISessionOpen>(Routes.sessionOpen(id));
    return answer.url;
  }

  log(id: string, offset: number): Promise<ISessionLog> {
    return this._request<ISessionLog>(
      `${Routes.sessionLog(id)}?offset=${Math.max(0, Math.floor(offset))}`
    );
  }

  async setVisible(visible: boolean): Promise<void> {
    this._visible = visible;
    if (!this.available) {
      return;
    }
    const body: IVisibility = { visible };
    await this._request(Routes.visibility, {
      method: 'PUT',
      body: JSON.stringify(body)
    });
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private async _refreshOnce(): Promise<void> {
    if (!this.available) {
      return;
    }
    const list = await this._request<ISessionList>(Routes.sessions);
    const listed = new Set(list.sessions.map(s => s.id));
    for (const known of [...this._sessions.values()]) {
      if (!listed.has(known.id)) {
        this._apply(known, true, false);
      }
    }
    list.sessions.forEach(s => this._apply(s, false, false));
    this._stateProblems = new Map(
      (list.stateProblems ?? []).map(p => [`${p.file} ${p.code}`, p])
    );
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  /** Take a session's newer state (or its removal) and tell the listeners. */
  private _apply(session: ISessionInfo, removed: boolean, emit = true): void {
    if (this._isDisposed) {
      return;
    }
    const previous = this._sessions.get(session.id) ?? null;
    if (removed) {
      this._removed.add(session.id);
      this._stale.delete(session.id);
      if (!previous) {
        return;
      }
      this._sessions.delete(session.id);
    } else {
      // Session ids are never reused: a removed one is gone for good (until
      // attached again), and an answer that still lists it was sent before
      // it went.
      if (this._removed.has(session.id)) {
        return;
      }
      const stale = this._stale.delete(session.id);
      if (previous && isOlder(session, previous, stale)) {
        return;
      }
      if (previous && JSON.stringify(previous) === JSON.stringify(session)) {
        return;
      }
      this._sessions.set(session.id, session);
    }
    this._sessionChanged.emit({ session, previous, removed });
    if (emit) {
      this._changed.emit();
    }
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
        // A (re)started sidecar: its list is the truth (a restart may take
        // a session back from running to starting), and it forgot whether
        // the page is seen.
        this._stale = new Set(this._sessions.keys());
        void this.refresh().catch(() => undefined);
        if (!this._visible) {
          void this.setVisible(false).catch(() => undefined);
        }
        break;
      case 'session':
        this._apply(event.session, event.removed === true);
        break;
      case 'state-problem':
        if (event.problem) {
          this._stateProblems.set(`${event.file} ${event.code}`, event.problem);
        } else {
          this._stateProblems.delete(`${event.file} ${event.code}`);
        }
        this._changed.emit();
        break;
      default:
        break;
    }
  }

  private _sidecar: ISidecarModel;
  private _serverSettings: ServerConnection.ISettings;
  private _sessions = new Map<string, ISessionInfo>();
  private _stateProblems = new Map<string, IStateProblem>();
  /** Ids the sidecar removed: never listed again unless attached. */
  private _removed = new Set<string>();
  /**
   * Sessions last heard of before the latest hello: their next view is
   * taken as it is, even if it looks older (see isOlder).
   */
  private _stale = new Set<string>();
  private _visible = true;
  private _wasReady = false;
  private _refreshes = new Coalescer({
    work: () => this._refreshOnce(),
    stopped: () => this._isDisposed
  });
  private _changed = new Signal<ISessionsModel, void>(this);
  private _sessionChanged = new Signal<ISessionsModel, ISessionChange>(this);
  private _isDisposed = false;
}

const PHASE_ORDER: Record<SessionPhase, number> = {
  submitting: 0,
  queued: 1,
  starting: 2,
  connecting: 3,
  running: 4,
  ending: 5,
  ended: 6
};

/**
 * Whether `next` is an older view than `known`: events and request answers
 * can cross (a list asked for before an event, answered after it). Within
 * one sidecar's life a session only moves forward, so an earlier phase
 * read no later is older; the job's own records (JupyterLab listens) move
 * the phase without a new `observedAt`. Across a sidecar restart (`stale`)
 * the sidecar's word is taken, except that an ended session never comes
 * back to life.
 */
function isOlder(
  next: ISessionInfo,
  known: ISessionInfo,
  stale: boolean
): boolean {
  if (known.phase === 'ended' && next.phase !== 'ended') {
    return true;
  }
  if (stale) {
    return false;
  }
  const nextAt = next.observedAt ?? -Infinity;
  const knownAt = known.observedAt ?? -Infinity;
  if (nextAt < knownAt) {
    return true;
  }
  return (
    nextAt === knownAt && PHASE_ORDER[next.phase] < PHASE_ORDER[known.phase]
  );
}
