/**
 * The launch form's checks, against the partitions and associations of the
 * demo cluster (outputs copied from its Slurm 22.05.8 with slurmdbd) and of
 * a cluster without accounting.
 */
import type { ILaunchRequest } from '../../../src/common/sessions';
import {
  associationsArgv,
  parseAccounting,
  QOS_ARGV
} from '../../../src/sidecar/slurm/accounting';
import { parsePartitions } from '../../../src/sidecar/slurm/partitions';
import {
  checkLaunch,
  checkLaunchShape,
  memoryMiB,
  uncheckedFields,
  type IClusterOffer
} from '../../../src/sidecar/sessions/launch-check';

const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });

const SCONTROL = [
  'PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=4000M,node=1,billing=2,gres/gpu=2',
  'PartitionName=gpu AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A DefaultTime=00:10:00 DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED MaxTime=01:00:00 MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=4000M,node=1,billing=2,gres/gpu=2'
].join('\n');
const SINFO =
  'debug|0/1/0/1|2|4000|gpu:tesla:2|(null)\ngpu|0/1/0/1|2|4000|gpu:tesla:2|(null)\n';

const partitions = parsePartitions(ok(SCONTROL), ok(SINFO));

const withAccounting: IClusterOffer = {
  partitions,
  accounting: parseAccounting(
    ok('chemistry||normal,short|\nphysics||normal,short|\n'),
    ok('physics\n'),
    ok('normal|\nshort|00:30:00\n')
  )
};

const withoutAccounting: IClusterOffer = {
  partitions,
  accounting: parseAccounting(
    {
      exitCode: 1,
      stdout: '',
      stderr:
        "You are not running a supported accounting_storage plugin\nOnly 'accounting_storage/slurmdbd' is supported.\n"
    },
    { exitCode: 1, stdout: '', stderr: '' },
    { exitCode: 1, stdout: '', stderr: '' }
  )
};

const base: ILaunchRequest = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '1:00:00',
  cpus: 1,
  memory: '1G',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '/home/hpcdemo/.local/miniforge/envs/jupyterlab',
  workingDirectory: '',
  startTimeoutSeconds: 120
};

function fields(req: Partial<ILaunchRequest>, offer = withAccounting) {
  return checkLaunch({ ...base, ...req }, offer).map(p => p.field);
}

describe('accounting', () => {
  it('reads the associations, default account and QOS limits', () => {
    expect(withAccounting.accounting).toEqual({
      enabled: true,
      associations: [
        {
          account: 'chemistry',
          partition: null,
          qos: ['normal', 'short'],
          defaultQos: null
        },
        {
          account: 'physics',
          partition: null,
          qos: ['normal', 'short'],
          defaultQos: null
        }
      ],
      defaultAccount: 'physics',
      qosMaxWallSeconds: new Map([['short', 1800]])
    });
  });

  it('says why there is none', () => {
    expect(withoutAccounting.accounting).toEqual({
      enabled: false,
      reason: 'You are not running a supported accounting_storage plugin'
    });
  });

  it('asks only for a safe user name', () => {
    expect(associationsArgv('hpcdemo')).toContain('user=hpcdemo');
    expect(() => associationsArgv('a b')).toThrow();
    expect(() => associationsArgv('-x')).toThrow();
    expect(QOS_ARGV).toContain('format=name,maxwall');
  });
});

describe('checkLaunch', () => {
  it('accepts what the demo cluster can run', () => {
    expect(fields({})).toEqual([]);
    expect(
      fields({
        partition: 'gpu',
        account: 'chemistry',
        qos: 'short',
        wallTime: '30',
        cpus: 2,
        memory: '4000M',
        gpus: { type: 'tesla', count: 2 },
        workingDirectory: '~/projects'
      })
    ).toEqual([]);
  });

  it.each<[string, Partial<ILaunchRequest>, string[], RegExp]>([
    [
      'an unknown partition',
      { partition: 'nope' },
      ['partition'],
      /no partition nope.*debug, gpu/
    ],
    [
      'a wall time over the partition limit',
      { partition: 'gpu', wallTime: '2:00:00' },
      ['wallTime'],
      /gpu partition allows at most 01:00:00/
    ],
    ['more CPUs than a node has', { cpus: 3 }, ['cpus'], /at most 2 CPUs/],
    [
      'more memory than a node has',
      { memory: '8G' },
      ['memory'],
      /at most 4000 MiB/
    ],
    [
      'a GPU type the partition lacks',
      { gpus: { type: 'a100', count: 1 } },
      ['gpus.type'],
      /no a100 GPUs; it has: tesla/
    ],
    [
      'more GPUs than a node has',
      { gpus: { type: '', count: 3 } },
      ['gpus.count'],
      /at most 2 such GPUs/
    ],
    [
      'an account the user lacks',
      { account: 'biology' },
      ['account'],
      /no account biology.*chemistry, physics/
    ],
    [
      'a QOS the account cannot use',
      { qos: 'long' },
      ['qos'],
      /cannot use the QOS long; it can use: normal, short/
    ],
    [
      'a wall time over the QOS limit',
      { qos: 'short', wallTime: '31' },
      ['wallTime'],
      /QOS short allows at most 00:30:00.*QOSMaxWallDurationPerJobLimit/
    ]
  ])('refuses %s', (_, req, expected, message) => {
    const problems = checkLaunch({ ...base, ...req }, withAccounting);
    expect(problems.map(p => p.field)).toEqual(expected);
    expect(problems[0].message).toMatch(message);
  });

  it('leaves accounts and QOS to sbatch without accounting', () => {
    expect(
      fields({ account: 'biology', qos: 'long' }, withoutAccounting)
    ).toEqual([]);
    // Partition limits still hold.
    expect(
      fields({ partition: 'gpu', wallTime: '2:00:00' }, withoutAccounting)
    ).toEqual(['wallTime']);
  });

  it('says which values it passes on unchecked, only without accounting', () => {
    const req = { ...base, account: 'biology', qos: 'long' };
    const unchecked = uncheckedFields(req, withoutAccounting);
    expect(unchecked.map(p => p.field)).toEqual(['account', 'qos']);
    expect(unchecked[0].message).toMatch(/no accounting.*biology/);
    expect(uncheckedFields(base, withoutAccounting)).toEqual([]);
    expect(uncheckedFields(req, withAccounting)).toEqual([]);
  });

  it('checks shape before anything else, and without cluster facts', () => {
    expect(checkLaunch({ ...base, partition: 'a;b' }, null)).toHaveLength(1);
    expect(checkLaunch(base, null)).toEqual([]);
  });
});

describe('checkLaunchShape refuses hostile values', () => {
  const hostile = [
    "a'b",
    'a;rm -rf ~',
    '$(touch /tmp/pwned)',
    '`id`',
    'a\nb',
    'a\0b',
    '--wrap=id',
    '-A',
    'x'.repeat(65),
    'ünï',
    ''
  ];

  it.each(hostile.filter(h => h !== ''))('names: %j', value => {
    for (const field of ['partition', 'account', 'qos'] as const) {
      expect(
        checkLaunchShape({ ...base, [field]: value }).map(p => p.field)
      ).toEqual(
        // A leading - is fine in a name pattern only if it is a plain word;
        // --wrap=id has '=' and is refused, '-A' is a valid Slurm name.
        value === '-A' ? [] : [field]
      );
    }
  });

  it.each([...hostile, '1h', '1:2:3:4', '0'])('wall time: %j', value => {
    expect(checkLaunchShape({ ...base, wallTime: value })).toEqual([
      expect.objectContaining({ field: 'wallTime' })
    ]);
  });

  it.each(["a'b", 'a b', 'a;b', '$(id)', 'a\nb', 'x'.repeat(257)])(
    'constraint: %j',
    value => {
      expect(checkLaunchShape({ ...base, constraint: value })).toEqual([
        expect.objectContaining({ field: 'constraint' })
      ]);
    }
  );

  it.each([
    ['environment', 'relative/env'],
    ['environment', ''],
    ['environment', '/a\nb'],
    ['environment', '/a\0b'],
    ['environment', '/' + 'x'.repeat(4096)],
    ['workingDirectory', 'relative'],
    ['workingDirectory', '~user/x'],
    ['workingDirectory', '/tmp/\u0007']
  ] as const)('%s: %j', (field, value) => {
    expect(checkLaunchShape({ ...base, [field]: value })).toEqual([
      expect.objectContaining({ field })
    ]);
  });

  it.each([0, -1, 1.5, 4097, NaN])('cpus %p', cpus => {
    expect(checkLaunchShape({ ...base, cpus })).toEqual([
      expect.objectContaining({ field: 'cpus' })
    ]);
  });

  it.each(['8', '8K', '500M', '8G', '1T'])('memory %s is fine', memory => {
    expect(checkLaunchShape({ ...base, memory })).toEqual([]);
  });

  it.each(['8GB', '8 G', '-1G', '1.5G', 'G'])('memory %s is not', memory => {
    expect(checkLaunchShape({ ...base, memory })).toEqual([
      expect.objectContaining({ field: 'memory' })
    ]);
  });

  it('reads memory sizes in MiB', () => {
    expect(memoryMiB('8G')).toBe(8192);
    expect(memoryMiB('500')).toBe(500);
    expect(memoryMiB('2048K')).toBe(2);
  });
});
