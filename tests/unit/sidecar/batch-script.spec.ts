/**
 * The session job's script header and sbatch argv. The header is run by a
 * real bash with hostile paths, and a canary file proves nothing in them ran.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type { ILaunchRequest } from '../../../src/common/sessions';
import {
  buildJobScript,
  isSessionId,
  parseSbatchParsable,
  sbatchArgv,
  shellPathWord
} from '../../../src/sidecar/sessions/batch-script';

const request: ILaunchRequest = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '90',
  cpus: 2,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '/opt/envs/jl',
  workingDirectory: '',
  startTimeoutSeconds: 120
};

describe('sbatchArgv', () => {
  it('names kernel allocations jlhpc-k-<id> and leaves unset time and CPUs to the cluster', () => {
    const argv = sbatchArgv(
      'abcdef0123456789',
      { ...request, wallTime: '', cpus: 0 },
      'job.sh',
      'jlhpc-k-'
    );
    expect(argv).toContain('--job-name=jlhpc-k-abcdef0123456789');
    expect(argv.some(a => a.startsWith('--time'))).toBe(false);
    expect(argv.some(a => a.startsWith('--cpus-per-task'))).toBe(false);
    expect(() =>
      sbatchArgv('abcdef0123456789', request, 'job.sh', 'other-')
    ).toThrow(/jlhpc-/);
  });

  it('passes only what the form set, each as its own word', () => {
    expect(sbatchArgv('abcdef0123456789', request)).toEqual([
      'sbatch',
      '--parsable',
      '--job-name=jlhpc-abcdef0123456789',
      '--output=job.log',
      '--open-mode=append',
      '--time=01:30:00',
      '--nodes=1',
      '--ntasks=1',
      '--cpus-per-task=2',
      'job.sh'
    ]);
    expect(
      sbatchArgv('abcdef0123456789', {
        ...request,
        partition: 'gpu',
        account: 'physics',
        qos: 'short',
        memory: '8G',
        gpus: { type: 'tesla', count: 2 },
        constraint: 'a100&ib'
      }).slice(9, -1)
    ).toEqual([
      '--mem=8G',
      '--partition=gpu',
      '--account=physics',
      '--qos=short',
      '--gres=gpu:tesla:2',
      '--constraint=a100&ib'
    ]);
    expect(
      sbatchArgv('abcdef0123456789', {
        ...request,
        gpus: { type: '', count: 1 }
      })
    ).toContain('--gres=gpu:1');
  });

  it.each(['', 'ABC12345', 'abc', 'a/b/c/d/e/f/g/h', '../../etc/x'])(
    'refuses the session id %j',
    id => {
      expect(isSessionId(id)).toBe(false);
      expect(() => sbatchArgv(id, request)).toThrow(/Not a session id/);
    }
  );

  it.each([
    ['42\n', '42'],
    ['42;cluster2\n', '42'],
    ['sbatch: warning: something\n42\n', '42'],
    ['Submitted batch job 42\n', null],
    ['', null]
  ])('reads sbatch --parsable %j', (out, id) => {
    expect(parseSbatchParsable(out)).toBe(id);
  });
});

describe('the job script header', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'jlhpc-job-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Run the header's assignments in bash with HOME=dir; print them. */
  function header(req: ILaunchRequest): Record<string, string> {
    const script = buildJobScript({
      sessionId: 'abcdef0123456789',
      request: req,
      idleShutdownSeconds: 0
    });
    // Everything above job.sh's own first line.
    const assignments = script.slice(0, script.indexOf('# The body of'));
    const r = spawnSync(
      'bash',
      [
        '-c',
        `${assignments}\nprintf '%s\\0' "$SESSION_DIR" "$ENV_PREFIX" "$WORK_DIR"`
      ],
      { env: { HOME: dir, PATH: process.env.PATH }, encoding: 'utf8' }
    );
    expect(r.stderr).toBe('');
    const [session, env, work] = r.stdout.split('\0');
    return { session, env, work };
  }

  it.each([
    `/tmp/a'b $(touch CANARY) \`touch CANARY\``,
    '/tmp/"; touch CANARY; "',
    '/tmp/new\nline',
    '/tmp/ünïcödé/$HOME/*'
  ])('keeps a hostile path literal: %j', path => {
    const canary = join(dir, 'CANARY');
    const got = header({
      ...request,
      environment: path,
      workingDirectory: path
    });
    expect(got).toEqual({
      session: `${dir}/.jupyterlab-hpc/sessions/abcdef0123456789`,
      env: path,
      work: path
    });
    expect(existsSync(canary)).toBe(false);
  });

  it.each([
    ['', 'HOME'],
    ['~', 'HOME'],
    ['~/', 'HOME'],
    ['~/my project', 'HOME/my project'],
    ['/scratch/x', '/scratch/x']
  ])('working directory %j', (path, expected) => {
    expect(header({ ...request, workingDirectory: path }).work).toBe(
      expected.replace('HOME', dir)
    );
  });

  it('writes ~ paths so that $HOME expands on the cluster', () => {
    expect(shellPathWord('~/a b')).toBe(`"$HOME"/'a b'`);
  });

  it('is bash that parses, with the token nowhere in it', () => {
    const script = buildJobScript({
      sessionId: 'abcdef0123456789',
      request,
      idleShutdownSeconds: 3600
    });
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain('IDLE_SHUTDOWN_SECONDS=3600');
    expect(script).not.toMatch(/token=|JUPYTER_TOKEN=/);
  });
});
