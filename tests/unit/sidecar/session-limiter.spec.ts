import { SessionLimiter } from '../../../src/sidecar/ssh/session-limiter';

describe('SessionLimiter', () => {
  it('grants up to the limit and queues the rest in order', async () => {
    const limiter = new SessionLimiter(2);
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    const order: string[] = [];
    const c = limiter.acquire().then(r => (order.push('c'), r));
    const d = limiter.acquire().then(r => (order.push('d'), r));
    expect(limiter.active).toBe(2);
    expect(limiter.queued).toBe(2);
    a();
    const releaseC = await c;
    expect(order).toEqual(['c']);
    a(); // a second release of the same slot does nothing
    expect(limiter.active).toBe(2);
    b();
    await d;
    expect(order).toEqual(['c', 'd']);
    releaseC();
    expect(limiter.active).toBe(1);
  });

  it('lowers the limit to what was open when the server refuses', async () => {
    const limiter = new SessionLimiter(10);
    const held = [
      await limiter.acquire(),
      await limiter.acquire(),
      await limiter.acquire()
    ];
    limiter.refused(3);
    expect(limiter.limit).toBe(3);
    let granted = false;
    const next = limiter.acquire().then(r => ((granted = true), r));
    await Promise.resolve();
    expect(granted).toBe(false);
    held[0]();
    (await next)();
    expect(granted).toBe(true);
    limiter.refused(0);
    expect(limiter.limit).toBe(3);
  });

  it('lets a waiter leave the queue through its abort signal', async () => {
    const limiter = new SessionLimiter(1);
    const release = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect(limiter.queued).toBe(0);
    release();
    expect(limiter.active).toBe(0);
  });

  it('rejects every waiter when the connection goes', async () => {
    const limiter = new SessionLimiter(1);
    await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire()];
    limiter.rejectAll(new Error('lost'));
    for (const w of waiting) {
      await expect(w).rejects.toThrow('lost');
    }
  });
});

describe('SessionLimiter recovery', () => {
  it('raises a lowered limit again, one step per quiet minute', async () => {
    let now = 0;
    const limiter = new SessionLimiter(10, () => now);
    const held = [await limiter.acquire(), await limiter.acquire()];
    limiter.refused(2);
    expect(limiter.limit).toBe(2);
    held[0]();
    expect(limiter.limit).toBe(2);
    now += 60_000;
    held[1]();
    expect(limiter.limit).toBe(3);
  });
});
