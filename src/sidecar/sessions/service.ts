/**
 * JupyterLab sessions in SLURM jobs, on any number of clusters: submit,
 * follow (one squeue per cluster per poll, and watch.sh for what the jobs
 * record), forward, open, cancel, and come back after a restart.
 *
 * A session's life: submitting → queued → starting → connecting → running
 * → (ending →) ended. Slurm's word decides when a job ended; the job's own
 * records (watch.sh) say sooner that it started, that JupyterLab listens,
 * and why it stopped. A scheduler that does not answer marks the sessions
 * `schedulerUnreachable` and changes nothing else.
 */
import { randomBytes } from 'crypto';

import { PromiseDelegate } from '@lumino/coreutils';

import type {
  ConnectionState,
  IForward,
  IForwardRequest,
  ISessionLog
} from '../../common/api';
import type {
  IAttachableSession,
  ILaunchRequest,
  ISessionInfo,
  ISessionOrigin,
  SessionOutcome
} from '../../common/sessions';
import { SidecarError } from '../errors';
import type { ILogger } from '../log';
import {
  JobPoller,
  type PollOutcome,
  type TrackedPhase
} from '../slurm/job-poller';
import type { IAccountedEnd } from '../slurm/sacct';
import type { IJobTracker, SharedJobPollers } from '../slurm/shared-pollers';
import type { ILoadReport, StateFile } from '../state/json-file';
import type { ITransport } from '../transport/types';
import {
  attachableView,
  attachedRecord,
  listAlive,
  type IAliveSession
} from './attach';
import {
  buildJobScript,
  isSessionId,
  parseSbatchParsable,
  sbatchArgv
} from './batch-script';
import {
  askAccounting,
  endMessage,
  ownOutcome,
  recordedOutcome,
  type IExitRecord
} from './ending';
import { asText, gatherClusterFacts, type IClusterFacts } from './offer';
import { readPoll } from './poll';
import {
  outcomeOf,
  publicView,
  type ISessionRecord,
  type ISessionState
} from './record';
import {
  cancelCommand,
  exitRecordCommand,
  jobIdCommand,
  logCommand,
  parseExitRecord,
  parseLogOutput,
  submitCommand,
  type WatchEvent
} from './remote';
import { SessionWatcher, type IWatchSet } from './watcher';

/** What the service needs of the rest of the sidecar. */
export interface ISessionHost {
  /** The cluster's transport, connected (this may ask the user). */
  transport(cluster: string): Promise<ITransport>;
  openForward(cluster: string, request: IForwardRequest): Promise<IForward>;
  closeForward(id: string): Promise<void>;
  /**
   * Whether a forward is still open; false once the connection could not
   * make it again after a reconnect. Unknown (always open) when absent.
   */
  forwardOpen?(id: string): boolean;
}

export interface ISessionServiceOptions {
  host: ISessionHost;
  state: StateFile<ISessionState>;
  log: ILogger;
  /** A session changed (or, with `removed`, is gone). */
  onChange(session: ISessionInfo, removed?: boolean): void;
  /** This computer's name, recorded as where a session was started. */
  origin: string;
  now?: () => number;
  /** Seconds a watch.sh run lasts before it is started again. */
  watchSeconds?: number;
  /** How long cluster facts for the form are reused. */
  factsTtlMs?: number;
  /** Pauses before asking sacct again about jobs it does not know yet. */
  sacctRetryMs?: number[];
  /**
   * The sidecar's pollers, shared with the other services that follow jobs
   * (one squeue per cluster per poll); without, the service polls alone.
   */
  pollers?: SharedJobPollers;
}

interface IClusterSessions {
  poller: IJobTracker;
  watcher: SessionWatcher;
  utcOffsetMinutes: number;
  facts: { at: number; value: Promise<IClusterFacts> } | null;
  /** Whether the cluster keeps accounting; null until its facts are read. */
  accounting: boolean | null;
}

export class SessionService {
  constructor(private readonly _o: ISessionServiceOptions) {
    this._now = _o.now ?? Date.now;
  }

  /** Resolves once `restore` has run (whether or not it found a file). */
  get restored(): Promise<void> {
    return this._restored.promise;
  }

  /** Read the state file and pick up every session that was not over. */
  restore(): Promise<ILoadReport> {
    const done = this._restore();
    done.then(
      () => this._restored.resolve(),
      () => this._restored.resolve()
    );
    return done;
  }

  private async _restore(): Promise<ILoadReport> {
    const { state, report } = await this._o.state.load();
    if (report.problem) {
      this._o.log.warn(`sessions: ${report.problem} (${report.source} used)`);
    }
    if (state.sidecar) {
      this._sidecarId = state.sidecar;
    }
    for (const record of state.sessions) {
      this._sessions.set(record.id, record);
      if (record.phase === 'submitting' && !record.jobId) {
        void this._recoverSubmission(record);
      } else if (record.phase !== 'ended') {
        // The forward and the token are gone with the old process: the
        // watch reads the token again and the forward is made anew.
        if (record.phase === 'running' || record.phase === 'connecting') {
          record.phase = 'starting';
        }
        this._follow(record);
      }
    }
    if (!state.sidecar) {
      // Keep the id from now on (sessions submitted already have it).
      this._save();
    }
    return report;
  }

  /**
   * A session whose submission was under way when the last process died:
   * sbatch's job id is read back from the session's directory (submit.sh
   * keeps it), or, when there is none, nothing was submitted and the
   * session is dropped. Tried again later while the cluster is out of reach.
   */
  private async _recoverSubmission(
    record: ISessionRecord,
    attempt = 0
  ): Promise<void> {
    let text;
    try {
      const transport = await this._o.host.transport(record.cluster);
      text = asText(await transport.run(jobIdCommand(record.id)));
    } catch (err) {
      this._o.log.info(
        `sessions: the submission of ${record.id} cannot be checked yet: ${(err as Error).message}`
      );
      const t = setTimeout(
        () => {
          if (!this._disposed && this._sessions.get(record.id) === record) {
            void this._recoverSubmission(record, attempt + 1);
          }
        },
        Math.min(60_000, 2_000 * 2 ** attempt)
      );
      t.unref?.();
      return;
    }
    const jobId = text.exitCode === 0 ? parseSbatchParsable(text.stdout) : null;
    if (this._sessions.get(record.id) !== record || this._disposed) {
      return;
    }
    if (!jobId) {
      this._o.log.info(`sessions: ${record.id} was never submitted; dropped.`);
      this._forget(record);
      return;
    }
    record.jobId = jobId;
    record.phase = 'queued';
    this._changed(record);
    this._follow(record);
    void this._cluster(record.cluster).poller.pollNow();
  }

  list(): ISessionInfo[] {
    return [...this._sessions.values()].map(publicView);
  }

  get(id: string): ISessionInfo {
    return publicView(this._record(id));
  }

  /** The cluster's partitions, accounts and QOS, reused for a minute. */
  facts(cluster: string, refresh = false): Promise<IClusterFacts> {
    const c = this._cluster(cluster);
    const ttl = this._o.factsTtlMs ?? 60_000;
    if (!c.facts || refresh || this._now() - c.facts.at > ttl) {
      const value = this._o.host
        .transport(cluster)
        .then(t => gatherClusterFacts(t))
        .then(f => {
          c.utcOffsetMinutes = f.utcOffsetMinutes;
          c.accounting = f.accounting.enabled;
          return f;
        });
      value.catch(() => (c.facts = null));
      c.facts = { at: this._now(), value };
    }
    return c.facts.value;
  }

  /**
   * Submit a session. `request` must have passed the launch checks. Rejects
   * with 'sbatch-refused' and sbatch's own words when it refuses.
   */
  async launch(
    cluster: string,
    request: ILaunchRequest
  ): Promise<ISessionInfo> {
    const id = randomBytes(8).toString('hex');
    const record: ISessionRecord = {
      id,
      cluster,
      request,
      createdAt: this._now(),
      jobId: null,
      phase: 'submitting',
      job: null,
      server: null,
      localPort: null,
      portMoved: null,
      schedulerUnreachable: false,
      end: null,
      origin: this._origin(),
      attached: false
    };
    this._sessions.set(id, record);
    this._changed(record);
    const meta = JSON.stringify({
      id,
      origin: record.origin,
      createdAt: new Date(record.createdAt).toISOString(),
      request
    });
    let text;
    try {
      const transport = await this._o.host.transport(cluster);
      text = asText(
        await transport.run(
          submitCommand(
            id,
            buildJobScript({ sessionId: id, request, idleShutdownSeconds: 0 }),
            meta,
            sbatchArgv(id, request)
          )
        )
      );
    } catch (err) {
      this._forget(record);
      throw err;
    }
    const jobId = text.exitCode === 0 ? parseSbatchParsable(text.stdout) : null;
    if (!jobId) {
      this._forget(record);
      const said = `${text.stdout}\n${text.stderr}`
        .split('\n')
        .map(l => l.trim())
        .filter(l => l !== '');
      throw new SidecarError(
        'sbatch-refused',
        said.length > 0
          ? said.join('\n')
          : `sbatch exited with status ${text.exitCode} and said nothing.`
      );
    }
    record.jobId = jobId;
    record.phase = 'queued';
    this._changed(record);
    this._follow(record);
    void this._cluster(cluster).poller.pollNow();
    return publicView(record);
  }

  /**
   * The sessions on the cluster whose job is alive and that this sidecar
   * does not follow: one remote command and one squeue.
   */
  async attachable(cluster: string): Promise<IAttachableSession[]> {
    const alive = await this._listAlive(cluster, []);
    return alive.map(a => attachableView(cluster, a));
  }

  /**
   * Follow a session started elsewhere: it is recorded here and watched
   * like our own, and becomes running with a forward of this sidecar.
   */
  async attach(cluster: string, id: string): Promise<ISessionInfo> {
    if (!isSessionId(id)) {
      throw new SidecarError('session-not-found', `There is no session ${id}.`);
    }
    const exists = () => {
      if (this._sessions.has(id)) {
        throw new SidecarError(
          'session-exists',
          `Session ${id} is followed here already.`
        );
      }
    };
    exists();
    const [found] = await this._listAlive(cluster, [id]);
    if (!found) {
      throw new SidecarError(
        'session-not-attachable',
        `Session ${id} is not on ${cluster}, or its job is over.`
      );
    }
    exists();
    const record = attachedRecord(cluster, found, this._now());
    this._sessions.set(id, record);
    this._changed(record);
    this._follow(record);
    void this._cluster(cluster).poller.pollNow();
    return publicView(record);
  }

  private async _listAlive(
    cluster: string,
    ids: string[]
  ): Promise<IAliveSession[]> {
    const { alive, utcOffsetMinutes } = await listAlive(
      await this._o.host.transport(cluster),
      cluster,
      ids,
      id => ids.length === 0 && this._sessions.has(id)
    );
    this._cluster(cluster).utcOffsetMinutes = utcOffsetMinutes;
    return alive;
  }

  /** Cancel the session's job; it ends once Slurm says so. */
  async cancel(id: string): Promise<ISessionInfo> {
    const record = this._record(id);
    if (record.phase === 'ended') {
      return publicView(record);
    }
    if (record.jobId) {
      const transport = await this._o.host.transport(record.cluster);
      const out = asText(await transport.run(cancelCommand([record.jobId])));
      if (
        out.exitCode !== 0 &&
        !/already completing|invalid job id/i.test(out.stderr)
      ) {
        throw new SidecarError(
          'command-failed',
          `scancel ${record.jobId} failed: ${out.stderr.trim() || `status ${out.exitCode}`}`
        );
      }
    }
    this._cancelled.add(id);
    record.phase = 'ending';
    this._changed(record);
    void this._cluster(record.cluster).poller.pollNow();
    return publicView(record);
  }

  /** Remove an ended session from the list. */
  dismiss(id: string): void {
    const record = this._record(id);
    if (record.phase !== 'ended') {
      throw new SidecarError(
        'session-not-running',
        'Only a session that ended can be removed from the list; cancel it first.'
      );
    }
    this._forget(record);
  }

  /** The URL that opens the session's JupyterLab, logged in. */
  openUrl(id: string): string {
    const record = this._record(id);
    const token = this._tokens.get(id);
    if (
      record.phase !== 'running' ||
      !record.localPort ||
      !token ||
      !record.server
    ) {
      throw new SidecarError(
        'session-not-running',
        'This session is not running yet: wait until it shows "running".'
      );
    }
    const base = record.server.baseUrl.endsWith('/')
      ? record.server.baseUrl
      : `${record.server.baseUrl}/`;
    return `http://127.0.0.1:${record.localPort}${base}lab?token=${encodeURIComponent(token)}`;
  }

  /** The job's output from byte `offset` on, to show and follow it. */
  async log(id: string, offset: number): Promise<ISessionLog> {
    const record = this._record(id);
    const transport = await this._o.host.transport(record.cluster);
    const out = await transport.run(logCommand(id, offset));
    const log = out.exitCode === 0 ? parseLogOutput(out.stdout) : null;
    if (!log) {
      throw new SidecarError(
        'session-not-found',
        `The log of session ${id} is not on ${record.cluster} (any more).`
      );
    }
    return {
      size: log.size,
      offset,
      next: offset + log.bytes,
      text: log.text
    };
  }

  /**
   * The cluster's connection changed state. While it is down its running
   * sessions are 'connecting'; once it is back the jobs are asked about at
   * once (one may have ended meanwhile) and each forward that the
   * connection could not make again is made anew, on its old port when free.
   */
  connectionChanged(cluster: string, state: ConnectionState): void {
    if (this._disposed) {
      return;
    }
    if (state === 'connected') {
      void this._relink(cluster);
      return;
    }
    for (const record of this._sessions.values()) {
      if (record.cluster === cluster && record.phase === 'running') {
        record.phase = 'connecting';
        this._relinking.add(record.id);
        this._cluster(cluster).poller.track(record.jobId!, 'starting');
        this._changed(record);
      }
    }
  }

  private async _relink(cluster: string): Promise<void> {
    const records = [...this._relinking]
      .map(id => this._sessions.get(id))
      .filter((r): r is ISessionRecord => r?.cluster === cluster);
    if (records.length === 0) {
      return;
    }
    records.forEach(r => this._relinking.delete(r.id));
    this._rewatch(cluster);
    await this._cluster(cluster).poller.pollNow();
    for (const record of records) {
      if (record.phase !== 'connecting' || !record.server) {
        continue;
      }
      const forward = this._forwards.get(record.id);
      if (forward && (this._o.host.forwardOpen?.(forward) ?? true)) {
        this._running(record);
        continue;
      }
      this._forwards.delete(record.id);
      if (forward) {
        await this._o.host.closeForward(forward).catch(() => undefined);
      }
      await this._connect(record, record.server.port, record.server.baseUrl);
    }
  }

  /** Whether a JupyterLab page is visible (slows polling when not). */
  setVisible(visible: boolean): void {
    for (const c of this._clusters.values()) {
      c.poller.setVisible(visible);
    }
  }

  /** Resolves once the state file holds every change made so far. */
  flush(): Promise<void> {
    return this._o.state.flush();
  }

  dispose(): void {
    this._disposed = true;
    for (const c of this._clusters.values()) {
      c.poller.dispose();
      c.watcher.dispose();
    }
    for (const t of this._startTimers.values()) {
      clearTimeout(t);
    }
  }

  // -- following a session ----------------------------------------------------

  private _follow(record: ISessionRecord): void {
    if (!record.jobId) {
      return;
    }
    const c = this._cluster(record.cluster);
    c.poller.track(record.jobId, this._trackedPhase(record));
    this._rewatch(record.cluster);
  }

  private _trackedPhase(record: ISessionRecord): TrackedPhase {
    switch (record.phase) {
      case 'running':
        return 'running';
      case 'submitting':
      case 'queued':
        return 'queued';
      default:
        return 'starting';
    }
  }

  /** Watch what the service follows on the cluster (see SessionWatcher). */
  private _rewatch(cluster: string): void {
    if (!this._disposed) {
      this._cluster(cluster).watcher.refresh();
    }
  }

  /** The cluster's sessions not ended, by whether their JupyterLab is known. */
  private _watched(cluster: string): IWatchSet {
    const live = [...this._sessions.values()]
      .filter(
        r => r.cluster === cluster && r.jobId !== null && r.phase !== 'ended'
      )
      .map(r => r.id)
      .sort();
    return {
      pending: live.filter(id => !this._tokens.has(id)),
      exitOnly: live.filter(id => this._tokens.has(id))
    };
  }

  private async _onWatch(event: WatchEvent): Promise<void> {
    if (event.kind === 'watching') {
      return;
    }
    const record = this._sessions.get(event.id);
    if (!record || record.phase === 'ended') {
      return;
    }
    switch (event.kind) {
      case 'started':
        if (record.phase === 'submitting' || record.phase === 'queued') {
          record.phase = 'starting';
          this._startTimer(record);
        }
        record.server = record.server ?? null;
        this._startedOn.set(record.id, event.node);
        this._changed(record);
        this._cluster(record.cluster).poller.track(record.jobId!, 'starting');
        return;
      case 'ready':
        if (this._forwards.has(record.id)) {
          return;
        }
        this._tokens.set(record.id, event.server.token);
        await this._connect(record, event.server.port, event.server.base_url);
        return;
      case 'exit': {
        this._exits.set(record.id, { status: event.status, why: event.why });
        // Slurm may take a moment to see the job end: ask again soon.
        const poller = this._cluster(record.cluster).poller;
        poller.track(record.jobId!, 'starting');
        void poller.pollNow();
        return;
      }
    }
  }

  /** Make the forward to JupyterLab: on the same local port as before when free. */
  private async _connect(
    record: ISessionRecord,
    port: number,
    baseUrl: string
  ): Promise<void> {
    const node = this._startedOn.get(record.id) ?? record.job?.node;
    if (!node) {
      // squeue will name the node; the next watch line comes after the poll.
      void this._cluster(record.cluster).poller.pollNow();
      return;
    }
    record.server = { node, port, baseUrl };
    record.phase = 'connecting';
    this._changed(record);
    let forward: IForward | null = null;
    const wanted = record.localPort ?? 0;
    for (const localPort of wanted ? [wanted, 0] : [0]) {
      try {
        forward = await this._o.host.openForward(record.cluster, {
          remoteHost: node,
          remotePort: port,
          localPort
        });
        break;
      } catch (err) {
        this._o.log.info(
          `sessions: forward for ${record.id} on port ${localPort || 'any'} failed: ${(err as Error).message}`
        );
      }
    }
    if (!forward || this._sessions.get(record.id)?.phase === 'ended') {
      if (forward) {
        await this._o.host.closeForward(forward.id).catch(() => undefined);
      }
      return;
    }
    this._forwards.set(record.id, forward.id);
    if (wanted && forward.localPort !== wanted) {
      // Never silently: a tab still open on the old port would now reach
      // whatever program took it.
      record.portMoved = {
        from: wanted,
        to: forward.localPort,
        at: Date.now()
      };
      this._o.log.warn(
        `sessions: ${record.id}: port ${wanted} was taken by another program; the forward is on ${forward.localPort} now`
      );
    }
    record.localPort = forward.localPort;
    this._running(record);
  }

  private _running(record: ISessionRecord): void {
    record.phase = 'running';
    this._clearStartTimer(record.id);
    this._cluster(record.cluster).poller.track(record.jobId!, 'running');
    this._changed(record);
    // From now on only its exit is watched for.
    this._rewatch(record.cluster);
  }

  private _startTimer(record: ISessionRecord): void {
    this._clearStartTimer(record.id);
    const t = setTimeout(() => {
      const r = this._sessions.get(record.id);
      if (r && (r.phase === 'starting' || r.phase === 'connecting')) {
        this._startTimedOut.add(r.id);
        void this.cancel(r.id).catch(err =>
          this._o.log.warn(
            `sessions: cancel after start time-out: ${(err as Error).message}`
          )
        );
      }
    }, record.request.startTimeoutSeconds * 1000);
    t.unref?.();
    this._startTimers.set(record.id, t);
  }

  private _clearStartTimer(id: string): void {
    const t = this._startTimers.get(id);
    if (t) {
      clearTimeout(t);
      this._startTimers.delete(id);
    }
  }

  // -- polling ------------------------------------------------------------------

  private _onPoll(cluster: string, outcome: PollOutcome): void {
    const { poller } = this._cluster(cluster);
    const reading = readPoll(
      outcome,
      jobId =>
        [...this._sessions.values()].find(
          r => r.cluster === cluster && r.jobId === jobId && r.phase !== 'ended'
        ),
      this._now()
    );
    reading.untrack.forEach(jobId => poller.untrack(jobId));
    for (const record of reading.started) {
      this._startTimer(record);
      poller.track(record.jobId!, 'starting');
    }
    reading.changed.forEach(record => this._changed(record));
    if (reading.ended.length > 0) {
      void this._finish(cluster, reading.ended);
    }
  }

  /**
   * End the sessions whose jobs Slurm says are over. Why, in this order:
   * what we did (start time-out, cancel) and the job's own record of a shut
   * down JupyterLab; then accounting, asked once for all of them; then the
   * job's exit record and squeue's last word.
   */
  private async _finish(
    cluster: string,
    items: { record: ISessionRecord; slurm: SessionOutcome }[]
  ): Promise<void> {
    const mine = items.filter(i => !this._finishing.has(i.record.id));
    if (mine.length === 0) {
      return;
    }
    mine.forEach(i => this._finishing.add(i.record.id));
    let accounted = new Map<string, IAccountedEnd>();
    try {
      // watch.sh may not have passed the exit record on (it was being
      // started again, or the connection was down): read it here.
      await Promise.all(mine.map(i => this._readExitRecord(i.record)));
      const ask = mine
        .filter(i => this._exitOutcome(i.record) === null)
        .map(i => i.record.jobId!);
      if (ask.length > 0 && (await this._hasAccounting(cluster))) {
        accounted = await this._accounted(cluster, ask);
      }
    } finally {
      mine.forEach(i => this._finishing.delete(i.record.id));
    }
    for (const { record, slurm } of mine) {
      if (record.phase === 'ended') {
        continue;
      }
      const mineSaid = this._exitOutcome(record);
      const books = record.jobId ? accounted.get(record.jobId) : undefined;
      if (mineSaid) {
        this._end(record, mineSaid);
      } else if (books) {
        this._end(record, outcomeOf(books.outcome), books);
      } else {
        this._end(record, recordedOutcome(slurm, this._exits.get(record.id)));
      }
    }
  }

  private async _readExitRecord(record: ISessionRecord): Promise<void> {
    if (this._exits.has(record.id)) {
      return;
    }
    try {
      const transport = await this._o.host.transport(record.cluster);
      const text = asText(await transport.run(exitRecordCommand(record.id)));
      const exit = parseExitRecord(record.id, text.stdout);
      if (exit) {
        this._exits.set(record.id, exit);
      }
    } catch (err) {
      this._o.log.debug(
        `sessions: no exit record for ${record.id}: ${(err as Error).message}`
      );
    }
  }

  /** Whether the cluster keeps accounting (known from its launch facts). */
  private async _hasAccounting(cluster: string): Promise<boolean> {
    const c = this._cluster(cluster);
    if (c.accounting === null) {
      try {
        await this.facts(cluster);
      } catch (err) {
        this._o.log.debug(
          `sessions: no facts for ${cluster}: ${(err as Error).message}`
        );
      }
    }
    return c.accounting ?? false;
  }

  /** What sacct says of these jobs (see askAccounting). */
  private _accounted(
    cluster: string,
    jobIds: string[]
  ): Promise<Map<string, IAccountedEnd>> {
    return askAccounting(
      async argv =>
        asText(
          await (
            await this._o.host.transport(cluster)
          ).run({ argv, timeoutSeconds: 30 })
        ),
      jobIds,
      this._o.sacctRetryMs ?? [500, 1000, 2000],
      this._o.log
    );
  }

  private _exitOutcome(record: ISessionRecord): SessionOutcome | null {
    return ownOutcome({
      startTimedOut: this._startTimedOut.has(record.id),
      cancelled: this._cancelled.has(record.id),
      exit: this._exits.get(record.id)
    });
  }

  private _end(
    record: ISessionRecord,
    outcome: SessionOutcome,
    books?: IAccountedEnd
  ): void {
    record.phase = 'ended';
    record.end = {
      outcome,
      message: endMessage(record, outcome, this._exits.get(record.id), books),
      at: this._now()
    };
    this._clearStartTimer(record.id);
    this._tokens.delete(record.id);
    const forward = this._forwards.get(record.id);
    if (forward) {
      this._forwards.delete(record.id);
      void this._o.host.closeForward(forward).catch(() => undefined);
    }
    if (record.jobId) {
      this._cluster(record.cluster).poller.untrack(record.jobId);
    }
    this._changed(record);
    this._rewatch(record.cluster);
  }

  // -- bookkeeping ------------------------------------------------------------

  private _cluster(name: string): IClusterSessions {
    let c = this._clusters.get(name);
    if (!c) {
      const entry: IClusterSessions = {
        watcher: new SessionWatcher({
          cluster: name,
          transport: () => this._o.host.transport(name),
          watched: () => this._watched(name),
          onEvent: event => void this._onWatch(event),
          log: this._o.log,
          seconds: this._o.watchSeconds
        }),
        utcOffsetMinutes: 0,
        facts: null,
        accounting: null,
        poller: this._o.pollers
          ? this._o.pollers.tracker(name, {
              utcOffsetMinutes: () => entry.utcOffsetMinutes,
              onPoll: outcome => this._onPoll(name, outcome)
            })
          : new JobPoller({
              run: async argv =>
                asText(
                  await (
                    await this._o.host.transport(name)
                  ).run({ argv, timeoutSeconds: 30 })
                ),
              utcOffsetMinutes: () => entry.utcOffsetMinutes,
              onPoll: outcome => this._onPoll(name, outcome)
            })
      };
      c = entry;
      this._clusters.set(name, c);
    }
    return c;
  }

  private _record(id: string): ISessionRecord {
    const record = this._sessions.get(id);
    if (!record) {
      throw new SidecarError('session-not-found', `There is no session ${id}.`);
    }
    return record;
  }

  private _forget(record: ISessionRecord): void {
    this._sessions.delete(record.id);
    this._save();
    this._o.onChange(publicView(record), true);
  }

  private _changed(record: ISessionRecord): void {
    this._save();
    this._o.onChange(publicView(record));
  }

  private _save(): void {
    const sessions = [...this._sessions.values()];
    this._o.state
      .save({ version: 1, sessions, sidecar: this._sidecarId })
      .catch(err =>
        this._o.log.error(
          `sessions: the state file ${this._o.state.path} could not be written (${(err as Error).message}); sessions are kept in memory and on the cluster.`
        )
      );
  }

  private _origin(): ISessionOrigin {
    return { host: this._o.origin, sidecar: this._sidecarId };
  }

  private readonly _now: () => number;
  /** See ISessionState.sidecar. */
  private _sidecarId = randomBytes(8).toString('hex');
  private readonly _restored = new PromiseDelegate<void>();
  private readonly _sessions = new Map<string, ISessionRecord>();
  private readonly _clusters = new Map<string, IClusterSessions>();
  /** Remote JupyterLab tokens: in memory only. */
  private readonly _tokens = new Map<string, string>();
  private readonly _forwards = new Map<string, string>();
  private readonly _startedOn = new Map<string, string>();
  private readonly _exits = new Map<string, IExitRecord>();
  private readonly _cancelled = new Set<string>();
  private readonly _startTimedOut = new Set<string>();
  private readonly _finishing = new Set<string>();
  /** Running sessions whose connection went down. */
  private readonly _relinking = new Set<string>();
  private readonly _startTimers = new Map<
    string,
    ReturnType<typeof setTimeout>
  >();
  private _disposed = false;
}
