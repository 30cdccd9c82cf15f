/**
 * sshd allows at most MaxSessions session channels (exec, shell,
 * subsystem) per connection — 10 unless the site changed it — and refuses
 * the next with "open failed". Everything that opens a session goes through
 * one limiter per connection and waits in line instead. When the server
 * refuses below the limit (a site with a lower MaxSessions), the limit drops
 * to what was open, and the opener waits for a slot.
 */
export const DEFAULT_MAX_SESSIONS = 10;

/**
 * A server also refuses now and then at its real limit, while a session
 * that just closed is still being freed: a lowered limit creeps back up one
 * step per this many ms without a refusal.
 */
export const LIMIT_RECOVERY_MS = 60_000;

export class SessionLimiter {
  constructor(
    private _limit = DEFAULT_MAX_SESSIONS,
    private readonly _now: () => number = Date.now
  ) {
    this._max = _limit;
  }

  get limit(): number {
    return this._limit;
  }

  get active(): number {
    return this._active;
  }

  get queued(): number {
    return this._waiting.length;
  }

  /** Wait for a slot; call the returned function once to give it back. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) {
      return Promise.reject(signal.reason);
    }
    if (this._active < this._limit && this._waiting.length === 0) {
      return Promise.resolve(this._take());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this._take());
        },
        reject
      };
      const onAbort = () => {
        this._waiting = this._waiting.filter(w => w !== waiter);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this._waiting.push(waiter);
    });
  }

  /**
   * The server refused a session while `openNow` others were open (not
   * counting the refused one): that is its real limit.
   */
  refused(openNow: number): void {
    this._lastRefusal = this._now();
    if (openNow >= 1 && openNow < this._limit) {
      this._limit = openNow;
    }
  }

  /** Reject everyone waiting (the connection is gone). */
  rejectAll(reason: Error): void {
    const waiting = this._waiting;
    this._waiting = [];
    for (const w of waiting) {
      w.reject(reason);
    }
  }

  private _take(): () => void {
    this._active++;
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      this._active--;
      if (
        this._limit < this._max &&
        this._now() - this._lastRefusal >= LIMIT_RECOVERY_MS
      ) {
        this._limit++;
        this._lastRefusal = this._now();
      }
      this._pump();
    };
  }

  private _pump(): void {
    while (this._active < this._limit && this._waiting.length > 0) {
      this._waiting.shift()!.grant();
    }
  }

  private readonly _max: number;
  private _lastRefusal = 0;
  private _active = 0;
  private _waiting: { grant: () => void; reject: (e: Error) => void }[] = [];
}
