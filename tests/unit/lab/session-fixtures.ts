import { ISignal, Signal } from '@lumino/signaling';

import type {
  IAttachableSession,
  ISessionInfo,
  IStateProblem,
  ISessionLog
} from '../../../src/common/api';
import type {
  ISessionChange,
  ISessionsModel
} from '../../../src/lab/sessions/model';

/** A launch request as the form sends it. */
export const REQUEST: ISessionInfo['request'] = {
  partition: 'debug',
  account: '',
  qos: '',
  wallTime: '1:00:00',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '/home/hpcdemo/envs/jupyterlab',
  workingDirectory: '',
  startTimeoutSeconds: 300
};

/** A session as the sidecar describes it; `more` sets what the test needs. */
export function sessionInfo(more: Partial<ISessionInfo> = {}): ISessionInfo {
  return {
    id: 's1',
    cluster: 'demo',
    phase: 'queued',
    request: REQUEST,
    createdAt: 1_000,
    jobId: '42',
    jobState: 'PENDING',
    reason: 'Priority',
    startTime: null,
    node: null,
    timeLeftSeconds: 3600,
    observedAt: 2_000,
    localPort: null,
    portMoved: null,
    schedulerUnreachable: false,
    end: null,
    origin: null,
    attached: false,
    ...more
  };
}

/** The same session running on `node` with a forward on `port`. */
export function running(more: Partial<ISessionInfo> = {}): ISessionInfo {
  return sessionInfo({
    phase: 'running',
    jobState: 'RUNNING',
    reason: 'None',
    startTime: 1_500,
    node: 'node1',
    localPort: 40001,
    ...more
  });
}

/** The same session ended with `outcome`. */
export function ended(
  outcome: NonNullable<ISessionInfo['end']>['outcome'] = 'cancelled',
  more: Partial<ISessionInfo> = {}
): ISessionInfo {
  return sessionInfo({
    phase: 'ended',
    jobState: null,
    reason: null,
    localPort: null,
    end: { outcome, message: `The job ended: ${outcome}.`, at: 9_000 },
    ...more
  });
}

/**
 * The sessions model as the views see it, in memory: the test sets the
 * sessions and the model tells its listeners as the real one does (one
 * `sessionChanged` with the previous view, then `changed`).
 */
export class FakeSessions implements ISessionsModel {
  available = true;
  readonly calls: string[] = [];
  /** What `log` answers, by offset; the test fills it. */
  logAnswer: (offset: number) => Promise<ISessionLog> = async offset => ({
    size: offset,
    offset,
    next: offset,
    text: ''
  });
  openAnswer: () => Promise<string> = async () =>
    'http://127.0.0.1:40001/lab?token=secret';
  /** What `attachable` answers for a cluster; the test sets it. */
  attachableAnswer: (cluster: string) => Promise<IAttachableSession[]> =
    async () => [];
  /** What `attach` answers; by default the session, followed from now on. */
  attachAnswer: (cluster: string, id: string) => Promise<ISessionInfo> = async (
    cluster,
    id
  ) => running({ id, cluster, attached: true });

  /** What the sidecar says of its state files; `setStateProblems` changes it. */
  stateProblems: IStateProblem[] = [];
  setStateProblems(problems: IStateProblem[]): void {
    this.stateProblems = problems;
    this._changed.emit();
  }

  get sessions(): readonly ISessionInfo[] {
    return [...this._sessions.values()];
  }
  get changed(): ISignal<ISessionsModel, void> {
    return this._changed;
  }
  get sessionChanged(): ISignal<ISessionsModel, ISessionChange> {
    return this._sessionChanged;
  }
  get isDisposed(): boolean {
    return false;
  }

  /** Take a session's new view, as an event would. */
  set(session: ISessionInfo): void {
    const previous = this._sessions.get(session.id) ?? null;
    this._sessions.set(session.id, session);
    this._sessionChanged.emit({ session, previous, removed: false });
    this._changed.emit();
  }

  remove(id: string): void {
    const session = this._sessions.get(id);
    if (session) {
      this._sessions.delete(id);
      this._sessionChanged.emit({ session, previous: session, removed: true });
      this._changed.emit();
    }
  }

  get(id: string): ISessionInfo | null {
    return this._sessions.get(id) ?? null;
  }
  forCluster(cluster: string): ISessionInfo[] {
    return this.sessions.filter(s => s.cluster === cluster);
  }
  async refresh(): Promise<void> {
    this.calls.push('refresh');
  }
  offer(): Promise<never> {
    throw new Error('not in these tests');
  }
  check(): Promise<never> {
    throw new Error('not in these tests');
  }
  launch(): Promise<never> {
    throw new Error('not in these tests');
  }
  attachable(cluster: string): Promise<IAttachableSession[]> {
    this.calls.push(`attachable ${cluster}`);
    return this.attachableAnswer(cluster);
  }
  async attach(cluster: string, id: string): Promise<ISessionInfo> {
    this.calls.push(`attach ${cluster} ${id}`);
    const session = await this.attachAnswer(cluster, id);
    this.set(session);
    return session;
  }
  async cancel(id: string): Promise<ISessionInfo> {
    this.calls.push(`cancel ${id}`);
    const next = { ...this.get(id)!, phase: 'ending' as const };
    this.set(next);
    return next;
  }
  async dismiss(id: string): Promise<void> {
    this.calls.push(`dismiss ${id}`);
    this.remove(id);
  }
  openUrl(id: string): Promise<string> {
    this.calls.push(`open ${id}`);
    return this.openAnswer();
  }
  log(id: string, offset: number): Promise<ISessionLog> {
    this.calls.push(`log ${id} ${offset}`);
    return this.logAnswer(offset);
  }
  async setVisible(): Promise<void> {
    // Not in these tests.
  }
  dispose(): void {
    Signal.clearData(this);
  }

  private _sessions = new Map<string, ISessionInfo>();
  private _changed = new Signal<ISessionsModel, void>(this);
  private _sessionChanged = new Signal<ISessionsModel, ISessionChange>(this);
}

/** A session on the cluster that this sidecar does not follow. */
export function attachable(
  more: Partial<IAttachableSession> = {}
): IAttachableSession {
  return {
    id: 'far1',
    cluster: 'demo',
    jobId: '77',
    jobState: 'RUNNING',
    reason: 'None',
    node: 'node2',
    startTime: 1_500,
    timeLeftSeconds: 45 * 60,
    origin: { host: 'laptop-7', sidecar: 'a1b2' },
    createdAt: 1_000,
    request: REQUEST,
    ...more
  };
}
