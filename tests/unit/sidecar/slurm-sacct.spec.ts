/**
 * Reading why jobs ended from `sacct`. The outputs are copied from Slurm
 * 22.05.8 on the demo cluster (with slurmdbd), for jobs that completed,
 * failed with an exit status, were cancelled by their user or by the
 * sidecar's trap-handled scancel, timed out, and one still running.
 */
import { parseSacct, sacctArgv } from '../../../src/sidecar/slurm/sacct';

const DEMO = [
  '93|FAILED|2:0',
  '95|CANCELLED by 1001|0:0',
  '98|COMPLETED|0:0',
  '111|CANCELLED|0:0',
  '112|CANCELLED|15:0',
  '126|TIMEOUT|0:0',
  '127|FAILED|7:0',
  '129|RUNNING|0:0',
  '130|PENDING|0:0',
  ''
].join('\n');

const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });

describe('sacctArgv', () => {
  it('asks for one line per job, every job at once', () => {
    expect(sacctArgv(['93', '95'])).toEqual([
      'sacct',
      '--allocations',
      '--noheader',
      '--parsable2',
      '--jobs=93,95',
      '--format=JobID,State,ExitCode'
    ]);
  });

  it.each([[[]], [['93;x']], [['1,2']], [['$(id)']]])('refuses %j', ids => {
    expect(() => sacctArgv(ids)).toThrow();
  });
});

describe('parseSacct', () => {
  const ended = parseSacct(ok(DEMO))!;

  it.each([
    ['93', 'failed', 2, 0, null],
    ['95', 'cancelled', 0, 0, '1001'],
    ['98', 'completed', 0, 0, null],
    ['111', 'cancelled', 0, 0, null],
    ['112', 'cancelled', 15, 0, null],
    ['126', 'timeout', 0, 0, null],
    ['127', 'failed', 7, 0, null]
  ])('%s: %s, exit %d signal %d', (id, outcome, exitCode, signal, by) => {
    expect(ended.get(id)).toEqual({
      jobId: id,
      state: expect.any(String),
      outcome,
      exitCode,
      signal,
      cancelledBy: by
    });
  });

  it('leaves out jobs that have not ended (accounting lags behind)', () => {
    expect(ended.has('129')).toBe(false);
    expect(ended.has('130')).toBe(false);
  });

  it('reads the other end states and a signal', () => {
    const more = parseSacct(
      ok(
        '1|NODE_FAIL|0:0\n2|OUT_OF_MEMORY|0:125\n3|PREEMPTED|0:0\n4|FAILED|0:9\n5|DEADLINE|0:0\n'
      )
    )!;
    expect([...more.values()].map(e => [e.outcome, e.signal])).toEqual([
      ['node-failure', 0],
      ['out-of-memory', 125],
      ['preempted', 0],
      ['failed', 9],
      ['deadline', 0]
    ]);
  });

  it('knows nothing when sacct fails (no accounting, slurmdbd down)', () => {
    expect(
      parseSacct({
        exitCode: 1,
        stdout: '',
        stderr: 'Slurm accounting storage is disabled\n'
      })
    ).toBeNull();
  });

  it('an empty answer: none of the jobs is known yet', () => {
    expect(parseSacct(ok(''))!.size).toBe(0);
  });
});
