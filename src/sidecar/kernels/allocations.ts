/**
 * Allocations for cluster kernels: jobs that hold a profile's resources so
 * that kernels start in them as job steps, on any number of clusters.
 *
 * A kernel asks for one (`acquire`): a running allocation on the profile's
 * cluster that fits (its own profile's first, then any of ours, then a
 * running JupyterLab session's job), else one already waiting in the queue
 * for the same profile (kernels waiting together share it), else a new hold
 * job. Jobs are followed with the sessions' poller (one squeue per cluster
 * per poll). When its last kernel is released an allocation waits out the
 * grace period, then is cancelled; a session's job is never cancelled here.
 * The state file keeps our allocations across restarts; `restore` finds
 * them (and any `jlhpc-k-` job of this user the file missed), cancels
 * kernel steps left behind, and gives each the grace period: after a
 * restart no kernel runs in them.
 */
import { randomBytes } from 'crypto';

import type {
  IAllocationInfo,
  IClusterKernelInfo,
  IKernelProfile
} from '../../common/kernels';
import type { IJobResources, ISessionInfo } from '../../common/sessions';
import { SidecarError, isSidecarError } from '../errors';
import type { ILogger } from '../log';
import { parseSbatchParsable } from '../sessions/batch-script';
import { askAccounting } from '../sessions/ending';
import { asText } from '../sessions/offer';
import { cancelCommand } from '../sessions/remote';
import { parseUtcOffset } from '../slurm/duration';
import {
  JobPoller,
  type IPollPolicy,
  type PollOutcome
} from '../slurm/job-poller';
import type { ICommandText } from '../slurm/output';
import type { IJobTracker, SharedJobPollers } from '../slurm/shared-pollers';
import type { StateFile } from '../state/json-file';
import type { ITransport } from '../transport/types';
import { fits } from './allocation-fit';
import {
  listAllocationsCommand,
  parseAllocationList,
  parseKernelSteps,
  stepsCommand,
  submitAllocationCommand,
  type IListedAllocation
} from './allocation-job';
import {
  ALLOCATION_END_MESSAGES,
  observe,
  publicView,
  storedView,
  type AllocationOutcome,
  type IAllocationRecord,
  type IAllocationState,
  type IStoredAllocation
} from './allocation-record';

export interface IProgress {
  state: 'waiting' | 'queued' | 'starting';
  jobId: string | null;
  reason: string | null;
  estimatedStart: number | null;
}

export interface IAllocationGrant {
  allocationId: string;
  cluster: string;
  jobId: string;
  node: string;
}

/** What the service needs of the rest of the sidecar. */
export interface IAllocationHost {
  /** The cluster's transport, connected (LocalTransport for LOCAL_TARGET). */
  transport(cluster: string): Promise<ITransport>;
  /** The JupyterLab sessions, whose running jobs kernels may share. */
  sessions?(): ISessionInfo[];
}

export interface IAllocationServiceOptions {
  host: IAllocationHost;
  state: StateFile<IAllocationState>;
  log: ILogger;
  /** An allocation changed (or, with `removed`, left the list). */
  onChange(allocation: IAllocationInfo, removed?: boolean): void;
  /** This computer's name, written into allocation.json. */
  origin: string;
  now?: () => number;
  /** The grace period until the settings (or the state file) give one. */
  graceSeconds?: number;
  /** How long an ended allocation stays in the list. */
  endedKeepMs?: number;
  /**
   * How long kernel steps left by a dead sidecar get to end by themselves,
   * or to be taken back by their kernels (`resume`), before they are
   * cancelled.
   */
  stepSettleMs?: number;
  /** How long `resume` waits for the kernel's job to be seen running. */
  resumeWaitMs?: number;
  pollPolicy?: IPollPolicy;
  /** Pauses before asking sacct again about a job it does not know yet. */
  sacctRetryMs?: number[];
  /** The sidecar's pollers, shared with the sessions (one squeue per cluster per poll). */
  pollers?: SharedJobPollers;
}

export const DEFAULT_GRACE_SECONDS = 600;

/** See `stepSettleMs`: long enough for a provisioner to resume its kernel. */
const STEP_SETTLE_MS = 30_000;

/** How long `resume` waits to see the kernel's job running (see there). */
const RESUME_WAIT_MS = 45_000;
const RESUME_POLL_MS = 250;

/** How long before a failed scancel of ours is tried again. */
const CANCEL_RETRY_MS = 30_000;

const WAITING: IProgress = {
  state: 'waiting',
  jobId: null,
  reason: null,
  estimatedStart: null
};

interface IWaiter {
  onProgress(p: IProgress): void;
  resolve(grant: IAllocationGrant): void;
  reject(err: Error): void;
  last: string;
}

interface ICluster {
  poller: IJobTracker;
  utcOffsetMinutes: number;
  /** Whether utcOffsetMinutes was read from the cluster. */
  offsetAsked: boolean;
  askingOffset: boolean;
}

type Listener = (allocationId: string, reason: string) => void;

export class AllocationService {
  constructor(private readonly _o: IAllocationServiceOptions) {
    this._now = _o.now ?? Date.now;
    this._graceSeconds = _o.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  }

  /** Resolves once `restore` has run (at once when it was not called). */
  get restored(): Promise<void> {
    return this._restoring;
  }

  /** Seconds an allocation is kept after its last kernel. */
  get graceSeconds(): number {
    return this._graceSeconds;
  }

  /** From the settings; kept in the state file for a restart without a page. */
  setGraceSeconds(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) {
      return;
    }
    seconds = Math.round(seconds);
    if (seconds === this._graceSeconds) {
      return;
    }
    this._graceSeconds = seconds;
    this._save();
  }

  async acquire(
    profile: IKernelProfile,
    kernelId: string,
    o: {
      signal: AbortSignal;
      onProgress(p: IProgress): void;
      notebookPath: string | null;
    }
  ): Promise<IAllocationGrant> {
    await this._restoring;
    throwIfAborted(o.signal);
    // A restart of a kernel that runs in an allocation stays there.
    const current = this._recordOfKernel(kernelId);
    if (current?.phase === 'running' && current.job?.node) {
      this._setKernel(current, kernelId, 'starting');
      return this._grant(current);
    }
    if (current) {
      // Asked again while its job waits: wait again, for the same job.
      const old = this._waiters.get(current.id)?.get(kernelId);
      this._waiters.get(current.id)?.delete(kernelId);
      old?.reject(
        new SidecarError(
          'kernel-start-cancelled',
          'The kernel start was asked for again.'
        )
      );
      current.kernels = current.kernels.filter(k => k.kernelId !== kernelId);
    }
    o.onProgress({ ...WAITING });
    const kernel: IClusterKernelInfo = {
      kernelId,
      profile: profile.id,
      notebookPath: o.notebookPath,
      state: 'waiting',
      stepId: null,
      startedAt: null
    };
    const running = this._findRunning(profile);
    if (running) {
      kernel.state = 'starting';
      this._addKernel(running, kernel);
      return this._grant(running);
    }
    let record = this._findQueued(profile);
    if (!record) {
      record = this._newRecord(profile);
      void this._submit(record, profile);
    }
    this._addKernel(record, kernel);
    const target = record;
    return new Promise<IAllocationGrant>((resolve, reject) => {
      const onAbort = () => {
        this._waiters.get(target.id)?.delete(kernelId);
        reject(abortError(o.signal));
        this._dropKernel(target, kernelId);
      };
      const waiter: IWaiter = {
        onProgress: o.onProgress,
        resolve: grant => {
          o.signal.removeEventListener('abort', onAbort);
          resolve(grant);
        },
        reject: err => {
          o.signal.removeEventListener('abort', onAbort);
          reject(err);
        },
        // acquire said 'waiting' already.
        last: JSON.stringify(WAITING)
      };
      o.signal.addEventListener('abort', onAbort, { once: true });
      let waiters = this._waiters.get(target.id);
      if (!waiters) {
        waiters = new Map();
        this._waiters.set(target.id, waiters);
      }
      waiters.set(kernelId, waiter);
      this._tellWaiters(target);
    });
  }

  /**
   * Take a kernel that runs in job `jobId` back after this sidecar was
   * started again (its relay outlived the old one): the allocation holding
   * the job gets the kernel again, and its grace period stops.
   */
  async resume(
    profile: IKernelProfile,
    kernelId: string,
    jobId: string,
    notebookPath: string | null
  ): Promise<IAllocationGrant> {
    await this._restoring;
    // A restored allocation is 'queued' until the poller sees its job, which
    // it can only once JupyterLab has handed this sidecar the clusters.
    const deadline = this._now() + (this._o.resumeWaitMs ?? RESUME_WAIT_MS);
    let record: IAllocationRecord | null = null;
    for (;;) {
      record =
        [...this._records.values()].find(
          r =>
            r.jobId === jobId &&
            r.cluster === profile.cluster &&
            r.phase !== 'ended' &&
            r.phase !== 'ending'
        ) ?? this._sessionAllocation(profile, jobId);
      if (
        (record?.phase === 'running' && record.job?.node) ||
        this._closed ||
        this._now() > deadline
      ) {
        break;
      }
      await new Promise(resolve => setTimeout(resolve, RESUME_POLL_MS));
    }
    if (!record || record.phase !== 'running' || !record.job?.node) {
      throw new SidecarError(
        'allocation-not-found',
        `The kernel's job ${jobId} on ${profile.cluster} is not running any more.`
      );
    }
    if (!record.kernels.some(k => k.kernelId === kernelId)) {
      this._addKernel(record, {
        kernelId,
        profile: profile.id,
        notebookPath,
        state: 'starting',
        stepId: null,
        startedAt: null
      });
    }
    return this._grant(record);
  }

  kernelState(
    kernelId: string,
    state: IClusterKernelInfo['state'],
    stepId?: string | null
  ): void {
    const record = this._recordOfKernel(kernelId);
    if (record) {
      this._setKernel(record, kernelId, state, stepId);
    }
  }

  release(kernelId: string): void {
    const record = this._recordOfKernel(kernelId);
    if (!record) {
      return;
    }
    const waiter = this._waiters.get(record.id)?.get(kernelId);
    if (waiter) {
      this._waiters.get(record.id)!.delete(kernelId);
      waiter.reject(
        new SidecarError('kernel-start-cancelled', 'The kernel was released.')
      );
    }
    this._dropKernel(record, kernelId);
  }

  onEnded(listener: Listener): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  list(): IAllocationInfo[] {
    return [...this._records.values()].map(publicView);
  }

  async end(allocationId: string): Promise<IAllocationInfo> {
    const record = this._records.get(allocationId);
    if (!record) {
      throw new SidecarError(
        'allocation-not-found',
        `There is no allocation ${allocationId}.`
      );
    }
    if (record.phase === 'ended') {
      return publicView(record);
    }
    if (record.sessionId) {
      // Not ours to cancel: its kernels end, the session's job goes on.
      this._end(record, 'ended-from-panel');
      return publicView(record);
    }
    await this._cancel(record, 'ended-from-panel');
    return publicView(record);
  }

  restore(): Promise<void> {
    this._restoring = this._restore().catch(err =>
      this._o.log.error(
        `allocations could not be restored: ${(err as Error).message}`
      )
    );
    return this._restoring;
  }

  /**
   * Cancel every job submitted for kernels that is not over (a JupyterLab
   * session's job is left alone): the Jupyter server is stopping or gone,
   * so no kernel can use them, and nothing may hold a cluster's nodes
   * unseen until its wall time. Resolves once every scancel answered or
   * `budgetMs` passed (a cluster out of reach: the next sidecar releases).
   */
  async releaseAll(budgetMs = 2000): Promise<void> {
    const ours = [...this._records.values()].filter(
      r => r.sessionId === null && r.phase !== 'ended' && r.phase !== 'ending'
    );
    const cancels = ours.map(r =>
      this._cancel(r, 'server-stopped').catch(err =>
        this._o.log.warn(
          `allocations: releasing ${r.id} at stop: ${(err as Error).message}`
        )
      )
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(cancels),
      new Promise(resolve => {
        timer = setTimeout(resolve, budgetMs);
      })
    ]);
    clearTimeout(timer);
  }

  /** Stop polling and timers; allocations go on (a restart finds them). */
  async close(): Promise<void> {
    this._closed = true;
    for (const c of this._clusters.values()) {
      c.poller.dispose();
    }
    for (const t of this._timers.values()) {
      clearTimeout(t);
    }
    this._timers.clear();
    for (const [id, waiters] of this._waiters) {
      for (const w of waiters.values()) {
        w.reject(
          new SidecarError(
            'kernel-start-cancelled',
            'The sidecar is shutting down.'
          )
        );
      }
      this._waiters.delete(id);
    }
    await this._o.state.flush().catch(() => undefined);
  }

  /** Resolves once the state file holds every change made so far. */
  flush(): Promise<void> {
    return this._o.state.flush();
  }

  /** Resolves once the kernel steps left by the last sidecar were dealt with. */
  leftStepsSettled(): Promise<void> {
    return this._leftSteps;
  }

  // -- finding and making allocations -----------------------------------------

  private _findRunning(profile: IKernelProfile): IAllocationRecord | null {
    const candidates = [...this._records.values()].filter(
      r =>
        r.cluster === profile.cluster &&
        r.phase === 'running' &&
        r.job?.node &&
        fits(profile.resources, r.resources)
    );
    const own = candidates.find(r => r.profile === profile.id);
    if (own) {
      return own;
    }
    const ours = candidates.find(r => !r.sessionId);
    if (ours) {
      return ours;
    }
    if (candidates.length > 0) {
      return candidates[0];
    }
    return this._sessionAllocation(profile);
  }

  /**
   * A record for a running session's job that fits (or is `jobId`), made
   * on first use.
   */
  private _sessionAllocation(
    profile: IKernelProfile,
    jobId?: string
  ): IAllocationRecord | null {
    const session = (this._o.host.sessions?.() ?? []).find(
      s =>
        s.cluster === profile.cluster &&
        s.phase === 'running' &&
        s.jobId !== null &&
        s.node !== null &&
        (jobId === undefined
          ? fits(profile.resources, s.request)
          : s.jobId === jobId)
    );
    if (!session) {
      return null;
    }
    const known = [...this._records.values()].find(
      r => r.sessionId === session.id && r.phase !== 'ended'
    );
    if (known) {
      return known.phase === 'running' ? known : null;
    }
    const r = session.request;
    const record: IAllocationRecord = {
      id: randomBytes(8).toString('hex'),
      cluster: session.cluster,
      profile: null,
      sessionId: session.id,
      resources: pickResources(r),
      createdAt: this._now(),
      jobId: session.jobId,
      phase: 'running',
      job: {
        state: session.jobState ?? 'RUNNING',
        reason: null,
        startTime: session.startTime,
        node: session.node,
        timeLeftSeconds: session.timeLeftSeconds,
        observedAt: session.observedAt ?? this._now()
      },
      kernels: [],
      releaseAt: null,
      schedulerUnreachable: false,
      end: null
    };
    this._records.set(record.id, record);
    this._cluster(record.cluster).poller.track(session.jobId!, 'running');
    this._changed(record);
    return record;
  }

  private _findQueued(profile: IKernelProfile): IAllocationRecord | null {
    return (
      [...this._records.values()].find(
        r =>
          r.cluster === profile.cluster &&
          r.profile === profile.id &&
          (r.phase === 'submitting' || r.phase === 'queued') &&
          !this._unwanted.has(r.id) &&
          fits(profile.resources, r.resources)
      ) ?? null
    );
  }

  private _newRecord(profile: IKernelProfile): IAllocationRecord {
    const record: IAllocationRecord = {
      id: randomBytes(8).toString('hex'),
      cluster: profile.cluster,
      profile: profile.id,
      sessionId: null,
      resources: pickResources(profile.resources),
      createdAt: this._now(),
      jobId: null,
      phase: 'submitting',
      job: null,
      kernels: [],
      releaseAt: null,
      schedulerUnreachable: false,
      end: null
    };
    this._records.set(record.id, record);
    this._changed(record);
    return record;
  }

  private async _submit(
    record: IAllocationRecord,
    profile: IKernelProfile
  ): Promise<void> {
    let text: ICommandText;
    try {
      const transport = await this._o.host.transport(record.cluster);
      text = asText(
        await transport.run(
          submitAllocationCommand(
            {
              id: record.id,
              profile: profile.id,
              resources: record.resources,
              createdAt: record.createdAt,
              origin: this._o.origin
            },
            record.resources
          )
        )
      );
    } catch (err) {
      this._failSubmission(
        record,
        isSidecarError(err)
          ? err
          : new SidecarError('command-failed', (err as Error).message)
      );
      return;
    }
    const jobId = text.exitCode === 0 ? parseSbatchParsable(text.stdout) : null;
    if (!jobId) {
      const said = `${text.stdout}\n${text.stderr}`
        .split('\n')
        .map(l => l.trim())
        .filter(l => l !== '');
      this._failSubmission(
        record,
        new SidecarError(
          'sbatch-refused',
          said.length > 0
            ? said.join('\n')
            : `sbatch exited with status ${text.exitCode} and said nothing.`
        )
      );
      return;
    }
    record.jobId = jobId;
    record.phase = 'queued';
    this._changed(record);
    const poller = this._cluster(record.cluster).poller;
    poller.track(jobId, 'queued');
    if (this._unwanted.has(record.id)) {
      await this._cancel(record, this._ownEnds.get(record.id) ?? 'unwanted');
      return;
    }
    void poller.pollNow();
  }

  private _failSubmission(record: IAllocationRecord, err: SidecarError): void {
    const waiters = this._waiters.get(record.id);
    this._waiters.delete(record.id);
    for (const w of waiters?.values() ?? []) {
      w.reject(err);
    }
    this._o.log.info(
      `allocations: submitting ${record.id} on ${record.cluster} failed: ${err.message}`
    );
    this._forget(record);
  }

  // -- kernels ------------------------------------------------------------------

  private _recordOfKernel(kernelId: string): IAllocationRecord | null {
    for (const r of this._records.values()) {
      if (r.phase !== 'ended' && r.kernels.some(k => k.kernelId === kernelId)) {
        return r;
      }
    }
    return null;
  }

  private _addKernel(r: IAllocationRecord, kernel: IClusterKernelInfo): void {
    r.kernels.push(kernel);
    this._clearRelease(r);
    this._changed(r);
  }

  private _setKernel(
    r: IAllocationRecord,
    kernelId: string,
    state: IClusterKernelInfo['state'],
    stepId?: string | null
  ): void {
    const k = r.kernels.find(x => x.kernelId === kernelId);
    if (!k) {
      return;
    }
    k.state = state;
    if (stepId !== undefined) {
      k.stepId = stepId;
    }
    if (state === 'running' && k.startedAt === null) {
      k.startedAt = this._now();
    }
    this._changed(r);
  }

  /** A kernel left: the last one starts the grace period (or a cancel). */
  private _dropKernel(r: IAllocationRecord, kernelId: string): void {
    const before = r.kernels.length;
    r.kernels = r.kernels.filter(k => k.kernelId !== kernelId);
    if (r.kernels.length === before) {
      return;
    }
    this._changed(r);
    if (r.kernels.length > 0 || r.phase === 'ended' || r.phase === 'ending') {
      return;
    }
    if (r.sessionId) {
      this._forget(r);
    } else if (r.phase === 'submitting' || r.phase === 'queued') {
      void this._cancel(r, 'unwanted').catch(err =>
        this._o.log.warn(
          `allocations: cancelling ${r.id}: ${(err as Error).message}`
        )
      );
    } else {
      this._startGrace(r);
    }
  }

  private _grant(r: IAllocationRecord): IAllocationGrant {
    return {
      allocationId: r.id,
      cluster: r.cluster,
      jobId: r.jobId!,
      node: r.job!.node!
    };
  }

  /** Pass where the job is on to the kernels waiting for it. */
  private _tellWaiters(r: IAllocationRecord): void {
    const waiters = this._waiters.get(r.id);
    if (!waiters || waiters.size === 0) {
      return;
    }
    if (r.phase === 'running' && r.job?.node) {
      this._waiters.delete(r.id);
      const grant = this._grant(r);
      for (const [kernelId, w] of waiters) {
        this._send(w, {
          state: 'starting',
          jobId: r.jobId,
          reason: null,
          estimatedStart: null
        });
        const k = r.kernels.find(x => x.kernelId === kernelId);
        if (k) {
          k.state = 'starting';
        }
        w.resolve(grant);
      }
      this._changed(r);
      return;
    }
    const p: IProgress =
      r.phase === 'submitting'
        ? { ...WAITING }
        : r.phase === 'queued'
          ? {
              state: 'queued',
              jobId: r.jobId,
              reason: r.job?.reason ?? null,
              estimatedStart: r.job?.startTime ?? null
            }
          : {
              state: 'starting',
              jobId: r.jobId,
              reason: null,
              estimatedStart: null
            };
    for (const w of waiters.values()) {
      this._send(w, p);
    }
  }

  private _send(w: IWaiter, p: IProgress): void {
    const key = JSON.stringify(p);
    if (key !== w.last) {
      w.last = key;
      w.onProgress(p);
    }
  }

  // -- grace and ending -----------------------------------------------------------

  private _startGrace(r: IAllocationRecord): void {
    this._clearRelease(r);
    r.releaseAt = this._now() + this._graceSeconds * 1000;
    this._changed(r);
    const t = setTimeout(
      () => {
        this._timers.delete(r.id);
        if (
          r.kernels.length === 0 &&
          r.releaseAt !== null &&
          r.phase !== 'ended' &&
          r.phase !== 'ending'
        ) {
          void this._cancel(r, 'released').catch(err =>
            this._o.log.warn(
              `allocations: releasing ${r.id}: ${(err as Error).message}`
            )
          );
        }
      },
      Math.max(0, r.releaseAt - this._now())
    );
    t.unref?.();
    this._timers.set(r.id, t);
  }

  private _clearRelease(r: IAllocationRecord): void {
    const t = this._timers.get(r.id);
    if (t) {
      clearTimeout(t);
      this._timers.delete(r.id);
    }
    if (r.releaseAt !== null) {
      r.releaseAt = null;
    }
  }

  /** scancel our job; it ends once Slurm says so. */
  private async _cancel(
    r: IAllocationRecord,
    why: AllocationOutcome
  ): Promise<void> {
    this._ownEnds.set(r.id, why);
    this._clearRelease(r);
    if (!r.jobId) {
      // sbatch has not answered: cancelled as soon as it does.
      this._unwanted.add(r.id);
      if (r.phase !== 'submitting') {
        this._end(r, why);
      }
      return;
    }
    const before = r.phase;
    r.phase = 'ending';
    this._changed(r);
    const poller = this._cluster(r.cluster).poller;
    poller.track(r.jobId, 'starting');
    try {
      const transport = await this._o.host.transport(r.cluster);
      const out = asText(await transport.run(cancelCommand([r.jobId])));
      if (
        out.exitCode !== 0 &&
        !/already completing|invalid job id/i.test(out.stderr)
      ) {
        throw new SidecarError(
          'command-failed',
          `scancel ${r.jobId} failed: ${out.stderr.trim() || `status ${out.exitCode}`}`
        );
      }
    } catch (err) {
      // Not cancelled (the cluster is out of reach): the job still holds
      // its resources, so the panel shows it as before, and a cancel the
      // user did not ask for is tried again.
      if (r.phase === 'ending') {
        r.phase = before;
        this._ownEnds.delete(r.id);
        this._changed(r);
        if (why !== 'ended-from-panel') {
          this._retryCancel(r, why);
        }
      }
      throw err;
    } finally {
      void poller.pollNow();
    }
  }

  private _retryCancel(r: IAllocationRecord, why: AllocationOutcome): void {
    const key = `cancel:${r.id}`;
    clearTimeout(this._timers.get(key));
    const t = setTimeout(() => {
      this._timers.delete(key);
      if (
        this._records.get(r.id) === r &&
        r.kernels.length === 0 &&
        r.phase !== 'ended' &&
        r.phase !== 'ending'
      ) {
        void this._cancel(r, why).catch(err =>
          this._o.log.warn(
            `allocations: cancelling ${r.id} again: ${(err as Error).message}`
          )
        );
      }
    }, CANCEL_RETRY_MS);
    t.unref?.();
    this._timers.set(key, t);
  }

  private _end(
    r: IAllocationRecord,
    outcome: AllocationOutcome,
    message = ALLOCATION_END_MESSAGES[outcome]
  ): void {
    if (r.phase === 'ended') {
      return;
    }
    r.phase = 'ended';
    r.end = { outcome, message, at: this._now() };
    r.releaseAt = null;
    this._clearRelease(r);
    for (const k of r.kernels) {
      k.state = 'ended';
    }
    const waiters = this._waiters.get(r.id);
    this._waiters.delete(r.id);
    for (const w of waiters?.values() ?? []) {
      w.reject(
        new SidecarError(
          'allocation-ended',
          `The allocation ended before it ran: ${message}`
        )
      );
    }
    if (r.jobId) {
      this._cluster(r.cluster).poller.untrack(r.jobId);
    }
    this._unwanted.delete(r.id);
    this._ownEnds.delete(r.id);
    this._changed(r);
    for (const listener of [...this._listeners]) {
      try {
        listener(r.id, message);
      } catch (err) {
        this._o.log.warn(
          `allocations: an onEnded listener failed: ${(err as Error).message}`
        );
      }
    }
    const t = setTimeout(() => {
      this._timers.delete(`ended:${r.id}`);
      if (this._records.get(r.id) === r) {
        this._forget(r);
      }
    }, this._o.endedKeepMs ?? 300_000);
    t.unref?.();
    this._timers.set(`ended:${r.id}`, t);
  }

  // -- polling ----------------------------------------------------------------------

  private _onPoll(cluster: string, outcome: PollOutcome): void {
    const c = this._cluster(cluster);
    const { poller } = c;
    if (outcome.kind === 'answered' && !c.offsetAsked) {
      void this._askOffset(cluster, c);
    }
    const ended: { r: IAllocationRecord; outcome: AllocationOutcome }[] = [];
    for (const jobId of outcome.asked) {
      const r = [...this._records.values()].find(
        x => x.cluster === cluster && x.jobId === jobId && x.phase !== 'ended'
      );
      if (!r) {
        poller.untrack(jobId);
        continue;
      }
      if (outcome.kind === 'unreachable') {
        if (!r.schedulerUnreachable) {
          r.schedulerUnreachable = true;
          this._changed(r);
        }
        continue;
      }
      const job = outcome.jobs.get(jobId);
      if (!job) {
        ended.push({ r, outcome: 'unknown' });
        continue;
      }
      observe(r, job, this._now());
      if (job.phase === 'ended') {
        ended.push({ r, outcome: job.outcome ?? 'unknown' });
        continue;
      }
      if (job.phase === 'running' && r.phase !== 'ending') {
        const node = r.job?.node;
        if (r.phase !== 'running' && node) {
          r.phase = 'running';
        }
        poller.track(jobId, node ? 'running' : 'starting');
      } else if (job.phase === 'ending') {
        r.phase = 'ending';
      }
      this._tellWaiters(r);
      this._changed(r);
    }
    if (ended.length > 0) {
      void this._finish(cluster, ended);
    }
  }

  /**
   * End allocations whose jobs are over: what we did says why first, then
   * squeue's last word, then (for a job squeue forgot) accounting.
   */
  private async _finish(
    cluster: string,
    items: { r: IAllocationRecord; outcome: AllocationOutcome }[]
  ): Promise<void> {
    const mine = items.filter(i => !this._finishing.has(i.r.id));
    mine.forEach(i => this._finishing.add(i.r.id));
    let books = new Map<string, { outcome: AllocationOutcome }>();
    try {
      const ask = mine
        .filter(i => i.outcome === 'unknown' && !this._ownEnds.has(i.r.id))
        .map(i => i.r.jobId!);
      if (ask.length > 0) {
        books = await askAccounting(
          async argv => this._run(cluster, argv),
          ask,
          this._o.sacctRetryMs ?? [1000],
          this._o.log
        );
      }
    } finally {
      mine.forEach(i => this._finishing.delete(i.r.id));
    }
    for (const { r, outcome } of mine) {
      const own = this._ownEnds.get(r.id);
      if (own) {
        this._end(r, own);
      } else if (r.sessionId) {
        this._end(r, 'session-ended');
      } else {
        this._end(r, books.get(r.jobId!)?.outcome ?? outcome);
      }
    }
  }

  private async _run(
    cluster: string,
    argv: readonly string[]
  ): Promise<ICommandText> {
    const transport = await this._o.host.transport(cluster);
    return asText(await transport.run({ argv: [...argv], timeoutSeconds: 30 }));
  }

  // -- restore ----------------------------------------------------------------------

  private async _restore(): Promise<void> {
    const { state, report } = await this._o.state.load();
    if (report.problem) {
      this._o.log.warn(
        `allocations: ${report.problem} (${report.source} used)`
      );
    }
    if (typeof state.graceSeconds === 'number') {
      this._graceSeconds = state.graceSeconds;
    }
    const byCluster = new Map<string, IStoredAllocation[]>();
    for (const a of state.allocations) {
      byCluster.set(a.cluster, [...(byCluster.get(a.cluster) ?? []), a]);
    }
    await Promise.all(
      [...byCluster].map(([cluster, stored]) =>
        this._reconcile(cluster, stored)
      )
    );
    this._save();
  }

  /**
   * Take up a cluster's allocations: those of the file, and live jobs of
   * ours the file does not know (a sidecar that died after sbatch). No
   * kernel runs in them any more: steps left behind are cancelled and
   * each allocation waits out the grace period.
   */
  private async _reconcile(
    cluster: string,
    stored: IStoredAllocation[]
  ): Promise<void> {
    let alive: IListedAllocation[] | null = null;
    try {
      const out = await this._run(cluster, listAllocationsCommand().argv);
      if (out.exitCode === 0) {
        const list = parseAllocationList(out.stdout);
        this._cluster(cluster).utcOffsetMinutes = list.utcOffsetMinutes;
        this._cluster(cluster).offsetAsked = true;
        alive = list.allocations;
      } else {
        this._o.log.warn(
          `allocations: cannot list the jobs on ${cluster}: ${out.stderr.trim()}`
        );
      }
    } catch (err) {
      this._o.log.warn(
        `allocations: cannot reach ${cluster} to restore its allocations: ${(err as Error).message}`
      );
    }
    const records: IAllocationRecord[] = [];
    for (const s of stored) {
      const live = alive?.find(a => a.id === s.id);
      const jobId = s.jobId ?? live?.jobId ?? null;
      if (!jobId) {
        // Never submitted, or its job is gone already.
        continue;
      }
      records.push(this._restoredRecord(s, jobId));
    }
    for (const a of alive ?? []) {
      // Only what this computer submitted: the same cluster account may be
      // used from another computer, whose kernels run in its own jobs.
      if (a.meta?.origin !== this._o.origin) {
        continue;
      }
      if (!records.some(r => r.id === a.id || r.jobId === a.jobId)) {
        this._o.log.info(
          `allocations: adopting job ${a.jobId} (${a.id}) on ${cluster}`
        );
        records.push(
          this._restoredRecord(
            {
              id: a.id,
              cluster,
              profile: a.meta?.profile ?? null,
              resources: a.meta?.resources ?? pickResources(null),
              createdAt: a.meta?.createdAt || this._now(),
              jobId: a.jobId
            },
            a.jobId
          )
        );
      }
    }
    const poller = this._cluster(cluster).poller;
    for (const r of records) {
      this._records.set(r.id, r);
      this._startGrace(r);
      poller.track(r.jobId!, 'queued');
    }
    await poller.pollNow();
    const running = records
      .filter(r => r.phase === 'running')
      .map(r => r.jobId!);
    if (alive && running.length > 0) {
      // Not awaited: kernels may resume meanwhile (their starts wait for
      // `_restoring`).
      this._leftSteps = this._leftSteps.then(() =>
        this._cancelLeftSteps(cluster, running)
      );
    }
  }

  private _restoredRecord(
    s: IStoredAllocation,
    jobId: string
  ): IAllocationRecord {
    return {
      id: s.id,
      cluster: s.cluster,
      profile: s.profile,
      sessionId: null,
      resources: s.resources,
      createdAt: s.createdAt,
      jobId,
      phase: 'queued',
      job: null,
      kernels: [],
      releaseAt: null,
      schedulerUnreachable: false,
      end: null
    };
  }

  /**
   * Kernel steps of the old sidecar: a step whose srun died with it
   * usually ends by itself, and a detached relay's kernel may be resumed;
   * what is still there and unclaimed after a while is cancelled.
   */
  private async _cancelLeftSteps(
    cluster: string,
    jobIds: string[]
  ): Promise<void> {
    const steps = async () => {
      const out = await this._run(cluster, stepsCommand(jobIds).argv);
      return out.exitCode === 0 ? parseKernelSteps(out.stdout) : [];
    };
    try {
      let left = await steps();
      if (left.length > 0) {
        await new Promise(resolve =>
          setTimeout(resolve, this._o.stepSettleMs ?? STEP_SETTLE_MS)
        );
        if (this._closed) {
          return;
        }
        const claimed = new Set(
          [...this._records.values()].flatMap(r =>
            r.kernels.map(k => k.stepId).filter(id => id !== null)
          )
        );
        left = (await steps()).filter(step => !claimed.has(step));
      }
      if (left.length > 0) {
        this._o.log.info(
          `allocations: cancelling kernel steps left behind on ${cluster}: ${left.join(' ')}`
        );
        await this._run(cluster, ['scancel', ...left]);
      }
    } catch (err) {
      this._o.log.warn(
        `allocations: cannot check the steps on ${cluster}: ${(err as Error).message}`
      );
    }
  }

  // -- bookkeeping ------------------------------------------------------------------

  private _cluster(name: string): ICluster {
    let c = this._clusters.get(name);
    if (!c) {
      const entry: ICluster = {
        utcOffsetMinutes: 0,
        offsetAsked: false,
        askingOffset: false,
        poller: null as unknown as IJobTracker
      };
      const onPoll = (outcome: PollOutcome) => this._onPoll(name, outcome);
      entry.poller = this._o.pollers
        ? this._o.pollers.tracker(name, {
            utcOffsetMinutes: () =>
              entry.offsetAsked ? entry.utcOffsetMinutes : null,
            onPoll
          })
        : new JobPoller({
            run: argv => this._run(name, argv),
            utcOffsetMinutes: () => entry.utcOffsetMinutes,
            onPoll,
            policy: this._o.pollPolicy
          });
      c = entry;
      this._clusters.set(name, c);
      void this._askOffset(name, c);
    }
    return c;
  }

  /** squeue's times are the cluster's local time: its offset, once. */
  private async _askOffset(cluster: string, c: ICluster): Promise<void> {
    if (c.offsetAsked || c.askingOffset) {
      return;
    }
    c.askingOffset = true;
    try {
      const out = await this._run(cluster, ['date', '+%z']);
      c.utcOffsetMinutes = parseUtcOffset(out.stdout.trim());
      c.offsetAsked = true;
    } catch (err) {
      this._o.log.debug(
        `allocations: no UTC offset for ${cluster}: ${(err as Error).message}`
      );
    } finally {
      c.askingOffset = false;
    }
  }

  private _forget(r: IAllocationRecord): void {
    this._records.delete(r.id);
    this._clearRelease(r);
    if (r.jobId && r.phase !== 'ended') {
      this._cluster(r.cluster).poller.untrack(r.jobId);
    }
    this._save();
    this._o.onChange(publicView(r), true);
  }

  private _changed(r: IAllocationRecord): void {
    this._save();
    this._o.onChange(publicView(r));
  }

  private _save(): void {
    if (this._closed) {
      return;
    }
    const allocations = [...this._records.values()]
      .filter(r => !r.sessionId && r.phase !== 'ended')
      .map(storedView);
    const text = JSON.stringify(allocations) + this._graceSeconds;
    if (text === this._saved) {
      return;
    }
    this._saved = text;
    this._o.state
      .save({ version: 1, allocations, graceSeconds: this._graceSeconds })
      .catch(err =>
        this._o.log.error(
          `allocations: the state file ${this._o.state.path} could not be written (${(err as Error).message}); allocations are kept in memory and on the cluster.`
        )
      );
  }

  private readonly _now: () => number;
  private _graceSeconds: number;
  private _restoring: Promise<void> = Promise.resolve();
  /** The cancel of steps left by the last sidecar (after the settle time). */
  private _leftSteps: Promise<void> = Promise.resolve();
  private _closed = false;
  private _saved = '';
  private readonly _records = new Map<string, IAllocationRecord>();
  private readonly _clusters = new Map<string, ICluster>();
  private readonly _waiters = new Map<string, Map<string, IWaiter>>();
  private readonly _listeners = new Set<Listener>();
  private readonly _timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Allocations to cancel as soon as sbatch answers. */
  private readonly _unwanted = new Set<string>();
  /** Why we ended an allocation ourselves. */
  private readonly _ownEnds = new Map<string, AllocationOutcome>();
  private readonly _finishing = new Set<string>();
}

function pickResources(r: IJobResources | null): IJobResources {
  return {
    partition: r?.partition ?? '',
    account: r?.account ?? '',
    qos: r?.qos ?? '',
    wallTime: r?.wallTime ?? '',
    cpus: r?.cpus ?? 0,
    memory: r?.memory ?? '',
    gpus: { type: r?.gpus?.type ?? '', count: r?.gpus?.count ?? 0 },
    constraint: r?.constraint ?? ''
  };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw abortError(signal);
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (isSidecarError(reason)) {
    return reason;
  }
  return new SidecarError(
    'kernel-start-cancelled',
    'The kernel start was cancelled.'
  );
}
