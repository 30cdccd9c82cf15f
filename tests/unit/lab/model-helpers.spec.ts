import { PromiseDelegate } from '@lumino/coreutils';

import { BusyTracker } from '../../../src/lab/util/busy';
import { Coalescer } from '../../../src/lab/util/coalesce';

describe('BusyTracker', () => {
  it('marks an action busy while it runs, and clears it when it fails', async () => {
    const busy = new BusyTracker<'connect' | 'test'>();
    const notify = jest.fn();
    const gate = new PromiseDelegate<void>();

    const running = busy.run(
      'demo',
      'connect',
      async () => {
        await gate.promise;
        throw new Error('refused');
      },
      notify
    );
    expect(busy.isBusy('demo', 'connect')).toBe(true);
    expect(busy.isBusy('demo', 'test')).toBe(false);
    expect(busy.isBusy('demo')).toBe(true);
    expect(busy.isBusy('other')).toBe(false);
    expect(notify).toHaveBeenCalledTimes(1);

    gate.resolve();
    await expect(running).rejects.toThrow('refused');
    expect(busy.isBusy('demo')).toBe(false);
    expect(notify).toHaveBeenCalledTimes(2);
  });

  it('keeps a key busy until its last action ends', async () => {
    const busy = new BusyTracker<'connect' | 'test'>();
    const gate = new PromiseDelegate<void>();
    const slow = busy.run('demo', 'test', () => gate.promise, jest.fn());
    await busy.run('demo', 'connect', async () => 'done', jest.fn());
    expect([busy.isBusy('demo', 'connect'), busy.isBusy('demo')]).toEqual([
      false,
      true
    ]);
    gate.resolve();
    await slow;
    expect(busy.isBusy('demo')).toBe(false);
  });
});

describe('Coalescer', () => {
  /** A Coalescer whose work waits for the test to finish each request. */
  function gated(options: { before?: () => Promise<void> } = {}) {
    const gates: PromiseDelegate<void>[] = [];
    const coalescer = new Coalescer({
      ...options,
      work: () => {
        const gate = new PromiseDelegate<void>();
        gates.push(gate);
        return gate.promise;
      }
    });
    return { coalescer, gates };
  }

  it('folds asks made during a request into exactly one more', async () => {
    const { coalescer, gates } = gated();
    const first = coalescer.request();
    expect(gates).toHaveLength(1);
    expect([coalescer.request(), coalescer.request()]).toEqual([first, first]);

    gates[0].resolve();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(gates).toHaveLength(2);
    gates[1].resolve();
    await first;
    expect(gates).toHaveLength(2);
    expect(coalescer.running).toBeNull();
  });

  it('folds asks made while waiting for `before` into the first request', async () => {
    const ready = new PromiseDelegate<void>();
    const { coalescer, gates } = gated({ before: () => ready.promise });
    const first = coalescer.request();
    void coalescer.request();
    expect(gates).toHaveLength(0);
    ready.resolve();
    await new Promise(resolve => setTimeout(resolve, 0));
    gates[0].resolve();
    await first;
    expect(gates).toHaveLength(1);
  });

  it('rejects the asks a failed request covered, and starts afresh after', async () => {
    let fail = true;
    const coalescer = new Coalescer({
      work: async () => {
        if (fail) {
          throw new Error('sidecar gone');
        }
      }
    });
    await expect(coalescer.request()).rejects.toThrow('sidecar gone');
    expect(coalescer.running).toBeNull();
    fail = false;
    await expect(coalescer.request()).resolves.toBeUndefined();
  });

  it('makes no request once stopped', async () => {
    const work = jest.fn(async () => undefined);
    const coalescer = new Coalescer({ work, stopped: () => true });
    await coalescer.request();
    expect(work).not.toHaveBeenCalled();
  });
});
