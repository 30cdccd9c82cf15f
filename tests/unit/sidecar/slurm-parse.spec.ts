/**
 * The SLURM texts the sidecar reads: durations, timestamps, squeue and the
 * partition listing. Outputs are copied from Slurm 22.05.8 on the demo
 * cluster unless the case says where else they come from.
 */
import {
  formatSlurmDuration,
  parseSlurmDuration,
  parseSlurmTimestamp,
  parseUtcOffset,
  parseWallTime
} from '../../../src/sidecar/slurm/duration';
import {
  parseGres,
  parsePartitions,
  parseScontrolRecord
} from '../../../src/sidecar/slurm/partitions';
import {
  parseSqueue,
  parseSqueueLine,
  squeueArgv
} from '../../../src/sidecar/slurm/squeue';

describe('parseSlurmDuration', () => {
  it.each([
    ['0:00', 0],
    ['0:59', 59],
    ['1:00', 60],
    ['59:59', 3599],
    ['1:00:00', 3600],
    ['12:34:56', 45296],
    ['1-00:00:00', 86400],
    ['7-12:00:00', 7 * 86400 + 12 * 3600],
    ['UNLIMITED', 'unlimited'],
    ['infinite', 'unlimited'],
    ['NOT_SET', null],
    ['INVALID', null],
    ['N/A', null],
    ['NONE', null]
  ])('%s', (text, expected) => {
    expect(parseSlurmDuration(text)).toBe(expected);
  });

  it.each(['soon', '1:2:3:4', '-1:00', '1-'])('refuses %s', text => {
    expect(() => parseSlurmDuration(text)).toThrow(/Not a Slurm duration/);
  });
});

describe('parseWallTime (sbatch --time forms)', () => {
  it.each([
    ['90', 5400],
    ['90:30', 5430],
    ['1:30:00', 5400],
    ['2-0', 2 * 86400],
    ['2-12', 2 * 86400 + 12 * 3600],
    ['1-12:30', 86400 + 12 * 3600 + 30 * 60],
    ['1-12:30:15', 86400 + 12 * 3600 + 30 * 60 + 15],
    [' 30 ', 1800]
  ])('%s', (text, seconds) => {
    expect(parseWallTime(text)).toBe(seconds);
  });

  it.each([
    ['0', /longer than zero/],
    ['0:00:00', /longer than zero/],
    ['400-0', /at most 366 days/],
    ['1h', /not a wall time/],
    ['1:2:3:4', /not a wall time/],
    ['-5', /not a wall time/],
    ['5;rm -rf ~', /not a wall time/],
    ['', /not a wall time/]
  ])('refuses %s', (text, message) => {
    expect(() => parseWallTime(text)).toThrow(message);
  });

  it('round-trips through formatSlurmDuration', () => {
    for (const s of [1, 59, 60, 3599, 3600, 86399, 86400, 90061, 31622400]) {
      expect(parseSlurmDuration(formatSlurmDuration(s))).toBe(s);
      expect(parseWallTime(formatSlurmDuration(s))).toBe(s);
    }
    expect(formatSlurmDuration(90061)).toBe('1-01:01:01');
    expect(formatSlurmDuration(59)).toBe('00:00:59');
  });
});

describe('timestamps', () => {
  it('reads the controller local time with the cluster offset', () => {
    expect(parseSlurmTimestamp('2026-12-06T07:06:38', 0)).toBe(
      Date.UTC(2026, 11, 6, 7, 6, 38)
    );
    // 08:06:38 in +0100 is 07:06:38 UTC.
    expect(parseSlurmTimestamp('2026-12-06T08:06:38', 60)).toBe(
      Date.UTC(2026, 11, 6, 7, 6, 38)
    );
    expect(parseSlurmTimestamp('N/A', 0)).toBeNull();
    expect(parseSlurmTimestamp('Unknown', 0)).toBeNull();
    expect(() => parseSlurmTimestamp('yesterday', 0)).toThrow();
  });

  it.each([
    ['+0000', 0],
    ['+0100', 60],
    ['-0530', -330],
    ['+1245', 765]
  ])('date +%%z %s', (text, minutes) => {
    expect(parseUtcOffset(text)).toBe(minutes);
  });
});

describe('squeue', () => {
  it('asks for every state of exactly the tracked jobs', () => {
    expect(squeueArgv(['12', '7'])).toEqual([
      'squeue',
      '--noheader',
      '--states=all',
      '--jobs=12,7',
      '--format=%i|%T|%r|%S|%L|%e|%N|%B|%M'
    ]);
  });

  it.each([[[]], [['12;rm']], [['-o%i']], [['12_3']], [['']]])(
    'refuses job ids %j',
    ids => {
      expect(() => squeueArgv(ids)).toThrow();
    }
  );

  it('reads a pending, a running and ended jobs', () => {
    const stdout = [
      '1|PENDING|None|N/A|1:00|N/A||n/a|0:00',
      '4|PENDING|Priority|2026-12-06T09:00:00|1-00:00:00|2026-12-07T09:00:00|||0:00',
      '5|RUNNING|None|2026-12-06T07:06:21|58:12|2026-12-06T08:06:21|vm|vm|1:48',
      '2|COMPLETED|None|2026-12-06T07:06:33|1:00|2026-12-06T07:06:33|vm|vm|0:00',
      '3|FAILED|NonZeroExitCode|2026-12-06T07:06:38|0:59|2026-12-06T07:06:39|vm|vm|0:01',
      '6|TIMEOUT|TimeLimit|2026-12-06T06:00:00|0:00|2026-12-06T07:00:00|vm|vm|1:00:00',
      '7|OUT_OF_MEMORY|OutOfMemory|2026-12-06T06:00:00|0:00|2026-12-06T06:01:00|vm|vm|1:00',
      '8|NODE_FAIL|NodeDown|2026-12-06T06:00:00|0:00|2026-12-06T06:01:00|vm|vm|1:00',
      '9|CANCELLED|None|2026-12-06T07:06:21|1:00|2026-12-06T07:06:21||n/a|0:00',
      '10|COMPLETING|None|2026-12-06T07:06:21|0:10|2026-12-06T07:07:21|vm|vm|0:50',
      ''
    ].join('\n');
    const result = parseSqueue({ exitCode: 0, stdout, stderr: '' }, 0);
    expect(result.kind).toBe('answered');
    const jobs = result.kind === 'answered' ? result.jobs : new Map();
    expect(
      [...jobs.values()].map(j => [j.jobId, j.phase, j.outcome, j.reason])
    ).toEqual([
      ['1', 'queued', null, null],
      ['4', 'queued', null, 'Priority'],
      ['5', 'running', null, null],
      ['2', 'ended', 'completed', null],
      ['3', 'ended', 'failed', 'NonZeroExitCode'],
      ['6', 'ended', 'timeout', 'TimeLimit'],
      ['7', 'ended', 'out-of-memory', 'OutOfMemory'],
      ['8', 'ended', 'node-failure', 'NodeDown'],
      ['9', 'ended', 'cancelled', null],
      ['10', 'ending', null, null]
    ]);
    expect(jobs.get('4')).toMatchObject({
      startTime: Date.UTC(2026, 11, 6, 9),
      timeLeftSeconds: 86400,
      nodes: null,
      batchHost: null
    });
    expect(jobs.get('5')).toMatchObject({
      nodes: 'vm',
      batchHost: 'vm',
      elapsedSeconds: 108,
      timeLeftSeconds: 58 * 60 + 12
    });
  });

  it('takes "Invalid job id specified" as every job gone', () => {
    const result = parseSqueue(
      {
        exitCode: 1,
        stdout: '',
        stderr: 'slurm_load_jobs error: Invalid job id specified\n'
      },
      0
    );
    expect(result).toEqual({ kind: 'answered', jobs: new Map() });
  });

  it.each([
    'slurm_load_jobs error: Socket timed out on send/recv operation',
    'slurm_load_jobs error: Unable to contact slurm controller (connect failure)',
    'squeue: error: Zero Bytes were transmitted or received',
    'bash: squeue: command not found'
  ])('never reads a failure as jobs ended: %s', stderr => {
    expect(parseSqueue({ exitCode: 1, stdout: '', stderr }, 0)).toEqual({
      kind: 'unreachable',
      message: stderr
    });
  });

  it('reports a line of the wrong shape', () => {
    expect(() => parseSqueueLine('1|RUNNING', 0)).toThrow(
      /Unexpected squeue line/
    );
  });
});

describe('partitions', () => {
  // The demo cluster's scontrol line, and a second partition written as
  // Slurm 22.05 prints one with limits and a GRES.
  const scontrol = [
    'PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=4000M,node=1,billing=2',
    'PartitionName=gpu AllowGroups=ALL AllowAccounts=physics,chem AllowQos=normal,short AllocNodes=ALL Default=NO QoS=N/A DefaultTime=00:30:00 DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED MaxTime=02:00:00 MinNodes=0 LLN=NO MaxCPUsPerNode=16 Nodes=g[01-03] PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=DOWN TotalCPUs=96 TotalNodes=3 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=64000 TRES=cpu=96,mem=384000M,node=3,billing=96',
    ''
  ].join('\n');
  const sinfo = [
    'debug|0/1/0/1|2|4000|(null)|(null)',
    'gpu|1/0/0/1|32|128000|gpu:a100:4(S:0-1)|a100,ib',
    'gpu|0/1/1/2|32|128000+|gpu:v100:2,mps:100|v100,ib',
    ''
  ].join('\n');

  it('merges limits and resources per partition', () => {
    const [debug, gpu] = parsePartitions(
      { exitCode: 0, stdout: scontrol, stderr: '' },
      { exitCode: 0, stdout: sinfo, stderr: '' }
    );
    expect(debug).toEqual({
      name: 'debug',
      isDefault: true,
      up: true,
      maxTimeSeconds: 'unlimited',
      defaultTimeSeconds: null,
      nodes: { allocated: 0, idle: 1, other: 0, total: 1 },
      cpusPerNode: { min: 2, max: 2 },
      memoryMiBPerNode: { min: 4000, max: 4000 },
      gres: [],
      features: [],
      allowAccounts: 'all',
      allowQos: 'all',
      maxCpusPerNode: null,
      maxMemMiBPerNode: null
    });
    expect(gpu).toEqual({
      name: 'gpu',
      isDefault: false,
      up: false,
      maxTimeSeconds: 7200,
      defaultTimeSeconds: 1800,
      nodes: { allocated: 1, idle: 1, other: 1, total: 3 },
      cpusPerNode: { min: 32, max: 32 },
      memoryMiBPerNode: { min: 128000, max: 128000 },
      gres: [
        { name: 'gpu', type: 'a100', count: 4 },
        { name: 'gpu', type: 'v100', count: 2 },
        { name: 'mps', type: null, count: 100 }
      ],
      features: ['a100', 'ib', 'v100'],
      allowAccounts: ['physics', 'chem'],
      allowQos: ['normal', 'short'],
      maxCpusPerNode: 16,
      maxMemMiBPerNode: 64000
    });
  });

  it.each([
    ['(null)', []],
    ['gpu:2', [{ name: 'gpu', type: null, count: 2 }]],
    ['gpu:tesla:2', [{ name: 'gpu', type: 'tesla', count: 2 }]],
    [
      'gpu:tesla:2(S:0,1),shard:8',
      [
        { name: 'gpu', type: 'tesla', count: 2 },
        { name: 'shard', type: null, count: 8 }
      ]
    ]
  ])('gres %s', (text, expected) => {
    expect(parseGres(text)).toEqual(expected);
  });

  it('keeps values that contain "="', () => {
    expect(
      parseScontrolRecord('PartitionName=a TRES=cpu=2,mem=4000M').get('TRES')
    ).toBe('cpu=2,mem=4000M');
  });
});
