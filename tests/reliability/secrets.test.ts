/**
 * Secrets kept (issue 13, point 3), measured while the product does its
 * work: a real `jupyter lab` (its own token given in JUPYTER_TOKEN, as
 * Docker images and spawners do) whose server extension owns the sidecar;
 * a remote JupyterLab session in a Slurm job of the demo cluster (its token)
 * reached through the sidecar's forward; a cluster kernel started through
 * the server (its HMAC key); a login with a TOTP code (hpc-2fa); key setup
 * over a password login (hpc-pass) with a passphrase, then a login that
 * needs that passphrase. Every prompt is left open a moment before it is
 * answered, so that the samplers see the processes that ask.
 *
 * Meanwhile `ps` and every /proc/<pid>/environ are sampled. On the demo,
 * this machine is both "this computer" and the cluster (login and compute
 * node), so one `ps` covers both. Then each place is searched for every
 * secret's value and its base64, hex and url-encoded forms, and a second
 * Unix user (hpcother) tries the sidecar's socket, the forwarded port and
 * the session's directory. Each place is recorded with recordSecrets.
 *
 * The kernel's output as seen by hpcother on the cluster (its ipc sockets)
 * is covered by tests/integration/cluster-kernels.test.ts ("a second Unix
 * user") and kernel-relay.test.ts; not repeated here.
 */
import { execFileSync, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync
} from 'fs';
import { dirname, join } from 'path';

import WebSocket from 'ws';

import type {
  IKernelProfile,
  IPrompt,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { startLab, type IRunningLab } from '../support/jupyter-lab';
import { openKernelSocket, textOf } from '../support/kernel-ws';
import { cmdline, waitFor } from '../support/proc';
import { makeHome } from '../support/sidecar';
import { totp } from '../support/totp';
import { recordSecrets } from './report';
import {
  appendedSince,
  findSecrets,
  logOffsets,
  ProcessSampler,
  scanFiles,
  type IFinding,
  type ISecret
} from './support/secret-scan';

jest.setTimeout(300_000);

const FIXTURES = '/var/lib/jupyterlab-hpc-demo/ssh-fixtures.json';
const fixtures = JSON.parse(readFileSync(FIXTURES, 'utf8'));
const { twoFactor, password } = fixtures.hosts;
const demo = demoCluster();
const OTHER = demo.otherUser;
const KERNEL_ENV = demo.envs.find(e => e.name === 'my-project-env')!;
const SIDECAR = 'jupyterlab-hpc';
const DAEMON_LOGS = [
  '/var/log/slurm/slurmctld.log',
  '/var/log/slurm/slurmd.log',
  '/var/log/slurm/slurmdbd.log',
  '/var/log/jupyterlab-hpc-demo/sshd.log',
  '/var/log/jupyterlab-hpc-demo/jlhpc-sshd-2fa.log',
  '/var/log/jupyterlab-hpc-demo/jlhpc-sshd-pass.log'
];
const CLUSTER_HOME = `/home/${demo.user}`;
const KINDS = {
  local: 'local Jupyter server token',
  remote: 'remote JupyterLab token',
  key: 'cluster kernel HMAC key',
  passphrase: 'SSH key passphrase',
  password: 'password',
  code: '2FA code'
};

let lab: IRunningLab;
let home: string;
const events: SidecarEvent[] = [];
let eventSocket: WebSocket | null = null;
const sampler = new ProcessSampler();
let started = 0;
let offsets: Map<string, number>;
const secrets: ISecret[] = [];
const answered: { kind: IPrompt['kind']; label: string }[] = [];
let session: ISessionInfo;
let allocationJob = '';
let allocationId = '';
let kernelSessionId = '';
let sidecarPid = 0;
let sidecarSocket = '';
const passphrase = randomBytes(12).toString('base64url');
const keyPath = () => join(home, '.ssh', 'id_ed25519_pw');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api<T = any>(
  method: string,
  path: string,
  body?: unknown
): Promise<{ status: number; body: T }> {
  const res = await fetch(lab.url + path.replace(/^\//, ''), {
    method,
    headers: {
      Authorization: `token ${lab.token}`,
      'Content-Type': 'application/json'
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sidecar = <T = any>(method: string, route: string, body?: unknown) =>
  api<T>(method, `${SIDECAR}${route}`, body);

/** Answers every prompt as the user would, after leaving it open 0.8 s. */
function answerPrompts(): void {
  const seen = new Set<string>();
  const url = lab.url.replace(/^http/, 'ws') + `${SIDECAR}/api/v1/events`;
  eventSocket = new WebSocket(url, {
    headers: { Authorization: `token ${lab.token}` }
  });
  eventSocket.on('message', data => {
    const e = JSON.parse(String(data)) as SidecarEvent;
    events.push(e);
    if (e.type !== 'prompt' || seen.has(e.prompt.id)) {
      return;
    }
    seen.add(e.prompt.id);
    const p = e.prompt;
    const label = p.fields[0]?.label ?? '';
    let answer: string;
    if (p.kind === 'passphrase' || /passphrase/i.test(label)) {
      answer = passphrase;
    } else if (/code|verification/i.test(label)) {
      answer = totp(twoFactor.totp.secret);
      secrets.push({ kind: KINDS.code, value: answer });
    } else {
      answer = password.password;
    }
    answered.push({ kind: p.kind, label });
    setTimeout(
      () =>
        void sidecar('POST', `/api/v1/prompts/${p.id}`, { answers: [answer] }),
      800
    );
  });
}

async function openEvents(): Promise<void> {
  answerPrompts();
  await new Promise<void>((resolve, reject) => {
    eventSocket!.once('open', () => resolve());
    eventSocket!.once('error', reject);
  });
}

async function launchSession(): Promise<ISessionInfo> {
  const r = await sidecar<ISessionInfo>(
    'POST',
    '/api/v1/clusters/demo/sessions',
    demoLaunchRequest()
  );
  expect(r.status).toBe(201);
  let info = r.body;
  await waitFor(
    'the session to run',
    async () => {
      const s = await sidecar<ISessionInfo>(
        'GET',
        `/api/v1/sessions/${info.id}`
      );
      info = s.body;
      if (info.phase === 'ended') {
        throw new Error(`the session ended: ${JSON.stringify(info)}`);
      }
      return info.phase === 'running' && !!info.localPort;
    },
    120_000
  );
  return info;
}

async function startKernel(): Promise<{ kernelId: string; key: string }> {
  const p = await sidecar<IKernelProfile>('POST', '/api/v1/kernel-profiles', {
    cluster: 'demo',
    environment: KERNEL_ENV.prefix,
    resources: {
      partition: '',
      account: '',
      qos: '',
      wallTime: '15',
      cpus: 1,
      memory: '',
      gpus: { type: '', count: 0 },
      constraint: ''
    },
    workingDirectory: '',
    displayName: ''
  });
  expect(p.status).toBe(201);
  const r = await api('POST', 'api/sessions', {
    path: 'secret.ipynb',
    name: 'secret.ipynb',
    type: 'notebook',
    kernel: { name: p.body.specName }
  });
  if (r.status !== 201) {
    throw new Error(
      `POST /api/sessions: ${r.status} ${JSON.stringify(r.body)}`
    );
  }
  kernelSessionId = r.body.id;
  const kernelId = r.body.kernel.id as string;
  const socket = await openKernelSocket(lab.url, lab.token, kernelId);
  try {
    await socket.kernelInfo(60_000);
    const run = await socket.execute(
      "import os; print(os.environ['SLURM_JOB_ID'])"
    );
    allocationJob = textOf(run).trim();
  } finally {
    socket.close();
  }
  // The key the server signs with: in its own connection file (jupyter_client's).
  const file = join(lab.home, 'runtime', `kernel-${kernelId}.json`);
  const key = JSON.parse(readFileSync(file, 'utf8')).key as string;
  expect(key.length).toBeGreaterThanOrEqual(16);
  return { kernelId, key };
}

/** 2FA: a login to hpc-2fa answered with a TOTP code. */
async function loginWithCode(): Promise<void> {
  const r = await sidecar('POST', '/api/v1/clusters/mfa/connect');
  expect(r.body).toMatchObject({ state: 'connected' });
  const who = await sidecar('POST', '/api/v1/clusters/mfa/run', {
    argv: ['whoami']
  });
  expect(who.body.stdout.trim()).toBe(twoFactor.user);
}

/** Key setup with a passphrase over a password login, then a login with it. */
async function keySetupWithPassphrase(): Promise<void> {
  const setup = await sidecar('POST', '/api/v1/clusters/pw/key-setup', {
    keyPath: keyPath(),
    passphrase
  });
  expect(setup.status).toBe(200);
  expect(setup.body).toMatchObject({ created: true, installed: true });
  await sidecar('POST', '/api/v1/clusters/pw/disconnect');
  const put = await sidecar('PUT', '/api/v1/clusters', {
    clusters: clusters(keyPath())
  });
  expect(put.status).toBe(200);
  const asked = answered.length;
  const r = await sidecar('POST', '/api/v1/clusters/pw/connect');
  expect(r.body).toMatchObject({ state: 'connected' });
  // The encrypted key was opened with the passphrase, asked in a prompt.
  expect(answered.slice(asked).map(a => a.kind)).toContain('passphrase');
}

function clusters(pwIdentity?: string) {
  return [
    { name: 'demo', host: demo.alias },
    { name: 'mfa', host: twoFactor.alias },
    pwIdentity
      ? { name: 'pw', host: password.alias, identityFile: pwIdentity }
      : { name: 'pw', host: password.alias }
  ];
}

function as(user: string, argv: string[]) {
  return spawnSync('runuser', ['-u', user, '--', ...argv], {
    encoding: 'utf8',
    cwd: '/'
  });
}

/** Never print a secret: each one found is shown as <its kind>. */
function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    out = out.split(s.value).join(`<${s.kind}>`);
  }
  return out.length > 160 ? out.slice(0, 160) + '…' : out;
}

const describeFindings = (f: IFinding[]): string =>
  [...new Set(f.map(x => `${x.kind} (${x.how})`))].join(', ');

const secretKinds = (only?: string[]) =>
  [...new Set(secrets.map(s => s.kind))].filter(k => !only || only.includes(k));

function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter(n => /^\d+$/.test(n))
    .filter(n => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
        return (
          Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

function sessionDir(): string {
  return `${CLUSTER_HOME}/.jupyterlab-hpc/sessions/${session.id}`;
}

beforeAll(async () => {
  started = Date.now() - 1000;
  execFileSync('bash', ['tests/cluster/ssh-fixtures.sh', 'reset-keys'], {
    stdio: 'ignore'
  });
  offsets = logOffsets(DAEMON_LOGS);
  home = makeHome('jlhpc-secrets-');
  writeDemoSshFiles(home);
  appendFileSync(
    join(home, '.ssh', 'config'),
    '\n' + readFileSync(fixtures.sshConfigFile, 'utf8')
  );
  sampler.start(250);
  lab = await startLab({
    env: { HOME: home, JUPYTERLAB_HPC_LOG_LEVEL: 'debug' },
    tokenVia: 'env'
  });
  secrets.push(
    { kind: KINDS.local, value: lab.token },
    { kind: KINDS.password, value: password.password },
    { kind: KINDS.passphrase, value: passphrase }
  );
  await openEvents();
  const put = await sidecar('PUT', '/api/v1/clusters', {
    clusters: clusters()
  });
  expect(put.status).toBe(200);
  // What the frontend saves when clusters are added in the settings editor.
  const saved = await api('PUT', 'lab/api/settings/jupyterlab-hpc:plugin', {
    raw: JSON.stringify({ clusters: clusters(keyPath()) }, null, 2)
  });
  expect(saved.status).toBe(204);

  const sessionStarting = launchSession();
  const kernelStarting = startKernel();
  await loginWithCode();
  await keySetupWithPassphrase();
  session = await sessionStarting;
  const kernel = await kernelStarting;
  secrets.push({ kind: KINDS.key, value: kernel.key });

  const open = await sidecar<{ url: string }>(
    'GET',
    `/api/v1/sessions/${session.id}/open`
  );
  expect(open.status).toBe(200);
  const token = new URL(open.body.url).searchParams.get('token')!;
  secrets.push({ kind: KINDS.remote, value: token });
  // The control: with its token, the remote JupyterLab answers through the forward.
  const status = await fetch(
    `http://127.0.0.1:${session.localPort}/api/status`,
    { headers: { Authorization: `token ${token}` } }
  );
  expect(status.status).toBe(200);

  const allocs = await sidecar<{
    allocations: { id: string; jobId: string }[];
  }>('GET', '/api/v1/kernel-allocations');
  allocationId = allocs.body.allocations.find(
    a => a.jobId === allocationJob
  )!.id;

  // The server's sidecar: its child running sidecar.js --socket <path>.
  const sidecarArgv = childrenOf(lab.process.pid!)
    .map(pid => ({ pid, argv: cmdline(pid) }))
    .find(c => c.argv.some(a => a.endsWith('sidecar.js')));
  expect(sidecarArgv).toBeDefined();
  sidecarPid = sidecarArgv!.pid;
  sidecarSocket = sidecarArgv!.argv[sidecarArgv!.argv.indexOf('--socket') + 1];
  expect(existsSync(sidecarSocket)).toBe(true);
  // Everything lives a little longer under the samplers.
  await new Promise(r => setTimeout(r, 1500));
  await sampler.stop();
});

afterAll(async () => {
  await sampler.stop();
  eventSocket?.close();
  if (kernelSessionId) {
    await api('DELETE', `api/sessions/${kernelSessionId}`).catch(() => null);
  }
  await lab?.stop();
  const jobs = [session?.jobId, allocationJob].filter(Boolean) as string[];
  if (jobs.length) {
    spawnSync('scancel', jobs);
  }
  execFileSync('bash', ['tests/cluster/ssh-fixtures.sh', 'reset-keys'], {
    stdio: 'ignore'
  });
  if (home) {
    rmSync(home, { recursive: true, force: true });
  }
});

it('had every secret live at once', () => {
  expect(secretKinds().sort()).toEqual(Object.values(KINDS).sort());
  expect(answered.map(a => a.kind)).toEqual(
    expect.arrayContaining(['keyboard-interactive', 'passphrase'])
  );
});

it('never puts a secret in any argv (ps on this computer, which is the cluster too)', () => {
  const where = [...sampler.psLines]
    .map(line => ({ line, f: findSecrets(line, secrets) }))
    .filter(x => x.f.length)
    .map(x => `${describeFindings(x.f)}: ${redact(x.line)}`);
  recordSecrets('secrets-argv', {
    place:
      '`ps -eww -o user,pid,args` every 250 ms while the session, the kernel and the prompts were live (the demo machine is both this computer and the cluster, so one ps covers both)',
    secrets: secretKinds(),
    checks: sampler.psSnapshots,
    leaks: where.length,
    where
  });
  expect(sampler.psSnapshots).toBeGreaterThan(20);
  expect(where).toEqual([]);
});

it("never puts a secret in another process's environment", () => {
  // The local Jupyter server holds its own token there: it was given it so
  // (JUPYTER_TOKEN). So do the processes Jupyter itself starts (JupyterLab's
  // yarn check, local kernels): Jupyter's behaviour, not ours. Nothing of
  // ours may: the sidecar and all it starts, and everything on the cluster.
  const holds = (pid: number, kind: string) =>
    kind === KINDS.local &&
    sampler.descends(pid, lab.process.pid!) &&
    !sampler.descends(pid, sidecarPid);
  const where: string[] = [];
  let jupyters = 0;
  for (const s of sampler.environs.values()) {
    const all = findSecrets(s.environ, secrets);
    const f = all.filter(x => !holds(s.pid, x.kind));
    jupyters += all.length > f.length ? 1 : 0;
    if (f.length) {
      where.push(
        `${describeFindings(f)}: pid ${s.pid} uid ${s.user} ${redact(s.args)}`
      );
    }
  }
  const uniq = [...new Set(where)];
  recordSecrets('secrets-environ', {
    place:
      "/proc/<pid>/environ of every process, sampled every 250 ms, the sidecar's and everything it starts included (only the local Jupyter server and the processes Jupyter itself starts hold its token, given to it in JUPYTER_TOKEN)",
    secrets: secretKinds(),
    checks: sampler.environs.size,
    leaks: uniq.length,
    where: uniq
  });
  expect(sampler.environSnapshots).toBeGreaterThan(20);
  // The control: the server's own environment was read, token and all.
  expect(jupyters).toBeGreaterThan(0);
  expect(sampler.descends(sidecarPid, lab.process.pid!)).toBe(true);
  expect(uniq).toEqual([]);
});

it('never logs a secret: the Jupyter server and sidecar log', () => {
  const lines = lab.log().split('\n');
  const where = lines
    .map(line => ({ line, f: findSecrets(line, secrets) }))
    .filter(x => x.f.length)
    .map(x => `${describeFindings(x.f)}: ${redact(x.line)}`);
  recordSecrets('secrets-logs-local', {
    place:
      'the Jupyter server log with the sidecar lines in it (log level debug), every line',
    secrets: secretKinds(),
    checks: lines.length,
    leaks: where.length,
    where
  });
  expect(lines.some(l => l.includes('[jupyterlab-hpc sidecar]'))).toBe(true);
  expect(where).toEqual([]);
});

it("never logs a secret on the cluster: the jobs' output, Slurm's and sshd's logs", () => {
  const jobLogs = [
    `${sessionDir()}/job.log`,
    `${CLUSTER_HOME}/.jupyterlab-hpc/allocations/${allocationId}/job.log`
  ];
  for (const f of jobLogs) {
    expect(existsSync(f)).toBe(true);
  }
  // The session's JupyterLab has written to its log by now.
  expect(readFileSync(jobLogs[0], 'utf8')).toMatch(/Jupyter Server/);
  const texts = [
    ...jobLogs.map(f => ({ f, text: readFileSync(f, 'latin1') })),
    ...DAEMON_LOGS.map(f => ({ f, text: appendedSince(f, offsets.get(f)!) }))
  ];
  const where = texts
    .map(t => ({ f: t.f, found: findSecrets(t.text, secrets) }))
    .filter(t => t.found.length)
    .map(t => `${describeFindings(t.found)}: ${t.f}`);
  recordSecrets('secrets-logs-cluster', {
    place:
      "the session's and the kernel allocation's job.log (stdout and stderr of the jobs) and what slurmctld, slurmd, slurmdbd and the three sshd (demo, 2FA, password) logged during the run",
    secrets: secretKinds(),
    checks: texts.length,
    leaks: where.length,
    where
  });
  expect(where).toEqual([]);
});

it('never puts a secret in settings files', () => {
  const roots = [
    join(lab.home, 'settings'),
    join(lab.home, 'workspaces'),
    join(lab.home, 'config'),
    join(home, '.jupyter')
  ];
  const { files, found } = scanFiles(roots, secrets);
  const where = found.map(f => `${describeFindings(f.findings)}: ${f.path}`);
  recordSecrets('secrets-settings', {
    place:
      "JupyterLab's user settings (with the clusters saved as the settings editor does), workspaces and config of the lab, and ~/.jupyter",
    secrets: secretKinds(),
    checks: files,
    leaks: where.length,
    where
  });
  expect(files).toBeGreaterThan(0);
  expect(where).toEqual([]);
});

/** Files that must hold a secret, each for its own reason. */
function mustHold(path: string): boolean {
  const dir = sessionDir();
  return (
    // The remote JupyterLab's config with its token, and jupyter_server's
    // own records of it (jpserver-<pid>.json, -open.html).
    path === `${dir}/token.json` ||
    (path.startsWith(`${dir}/runtime/`) && /\/jpserver-/.test(path)) ||
    // The local server's own: its jpserver files and kernel connection files.
    path.startsWith(join(lab.home, 'runtime') + '/') ||
    // The relay's connection file for the kernel on the node.
    /^\/tmp\/jlhpc-kernel-[^/]+\/kernel\.json$/.test(path)
  );
}

it("never puts a secret in the sidecar's state or a job's records", () => {
  const roots = [
    join(lab.home, 'data'),
    `${CLUSTER_HOME}/.jupyterlab-hpc`,
    `${CLUSTER_HOME}/.local/share/jupyter`
  ];
  const { files, found } = scanFiles(roots, secrets);
  const where = found
    .filter(f => !mustHold(f.path))
    .map(f => `${describeFindings(f.findings)}: ${f.path}`);
  recordSecrets('secrets-state', {
    place:
      "the sidecar's state (sessions.json, allocations.json, kernelspecs in the Jupyter data dir) and every session's and allocation's directory on the cluster (job.sh, job.log, records), but the session's token.json and jupyter_server's runtime files, which hold the token by design",
    secrets: secretKinds(),
    checks: files,
    leaks: where.length,
    where
  });
  expect(existsSync(join(lab.home, 'data', 'jupyterlab_hpc'))).toBe(true);
  expect(where).toEqual([]);
});

function slurmOutputs(user: string): { what: string; text: string }[] {
  const jobs = [session.jobId!, allocationJob];
  const fields = execFileSync('sacct', ['--helpformat'], { encoding: 'utf8' })
    .split(/\s+/)
    .filter(Boolean)
    .join(',');
  const runs: [string, string[]][] = [
    ['squeue %all', ['squeue', '-a', '-o', '%all']],
    ['squeue steps', ['squeue', '-a', '-s', '-o', '%all']],
    ...jobs.map((j): [string, string[]] => [
      `scontrol show job -dd ${j}`,
      ['scontrol', 'show', 'job', '-dd', j]
    ]),
    ['scontrol show step', ['scontrol', '-dd', 'show', 'step']],
    [
      'sacct all fields',
      ['sacct', '-a', '-P', '-j', jobs.join(','), '-o', fields]
    ]
  ];
  return runs.map(([what, argv]) => {
    const r = as(user, argv);
    return { what: `${what} as ${user}`, text: r.stdout + r.stderr };
  });
}

it('never shows a secret in squeue, scontrol or sacct output, to the user or another', () => {
  const outputs = [...slurmOutputs(demo.user), ...slurmOutputs(OTHER)];
  // The controls: the jobs are there to be seen.
  for (const job of [session.jobId!, allocationJob]) {
    const shown = outputs.find(
      o => o.what === `scontrol show job -dd ${job} as ${demo.user}`
    )!;
    expect(shown.text).toContain(`JobId=${job}`);
  }
  const sacct = outputs.find(
    o => o.what === `sacct all fields as ${demo.user}`
  )!;
  expect(sacct.text).toContain(`${allocationJob}|`);
  const where = outputs
    .map(o => ({ o, f: findSecrets(o.text, secrets) }))
    .filter(x => x.f.length)
    .map(x => `${describeFindings(x.f)}: ${x.o.what}`);
  recordSecrets('secrets-slurm-output', {
    place: `squeue (jobs and steps, %all), scontrol show job -dd / show step, sacct with every field, as ${demo.user} and as ${OTHER}`,
    secrets: secretKinds(),
    checks: outputs.length,
    leaks: where.length,
    where
  });
  expect(where).toEqual([]);
});

it("never puts a secret in a job's script (scontrol write batch_script)", () => {
  const scripts = [session.jobId!, allocationJob].map(job => ({
    job,
    r: as(demo.user, ['scontrol', 'write', 'batch_script', job, '-'])
  }));
  for (const s of scripts) {
    expect(s.r.status).toBe(0);
    expect(s.r.stdout).toMatch(/^#!/);
  }
  const where = scripts
    .map(s => ({ s, f: findSecrets(s.r.stdout, secrets) }))
    .filter(x => x.f.length)
    .map(x => `${describeFindings(x.f)}: job ${x.s.job}`);
  recordSecrets('secrets-job-scripts', {
    place:
      "`scontrol write batch_script` of the session's job and the kernel allocation's job",
    secrets: secretKinds(),
    checks: scripts.length,
    leaks: where.length,
    where
  });
  expect(where).toEqual([]);
});

/**
 * Written by jupyterlab-hpc or in its directories (the session's JupyterLab
 * writes its runtime files under job.sh's umask 077), not by the local
 * Jupyter server in its own runtime directory.
 */
function ours(path: string): boolean {
  if (path.startsWith(lab.home + '/')) {
    return path.startsWith(join(lab.home, 'data') + '/');
  }
  return (
    path.startsWith(`${CLUSTER_HOME}/.jupyterlab-hpc/`) ||
    path.startsWith(home + '/') ||
    /^\/tmp\/(jlhpc-|jupyterlab-hpc-)/.test(path)
  );
}

it('keeps every file holding a secret owner-only', () => {
  // Every file written during the run, in the homes and temporary dirs.
  const roots = [
    home,
    lab.home,
    `${CLUSTER_HOME}/.jupyterlab-hpc`,
    `${CLUSTER_HOME}/.local`,
    `/home/${password.user}`,
    `/home/${twoFactor.user}`,
    '/tmp',
    '/var/tmp'
  ];
  const { files, found } = scanFiles(roots, secrets, {
    since: started,
    skipDirs: ['node_modules', '.git', 'miniforge']
  });
  const where: string[] = [];
  for (const f of found) {
    const mode = f.stat.mode & 0o777;
    const dirMode = statSync(dirname(f.path)).mode & 0o777;
    // Ours must be owner-only; Jupyter's own (the local server's runtime
    // files) need only be out of other users' reach, as they are.
    if (ours(f.path) && (mode & 0o077 || dirMode & 0o022)) {
      where.push(
        `${describeFindings(f.findings)}: ${f.path} mode ${mode.toString(8)}, its directory ${dirMode.toString(8)}`
      );
    }
    const read = as(OTHER, ['cat', f.path]);
    if (read.status === 0) {
      where.push(`${describeFindings(f.findings)}: ${f.path} read by ${OTHER}`);
    }
  }
  recordSecrets('secrets-file-modes', {
    place: `files written during the run that hold a secret (found by content among ${files} under the test's homes, the cluster user's, /tmp and /var/tmp): ${OTHER} cannot read any; those we write have mode & 077 = 0 in a directory others cannot write`,
    secrets: secretKinds(),
    checks: found.length,
    leaks: where.length,
    where
  });
  // The expected holders are among them: the session's token.json, the
  // relay's and the server's kernel connection files.
  const paths = found.map(f => f.path);
  expect(paths).toContain(`${sessionDir()}/token.json`);
  expect(
    paths.some(p => /^\/tmp\/jlhpc-kernel-[^/]+\/kernel\.json$/.test(p))
  ).toBe(true);
  expect(where).toEqual([]);
});

it("lets another user of this computer reach neither the sidecar's socket nor the forwarded JupyterLab", () => {
  const attempts: { what: string; got: boolean; detail: string }[] = [];
  const py = (code: string, ...args: string[]) =>
    as(OTHER, ['/usr/bin/python3', '-c', code, ...args]);
  const connect = py(
    'import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1]); print("connected")\nexcept OSError as e:\n    print(type(e).__name__, e.errno)',
    sidecarSocket
  );
  attempts.push({
    what: "connect to the sidecar's unix socket",
    got: connect.stdout.includes('connected'),
    detail: connect.stdout.trim()
  });
  expect(connect.stdout.trim()).toBe('PermissionError 13');
  const ls = as(OTHER, ['ls', dirname(sidecarSocket)]);
  attempts.push({
    what: "list the sidecar's socket directory",
    got: ls.status === 0,
    detail: ls.stderr.trim()
  });
  expect(ls.stderr).toMatch(/Permission denied/);
  const environ = as(OTHER, ['cat', `/proc/${sidecarPid}/environ`]);
  attempts.push({
    what: "read the sidecar's environment",
    got: environ.status === 0,
    detail: environ.stderr.trim()
  });
  const port = session.localPort!;
  for (const path of [
    'api/status',
    'api/contents',
    'api/kernels',
    'api/sessions',
    'lab?token=wrong'
  ]) {
    const r = as(OTHER, [
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://127.0.0.1:${port}/${path}`
    ]);
    const code = r.stdout.trim();
    // 403 for the API; the page redirects to the login form (302).
    attempts.push({
      what: `GET /${path} on the forwarded port without the token`,
      got: !/^(403|302|401)$/.test(code),
      detail: code
    });
  }
  const got = attempts.filter(a => a.got);
  recordSecrets('secrets-other-user-local', {
    place: `${OTHER} on this computer: the sidecar's unix socket and its directory, the sidecar's /proc environ, and the remote JupyterLab through the forwarded 127.0.0.1 port without its token`,
    secrets: [KINDS.local, KINDS.remote],
    checks: attempts.length,
    leaks: got.length,
    where: got.map(a => `${a.what}: ${a.detail}`)
  });
  expect(got).toEqual([]);
});

it("lets another user of the cluster read nothing of a session's directory or job", () => {
  const dir = sessionDir();
  const runtime = readdirSync(`${dir}/runtime`).filter(n =>
    n.startsWith('jpserver-')
  );
  expect(runtime.length).toBeGreaterThan(0);
  // The control: its owner reads them.
  expect(as(demo.user, ['cat', `${dir}/token.json`]).status).toBe(0);
  const tries: [string, string[]][] = [
    ['list the session directory', ['ls', dir]],
    ['read token.json', ['cat', `${dir}/token.json`]],
    ['read job.log', ['cat', `${dir}/job.log`]],
    ['read job.sh', ['cat', `${dir}/job.sh`]],
    ['read session.json', ['cat', `${dir}/session.json`]],
    ...runtime.map(
      n =>
        [`read runtime/${n}`, ['cat', `${dir}/runtime/${n}`]] as [
          string,
          string[]
        ]
    ),
    [
      'list the allocation directory',
      ['ls', `${CLUSTER_HOME}/.jupyterlab-hpc/allocations/${allocationId}`]
    ],
    [
      "write the session job's script",
      ['scontrol', 'write', 'batch_script', session.jobId!, '-']
    ],
    [
      "write the allocation job's script",
      ['scontrol', 'write', 'batch_script', allocationJob, '-']
    ]
  ];
  const got: string[] = [];
  for (const [what, argv] of tries) {
    const r = as(OTHER, argv);
    // scontrol exits 0 even when it refuses ("Invalid user id"): what
    // counts is what it printed.
    const refused =
      argv[0] === 'scontrol' ? !r.stdout.includes('#!') : r.status !== 0;
    if (!refused || findSecrets(r.stdout, secrets).length) {
      got.push(`${what}: exit ${r.status}`);
    }
  }
  recordSecrets('secrets-other-user-cluster', {
    place: `${OTHER} on the cluster: the session's directory (listing, token.json, job.log, job.sh, session.json, jupyter_server's runtime files), the allocation's directory, and both jobs' scripts through scontrol (a kernel's output: see cluster-kernels.test.ts)`,
    secrets: [KINDS.remote, KINDS.key],
    checks: tries.length,
    leaks: got.length,
    where: got
  });
  expect(got).toEqual([]);
});
