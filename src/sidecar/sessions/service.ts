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
import { firstErrorLine } from '../slurm/output';
import { parseSacct, sacctArgv, type IAccountedEnd } from '../slurm/sacct';
import { parseSqueue, squeueArgv, type IJobStatus } from '../slurm/squeue';
import type { ILoadReport, StateFile } from '../state/json-file';
import type { ITransport } from '../transport/types';
import {
  buildJobScript,
  isSessionId,
  parseSbatchParsable,
  sbatchArgv
} from './batch-script';
import { asText, gatherClusterFacts, type IClusterFacts } from './offer';
import {
  observe,
  outcomeOf,
  publicView,
  type ISessionRecord,
  type ISessionState
} from './record';
import {
  cancelCommand,
  exitRecordCommand,
  listCommand,
  logCommand,
  parseExitRecord,
  parseLogOutput,
  parseSessionList,
  parseWatchLine,
  submitCommand,
  watchCommand,
  type IListedSession,
  type WatchEvent
} from './remote';

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
}

/** The messages shown for each way a session can end. */
const END_MESSAGES: Record<SessionOutcome, string> = {
  'shut-down': 'JupyterLab was shut down; its job ended.',
  completed: 'The job ended.',
  cancelled: 'The job was cancelled.',
  timeout: 'The job reached its wall time.',
  failed: 'The job failed.',
  'node-failure': 'The node running the job failed.',
  'out-of-memory': 'The job ran out of memory.',
  preempted: 'The job was preempted by the scheduler.',
  'start-timeout': 'JupyterLab did not start in time; the job was cancelled.',
  unknown: 'The job left the queue; the cluster kept no record of why.'
};

/** The request of an attached session whose directory lacks it. */
const UNKNOWN_REQUEST: ILaunchRequest = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '',
  cpus: 0,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '',
  workingDirectory: '',
  startTimeoutSeconds: 300
};

interface IClusterSessions {
  poller: JobPoller;
  watcher: AbortController | null;
  watching: string;
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
      if (record.phase !== 'ended') {
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
    return alive.map(({ listed, job }) => ({
      id: listed.id,
      cluster,
      jobId: listed.jobId,
      jobState: job.state,
      reason: job.reason,
      node: job.batchHost ?? job.nodes,
      startTime: job.startTime,
      timeLeftSeconds:
        typeof job.timeLeftSeconds === 'number' ? job.timeLeftSeconds : null,
      origin: listed.meta.origin,
      createdAt: listed.meta.createdAt,
      request: listed.meta.request
    }));
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
    const { listed, job } = found;
    const record: ISessionRecord = {
      id,
      cluster,
      request: listed.meta.request ?? UNKNOWN_REQUEST,
      createdAt: listed.meta.createdAt ?? this._now(),
      jobId: listed.jobId,
      phase:
        job.phase === 'queued'
          ? 'queued'
          : job.phase === 'ending'
            ? 'ending'
            : 'starting',
      job: null,
      server: null,
      localPort: null,
      schedulerUnreachable: false,
      end: null,
      origin: listed.meta.origin,
      attached: true
    };
    observe(record, job, this._now());
    this._sessions.set(id, record);
    this._changed(record);
    this._follow(record);
    void this._cluster(cluster).poller.pollNow();
    return publicView(record);
  }

  /** The listed sessions (all not followed here, or `ids`) whose job lives. */
  private async _listAlive(
    cluster: string,
    ids: string[]
  ): Promise<{ listed: IListedSession; job: IJobStatus }[]> {
    const transport = await this._o.host.transport(cluster);
    const text = asText(await transport.run(listCommand(ids)));
    if (text.exitCode !== 0) {
      throw new SidecarError(
        'command-failed',
        `The sessions on ${cluster} could not be listed: ${firstErrorLine(text, 'sh')}`
      );
    }
    const { utcOffsetMinutes, sessions } = parseSessionList(text.stdout);
    const candidates =
      ids.length > 0
        ? sessions
        : sessions.filter(l => !this._sessions.has(l.id));
    if (candidates.length === 0) {
      return [];
    }
    const jobIds = [...new Set(candidates.map(l => l.jobId))];
    const answer = parseSqueue(
      asText(
        await transport.run({ argv: squeueArgv(jobIds), timeoutSeconds: 30 })
      ),
      utcOffsetMinutes
    );
    if (answer.kind === 'unreachable') {
      throw new SidecarError(
        'slurm-unavailable',
        `The scheduler of ${cluster} did not answer: ${answer.message}`
      );
    }
    const alive: { listed: IListedSession; job: IJobStatus }[] = [];
    for (const listed of candidates) {
      const job = answer.jobs.get(listed.jobId);
      if (job && job.phase !== 'ended') {
        alive.push({ listed, job });
      }
    }
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
      next: offset + Buffer.byteLength(log.text),
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
      c.watcher?.abort();
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

  /**
   * (Re)start watch.sh for the sessions not ended: for their JupyterLab
   * until it is found, then for their exit record alone.
   */
  private _rewatch(cluster: string): void {
    const c = this._cluster(cluster);
    const live = [...this._sessions.values()]
      .filter(
        r => r.cluster === cluster && r.jobId !== null && r.phase !== 'ended'
      )
      .map(r => r.id)
      .sort();
    const pending = live.filter(id => !this._tokens.has(id));
    const exitOnly = live.filter(id => this._tokens.has(id));
    const key = `${pending.join(' ')} -- ${exitOnly.join(' ')}`;
    if (key === c.watching && c.watcher) {
      return;
    }
    c.watcher?.abort();
    c.watcher = null;
    c.watching = key;
    if (live.length === 0 || this._disposed) {
      return;
    }
    const abort = new AbortController();
    c.watcher = abort;
    void this._watch(cluster, pending, exitOnly, abort).finally(() => {
      if (c.watcher === abort) {
        c.watcher = null;
        c.watching = '';
        // Ended by its time limit, or by a lost connection: go on watching
        // what is still pending, after a pause so a broken link does not spin.
        const t = setTimeout(() => this._rewatch(cluster), 1_000);
        t.unref?.();
      }
    });
  }

  private async _watch(
    cluster: string,
    ids: string[],
    exitOnly: string[],
    abort: AbortController
  ): Promise<void> {
    let pending = '';
    const onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      if (stream !== 'stdout') {
        return;
      }
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const event = parseWatchLine(line);
        if (event && !abort.signal.aborted) {
          void this._onWatch(event);
        }
      }
    };
    try {
      const transport = await this._o.host.transport(cluster);
      await transport.run(
        watchCommand(ids, this._o.watchSeconds ?? 600, exitOnly),
        { onOutput, signal: abort.signal }
      );
    } catch (err) {
      if (!abort.signal.aborted) {
        this._o.log.debug(
          `sessions: watch on ${cluster} ended: ${(err as Error).message}`
        );
      }
    }
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
    const now = this._now();
    const ended: { record: ISessionRecord; slurm: SessionOutcome }[] = [];
    for (const jobId of outcome.asked) {
      const record = [...this._sessions.values()].find(
        r => r.cluster === cluster && r.jobId === jobId && r.phase !== 'ended'
      );
      if (!record) {
        this._cluster(cluster).poller.untrack(jobId);
        continue;
      }
      if (outcome.kind === 'unreachable') {
        if (!record.schedulerUnreachable) {
          record.schedulerUnreachable = true;
          this._changed(record);
        }
        continue;
      }
      const job = outcome.jobs.get(jobId);
      if (!job) {
        ended.push({ record, slurm: 'unknown' });
        continue;
      }
      observe(record, job, now);
      if (job.phase === 'ended') {
        ended.push({ record, slurm: outcomeOf(job.outcome!) });
        continue;
      }
      if (
        job.phase === 'running' &&
        (record.phase === 'queued' || record.phase === 'submitting')
      ) {
        record.phase = 'starting';
        this._startTimer(record);
        this._cluster(cluster).poller.track(jobId, 'starting');
      } else if (job.phase === 'ending' && record.phase !== 'ending') {
        record.phase = 'ending';
      }
      this._changed(record);
    }
    if (ended.length > 0) {
      void this._finish(cluster, ended);
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
      // watch.sh stops following a session once it is ready, so the exit
      // records are read here.
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
        this._end(record, this._recordedOutcome(record, slurm));
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

  /**
   * What sacct says of these jobs, asked again briefly for those it does
   * not show as ended yet (accounting lags a moment behind the controller).
   */
  private async _accounted(
    cluster: string,
    jobIds: string[]
  ): Promise<Map<string, IAccountedEnd>> {
    const found = new Map<string, IAccountedEnd>();
    let left = jobIds;
    const delays = this._o.sacctRetryMs ?? [500, 1000, 2000];
    for (let attempt = 0; left.length > 0; attempt++) {
      try {
        const transport = await this._o.host.transport(cluster);
        const ended = parseSacct(
          asText(
            await transport.run({ argv: sacctArgv(left), timeoutSeconds: 30 })
          )
        );
        if (!ended) {
          break;
        }
        ended.forEach((e, id) => found.set(id, e));
        left = left.filter(id => !ended.has(id));
      } catch (err) {
        this._o.log.debug(
          `sessions: sacct on ${cluster} failed: ${(err as Error).message}`
        );
        break;
      }
      if (left.length === 0 || attempt >= delays.length) {
        break;
      }
      await new Promise(resolve => setTimeout(resolve, delays[attempt]));
    }
    return found;
  }

  /** What our own actions or the job's own record of a shut down say. */
  private _exitOutcome(record: ISessionRecord): SessionOutcome | null {
    if (this._startTimedOut.has(record.id)) {
      return 'start-timeout';
    }
    const exit = this._exits.get(record.id);
    if (exit?.why === 'jupyterlab shut down') {
      return 'shut-down';
    }
    if (this._cancelled.has(record.id)) {
      return 'cancelled';
    }
    return null;
  }

  /**
   * Without accounting: squeue's last word, or, for a job squeue no longer
   * knows, what the job recorded when it stopped on its own.
   */
  private _recordedOutcome(
    record: ISessionRecord,
    slurm: SessionOutcome
  ): SessionOutcome {
    const exit = this._exits.get(record.id);
    if (slurm === 'unknown' && exit && !exit.why.startsWith('signal ')) {
      return exit.status === 0 ? 'completed' : 'failed';
    }
    return slurm;
  }

  private _end(
    record: ISessionRecord,
    outcome: SessionOutcome,
    books?: IAccountedEnd
  ): void {
    record.phase = 'ended';
    record.end = {
      outcome,
      message: this._endMessage(record, outcome, books),
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

  private _endMessage(
    record: ISessionRecord,
    outcome: SessionOutcome,
    books?: IAccountedEnd
  ): string {
    const exit = this._exits.get(record.id);
    if (outcome === 'start-timeout') {
      return `JupyterLab did not listen within ${record.request.startTimeoutSeconds} s of the job starting; the job was cancelled. Its log says why.`;
    }
    if (books) {
      const code = `exit code ${books.exitCode}${books.signal ? `, signal ${books.signal}` : ''}`;
      switch (outcome) {
        case 'failed':
          return `The job failed (${code}${exit ? `: ${exit.why}` : ''}). Its log says more.`;
        case 'out-of-memory':
          return `The job ran out of memory (${code}). Its log says more.`;
        case 'cancelled':
          return books.cancelledBy
            ? `The job was cancelled (by user id ${books.cancelledBy}).`
            : END_MESSAGES.cancelled;
        default:
          return END_MESSAGES[outcome];
      }
    }
    if (exit && outcome === 'failed') {
      return `The job failed: ${exit.why} (status ${exit.status}). Its log says more.`;
    }
    return END_MESSAGES[outcome];
  }

  // -- bookkeeping ------------------------------------------------------------

  private _cluster(name: string): IClusterSessions {
    let c = this._clusters.get(name);
    if (!c) {
      const entry: IClusterSessions = {
        watcher: null,
        watching: '',
        utcOffsetMinutes: 0,
        facts: null,
        accounting: null,
        poller: new JobPoller({
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
  private readonly _exits = new Map<string, { status: number; why: string }>();
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
