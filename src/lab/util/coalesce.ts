export interface ICoalescerOptions {
  /** One request, e.g. a fetch of a list. */
  work: () => Promise<void>;
  /** Awaited once before the first request of a run (e.g. settings ready). */
  before?: () => Promise<void>;
  /** True once the owner is disposed: no further requests. */
  stopped?: () => boolean;
}

/**
 * Runs one request at a time however often it is asked for: asks that come
 * while a request runs are folded into one more request after it, and every
 * ask resolves once the answer that covers it has arrived.
 */
export class Coalescer {
  constructor(options: ICoalescerOptions) {
    this._options = options;
  }

  /** The run in progress, or null when idle. */
  get running(): Promise<void> | null {
    return this._running;
  }

  request(): Promise<void> {
    this._dirty = true;
    if (!this._running) {
      this._running = this._drain();
    }
    return this._running;
  }

  private async _drain(): Promise<void> {
    const { work, before, stopped } = this._options;
    try {
      if (before) {
        await before();
      }
      while (this._dirty && !stopped?.()) {
        this._dirty = false;
        await work();
      }
    } finally {
      this._running = null;
    }
  }

  private _options: ICoalescerOptions;
  private _dirty = false;
  private _running: Promise<void> | null = null;
}
