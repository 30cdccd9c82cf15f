import { readFileSync } from 'fs';
import { join } from 'path';

import Ajv from 'ajv';

import {
  DEFAULT_JOB_DEFAULTS,
  readJobDefaults
} from '../../../src/common/settings';

const root = join(__dirname, '..', '..', '..');
const schema = JSON.parse(
  readFileSync(join(root, 'schema', 'plugin.json'), 'utf8')
);

// As JupyterLab's settings registry compiles it (strict off: the schema
// carries jupyter.lab.* keys).
const validate = new Ajv({ strict: false }).compile(schema);

const cluster = (fields: Record<string, unknown>) => ({
  clusters: [{ name: 'swc', host: 'hpc-gw1', ...fields }]
});
const jobDefaults = (fields: Record<string, unknown>) => ({
  jobDefaults: { ...DEFAULT_JOB_DEFAULTS, ...fields }
});

describe('schema/plugin.json', () => {
  it('is a valid JupyterLab plugin settings schema', () => {
    const metaSchema = JSON.parse(
      readFileSync(
        require.resolve('@jupyterlab/settingregistry/lib/plugin-schema.json'),
        'utf8'
      )
    );
    const ajv = new Ajv({ strict: false });
    expect(ajv.validate(metaSchema, schema)).toBe(true);
  });

  it('has default job settings that read as DEFAULT_JOB_DEFAULTS', () => {
    // Empty strings are left out of the schema's default: JupyterLab's
    // settings form would show them as an empty "Default:" line.
    expect(readJobDefaults(schema.properties.jobDefaults.default)).toEqual(
      DEFAULT_JOB_DEFAULTS
    );
    expect(Object.values(schema.properties.jobDefaults.default)).not.toContain(
      ''
    );
  });

  it('has the defaults that are themselves valid settings', () => {
    expect(
      validate({
        clusters: schema.properties.clusters.default,
        jobDefaults: schema.properties.jobDefaults.default
      })
    ).toBe(true);
  });

  it.each([
    ['no settings at all', {}],
    ['an empty cluster list', { clusters: [] }],
    ['a cluster with only name and host', cluster({})],
    [
      'a cluster with every field',
      cluster({
        name: 'archer2.login-1',
        host: 'login.archer2.ac.uk',
        port: 2222,
        user: 'ana_lee',
        identityFile: '~/.ssh/id_ed25519',
        jumpHost: 'gw@bastion.example.org:2200,relay'
      })
    ],
    ['an IPv4 host', cluster({ host: '10.0.0.5' })],
    ['an IPv6 host', cluster({ host: 'fe80::1' })],
    ['a null port', cluster({ port: null })],
    ['port 1', cluster({ port: 1 })],
    ['port 65535', cluster({ port: 65535 })],
    ['an empty user', cluster({ user: '' })],
    ['a user with a dot and a dash', cluster({ user: 'ana.lee-2' })],
    ['a single jump host', cluster({ jumpHost: 'bastion' })],
    ['the default job settings', jobDefaults({})],
    [
      'a full job',
      jobDefaults({
        partition: 'gpu,gpu-long',
        timeLimit: '1-00:00:00',
        cpus: 4096,
        memory: '512000M',
        gpus: 8,
        account: 'proj_42',
        jupyterEnvironment: 'lab4'
      })
    ],
    ['minutes only', jobDefaults({ timeLimit: '30' })],
    ['minutes and seconds', jobDefaults({ timeLimit: '30:00' })],
    ['memory in plain megabytes', jobDefaults({ memory: '500' })],
    ['memory in terabytes', jobDefaults({ memory: '2T' })],
    ['no GPUs', jobDefaults({ gpus: 0 })],
    [
      'every launch field',
      jobDefaults({
        qos: 'short',
        gpuType: 'a100',
        constraint: 'a100&ib|[rack1*2]',
        workingDirectory: '~/projects/x y',
        startTimeout: 600
      })
    ],
    [
      'presets for one cluster and for all',
      {
        sessionPresets: [
          { name: 'GPU, short', cluster: 'demo', partition: 'gpu', gpus: 1 },
          { name: 'small', cpus: 1, memory: '1G', cluster: '' }
        ]
      }
    ]
  ])('accepts %s', (_case, settings) => {
    expect(validate(settings)).toBe(true);
  });

  it.each([
    ['a name with a space', cluster({ name: 'my cluster' })],
    ['a name with a leading dash', cluster({ name: '-oProxyCommand=x' })],
    ['an empty name', cluster({ name: '' })],
    ['a name of 65 characters', cluster({ name: 'a'.repeat(65) })],
    ['a host with whitespace', cluster({ host: 'hpc gw1' })],
    ['a host with a newline', cluster({ host: 'hpc-gw1\nProxyCommand x' })],
    ['a host starting with @', cluster({ host: '@hpc-gw1' })],
    ['a host with a slash', cluster({ host: 'hpc-gw1/22' })],
    ['a host that is a path', cluster({ host: '/tmp/x' })],
    ['an empty host', cluster({ host: '' })],
    ['a missing host', { clusters: [{ name: 'swc' }] }],
    ['a missing name', { clusters: [{ host: 'hpc-gw1' }] }],
    ['port 0', cluster({ port: 0 })],
    ['port 70000', cluster({ port: 70000 })],
    ['a port as a string', cluster({ port: '22' })],
    ['a fractional port', cluster({ port: 22.5 })],
    [
      'a user with a command substitution',
      cluster({ user: '$(touch /tmp/x)' })
    ],
    ['a user with a leading dash', cluster({ user: '-l' })],
    ['a user with a space', cluster({ user: 'ana lee' })],
    ['a jump host with a space', cluster({ jumpHost: 'gw1 gw2' })],
    ['a jump host list with an empty entry', cluster({ jumpHost: 'gw1,,gw2' })],
    ['an unknown cluster field', cluster({ password: 'hunter2' })],
    ['an unknown top-level setting', { clusterz: [] }],
    ['a time limit in words', jobDefaults({ timeLimit: '2 hours' })],
    ['a time limit with a unit', jobDefaults({ timeLimit: '2h' })],
    ['memory with a B suffix', jobDefaults({ memory: '8GB' })],
    ['memory in lower case', jobDefaults({ memory: '8g' })],
    ['0 CPUs', jobDefaults({ cpus: 0 })],
    ['CPUs as a string', jobDefaults({ cpus: '2' })],
    ['negative GPUs', jobDefaults({ gpus: -1 })],
    ['65 GPUs', jobDefaults({ gpus: 65 })],
    ['a partition with a space', jobDefaults({ partition: 'gpu long' })],
    ['an account with a semicolon', jobDefaults({ account: 'a;b' })],
    [
      'an empty JupyterLab environment',
      jobDefaults({ jupyterEnvironment: '' })
    ],
    ['an unknown job field', jobDefaults({ priority: 'high' })],
    ['a QOS with a space', jobDefaults({ qos: 'a b' })],
    ['a constraint with a space', jobDefaults({ constraint: 'a100 & ib' })],
    [
      'a working directory on two lines',
      jobDefaults({ workingDirectory: '/a\nb' })
    ],
    ['a start time-out under 10 s', jobDefaults({ startTimeout: 5 })],
    [
      'a JupyterLab environment on two lines',
      jobDefaults({ jupyterEnvironment: 'a\nb' })
    ],
    ['a preset without a name', { sessionPresets: [{ cpus: 2 }] }],
    ['a preset named with a newline', { sessionPresets: [{ name: 'a\nb' }] }],
    [
      'a preset with a space around its name',
      { sessionPresets: [{ name: ' gpu' }] }
    ],
    [
      'a preset with an unknown field',
      { sessionPresets: [{ name: 'p', qqq: 1 }] }
    ],
    [
      'a preset with a bad partition',
      { sessionPresets: [{ name: 'p', partition: 'a;b' }] }
    ],
    [
      'a preset for a bad cluster name',
      { sessionPresets: [{ name: 'p', cluster: '-x' }] }
    ]
  ])('rejects %s', (_case, settings) => {
    expect(validate(settings)).toBe(false);
  });

  // The user has a field of its own; "ana@hpc-gw1" in host would hide it.
  it('rejects a host in user@host form', () => {
    expect(validate(cluster({ host: 'ana@hpc-gw1' }))).toBe(false);
  });
});
