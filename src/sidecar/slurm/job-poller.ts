/**
 * One `squeue` per cluster per poll, for every job the sidecar tracks there,
 * however many. The interval follows what the jobs are doing: quick while
 * one is starting, slower while they wait in the queue, slow once all run,
 * no polling at all when none is tracked, and slower again while no
 * JupyterLab page is visible. Each delay gets ±20 % jitter so that many
 * sidecars on one cluster do not poll in step; a scheduler that does not
 * answer is asked again with a growing delay (admins forbid tight loops).
 * A controller that is not running at all is the exception: it is asked
 * again after the first backoff every time, however quickly squeue gave up
 * (after its own ~9 s of connect retries on the demo cluster; at once while
 * the controller's port refuses). That loads nothing (there is no
 * controller; squeue runs on the login node), and as a call in flight
 * connects once the controller is back, the sidecar sees it within about a
 * second (measured in tests/reliability/faults-processes.test.ts).
 */
import {
  controllerDown,
  parseSqueue,
  squeueArgv,
  type IJobStatus
} from './squeue';
import type { ICommandText } from './output';

/** What the sidecar knows of a tracked job, for choosing the interval. */
export type TrackedPhase =
  /** Submitted, or waiting in the queue. */
  | 'queued'
  /** Running, but its program (JupyterLab, a kernel) is not ready yet. */
  | 'starting'
  /** Running and ready. */
  | 'running';

export interface IPollPolicy {
  startingMs: number;
  queuedMs: number;
  runningMs: number;
  /** Factor while no page is visible (starting jobs are not slowed). */
  hiddenFactor: number;
  /** ± this fraction of the delay, at random. */
  jitter: number;
  /** First delay after a failed poll; doubled each time, up to maxMs. */
  failureMs: number;
  maxMs: number;
}

export const DEFAULT_POLL_POLICY: IPollPolicy = {
  startingMs: 2_000,
  queuedMs: 5_000,
  runningMs: 20_000,
  hiddenFactor: 3,
  jitter: 0.2,
  failureMs: 5_000,
  maxMs: 60_000
};

/**
 * The delay before the next poll, or null when nothing is tracked.
 * `failures`: polls in a row the scheduler did not answer.
 */
export function nextPollDelay(
  phases: readonly TrackedPhase[],
  visible: boolean,
  failures: number,
  random: () => number = Math.random,
  policy: IPollPolicy = DEFAULT_POLL_POLICY
): number | null {
  if (phases.length === 0) {
    return null;
  }
  let base: number;
  if (failures > 0) {
    base = Math.min(policy.maxMs, policy.failureMs * 2 ** (failures - 1));
  } else if (phases.includes('starting')) {
    base = policy.startingMs;
  } else if (phases.includes('queued')) {
    base = policy.queuedMs * (visible ? 1 : policy.hiddenFactor);
  } else {
    base = policy.runningMs * (visible ? 1 : policy.hiddenFactor);
  }
  const jittered = base * (1 + policy.jitter * (2 * random() - 1));
  return Math.round(Math.min(policy.maxMs * (1 + policy.jitter), jittered));
}

/** What one poll found, handed to the poller's listener. */
export type PollOutcome =
  | { kind: 'answered'; jobs: Map<string, IJobStatus>; asked: string[] }
  | { kind: 'unreachable'; message: string; asked: string[] };

export interface IJobPollerOptions {
  /** Run squeue with this argv on the cluster. */
  run(argv: string[]): Promise<ICommandText>;
  /** The cluster's offset from UTC in minutes (see duration.ts). */
  utcOffsetMinutes(): number;
  /** Called after every poll. */
  onPoll(outcome: PollOutcome): void;
  policy?: IPollPolicy;
  random?: () => number;
}

/**
 * Polls one cluster. `track` / `untrack` set the jobs and their phases;
 * `pollNow` asks at once (after a submission, or when a job's own record
 * says it changed). Never more than one squeue at a time.
 */
export class JobPoller {
  constructor(private readonly _options: IJobPollerOptions) {}

  /** Jobs tracked, with their phase. */
  get tracked(): ReadonlyMap<string, TrackedPhase> {
    return this._tracked;
  }

  /** How many squeue calls this poller made. */
  get polls(): number {
    return this._polls;
  }

  track(jobId: string, phase: TrackedPhase): void {
    const before = this._tracked.get(jobId);
    this._tracked.set(jobId, phase);
    if (before !== phase) {
      this._reschedule();
    }
  }

  untrack(jobId: string): void {
    if (this._tracked.delete(jobId)) {
      this._reschedule();
    }
  }

  /** Whether a JupyterLab page is visible; hidden pages slow polling. */
  setVisible(visible: boolean): void {
    if (visible !== this._visible) {
      this._visible = visible;
      this._reschedule();
    }
  }

  /** Poll as soon as the one under way (if any) has finished. */
  pollNow(): Promise<void> {
    if (this._running) {
      this._again = true;
      return this._running;
    }
    this._clearTimer();
    if (this._tracked.size === 0 || this._disposed) {
      return Promise.resolve();
    }
    this._running = this._poll().finally(() => {
      this._running = null;
      if (this._again) {
        this._again = false;
        void this.pollNow();
      } else {
        this._reschedule();
      }
    });
    return this._running;
  }

  dispose(): void {
    this._disposed = true;
    this._clearTimer();
    this._tracked.clear();
  }

  private async _poll(): Promise<void> {
    const asked = [...this._tracked.keys()];
    this._polls++;
    let outcome: PollOutcome;
    try {
      const result = parseSqueue(
        await this._options.run(squeueArgv(asked)),
        this._options.utcOffsetMinutes()
      );
      outcome =
        result.kind === 'answered'
          ? { kind: 'answered', jobs: result.jobs, asked }
          : { kind: 'unreachable', message: result.message, asked };
    } catch (err) {
      outcome = {
        kind: 'unreachable',
        message: (err as Error).message,
        asked
      };
    }
    if (outcome.kind === 'answered') {
      this._failures = 0;
    } else if (controllerDown(outcome.message)) {
      this._failures = 1;
    } else {
      this._failures++;
    }
    if (!this._disposed) {
      this._options.onPoll(outcome);
    }
  }

  /**
   * Set the timer for the next poll. A poll already due sooner keeps its
   * time, so jobs added one after another cannot keep pushing it back.
   */
  private _reschedule(): void {
    if (this._running || this._disposed) {
      return;
    }
    const delay = nextPollDelay(
      [...this._tracked.values()],
      this._visible,
      this._failures,
      this._options.random,
      this._options.policy
    );
    if (delay === null) {
      this._clearTimer();
      return;
    }
    const due = Date.now() + delay;
    if (this._timer && this._due <= due) {
      return;
    }
    this._clearTimer();
    this._due = due;
    this._timer = setTimeout(() => void this.pollNow(), delay);
    this._timer.unref?.();
  }

  private _clearTimer(): void {
    if (this._timer) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private readonly _tracked = new Map<string, TrackedPhase>();
  private _visible = true;
  private _failures = 0;
  private _polls = 0;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _due = 0;
  private _running: Promise<void> | null = null;
  private _again = false;
  private _disposed = false;
}
