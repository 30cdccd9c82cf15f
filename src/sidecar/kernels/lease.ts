/**
 * Kernel leases: one WebSocket per cluster kernel between the kernel
 * provisioner inside the Jupyter server and the sidecar (Routes.kernelLease,
 * LeaseRequest/LeaseReply of src/common/kernels.ts).
 *
 * A lease starts its kernel (an allocation from the AllocationService, then a
 * relay step in it), interrupts, stops and starts it again in the same
 * allocation (a restart never requeues), and tells the provisioner when the
 * kernel or its allocation ended. The socket is the kernel's life line: when
 * it closes (the Jupyter server died, or gave up a start), the kernel step
 * ends and the allocation is told the kernel is gone.
 *
 * The kernel's HMAC key arrives in the `start` message and goes only into the
 * relay's stdin: it is never logged, broadcast or kept here beyond the call.
 */
import { constants as osConstants } from 'os';
import { posix } from 'path';

import type { RawData, WebSocket } from 'ws';

import {
  LEASE_PROTOCOL_VERSION,
  LOCAL_TARGET,
  type IClusterKernelInfo,
  type IKernelProfile,
  type IKernelStartInfo,
  type ILeaseConnection,
  type ILeaseRelayHandle,
  type LeaseReply,
  type LeaseRequest,
  type SidecarEvent
} from '../../common/api';
import { isSidecarError } from '../errors';
import type { ILogger } from '../log';
import type { ITransport } from '../transport/types';
import { parseLeaseRequest } from './lease-request';
import {
  KernelRelay,
  relayCommand,
  type IKernelRelayOptions,
  type IRelayedKernel,
  type IRelayEnd
} from './relay';
import type { IStartKernel } from './relay-protocol';

/** Where a kernel's allocation is while the start waits (allocations.ts). */
export interface IAllocationProgress {
  state: 'waiting' | 'queued' | 'starting';
  jobId: string | null;
  reason: string | null;
  estimatedStart: number | null;
}

/** A running allocation a kernel may start in (allocations.ts). */
export interface IAllocationGrant {
  allocationId: string;
  cluster: string;
  jobId: string;
  node: string;
}

/** What leases need of the AllocationService (allocations.ts). */
export interface ILeaseAllocations {
  acquire(
    profile: IKernelProfile,
    kernelId: string,
    o: {
      signal: AbortSignal;
      onProgress(p: IAllocationProgress): void;
      notebookPath: string | null;
    }
  ): Promise<IAllocationGrant>;
  kernelState(
    kernelId: string,
    state: IClusterKernelInfo['state'],
    stepId?: string | null
  ): void;
  release(kernelId: string): void;
  resume(
    profile: IKernelProfile,
    kernelId: string,
    jobId: string,
    notebookPath: string | null
  ): Promise<IAllocationGrant>;
  onEnded(listener: (allocationId: string, reason: string) => void): () => void;
}

/** What leases use of a KernelRelay: the boundary unit tests stub. */
export interface ILeaseRelay {
  startKernel(request: IStartKernel): Promise<IRelayedKernel>;
  signal(signal: NodeJS.Signals): void;
  shutdown(waitMs?: number): Promise<IRelayEnd>;
  readonly ended: Promise<IRelayEnd>;
  /** What the relay said at start: its Slurm step. */
  readonly hello?: { step?: string | null };
  /** Where a detached relay runs (it outlives this sidecar); else null. */
  readonly handle?: ILeaseRelayHandle | null;
  /** The running kernel (a resumed relay has one from the start). */
  readonly kernel?: IRelayedKernel | null;
  /** See KernelRelay.iopubBack (only a resumed relay is asked). */
  iopubBack?(timeoutMs: number): Promise<boolean>;
}

export type RelayStarter = (
  options: IKernelRelayOptions
) => Promise<ILeaseRelay>;

export type RelayResumer = (
  options: IKernelRelayOptions & {
    detach: { lingerSeconds: number };
    handle: ILeaseRelayHandle;
    ports: Record<'shell' | 'iopub' | 'stdin' | 'control' | 'hb', number>;
    signatureScheme: string;
  }
) => Promise<ILeaseRelay>;

export interface IKernelLeasesOptions {
  profiles: { get(id: string): Promise<IKernelProfile | null> };
  allocations: ILeaseAllocations;
  transport(cluster: string): Promise<ITransport>;
  broadcast(event: SidecarEvent): void;
  log: ILogger;
  /** This sidecar process (random): a new one tells the provisioner its kernels are lost. */
  sidecarId: string;
  /** How relays are started (default KernelRelay.start). */
  startRelay?: RelayStarter;
  /** How relays are taken up again (default KernelRelay.resume). */
  resumeRelay?: RelayResumer;
  /** How long a finished start stays in `starts()` (ms). */
  keepFinishedMs?: number;
  /** How long a dead kernel's step may take to end with it (ms). */
  stepEndWaitMs?: number;
  /** How long a kernel whose job is gone waits for the allocation's reason (ms). */
  jobEndWaitMs?: number;
  now?: () => number;
}

export const CANCELLED_MESSAGE =
  'Cancelled: the kernel start was cancelled from JupyterLab.';

/** Finished starts stay listed this long, so a tab that asks late sees the end. */
const KEEP_FINISHED_MS = 30_000;

/** How long a dead kernel's step may take to end with it. */
const STEP_END_WAIT_MS = 2_000;

/**
 * How long a kernel's relay waits to be linked again after a cut before it
 * ends the kernel: a connection that comes back, or a sidecar restarted,
 * within this time finds the kernel as it was.
 */
const RELAY_LINGER_SECONDS = 300;
/** How long a resumed kernel waits for the Jupyter server's iopub. */
const IOPUB_BACK_MS = 5_000;

/** How long a kernel whose job is gone waits for the allocation service's reason. */
const JOB_END_WAIT_MS = 30_000;

type AbortWhy = 'cancelled' | 'closed' | 'stopped' | { ended: string };

interface IStarting {
  abort: AbortController;
  why: AbortWhy | null;
}

/** One provisioner's socket: one kernel, started again on restarts. */
class Lease {
  constructor(readonly ws: WebSocket) {}
  kernelId: string | null = null;
  /** The allocation knows the kernel (acquire was called; not released yet). */
  registered = false;
  grant: IAllocationGrant | null = null;
  relay: ILeaseRelay | null = null;
  starting: IStarting | null = null;
  /** Fired when the allocation's end is known: ends the wait of _watch. */
  goneWaiter = new AbortController();
  closed = false;
  /** start/stop/release run one after another; signal does not wait. */
  queue: Promise<void> = Promise.resolve();
}

interface IKeptStart {
  info: IKernelStartInfo;
  timer: NodeJS.Timeout | null;
}

export class KernelLeases {
  constructor(private readonly _o: IKernelLeasesOptions) {
    this._startRelay = _o.startRelay ?? (o => KernelRelay.start(o));
    this._resumeRelay = _o.resumeRelay ?? (o => KernelRelay.resume(o));
    this._now = _o.now ?? Date.now;
    this._stopListening = _o.allocations.onEnded((id, reason) =>
      this._allocationEnded(id, reason)
    );
  }

  /** Take a lease socket (the server's upgrade of Routes.kernelLease). */
  accept(ws: WebSocket): void {
    if (this._closed) {
      ws.close(1001, 'sidecar shutting down');
      return;
    }
    const lease = new Lease(ws);
    this._leases.add(lease);
    ws.on('message', (data: RawData, isBinary: boolean) =>
      this._onMessage(lease, data, isBinary)
    );
    ws.on('close', () => this._onClose(lease));
    ws.on('error', () => this._onClose(lease));
    this._send(lease, {
      type: 'hello',
      version: LEASE_PROTOCOL_VERSION,
      sidecar: this._o.sidecarId
    });
  }

  /** Starts in progress, and those that ended a moment ago. */
  starts(): IKernelStartInfo[] {
    return [...this._starts.values()].map(s => ({ ...s.info }));
  }

  /** Give up a start in progress (the notebook's Cancel). False: none. */
  cancel(kernelId: string): boolean {
    for (const lease of this._leases) {
      if (lease.kernelId === kernelId && lease.starting) {
        this._abortStart(lease, 'cancelled');
        return true;
      }
    }
    return false;
  }

  /** The sidecar exits: every kernel step ends (allocations stay, for the next sidecar). */
  async close(): Promise<void> {
    this._closed = true;
    this._stopListening();
    const leases = [...this._leases];
    this._leases.clear();
    for (const lease of leases) {
      lease.closed = true;
      this._abortStart(lease, 'closed');
      lease.ws.close(1001, 'sidecar shutting down');
    }
    await Promise.all(leases.map(lease => this._endRelay(lease)));
    for (const kept of this._starts.values()) {
      if (kept.timer) {
        clearTimeout(kept.timer);
      }
    }
    this._starts.clear();
  }

  private _onMessage(lease: Lease, data: RawData, isBinary: boolean): void {
    if (lease.closed) {
      return;
    }
    const request = isBinary ? null : parseLeaseRequest(String(data));
    if (typeof request === 'string' || request === null) {
      this._send(lease, {
        type: 'error',
        message: request ?? 'Lease messages are JSON text.'
      });
      return;
    }
    switch (request.type) {
      case 'start':
        if (lease.starting) {
          this._send(lease, {
            type: 'error',
            message: 'The kernel is already starting.'
          });
          return;
        }
        if (lease.kernelId !== null && lease.kernelId !== request.kernelId) {
          this._send(lease, {
            type: 'error',
            message: 'This lease belongs to another kernel.'
          });
          return;
        }
        // Marked before it is queued: a stop or cancel right after it finds it.
        lease.kernelId = request.kernelId;
        lease.starting = { abort: new AbortController(), why: null };
        this._enqueue(lease, () => this._start(lease, request));
        return;
      case 'resume':
        if (lease.kernelId !== null || lease.starting) {
          this._send(lease, {
            type: 'error',
            message: 'Only a new lease can take up a kernel.'
          });
          return;
        }
        lease.kernelId = request.kernelId;
        lease.starting = { abort: new AbortController(), why: null };
        this._enqueue(lease, () => this._resume(lease, request));
        return;
      case 'signal':
        this._signal(lease, request.signal);
        return;
      case 'stop':
        this._abortStart(lease, 'stopped');
        this._enqueue(lease, async () => {
          await this._endRelay(lease);
          this._send(lease, { type: 'stopped' });
        });
        return;
      case 'release':
        this._abortStart(lease, 'closed');
        this._enqueue(lease, () => this._release(lease));
        return;
    }
  }

  private _onClose(lease: Lease): void {
    if (lease.closed) {
      return;
    }
    lease.closed = true;
    this._leases.delete(lease);
    this._abortStart(lease, 'closed');
    this._enqueue(lease, () => this._release(lease));
  }

  private _enqueue(lease: Lease, work: () => Promise<void>): void {
    lease.queue = lease.queue.then(work).catch(err => {
      this._o.log.error(
        `kernel ${lease.kernelId ?? '(none)'}: lease failed: ${describeError(err)}`
      );
    });
  }

  private _abortStart(lease: Lease, why: AbortWhy): void {
    if (lease.starting && !lease.starting.abort.signal.aborted) {
      lease.starting.why = why;
      lease.starting.abort.abort();
    }
  }

  private async _start(
    lease: Lease,
    request: Extract<LeaseRequest, { type: 'start' }>
  ): Promise<void> {
    const starting = lease.starting!;
    const kernelId = request.kernelId;
    const { log } = this._o;
    let kept: IKeptStart | null = null;
    try {
      if (request.version !== LEASE_PROTOCOL_VERSION) {
        throw new LeaseFailure(
          `This JupyterLab's kernel provisioner speaks lease protocol ${request.version} and its sidecar ${LEASE_PROTOCOL_VERSION}: restart the Jupyter server so both come from the same jupyterlab-hpc.`
        );
      }
      const profile = await this._o.profiles.get(request.profile);
      if (!profile) {
        throw new LeaseFailure(
          `The cluster kernel's profile ${request.profile} no longer exists; remove and add it again from the HPC panel.`
        );
      }
      kept = this._track({
        kernelId,
        profile: profile.id,
        specName: profile.specName,
        notebookPath: request.notebookPath,
        state: 'waiting',
        allocationId: null,
        jobId: null,
        reason: null,
        estimatedStart: null,
        message: null,
        restart: request.restart,
        at: this._now()
      });
      // A start while a kernel still runs (no stop before it): end that one.
      await this._endRelay(lease);
      checkAborted(starting);

      let grant = lease.grant;
      if (grant) {
        this._o.allocations.kernelState(kernelId, 'restarting');
      } else {
        lease.registered = true;
        grant = await untilAborted(
          starting,
          this._o.allocations.acquire(profile, kernelId, {
            signal: starting.abort.signal,
            notebookPath: request.notebookPath,
            onProgress: p => {
              if (starting.abort.signal.aborted) {
                return;
              }
              this._update(kept!, {
                state: p.state,
                jobId: p.jobId,
                reason: p.reason,
                estimatedStart: p.estimatedStart
              });
              this._send(lease, { type: 'progress', ...p });
            }
          })
        );
        lease.grant = grant;
        checkAborted(starting);
        this._o.allocations.kernelState(kernelId, 'starting');
      }
      this._update(kept, {
        state: 'starting',
        allocationId: grant.allocationId,
        jobId: grant.jobId,
        reason: null,
        estimatedStart: null
      });
      this._send(lease, {
        type: 'progress',
        state: 'starting',
        jobId: grant.jobId,
        reason: null,
        estimatedStart: null
      });

      const transport = await this._o.transport(profile.cluster);
      checkAborted(starting);
      const relay = await this._startRelay({
        transport,
        command: relayCommand({
          jobId: grant.jobId,
          python: posix.join(profile.environment, 'bin', 'python')
        }),
        label:
          profile.cluster === LOCAL_TARGET ? 'this computer' : profile.cluster,
        detach: { lingerSeconds: RELAY_LINGER_SECONDS }
      });
      lease.relay = relay;
      // From here an abort ends the step, which fails startKernel at once.
      const onAbort = () => void relay.shutdown();
      starting.abort.signal.addEventListener('abort', onAbort);
      checkAborted(starting);
      let kernel: IRelayedKernel;
      try {
        // The env's own ipykernel: the relay's default argv runs its Python.
        kernel = await relay.startKernel({
          key: request.key,
          signature_scheme: request.signatureScheme,
          ...(profile.workingDirectory ? { cwd: profile.workingDirectory } : {})
        });
      } finally {
        starting.abort.signal.removeEventListener('abort', onAbort);
      }
      checkAborted(starting);
      const c = kernel.connection;
      const connection: ILeaseConnection = {
        transport: c.transport,
        ip: c.ip,
        shell_port: c.shell_port,
        iopub_port: c.iopub_port,
        stdin_port: c.stdin_port,
        control_port: c.control_port,
        hb_port: c.hb_port,
        signature_scheme: c.signature_scheme
      };
      this._watch(lease, relay, kernel, grant, transport);
      const stepId = relay.hello?.step ?? null;
      this._o.allocations.kernelState(kernelId, 'running', stepId);
      this._update(kept, { state: 'started' });
      log.info(
        `kernel ${kernelId}: ${request.restart ? 'restarted' : 'started'} in job ${grant.jobId} on ${grant.node}, step ${stepId ?? '?'} (profile ${profile.id})`
      );
      this._send(lease, {
        type: 'started',
        connection,
        allocationId: grant.allocationId,
        jobId: grant.jobId,
        node: grant.node,
        stepId,
        relay: relay.handle ?? null
      });
    } catch (err) {
      const why = starting.abort.signal.aborted ? starting.why : null;
      const message =
        why === 'cancelled'
          ? CANCELLED_MESSAGE
          : why !== null && typeof why === 'object'
            ? why.ended
            : why === 'closed' || why === 'stopped'
              ? 'The Jupyter server gave up the kernel start.'
              : failureMessage(err);
      if (!(err instanceof LeaseFailure) && !isSidecarError(err) && !why) {
        log.error(`kernel ${kernelId}: start failed: ${describeError(err)}`);
      } else {
        log.info(`kernel ${kernelId}: start failed: ${message}`);
      }
      await this._endRelay(lease);
      // The kernel is gone: the allocation may start its grace period.
      this._forgetAllocation(lease);
      if (kept) {
        this._update(kept, {
          state: why === 'cancelled' ? 'cancelled' : 'failed',
          message
        });
      }
      this._send(lease, {
        type: 'failed',
        message,
        cancelled: why === 'cancelled'
      });
    } finally {
      if (lease.starting === starting) {
        lease.starting = null;
      }
      if (kept) {
        this._finishLater(kept);
      }
    }
  }

  /**
   * A new sidecar takes up a kernel whose relay outlived the last one: the
   * allocation gets it back, the relay is linked again and the kernel's
   * ports listen here again where its clients left them.
   */
  private async _resume(
    lease: Lease,
    request: Extract<LeaseRequest, { type: 'resume' }>
  ): Promise<void> {
    const starting = lease.starting!;
    const kernelId = request.kernelId;
    try {
      if (request.version !== LEASE_PROTOCOL_VERSION) {
        throw new LeaseFailure(
          `This JupyterLab's kernel provisioner speaks lease protocol ${request.version} and its sidecar ${LEASE_PROTOCOL_VERSION}.`
        );
      }
      const profile = await this._o.profiles.get(request.profile);
      if (!profile) {
        throw new LeaseFailure(
          `The cluster kernel's profile ${request.profile} no longer exists.`
        );
      }
      lease.registered = true;
      const grant = await this._o.allocations.resume(
        profile,
        kernelId,
        request.jobId,
        request.notebookPath
      );
      lease.grant = grant;
      checkAborted(starting);
      const transport = await this._o.transport(profile.cluster);
      const c = request.connection;
      const relay = await this._resumeRelay({
        transport,
        command: { argv: [] },
        label:
          profile.cluster === LOCAL_TARGET ? 'this computer' : profile.cluster,
        detach: { lingerSeconds: RELAY_LINGER_SECONDS },
        handle: request.relay,
        ports: {
          shell: c.shell_port,
          iopub: c.iopub_port,
          stdin: c.stdin_port,
          control: c.control_port,
          hb: c.hb_port
        },
        signatureScheme: c.signature_scheme
      });
      lease.relay = relay;
      if (starting.abort.signal.aborted) {
        throw new LeaseFailure('aborted');
      }
      this._watch(lease, relay, relay.kernel!, grant, transport);
      // The Jupyter server's iopub first: output of a cell run before it is
      // back would be lost (see KernelRelay.iopubBack).
      if (relay.iopubBack && !(await relay.iopubBack(IOPUB_BACK_MS))) {
        this._o.log.warn(
          `kernel ${kernelId}: no client took its output up again within ${IOPUB_BACK_MS / 1000} s`
        );
      }
      const stepId = relay.hello?.step ?? null;
      this._o.allocations.kernelState(kernelId, 'running', stepId);
      this._o.log.info(
        `kernel ${kernelId}: taken up again in job ${grant.jobId} on ${grant.node}, step ${stepId ?? '?'}`
      );
      this._send(lease, {
        type: 'started',
        connection: c,
        allocationId: grant.allocationId,
        jobId: grant.jobId,
        node: grant.node,
        stepId,
        relay: relay.handle ?? null
      });
    } catch (err) {
      const message = failureMessage(err);
      this._o.log.info(`kernel ${kernelId}: not taken up again: ${message}`);
      await this._endRelay(lease);
      this._forgetAllocation(lease);
      this._send(lease, { type: 'failed', message, cancelled: false });
    } finally {
      if (lease.starting === starting) {
        lease.starting = null;
      }
    }
  }

  /**
   * Tell the provisioner when the kernel or its step ends on its own. When
   * Slurm ends the whole job (wall time, scancel, node failure) the kernel
   * dies first (SIGTERM), and the allocation service hears of the job only
   * at its next poll: reported then as "not fatal", the Jupyter server would
   * restart the kernel into a dead job. So when the step went with the
   * kernel and squeue no longer shows the job running, the kernel's end
   * waits for the service's word (fatal, with its reason) for a while.
   */
  private _watch(
    lease: Lease,
    relay: ILeaseRelay,
    kernel: IRelayedKernel,
    grant: IAllocationGrant,
    transport: ITransport
  ): void {
    void kernel.exited.then(async exit => {
      if (lease.relay !== relay) {
        return; // stopped or released on purpose
      }
      // Ours from here: a stop finds nothing to stop.
      lease.relay = null;
      let reason = exitReason(exit.code, exit.signal);
      // A kernel that exited by itself with status 0 was asked to (a
      // shutdown_request: a restart or a shutdown from Jupyter); only other
      // ends may be Slurm ending the job, which the step's end tells.
      const stepEnd =
        exit.code === 0
          ? null
          : await Promise.race([
              relay.ended,
              delay(this._o.stepEndWaitMs ?? STEP_END_WAIT_MS).then(() => null)
            ]);
      void relay.shutdown().catch(() => undefined);
      if (stepEnd && exit.code === null && exit.signal === null) {
        reason = stepEnd.reason;
      }
      if (stepEnd && !(await jobRunning(transport, grant.jobId))) {
        this._o.log.info(
          `kernel ${lease.kernelId}: its job ${grant.jobId} is not running any more; waiting for the allocation's end`
        );
        await delay(this._o.jobEndWaitMs ?? JOB_END_WAIT_MS, lease.goneWaiter);
        if (lease.grant !== grant) {
          return; // told fatal by _allocationEnded, or released
        }
        lease.grant = null;
        this._forgetAllocation(lease);
        this._sendExited(lease, {
          reason: `The job ${grant.jobId} is not running any more. ${reason}`,
          exitCode: exit.code,
          fatal: true
        });
        return;
      }
      if (lease.grant !== grant) {
        return;
      }
      if (lease.kernelId) {
        this._o.allocations.kernelState(lease.kernelId, 'ended');
      }
      this._sendExited(lease, {
        reason,
        exitCode: exit.code,
        fatal: false
      });
    });
  }

  private _sendExited(
    lease: Lease,
    exited: { reason: string; exitCode: number | null; fatal: boolean }
  ): void {
    this._o.log.info(
      `kernel ${lease.kernelId}: ended${exited.fatal ? ' with its allocation' : ''}: ${exited.reason}`
    );
    this._send(lease, { type: 'exited', ...exited });
  }

  private _allocationEnded(allocationId: string, reason: string): void {
    for (const lease of this._leases) {
      if (lease.grant?.allocationId !== allocationId) {
        continue;
      }
      if (lease.starting) {
        this._abortStart(lease, { ended: reason });
        continue;
      }
      const relay = lease.relay;
      lease.relay = null;
      lease.grant = null;
      void relay?.shutdown().catch(() => undefined);
      this._forgetAllocation(lease);
      lease.goneWaiter.abort();
      lease.goneWaiter = new AbortController();
      this._sendExited(lease, { reason, exitCode: null, fatal: true });
    }
  }

  private _signal(lease: Lease, signal: NodeJS.Signals): void {
    try {
      lease.relay?.signal(signal);
    } catch {
      // The kernel is gone already: nothing to interrupt (research §1.3).
    }
  }

  private async _release(lease: Lease): Promise<void> {
    lease.goneWaiter.abort();
    await this._endRelay(lease);
    this._forgetAllocation(lease);
    lease.grant = null;
  }

  private _forgetAllocation(lease: Lease): void {
    if (lease.registered && lease.kernelId) {
      lease.registered = false;
      this._o.allocations.release(lease.kernelId);
    }
    lease.grant = null;
  }

  private async _endRelay(lease: Lease): Promise<void> {
    const relay = lease.relay;
    lease.relay = null;
    if (relay) {
      await relay.shutdown().catch(err => {
        this._o.log.warn(
          `kernel ${lease.kernelId}: stopping its relay failed: ${describeError(err)}`
        );
      });
    }
  }

  private _track(info: IKernelStartInfo): IKeptStart {
    const old = this._starts.get(info.kernelId);
    if (old?.timer) {
      clearTimeout(old.timer);
    }
    const kept: IKeptStart = { info, timer: null };
    this._starts.set(info.kernelId, kept);
    this._o.broadcast({ type: 'kernel-start', start: { ...info } });
    return kept;
  }

  private _update(kept: IKeptStart, patch: Partial<IKernelStartInfo>): void {
    Object.assign(kept.info, patch, { at: this._now() });
    this._o.broadcast({ type: 'kernel-start', start: { ...kept.info } });
  }

  private _finishLater(kept: IKeptStart): void {
    if (this._closed) {
      return;
    }
    kept.timer = setTimeout(() => {
      if (this._starts.get(kept.info.kernelId) === kept) {
        this._starts.delete(kept.info.kernelId);
      }
    }, this._o.keepFinishedMs ?? KEEP_FINISHED_MS);
    kept.timer.unref();
  }

  private _send(lease: Lease, reply: LeaseReply): void {
    if (lease.ws.readyState === lease.ws.OPEN) {
      lease.ws.send(JSON.stringify(reply));
    }
  }

  private readonly _startRelay: RelayStarter;
  private readonly _resumeRelay: RelayResumer;
  private readonly _now: () => number;
  private readonly _stopListening: () => void;
  private readonly _leases = new Set<Lease>();
  private readonly _starts = new Map<string, IKeptStart>();
  private _closed = false;
}

/** A start refused with a message for the user as it stands. */
class LeaseFailure extends Error {}

function checkAborted(starting: IStarting): void {
  if (starting.abort.signal.aborted) {
    throw new LeaseFailure('aborted');
  }
}

/** Resolves after `ms`, or at once when `signal` fires. */
function delay(ms: number, signal?: AbortController): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
    signal?.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Whether squeue shows the job running. An answer we cannot read counts as
 * running: the kernel's end is then reported as it is, not held.
 */
async function jobRunning(
  transport: ITransport,
  jobId: string
): Promise<boolean> {
  try {
    const out = await transport.run(
      { argv: ['squeue', '-h', '-j', jobId, '-o', '%T'] },
      { maxOutputBytes: 4096 }
    );
    if (out.exitCode !== 0 && !/Invalid job id/i.test(out.stderr.toString())) {
      return true;
    }
    return out.stdout.toString().trim() === 'RUNNING';
  } catch {
    return true;
  }
}

/** The promise, or a rejection as soon as the start is aborted. */
function untilAborted<T>(starting: IStarting, promise: Promise<T>): Promise<T> {
  const signal = starting.abort.signal;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new LeaseFailure('aborted'));
    if (signal.aborted) {
      onAbort();
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      value => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      err => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      }
    );
  });
}

function failureMessage(err: unknown): string {
  if (err instanceof LeaseFailure || isSidecarError(err)) {
    return err.message;
  }
  return 'The cluster kernel could not start because of an error in the jupyterlab-hpc sidecar; its log (in the Jupyter server log) says more.';
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name])
);

export function exitReason(code: number | null, signal: number | null): string {
  if (signal !== null) {
    return `The kernel was ended by signal ${SIGNAL_NAMES.get(signal) ?? signal}.`;
  }
  if (code === 0) {
    return 'The kernel ended.';
  }
  return `The kernel exited with status ${code}.`;
}
