/**
 * The squeue poller: one call per poll whatever the number of jobs, an
 * interval that follows the jobs' phases and the page's visibility, backoff
 * while the scheduler does not answer, and never two calls at once. The
 * squeue answers are the demo cluster's (Slurm 22.05.8).
 */
import type { ICommandText } from '../../../src/sidecar/slurm/output';
import {
  DEFAULT_POLL_POLICY,
  JobPoller,
  nextPollDelay,
  type PollOutcome
} from '../../../src/sidecar/slurm/job-poller';

const P = DEFAULT_POLL_POLICY;
const mid = () => 0.5; // no jitter

describe('nextPollDelay', () => {
  it('does not poll when nothing is tracked', () => {
    expect(nextPollDelay([], true, 0, mid)).toBeNull();
  });

  it.each([
    [['running'], true, P.runningMs],
    [['running'], false, P.runningMs * P.hiddenFactor],
    [['queued', 'running'], true, P.queuedMs],
    [['queued'], false, P.queuedMs * P.hiddenFactor],
    [['starting', 'queued', 'running'], true, P.startingMs],
    [['starting'], false, P.startingMs]
  ] as const)('%j, visible %s: %i ms', (phases, visible, ms) => {
    expect(nextPollDelay(phases, visible, 0, mid)).toBe(ms);
  });

  it('does not grow the count with the number of jobs', () => {
    const one = nextPollDelay(['running'], true, 0, mid);
    const many = nextPollDelay(
      Array.from({ length: 100 }, () => 'running' as const),
      true,
      0,
      mid
    );
    expect(many).toBe(one);
    // Once all run: at most 6 polls a minute, even with the most jitter.
    expect(
      60_000 / nextPollDelay(['running'], true, 0, () => 0)!
    ).toBeLessThanOrEqual(6);
  });

  it('jitters by at most ±20 %', () => {
    expect(nextPollDelay(['running'], true, 0, () => 0)).toBe(
      P.runningMs * 0.8
    );
    expect(nextPollDelay(['running'], true, 0, () => 0.999999)).toBe(
      Math.round(P.runningMs * (1 + 0.2 * 0.999998))
    );
  });

  it('backs off while the scheduler does not answer', () => {
    const delays = [1, 2, 3, 4, 5, 6, 10].map(f =>
      nextPollDelay(['starting'], true, f, mid)
    );
    expect(delays).toEqual([5000, 10000, 20000, 40000, 60000, 60000, 60000]);
  });
});

describe('JobPoller', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function poller(answer: (argv: string[]) => ICommandText) {
    const calls: string[][] = [];
    const outcomes: PollOutcome[] = [];
    const p = new JobPoller({
      run: async argv => {
        calls.push(argv);
        return answer(argv);
      },
      utcOffsetMinutes: () => 0,
      onPoll: o => outcomes.push(o),
      random: mid
    });
    return { p, calls, outcomes };
  }

  const running = (ids: string[]): ICommandText => ({
    exitCode: 0,
    stdout: ids
      .map(
        id =>
          `${id}|RUNNING|None|2026-12-06T07:06:21|58:12|2026-12-06T08:06:21|vm|vm|1:48`
      )
      .join('\n'),
    stderr: ''
  });

  it('asks once for all tracked jobs per poll', async () => {
    const { p, calls, outcomes } = poller(argv =>
      running(argv[3].replace('--jobs=', '').split(','))
    );
    for (let i = 1; i <= 100; i++) {
      p.track(String(i), 'running');
    }
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls.length).toBe(3);
    expect(calls[0][3]).toBe(
      `--jobs=${Array.from({ length: 100 }, (_, i) => i + 1).join(',')}`
    );
    const first = outcomes[0];
    expect(first.kind === 'answered' && first.jobs.size).toBe(100);
    p.dispose();
  });

  it('does not let new jobs push a due poll back', async () => {
    const { p, calls } = poller(() => running([]));
    p.track('1', 'starting');
    for (let t = 0; t < 10; t++) {
      await jest.advanceTimersByTimeAsync(1_000);
      p.track(String(t + 2), 'starting');
    }
    // 10 s with a 2 s interval: about five polls, not zero.
    expect(calls.length).toBeGreaterThanOrEqual(4);
    p.dispose();
  });

  it('stops when nothing is tracked and starts again on track', async () => {
    const { p, calls } = poller(() => running(['7']));
    p.track('7', 'running');
    await jest.advanceTimersByTimeAsync(P.runningMs);
    expect(calls.length).toBe(1);
    p.untrack('7');
    await jest.advanceTimersByTimeAsync(10 * P.runningMs);
    expect(calls.length).toBe(1);
    p.track('8', 'queued');
    await jest.advanceTimersByTimeAsync(P.queuedMs);
    expect(calls.length).toBe(2);
    p.dispose();
  });

  it('polls at once on pollNow, never two at a time', async () => {
    let release: () => void = () => undefined;
    const calls: string[][] = [];
    const p = new JobPoller({
      run: argv => {
        calls.push(argv);
        return new Promise(resolve => {
          release = () => resolve(running(['1']));
        });
      },
      utcOffsetMinutes: () => 0,
      onPoll: () => undefined,
      random: mid
    });
    p.track('1', 'running');
    const first = p.pollNow();
    const second = p.pollNow();
    expect(calls.length).toBe(1);
    release();
    await first;
    await second;
    // The second request runs once the first is done.
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.length).toBe(2);
    release();
    await jest.advanceTimersByTimeAsync(0);
    p.dispose();
  });

  it('reports a scheduler that does not answer, and backs off', async () => {
    const { p, calls, outcomes } = poller(() => ({
      exitCode: 1,
      stdout: '',
      stderr: 'slurm_load_jobs error: Socket timed out on send/recv operation\n'
    }));
    p.track('1', 'starting');
    await jest.advanceTimersByTimeAsync(P.startingMs);
    expect(outcomes).toEqual([
      {
        kind: 'unreachable',
        message:
          'slurm_load_jobs error: Socket timed out on send/recv operation',
        asked: ['1']
      }
    ]);
    await jest.advanceTimersByTimeAsync(4_999);
    expect(calls.length).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.length).toBe(2);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls.length).toBe(3);
    p.dispose();
  });

  it('asks a stopped controller again after the first backoff, not a growing one, when squeue took that long to say so', async () => {
    // Slurm 22.05's squeue retries a controller that is not running for
    // about 18 s, then says "connect failure" (seen with slurmctld stopped).
    const SQUEUE_RETRIES_MS = 18_000;
    let down = true;
    const calls: number[] = [];
    const outcomes: PollOutcome[] = [];
    const p = new JobPoller({
      run: () => {
        calls.push(Date.now());
        return new Promise(resolve =>
          setTimeout(
            () =>
              resolve(
                down
                  ? {
                      exitCode: 1,
                      stdout: '',
                      stderr:
                        'slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n'
                    }
                  : running(['1'])
              ),
            down ? SQUEUE_RETRIES_MS : 50
          )
        );
      },
      utcOffsetMinutes: () => 0,
      onPoll: o => outcomes.push(o),
      random: mid
    });
    p.track('1', 'running');
    // A minute and a half down: every pause between calls stays the first backoff.
    await jest.advanceTimersByTimeAsync(P.runningMs + 90_000);
    const gaps = calls.slice(1).map((t, i) => t - calls[i] - SQUEUE_RETRIES_MS);
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    expect(new Set(gaps)).toEqual(new Set([P.failureMs]));
    // Never a tight loop: at most one call per 20 s while it is down.
    expect(calls[calls.length - 1] - calls[0]).toBeGreaterThanOrEqual(
      (calls.length - 1) * 20_000
    );
    // Back: seen by the call under way or the next one, within the first
    // backoff plus one call (a growing backoff would be 40 s here).
    down = false;
    const seen = outcomes.length;
    await jest.advanceTimersByTimeAsync(SQUEUE_RETRIES_MS + P.failureMs + 100);
    expect(outcomes.slice(seen).some(o => o.kind === 'answered')).toBe(true);
    p.dispose();
  });

  it('asks a controller that refuses at once again after the first backoff, not a growing one', async () => {
    const calls: number[] = [];
    const p = new JobPoller({
      run: () => {
        calls.push(Date.now());
        return Promise.resolve({
          exitCode: 1,
          stdout: '',
          stderr:
            'slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n'
        });
      },
      utcOffsetMinutes: () => 0,
      onPoll: () => undefined,
      random: mid
    });
    p.track('1', 'running');
    await jest.advanceTimersByTimeAsync(P.runningMs + 30_000);
    const gaps = calls.slice(1).map((t, i) => t - calls[i]);
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    expect(new Set(gaps)).toEqual(new Set([P.failureMs]));
    p.dispose();
  });

  it('still backs off from a controller that is there but times out', async () => {
    const calls: number[] = [];
    const p = new JobPoller({
      run: () => {
        calls.push(Date.now());
        return new Promise(resolve =>
          setTimeout(
            () =>
              resolve({
                exitCode: 1,
                stdout: '',
                stderr:
                  'slurm_load_jobs error: Socket timed out on send/recv operation\n'
              }),
            18_000
          )
        );
      },
      utcOffsetMinutes: () => 0,
      onPoll: () => undefined,
      random: mid
    });
    p.track('1', 'running');
    await jest.advanceTimersByTimeAsync(P.runningMs + 200_000);
    const gaps = calls.slice(1).map((t, i) => t - calls[i] - 18_000);
    expect(gaps.slice(0, 4)).toEqual([5_000, 10_000, 20_000, 40_000]);
    p.dispose();
  });

  it('reports a failed command as unreachable, not as ended jobs', async () => {
    const p = new JobPoller({
      run: () => Promise.reject(new Error('The connection to hpc was lost.')),
      utcOffsetMinutes: () => 0,
      onPoll: o => outcomes.push(o),
      random: mid
    });
    const outcomes: PollOutcome[] = [];
    p.track('1', 'running');
    await p.pollNow();
    expect(outcomes).toEqual([
      {
        kind: 'unreachable',
        message: 'The connection to hpc was lost.',
        asked: ['1']
      }
    ]);
    p.dispose();
  });

  it('slows while hidden and speeds up when visible again', async () => {
    const { p, calls } = poller(() => running(['1']));
    p.setVisible(false);
    p.track('1', 'running');
    await jest.advanceTimersByTimeAsync(P.runningMs);
    expect(calls.length).toBe(0);
    p.setVisible(true);
    await jest.advanceTimersByTimeAsync(P.runningMs);
    expect(calls.length).toBe(1);
    p.dispose();
  });
});
