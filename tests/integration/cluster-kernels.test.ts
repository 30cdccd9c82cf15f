/**
 * Cluster kernels end to end, with every real part: a real `jupyter lab`
 * (the server extension owns the sidecar, the provisioner holds a lease per
 * kernel), the demo cluster's Slurm and sshd, and the kernel reached the
 * way JupyterLab reaches it, through the server's kernel WebSocket.
 *
 * One profile for the demo cluster's my-project-env (ipykernel and
 * ipywidgets). The suite checks what the picker lists, a start while the
 * allocation is queued, every kind of message a notebook sends, interrupt,
 * restart in the same job, shutdown, the grace period, a job ended from the
 * command line (kernel dead with the reason, not restarting), two kernels in
 * one allocation ended from the panel, a start cancelled while queued (the
 * session's error says so), a reload while queued (one job), a start sbatch
 * refuses (its words in the error), the culler, a second Unix user who can
 * read nothing of the kernel or its allocation, a profile on this computer
 * (":local"), and a server killed with SIGKILL and started again (nothing
 * keeps running unseen).
 */
import { execFile, execFileSync, spawnSync } from 'child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';
import { promisify } from 'util';

import WebSocket from 'ws';

import {
  LOCAL_TARGET,
  type IAllocationInfo,
  type IKernelProfile,
  type IKernelStartInfo,
  type SidecarEvent
} from '../../src/common/api';
import { demoCluster, writeDemoSshFiles } from '../support/demo-cluster';
import { IRunningLab, startLab } from '../support/jupyter-lab';
import {
  openKernelSocket,
  textOf,
  type IKernelSocket
} from '../support/kernel-ws';
import { waitFor } from '../support/proc';
import { makeHome } from '../support/sidecar';

jest.setTimeout(240_000);

const execFileAsync = promisify(execFile);
const DRIVER = join(__dirname, '..', 'support', 'kernel_driver.py');

const demo = demoCluster();
const ENV = demo.envs.find(e => e.name === 'my-project-env')!;
const CLUSTER = 'demo';
const SIDECAR = 'jupyterlab-hpc';
/** Seconds an allocation outlives its last kernel in this suite. */
const GRACE_SECONDS = 6;
/** Seconds an unconnected idle kernel lives before the server culls it. */
const CULL_IDLE_SECONDS = 8;

let home: string;
let lab: IRunningLab;
let events: SidecarEvent[] = [];
let eventSocket: WebSocket | null = null;
let profile: IKernelProfile;
const jobsSeen = new Set<string>();
/** Jobs of this machine's own user (":local"), cancelled at the end too. */
const localJobs = new Set<string>();

function headers(): Record<string, string> {
  return {
    Authorization: `token ${lab.token}`,
    'Content-Type': 'application/json'
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api<T = any>(
  method: string,
  path: string,
  body?: unknown
): Promise<{ status: number; body: T }> {
  const res = await fetch(lab.url + path.replace(/^\//, ''), {
    method,
    headers: headers(),
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const sidecar = <T>(method: string, route: string, body?: unknown) =>
  api<T>(method, `${SIDECAR}${route}`, body);

async function openEvents(): Promise<void> {
  eventSocket?.close();
  const url = lab.url.replace(/^http/, 'ws') + `${SIDECAR}/api/v1/events`;
  const socket = new WebSocket(url, {
    headers: { Authorization: `token ${lab.token}` }
  });
  socket.on('message', data => events.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  eventSocket = socket;
}

const RESOURCES: IKernelProfile['resources'] = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '15',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: ''
};

async function addProfile(
  resources: Partial<IKernelProfile['resources']> = {},
  cluster = CLUSTER
): Promise<IKernelProfile> {
  const r = await sidecar<IKernelProfile>('POST', '/api/v1/kernel-profiles', {
    cluster,
    environment: ENV.prefix,
    resources: { ...RESOURCES, ...resources },
    workingDirectory: '',
    displayName: ''
  });
  if (r.status !== 201) {
    throw new Error(
      `POST kernel-profiles: ${r.status} ${JSON.stringify(r.body)}`
    );
  }
  return r.body;
}

async function configure(): Promise<void> {
  const put = await sidecar('PUT', '/api/v1/clusters', {
    clusters: [{ name: CLUSTER, host: demo.alias }],
    allocationGraceMinutes: GRACE_SECONDS / 60
  });
  expect(put.status).toBe(200);
}

async function start(existingHome?: string): Promise<void> {
  lab = await startLab({
    home: existingHome,
    env: { HOME: home },
    serverConfig: {
      // The culler, for the culling case: only kernels nobody is connected
      // to are culled (cull_connected is off), which no other case leaves idle.
      MappingKernelManager: {
        cull_idle_timeout: CULL_IDLE_SECONDS,
        cull_interval: 2
      }
    }
  });
  events = [];
  await openEvents();
  await configure();
}

function squeue(): string[] {
  return execFileSync('squeue', ['-h', '-u', demo.user, '-o', '%i %j %T'], {
    encoding: 'utf8'
  })
    .trim()
    .split('\n')
    .filter(Boolean);
}

function steps(jobId: string): string[] {
  return execFileSync('squeue', ['-h', '-s', '-j', jobId, '-o', '%i'], {
    encoding: 'utf8'
  })
    .trim()
    .split('\n')
    .filter(line => line !== '' && !/\.(batch|extern)$/.test(line));
}

function jobAlive(jobId: string): boolean {
  return squeue().some(line => line.startsWith(`${jobId} `));
}

async function allocations(): Promise<IAllocationInfo[]> {
  const r = await sidecar<{ allocations: IAllocationInfo[] }>(
    'GET',
    '/api/v1/kernel-allocations'
  );
  expect(r.status).toBe(200);
  return r.body.allocations;
}

interface IStarted {
  sessionId: string;
  kernelId: string;
  socket: IKernelSocket;
}

/** POST /api/sessions as JupyterLab does when a notebook opens with the kernel. */
function postSession(path: string, specName = profile.specName) {
  return api('POST', 'api/sessions', {
    path,
    name: path,
    type: 'notebook',
    kernel: { name: specName }
  });
}

async function openNotebook(
  path: string,
  specName = profile.specName
): Promise<IStarted> {
  const r = await postSession(path, specName);
  if (r.status !== 201) {
    throw new Error(
      `POST /api/sessions: ${r.status} ${JSON.stringify(r.body)}`
    );
  }
  const kernelId = r.body.kernel.id as string;
  const socket = await openKernelSocket(lab.url, lab.token, kernelId);
  await socket.kernelInfo(60_000);
  return { sessionId: r.body.id, kernelId, socket };
}

async function jobOf(k: IStarted): Promise<string> {
  const run = await k.socket.execute(
    "import os; print(os.environ['SLURM_JOB_ID'])"
  );
  const job = textOf(run).trim();
  jobsSeen.add(job);
  return job;
}

beforeAll(async () => {
  home = makeHome('jlhpc-ck-');
  writeDemoSshFiles(home);
  // This computer's conda knows the env too (":local" profiles).
  mkdirSync(join(home, '.conda'));
  writeFileSync(join(home, '.conda', 'environments.txt'), `${ENV.prefix}\n`);
  await start();
  profile = await addProfile();
});

afterAll(async () => {
  eventSocket?.close();
  await lab?.stop();
  const left = [...jobsSeen].filter(jobAlive);
  if (left.length) {
    execFileSync('scancel', left);
  }
  if (localJobs.size) {
    spawnSync('scancel', [...localJobs]);
  }
});

describe('the kernel picker', () => {
  it('lists the cluster kernel by name, with its logo, and the provisioner it needs', async () => {
    const r = await api('GET', 'api/kernelspecs');
    expect(r.status).toBe(200);
    const spec = r.body.kernelspecs[profile.specName];
    expect(spec).toBeDefined();
    expect(spec.spec.display_name).toBe(
      `Python [conda env:${ENV.name}] on ${CLUSTER}`
    );
    expect(Object.keys(spec.resources)).toEqual(
      expect.arrayContaining(['logo-svg'])
    );
    expect(spec.spec.metadata.kernel_provisioner.provisioner_name).toBe(
      'jupyterlab-hpc'
    );
  });
});

describe('a cluster kernel in a notebook', () => {
  let k: IStarted;
  let job: string;

  beforeAll(async () => {
    events.length = 0;
    k = await openNotebook('first.ipynb');
    job = await jobOf(k);
  });

  afterAll(() => k?.socket.close());

  it('was waited for through the sidecar: the start events name the notebook and its job', () => {
    const starts = events
      .filter(
        (e): e is { type: 'kernel-start'; start: IKernelStartInfo } =>
          e.type === 'kernel-start'
      )
      .map(e => e.start)
      .filter(s => s.kernelId === k.kernelId);
    expect(starts.map(s => s.state)).toContain('started');
    expect(starts.every(s => s.notebookPath === 'first.ipynb')).toBe(true);
    expect(starts.find(s => s.state === 'started')?.jobId).toBe(job);
  });

  it('runs on a compute node as a step of its allocation, in the home directory', async () => {
    const run = await k.socket.execute(
      'import os, socket; print(socket.gethostname(), os.getcwd(), os.environ.get("SLURM_STEP_ID"))'
    );
    const [, cwd, step] = textOf(run).trim().split(' ');
    expect(cwd).toBe(`/home/${demo.user}`);
    expect(step).toMatch(/^\d+$/);
    const list = await allocations();
    const mine = list.find(a => a.jobId === job)!;
    expect(mine.phase).toBe('running');
    expect(mine.kernels.map(x => x.kernelId)).toContain(k.kernelId);
  });

  it('answers input() through the stdin channel', async () => {
    const run = await k.socket.execute('x = input("name? "); print(x * 2)', {
      answer: prompt => (prompt === 'name? ' ? 'ab' : 'wrong prompt')
    });
    expect(run.reply.content.status).toBe('ok');
    expect(textOf(run)).toContain('abab');
  });

  it('sends rich output', async () => {
    const run = await k.socket.execute(
      'from IPython.display import HTML, display; display(HTML("<b>on the node</b>"))'
    );
    const shown = run.outputs.find(m => m.header.msg_type === 'display_data');
    expect(shown?.content.data['text/html']).toBe('<b>on the node</b>');
  });

  it('completes and inspects', async () => {
    const c = k.socket.send('shell', 'complete_request', {
      code: 'import o',
      cursor_pos: 8
    });
    const completion = await k.socket.next(
      m =>
        m.parent_header.msg_id === c && m.header.msg_type === 'complete_reply'
    );
    expect(completion.content.matches).toContain('os');
    const i = k.socket.send('shell', 'inspect_request', {
      code: 'len',
      cursor_pos: 3,
      detail_level: 0
    });
    const inspection = await k.socket.next(
      m => m.parent_header.msg_id === i && m.header.msg_type === 'inspect_reply'
    );
    expect(inspection.content.found).toBe(true);
  });

  it('carries comms both ways (an ipywidgets slider moved from here)', async () => {
    const run = await k.socket.execute(
      'import ipywidgets as w; s = w.IntSlider(value=1); display(s)'
    );
    const opened = run.outputs.find(
      m =>
        m.header.msg_type === 'comm_open' &&
        m.content.target_name === 'jupyter.widget' &&
        m.content.data?.state?._model_name === 'IntSliderModel'
    );
    expect(opened).toBeDefined();
    k.socket.send('shell', 'comm_msg', {
      comm_id: opened!.content.comm_id,
      data: { method: 'update', state: { value: 7 }, buffer_paths: [] }
    });
    await waitFor('the slider to move', async () => {
      const check = await k.socket.execute('print(s.value)');
      return textOf(check).trim() === '7';
    });
  });

  it('is interrupted in a running loop and lives on', async () => {
    const loop = k.socket.execute('while True: pass');
    await k.socket.next(
      m =>
        m.header.msg_type === 'status' &&
        m.content.execution_state === 'busy' &&
        m.parent_header.msg_type === 'execute_request'
    );
    await new Promise(r => setTimeout(r, 500));
    const r = await api('POST', `api/kernels/${k.kernelId}/interrupt`);
    expect(r.status).toBe(204);
    const run = await loop;
    expect(run.reply.content.ename).toBe('KeyboardInterrupt');
    const after = await k.socket.execute('print(6 * 7)');
    expect(textOf(after).trim()).toBe('42');
  });

  it('restarts in the same job: no requeue', async () => {
    const r = await api('POST', `api/kernels/${k.kernelId}/restart`);
    expect(r.status).toBe(200);
    k.socket.close();
    k.socket = await openKernelSocket(lab.url, lab.token, k.kernelId);
    await k.socket.kernelInfo(60_000);
    expect(await jobOf(k)).toBe(job);
    const fresh = await k.socket.execute('print("s" in dir())');
    expect(textOf(fresh).trim()).toBe('False');
  });

  it('keeps its key off argv, squeue and scontrol on the cluster', () => {
    const runtime = join(lab.home, 'runtime');
    const file = readdirSync(runtime).find(f => f.includes(k.kernelId))!;
    const key = JSON.parse(readFileSync(join(runtime, file), 'utf8')).key;
    expect(key.length).toBeGreaterThan(16);
    const seen = [
      execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }),
      execFileSync('squeue', ['-a', '-o', '%all'], { encoding: 'utf8' }),
      execFileSync('scontrol', ['show', 'job', '-d', job], {
        encoding: 'utf8'
      }),
      execFileSync('scontrol', ['show', 'step', job], { encoding: 'utf8' })
    ].join('\n');
    expect(seen).not.toContain(key);
  });

  it('shuts down: its step ends, the job is kept for the grace period, then released', async () => {
    const r = await api('DELETE', `api/sessions/${k.sessionId}`);
    expect(r.status).toBe(204);
    await waitFor(
      'the kernel step to end',
      async () => steps(job).length === 0,
      30_000
    );
    const during = (await allocations()).find(a => a.jobId === job);
    expect(during?.releaseAt).not.toBeNull();
    expect(jobAlive(job)).toBe(true);
    await waitFor(
      'the allocation to be released',
      async () => !jobAlive(job),
      (GRACE_SECONDS + 30) * 1000
    );
  });
});

describe('a job that ends under its kernel', () => {
  it('is reported dead with the reason, not restarted', async () => {
    const k = await openNotebook('ended.ipynb');
    const job = await jobOf(k);
    execFileSync('scancel', [job]);
    await k.socket.next(
      m =>
        m.header.msg_type === 'status' && m.content.execution_state === 'dead',
      60_000
    );
    await waitFor('the kernel to be gone from the server', async () => {
      const r = await api('GET', `api/kernels/${k.kernelId}`);
      return r.status === 404;
    });
    expect(k.socket.statuses).not.toContain('restarting');
    expect(lab.log()).toMatch(new RegExp(`job ${job}`));
    k.socket.close();
  });
});

describe('two kernels of one profile', () => {
  it('run as steps of one allocation', async () => {
    const a = await openNotebook('a.ipynb');
    const b = await openNotebook('b.ipynb');
    const [jobA, jobB] = [await jobOf(a), await jobOf(b)];
    expect(jobB).toBe(jobA);
    expect(steps(jobA).length).toBe(2);
    const alloc = (await allocations()).find(x => x.jobId === jobA)!;
    expect(alloc.kernels.map(x => x.kernelId).sort()).toEqual(
      [a.kernelId, b.kernelId].sort()
    );
    // Ending the allocation from the panel ends both kernels, as dead.
    const end = await sidecar(
      'DELETE',
      `/api/v1/kernel-allocations/${alloc.id}`
    );
    expect(end.status).toBe(200);
    for (const k of [a, b]) {
      await k.socket.next(
        m =>
          m.header.msg_type === 'status' &&
          m.content.execution_state === 'dead',
        60_000
      );
      k.socket.close();
    }
    await waitFor('the job to end', async () => !jobAlive(jobA), 30_000);
  });
});

/** The node's CPUs: a profile asking for all of them waits while one is held. */
function nodeCpus(): number {
  return Number(
    execFileSync('sinfo', ['-h', '-p', demo.partition, '-o', '%c'], {
      encoding: 'utf8'
    })
      .trim()
      .split('\n')[0]
  );
}

/** A job of the cluster user's holding one CPU of the node (not ours: no jlhpc- name). */
async function startFiller(): Promise<string> {
  const id = execFileSync(
    'runuser',
    [
      '-u',
      demo.user,
      '--',
      'sbatch',
      '--parsable',
      '--job-name=e2e-filler',
      '--output=/dev/null',
      '--cpus-per-task=1',
      '--time=5',
      '--wrap',
      'sleep 300'
    ],
    { encoding: 'utf8', cwd: '/tmp' }
  )
    .trim()
    .split(';')[0];
  jobsSeen.add(id);
  await waitFor(
    'the filler job to run',
    async () => squeue().includes(`${id} e2e-filler RUNNING`),
    60_000
  );
  return id;
}

async function startsOf(path: string): Promise<IKernelStartInfo[]> {
  const r = await sidecar<{ starts: IKernelStartInfo[] }>(
    'GET',
    '/api/v1/kernel-starts'
  );
  expect(r.status).toBe(200);
  return r.body.starts.filter(s => s.notebookPath === path);
}

/** The jobs of a profile's allocations in squeue (by the allocations' job names). */
async function jobsOfProfile(p: IKernelProfile): Promise<string[]> {
  const names = new Set(
    (await allocations())
      .filter(a => a.profile === p.id)
      .map(a => `jlhpc-k-${a.id}`)
  );
  return squeue().filter(line => names.has(line.split(' ')[1]));
}

describe('a start while the allocation waits in the queue', () => {
  let big: IKernelProfile;
  let filler: string;

  beforeAll(async () => {
    big = await addProfile({ cpus: nodeCpus() });
    filler = await startFiller();
  });

  afterAll(() => {
    execFileSync('scancel', [filler]);
  });

  it('is shown queued with the reason and the notebook, and cancelled: the error says so, no job is left', async () => {
    const answer = postSession('queued.ipynb', big.specName);
    let queued: IKernelStartInfo | undefined;
    await waitFor(
      'the start to be queued with a reason',
      async () => {
        queued = (await startsOf('queued.ipynb')).find(
          s => s.state === 'queued' && s.reason !== null
        );
        return queued !== undefined;
      },
      60_000
    );
    expect(queued!.reason).toMatch(/Resources|Priority/);
    expect(queued!.profile).toBe(big.id);
    const job = queued!.jobId!;
    jobsSeen.add(job);
    expect(squeue()).toContainEqual(
      expect.stringMatching(new RegExp(`^${job} jlhpc-k-\\S+ PENDING$`))
    );

    const cancel = await sidecar(
      'POST',
      `/api/v1/kernel-starts/${encodeURIComponent(queued!.kernelId)}/cancel`
    );
    expect(cancel.status).toBe(200);
    const r = await answer;
    expect(r.status).toBeGreaterThanOrEqual(400);
    // The notebook's queued line ends with the same words.
    expect(
      (await startsOf('queued.ipynb')).find(
        s => s.kernelId === queued!.kernelId
      )
    ).toMatchObject({
      state: 'cancelled',
      message: expect.stringMatching(/cancelled/i)
    });
    // What JupyterLab's "Error Starting Kernel" dialog shows.
    expect(r.body.message).toMatch(/cancelled/i);
    await waitFor('the queued job to go', async () => !jobAlive(job), 30_000);
    expect(await jobsOfProfile(big)).toEqual([]);
  });

  it('is asked for twice (a reload) and submits one job', async () => {
    const first = postSession('reloaded.ipynb', big.specName);
    await waitFor(
      'the first start to be queued',
      async () =>
        (await startsOf('reloaded.ipynb')).some(s => s.state === 'queued'),
      60_000
    );
    const second = postSession('reloaded.ipynb', big.specName);
    await waitFor(
      'both starts to wait',
      async () =>
        (await startsOf('reloaded.ipynb')).filter(s => s.state === 'queued')
          .length === 2,
      60_000
    );
    const jobs = await jobsOfProfile(big);
    expect(jobs).toHaveLength(1);
    const job = jobs[0].split(' ')[0];
    jobsSeen.add(job);
    const starts = await startsOf('reloaded.ipynb');
    expect(new Set(starts.map(s => s.jobId))).toEqual(new Set([job]));
    const cancel = (kernelId: string) =>
      sidecar(
        'POST',
        `/api/v1/kernel-starts/${encodeURIComponent(kernelId)}/cancel`
      );
    // The first gives up: the job stays for the second, which still waits.
    expect((await cancel(starts[0].kernelId)).status).toBe(200);
    expect((await first).status).toBeGreaterThanOrEqual(400);
    await new Promise(r => setTimeout(r, 2000));
    expect(jobAlive(job)).toBe(true);
    expect((await cancel(starts[1].kernelId)).status).toBe(200);
    expect((await second).status).toBeGreaterThanOrEqual(400);
    await waitFor('the queued job to go', async () => !jobAlive(job), 30_000);
  });
});

describe('a kernel that cannot start', () => {
  it('says why: sbatch refuses an account the user does not have', async () => {
    const account = 'root';
    expect(demo.accounting).toBe(true);
    expect(demo.accounts).not.toContain(account);
    const wrong = await addProfile({ account });
    const r = await postSession('refused.ipynb', wrong.specName);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body.message).toMatch(/Invalid account/i);
  });
});

describe('the culler', () => {
  it('culls an idle cluster kernel nobody is connected to: its step ends and the allocation starts its grace period', async () => {
    const k = await openNotebook('idle.ipynb');
    const job = await jobOf(k);
    expect(steps(job)).toHaveLength(1);
    k.socket.close();
    events.length = 0;
    await waitFor(
      'the kernel to be culled',
      async () =>
        (await api('GET', `api/kernels/${k.kernelId}`)).status === 404,
      (CULL_IDLE_SECONDS + 30) * 1000
    );
    expect(lab.log()).toMatch(/[Cc]ulling kernel/);
    await waitFor(
      'the kernel step to end',
      async () => steps(job).length === 0,
      30_000
    );
    const graced = events.some(
      e =>
        e.type === 'kernel-allocation' &&
        e.allocation.jobId === job &&
        e.allocation.releaseAt !== null
    );
    expect(graced).toBe(true);
    await waitFor(
      'the allocation to be released',
      async () => !jobAlive(job),
      (GRACE_SECONDS + 30) * 1000
    );
  });
});

describe('another user of the cluster', () => {
  let k: IStarted;
  let job: string;
  let probeDir: string;
  let where: { transport: string; ip: string; ports: number[] };

  beforeAll(async () => {
    k = await openNotebook('private.ipynb');
    job = await jobOf(k);
    const run = await k.socket.execute(
      [
        'import json',
        'from ipykernel.kernelapp import IPKernelApp',
        'a = IPKernelApp.instance()',
        'print(json.dumps({"transport": a.transport, "ip": a.ip, "ports": [a.shell_port, a.iopub_port, a.stdin_port, a.control_port, a.hb_port]}))'
      ].join('\n')
    );
    where = JSON.parse(textOf(run));
    // The probe must be readable by both users: a copy of the driver.
    probeDir = mkdtempSync(join(tmpdir(), 'jlhpc-probe-'));
    chmodSync(probeDir, 0o755);
    copyFileSync(DRIVER, join(probeDir, 'kernel_driver.py'));
  });

  afterAll(async () => {
    k?.socket.close();
    rmSync(probeDir, { recursive: true, force: true });
  });

  /** `user` subscribes to every ipc socket of the kernel while it prints for 3 s. */
  async function probe(user: string) {
    const printing = new Promise<void>(resolve =>
      setTimeout(resolve, 500)
    ).then(() =>
      k.socket.execute(
        'import time\nfor i in range(60):\n    print(i, flush=True)\n    time.sleep(0.05)'
      )
    );
    const out = execFileAsync('runuser', [
      '-u',
      user,
      '--',
      join(ENV.prefix, 'bin', 'python'),
      join(probeDir, 'kernel_driver.py'),
      'sub',
      where.ip,
      ...where.ports.map(String),
      '--seconds',
      '5'
    ]);
    const [printed, seen] = await Promise.all([printing, out]);
    const streams = printed.outputs.filter(m => m.header.msg_type === 'stream');
    expect(streams.length).toBeGreaterThan(10);
    const lines = seen.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l));
    return {
      refused: lines.find(l => l.step === 'listening').refused as string[],
      received: lines.find(l => l.step === 'sub').received as number
    };
  }

  it('is another Unix user', () => {
    expect(demo.otherUser).toBeTruthy();
    expect(demo.otherUser).not.toBe(demo.user);
  });

  it('has the kernel on private ipc sockets, which its owner can read (the control)', async () => {
    expect(where.transport).toBe('ipc');
    expect(where.ip.startsWith('/')).toBe(true);
    const seen = await probe(demo.user);
    expect(seen.refused).toEqual([]);
    expect(seen.received).toBeGreaterThan(10);
  });

  it('cannot subscribe to the running kernel and reads none of its output', async () => {
    expect(await probe(demo.otherUser)).toEqual({
      refused: where.ports.map(() => 'PermissionError'),
      received: 0
    });
  });

  it("cannot read the allocation's directory", async () => {
    const alloc = (await allocations()).find(a => a.jobId === job)!;
    const dir = `/home/${demo.user}/.jupyterlab-hpc/allocations/${alloc.id}`;
    const as = (user: string, argv: string[]) =>
      spawnSync('runuser', ['-u', user, '--', ...argv], { encoding: 'utf8' });
    // The control: its owner lists it.
    expect(as(demo.user, ['ls', dir]).status).toBe(0);
    for (const argv of [
      ['ls', dir],
      ['cat', `${dir}/job.log`],
      ['cat', `${dir}/allocation.json`]
    ]) {
      const r = as(demo.otherUser, argv);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/);
    }
  });
});

/** This machine's Slurm user (the test's) has an association: it may submit. */
function localUserMaySubmit(): boolean {
  const me = userInfo().username;
  const out = spawnSync(
    'sacctmgr',
    ['-n', '-P', 'show', 'assoc', `user=${me}`, 'format=user'],
    { encoding: 'utf8' }
  );
  return out.status === 0 && out.stdout.split('\n').includes(me);
}

describe('this computer as the cluster (":local")', () => {
  const me = userInfo().username;
  const may = localUserMaySubmit();
  (may ? it : it.skip)(
    may
      ? `starts a kernel through the lab as this machine's own Slurm user (${me}), in a job of its own`
      : `starts a kernel as this machine's own Slurm user: skipped, ${me} has no Slurm association on the demo cluster`,
    async () => {
      const local = await addProfile({}, LOCAL_TARGET);
      expect(local.cluster).toBe(LOCAL_TARGET);
      const spec = (await api('GET', 'api/kernelspecs')).body.kernelspecs[
        local.specName
      ];
      // Named by this computer's scan, which finds it through environments.txt.
      expect(spec.spec.display_name).toMatch(
        new RegExp(`^Python \\[conda env:\\S*${ENV.name}\\] on this computer$`)
      );
      const k = await openNotebook('here.ipynb', local.specName);
      try {
        const run = await k.socket.execute(
          'import getpass, os; print(getpass.getuser(), os.environ["SLURM_JOB_ID"], os.environ.get("SLURM_STEP_ID"))'
        );
        const [user, job, step] = textOf(run).trim().split(' ');
        localJobs.add(job);
        expect(user).toBe(me);
        expect(step).toMatch(/^\d+$/);
        const alloc = (await allocations()).find(a => a.jobId === job)!;
        expect(alloc.cluster).toBe(LOCAL_TARGET);
        const owner = execFileSync(
          'squeue',
          ['-h', '-j', job, '-o', '%u %j %T'],
          {
            encoding: 'utf8'
          }
        ).trim();
        expect(owner).toBe(`${me} jlhpc-k-${alloc.id} RUNNING`);
        const end = await sidecar(
          'DELETE',
          `/api/v1/kernel-allocations/${alloc.id}`
        );
        expect(end.status).toBe(200);
        await k.socket.next(
          m =>
            m.header.msg_type === 'status' &&
            m.content.execution_state === 'dead',
          60_000
        );
        await waitFor(
          'the job to end',
          async () =>
            execFileSync('squeue', ['-h', '-j', job, '-o', '%i'], {
              encoding: 'utf8'
            }).trim() === '',
          30_000
        );
      } finally {
        k.socket.close();
      }
    }
  );
});

describe('a sidecar killed with SIGKILL', () => {
  it('keeps its kernels: the restarted sidecar takes them up, with their state, step and allocation', async () => {
    const k = await openNotebook('sidecar-killed.ipynb');
    const job = await jobOf(k);
    const kept = await k.socket.execute(
      'import os; kept = 6 * 7; print(os.environ["SLURM_STEP_ID"])'
    );
    expect(kept.reply.content.status).toBe('ok');
    // Its own step: a kernel of an earlier case may still be ending in the
    // same allocation.
    const step = `${job}.${textOf(kept).trim()}`;
    const stepsBefore = steps(job);
    expect(stepsBefore).toContain(step);
    const before = await sidecar<{ pid: number }>('GET', '/api/v1/health');
    process.kill(before.body.pid, 'SIGKILL');
    // The provisioner has the server extension start a new sidecar and asks
    // it to take the kernel up; the notebook's socket stays open meanwhile.
    await waitFor(
      'a new sidecar',
      async () => {
        // jupyter-server-proxy answers with an HTML error page meanwhile.
        const h = await sidecar<{ pid: number }>('GET', '/api/v1/health').catch(
          () => null
        );
        return h?.status === 200 && h.body.pid !== before.body.pid;
      },
      30_000
    );
    // No page hands the new sidecar the clusters: it has the last list
    // JupyterLab gave (a page's PUT would only repeat it).
    await openEvents();
    let after: IAllocationInfo | undefined;
    await waitFor(
      'the new sidecar to hold the kernel in its allocation',
      async () => {
        after = (await allocations()).find(a => a.jobId === job);
        return (
          after?.kernels.some(
            x => x.kernelId === k.kernelId && x.state === 'running'
          ) ?? false
        );
      },
      60_000
    );
    expect(after?.releaseAt).toBeNull();
    const run = await k.socket.execute('print(kept)', { timeoutMs: 60_000 });
    expect(run.reply.content.status).toBe('ok');
    expect(textOf(run)).toBe('42\n');
    // The same step: nothing was started again.
    const stepsAfter = steps(job);
    expect(stepsAfter).toContain(step);
    expect(stepsAfter.filter(x => !stepsBefore.includes(x))).toEqual([]);
    k.socket.close();
    const shut = await api('DELETE', `api/sessions/${k.sessionId}`);
    expect(shut.status).toBe(204);
    await waitFor(
      'the kernel step to end',
      async () => !steps(job).includes(step),
      60_000
    );
  });
});

describe('a server killed with SIGKILL', () => {
  it('leaves nothing running unseen: its orphaned sidecar ends the kernel step and cancels the job', async () => {
    const k = await openNotebook('killed.ipynb');
    const job = await jobOf(k);
    k.socket.close();
    const labHome = lab.home;
    process.kill(lab.process.pid!, 'SIGKILL');
    await waitFor(
      'the kernel step to end and the job to be cancelled',
      async () => steps(job).length === 0 && !jobAlive(job),
      60_000
    );
    // A server started again finds nothing left to adopt.
    await lab.stop({ keepHome: true });
    await start(labHome);
    const left = (await allocations()).filter(
      a => a.jobId === job && a.phase !== 'ended'
    );
    expect(left).toEqual([]);
  });
});
