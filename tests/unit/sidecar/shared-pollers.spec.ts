/**
 * SharedJobPollers: the sessions and the kernel allocations of a cluster
 * share one squeue per poll, each hearing only of its own jobs.
 */
import type { PollOutcome } from '../../../src/sidecar/slurm/job-poller';
import { SharedJobPollers } from '../../../src/sidecar/slurm/shared-pollers';

const POLICY = {
  startingMs: 1000,
  queuedMs: 5000,
  runningMs: 20000,
  hiddenFactor: 3,
  jitter: 0,
  failureMs: 1000,
  maxMs: 60000
};

function setUp() {
  const calls: { cluster: string; argv: string[] }[] = [];
  const pollers = new SharedJobPollers({
    run: async (cluster, argv) => {
      calls.push({ cluster, argv });
      const ids = argv
        .find(a => a.startsWith('--jobs='))!
        .slice(7)
        .split(',');
      return {
        exitCode: 0,
        stdout: ids
          .map(id => `${id}|RUNNING|None|N/A|9:00|N/A|n1|n1|0:10`)
          .join('\n'),
        stderr: ''
      };
    },
    policy: POLICY
  });
  return { calls, pollers };
}

afterEach(() => jest.useRealTimers());

describe('SharedJobPollers', () => {
  it('asks once for the jobs of every service of a cluster and tells each of its own', async () => {
    const { calls, pollers } = setUp();
    const heard: Record<string, string[][]> = { a: [], b: [], c: [] };
    const on = (name: string) => ({
      onPoll: (o: PollOutcome) => heard[name].push(o.asked),
      utcOffsetMinutes: () => null
    });
    const a = pollers.tracker('hpc', on('a'));
    const b = pollers.tracker('hpc', on('b'));
    const c = pollers.tracker('other', on('c'));
    a.track('1', 'running');
    a.track('2', 'running');
    b.track('2', 'running');
    b.track('3', 'queued');
    c.track('9', 'queued');
    await a.pollNow();
    await c.pollNow();
    expect(calls.map(x => [x.cluster, x.argv[3]])).toEqual([
      ['hpc', '--jobs=1,2,3'],
      ['other', '--jobs=9']
    ]);
    expect(heard).toEqual({ a: [['1', '2']], b: [['2', '3']], c: [['9']] });
    // A job one service lets go is still asked about for the other.
    a.untrack('2');
    b.dispose();
    await a.pollNow();
    expect(calls[2].argv[3]).toBe('--jobs=1');
    pollers.dispose();
  });

  it('polls a shared job at the pace of the more urgent service', async () => {
    jest.useFakeTimers();
    const { calls, pollers } = setUp();
    const quiet = { onPoll: () => undefined, utcOffsetMinutes: () => null };
    const a = pollers.tracker('hpc', quiet);
    const b = pollers.tracker('hpc', quiet);
    a.track('1', 'running');
    await jest.advanceTimersByTimeAsync(1500);
    expect(calls).toHaveLength(0);
    b.track('1', 'starting');
    await jest.advanceTimersByTimeAsync(1100);
    expect(calls).toHaveLength(1);
    b.untrack('1');
    // The poll already due keeps its time; then the running pace.
    await jest.advanceTimersByTimeAsync(1100);
    expect(calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(15_000);
    expect(calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(6000);
    expect(calls).toHaveLength(3);
    pollers.dispose();
  });
});
