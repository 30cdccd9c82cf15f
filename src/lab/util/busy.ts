/**
 * Which user actions run for which key (a cluster, or an environment of a
 * target), so views and commands can disable what already runs.
 */
export class BusyTracker<A extends string> {
  isBusy(key: string, action?: A): boolean {
    const running = this._running.get(key);
    if (!running) {
      return false;
    }
    return action ? running.has(action) : running.size > 0;
  }

  /**
   * Mark `action` as running for `key` while `work` runs; `notify` is called
   * when it starts and when it ends, so the owner can emit its signal.
   */
  async run<T>(
    key: string,
    action: A,
    work: () => Promise<T>,
    notify: () => void
  ): Promise<T> {
    let running = this._running.get(key);
    if (!running) {
      running = new Set();
      this._running.set(key, running);
    }
    running.add(action);
    notify();
    try {
      return await work();
    } finally {
      running.delete(action);
      if (running.size === 0) {
        this._running.delete(key);
      }
      notify();
    }
  }

  private _running = new Map<string, Set<A>>();
}
