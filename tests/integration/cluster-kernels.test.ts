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
 * command line (kernel dead with the reason, not restarting), a start
 * cancelled while queued, and a server killed with SIGKILL and started again
 * (nothing keeps running unseen).
 */
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

import WebSocket from 'ws';

import type {
  IAllocationInfo,
  IKernelProfile,
  IKernelStartInfo,
  SidecarEvent
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

const demo = demoCluster();
const ENV = demo.envs.find(e => e.name === 'my-project-env')!;
const CLUSTER = 'demo';
const SIDECAR = 'jupyterlab-hpc';
/** Seconds an allocation outlives its last kernel in this suite. */
const GRACE_SECONDS = 6;

let home: string;
let lab: IRunningLab;
let events: SidecarEvent[] = [];
let eventSocket: WebSocket | null = null;
let profile: IKernelProfile;
const jobsSeen = new Set<string>();

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
      // The culler, on for the culling case (kernels idle 20 s).
      MappingKernelManager: { cull_idle_timeout: 0 }
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
async function openNotebook(path: string): Promise<IStarted> {
  const r = await api('POST', 'api/sessions', {
    path,
    name: path,
    type: 'notebook',
    kernel: { name: profile.specName }
  });
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
  await start();
  const r = await sidecar<IKernelProfile>('POST', '/api/v1/kernel-profiles', {
    cluster: CLUSTER,
    environment: ENV.prefix,
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
  expect(r.status).toBe(201);
  profile = r.body;
});

afterAll(async () => {
  eventSocket?.close();
  await lab?.stop();
  const left = [...jobsSeen].filter(jobAlive);
  if (left.length) {
    execFileSync('scancel', left);
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

describe('a sidecar killed with SIGKILL', () => {
  it('makes its kernels dead; the restarted sidecar adopts the job and releases it after the grace period', async () => {
    const k = await openNotebook('sidecar-killed.ipynb');
    const job = await jobOf(k);
    const before = await sidecar<{ pid: number }>('GET', '/api/v1/health');
    process.kill(before.body.pid, 'SIGKILL');
    await k.socket.next(
      m =>
        m.header.msg_type === 'status' && m.content.execution_state === 'dead',
      60_000
    );
    k.socket.close();
    await waitFor(
      'the kernel step to end with its relay',
      async () => steps(job).length === 0,
      60_000
    );
    // The server extension starts a new sidecar; it adopts the job.
    await waitFor(
      'a new sidecar',
      async () => {
        const h = await sidecar<{ pid: number }>('GET', '/api/v1/health');
        return h.status === 200 && h.body.pid !== before.body.pid;
      },
      30_000
    );
    await openEvents();
    await configure();
    let found: IAllocationInfo | undefined;
    await waitFor(
      'the new sidecar to find the allocation',
      async () => {
        found = (await allocations()).find(a => a.jobId === job);
        return found !== undefined;
      },
      30_000
    );
    expect(found?.kernels).toEqual([]);
    await waitFor(
      'the allocation to be released after the grace period',
      async () => !jobAlive(job),
      (GRACE_SECONDS + 60) * 1000
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
