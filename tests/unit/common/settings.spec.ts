import {
  DEFAULT_JOB_DEFAULTS,
  describeCluster,
  IClusterConfig,
  checkClusters,
  describeRejected,
  readClusters,
  readCondaSettings,
  DEFAULT_CONDA_SETTINGS,
  readJobDefaults,
  readSessionPresets,
  readClusterKernelSettings
} from '../../../src/common/settings';

describe('readClusters', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an object', { name: 'swc', host: 'hpc-gw1' }],
    ['a string', 'swc']
  ])('reads %s as no clusters', (_case, value) => {
    expect(readClusters(value)).toEqual([]);
  });

  it('fills in the optional fields of a minimal entry', () => {
    expect(readClusters([{ name: 'swc', host: 'hpc-gw1' }])).toEqual([
      {
        name: 'swc',
        host: 'hpc-gw1',
        port: null,
        user: '',
        identityFile: '',
        jumpHost: '',
        transport: 'ssh',
        jupyterEnvironment: '',
        sshClient: 'auto'
      }
    ]);
  });

  it('keeps every field of a full entry', () => {
    const full: IClusterConfig = {
      name: 'archer2',
      host: 'login.archer2.ac.uk',
      port: 2222,
      user: 'ana_lee',
      identityFile: '~/.ssh/id_ed25519',
      jumpHost: 'gw@bastion.example.org:2200,relay',
      transport: 'local',
      sshClient: 'builtin',
      jupyterEnvironment: '/opt/envs/lab4'
    };
    expect(readClusters([full])).toEqual([full]);
  });

  it('drops invalid entries and keeps the others in order', () => {
    const value = [
      null,
      'swc',
      42,
      { host: 'no-name.example.org' },
      { name: 'no-host' },
      { name: '', host: 'empty-name.example.org' },
      { name: 'empty-host', host: '' },
      { name: 7, host: 'numeric-name' },
      { name: 'numeric-host', host: 7 },
      { name: 'swc', host: 'hpc-gw1' },
      { name: 'swc', host: 'duplicate.example.org' },
      { name: 'archer2', host: 'login.archer2.ac.uk' }
    ];
    expect(readClusters(value).map(c => `${c.name}=${c.host}`)).toEqual([
      'swc=hpc-gw1',
      'archer2=login.archer2.ac.uk'
    ]);
  });

  it('refuses entries with fields of the wrong type, saying which', () => {
    const { clusters, rejected } = checkClusters([
      {
        name: 'swc',
        host: 'hpc-gw1',
        port: '22',
        user: 7,
        identityFile: null,
        jumpHost: ['gw'],
        transport: 'telnet',
        jupyterEnvironment: 4
      }
    ]);
    expect(clusters).toEqual([]);
    expect(rejected).toEqual([
      {
        index: 0,
        name: 'swc',
        reason:
          'port must be integer,null; user must be string; identityFile must be string; ' +
          'jumpHost must be string; transport must be one of: ssh, local; ' +
          'jupyterEnvironment must be string'
      }
    ]);
  });

  it('refuses unknown fields by name, never repeating their value', () => {
    const { clusters, rejected } = checkClusters([
      { name: 'swc', host: 'hpc-gw1', password: 'hunter2' }
    ]);
    expect(clusters).toEqual([]);
    expect(rejected).toEqual([
      { index: 0, name: 'swc', reason: 'password is not a cluster setting' }
    ]);
    expect(describeRejected(rejected)).not.toContain('hunter2');
  });
});

describe('checkClusters', () => {
  it.each([
    [{ name: 'my cluster', host: 'h' }, 'name must match pattern'],
    [{ name: 'swc', host: 'me@hpc-gw1' }, 'host must match pattern'],
    [{ name: 'swc', host: 'h', port: 0 }, 'port must be >= 1'],
    [{ name: 'swc', host: 'h', port: 70000 }, 'port must be <= 65535'],
    [{ name: 'swc', host: 'h', user: 'a b' }, 'user must match pattern'],
    [{ name: 'swc', host: 'h', jumpHost: 'gw,,x' }, 'jumpHost must match'],
    [
      { name: 'swc', host: 'h', sshClient: 'putty' },
      'sshClient must be one of: auto, openssh, builtin'
    ],
    [{ name: 'swc' }, 'host is required'],
    ['swc', 'an entry must be an object']
  ])('refuses %j: %s', (entry, reason) => {
    const { clusters, rejected } = checkClusters([entry]);
    expect(clusters).toEqual([]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0].reason).toContain(reason);
  });

  it('reports a repeated name and keeps the first entry', () => {
    const { clusters, rejected } = checkClusters([
      { name: 'swc', host: 'a' },
      { name: 'swc', host: 'b' }
    ]);
    expect(clusters.map(c => c.host)).toEqual(['a']);
    expect(describeRejected(rejected)).toBe(
      'entry 2 ("swc"): the name swc is already used by entry 1'
    );
  });

  it('accepts every entry the schema accepts, defaults filled in', () => {
    expect(
      checkClusters([{ name: 'here', host: 'login1', transport: 'local' }])
    ).toEqual({
      clusters: [
        {
          name: 'here',
          host: 'login1',
          port: null,
          user: '',
          identityFile: '',
          jumpHost: '',
          transport: 'local',
          sshClient: 'auto',
          jupyterEnvironment: ''
        }
      ],
      rejected: []
    });
  });
});

describe('readJobDefaults', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', '02:00:00'],
    ['an empty object', {}]
  ])('reads %s as the defaults', (_case, value) => {
    expect(readJobDefaults(value)).toEqual(DEFAULT_JOB_DEFAULTS);
  });

  it('returns a fresh object, never the shared defaults', () => {
    expect(readJobDefaults({})).not.toBe(DEFAULT_JOB_DEFAULTS);
  });

  it('keeps every well-typed field', () => {
    const value = {
      partition: 'gpu',
      timeLimit: '1-00:00:00',
      cpus: 16,
      memory: '64G',
      gpus: 2,
      gpuType: 'a100',
      account: 'proj-42',
      qos: 'short',
      constraint: 'ib',
      workingDirectory: '~/work',
      startTimeout: 120,
      jupyterEnvironment: 'lab4'
    };
    expect(readJobDefaults(value)).toEqual(value);
  });

  it('falls back to the default for each field of the wrong type', () => {
    expect(
      readJobDefaults({
        partition: 3,
        timeLimit: 120,
        cpus: '8',
        memory: 8,
        gpus: null,
        account: false,
        qos: 1,
        startTimeout: '300',
        jupyterEnvironment: ['lab'],
        unknown: 'ignored'
      })
    ).toEqual(DEFAULT_JOB_DEFAULTS);
  });

  it('mixes given and default fields', () => {
    expect(readJobDefaults({ partition: 'cpu', cpus: 'many' })).toEqual({
      ...DEFAULT_JOB_DEFAULTS,
      partition: 'cpu'
    });
  });
});

describe('describeCluster', () => {
  it.each([
    [{ name: 'a', host: 'hpc-gw1' }, 'hpc-gw1'],
    [{ name: 'a', host: 'hpc-gw1', user: 'ana' }, 'ana@hpc-gw1'],
    [{ name: 'a', host: 'hpc-gw1', port: 2222 }, 'hpc-gw1:2222'],
    [{ name: 'a', host: 'hpc-gw1', port: null }, 'hpc-gw1'],
    [
      { name: 'a', host: 'hpc-gw1', user: '', port: null, jumpHost: '' },
      'hpc-gw1'
    ],
    [
      {
        name: 'a',
        host: 'login.archer2.ac.uk',
        user: 'ana',
        port: 22,
        jumpHost: 'gw@bastion:2200'
      },
      'ana@login.archer2.ac.uk:22 via gw@bastion:2200'
    ],
    [
      { name: 'a', host: '10.0.0.5', jumpHost: 'gw1,gw2' },
      '10.0.0.5 via gw1,gw2'
    ]
  ] as [IClusterConfig, string][])('describes %j as %p', (cluster, text) => {
    expect(describeCluster(cluster)).toBe(text);
  });
});

describe('readCondaSettings', () => {
  it.each([
    ['undefined', undefined],
    ['an empty object', {}],
    ['a non-http URL', { installerUrl: 'file:///etc/passwd' }],
    ['a number', { installerUrl: 3 }]
  ])('reads %s as the default installer', (_case, value) => {
    expect(readCondaSettings(value)).toEqual(DEFAULT_CONDA_SETTINGS);
  });

  it('keeps a mirror URL', () => {
    const installerUrl =
      'https://mirror.example.org/Miniforge3-Linux-{arch}.sh';
    expect(readCondaSettings({ installerUrl })).toEqual({ installerUrl });
  });
});

describe('readSessionPresets', () => {
  it('keeps the presets the schema accepts and leaves out the others', () => {
    expect(
      readSessionPresets([
        { name: 'gpu', cluster: 'demo', partition: 'gpu', gpus: 1 },
        { name: 'bad', partition: 'a;b' },
        { cpus: 2 },
        'not a preset',
        { name: 'small', cpus: 1 }
      ])
    ).toEqual([
      { name: 'gpu', cluster: 'demo', partition: 'gpu', gpus: 1 },
      { name: 'small', cpus: 1 }
    ]);
  });

  it('keeps the first of two presets with one name for one cluster', () => {
    expect(
      readSessionPresets([
        { name: 'p', cluster: 'demo', cpus: 1 },
        { name: 'p', cluster: 'demo', cpus: 2 },
        { name: 'p', cpus: 3 }
      ])
    ).toEqual([
      { name: 'p', cluster: 'demo', cpus: 1 },
      { name: 'p', cpus: 3 }
    ]);
  });

  it('reads anything else as no presets', () => {
    expect(readSessionPresets(undefined)).toEqual([]);
    expect(readSessionPresets({ name: 'p' })).toEqual([]);
  });
});

describe('readClusterKernelSettings', () => {
  it('takes a grace period in range and falls back to 10 minutes', () => {
    expect(readClusterKernelSettings({ allocationGraceMinutes: 0 })).toEqual({
      allocationGraceMinutes: 0
    });
    expect(readClusterKernelSettings({ allocationGraceMinutes: 2.5 })).toEqual({
      allocationGraceMinutes: 2.5
    });
    for (const bad of [
      undefined,
      null,
      {},
      { allocationGraceMinutes: -1 },
      { allocationGraceMinutes: '5' }
    ]) {
      expect(readClusterKernelSettings(bad)).toEqual({
        allocationGraceMinutes: 10
      });
    }
  });
});
