/**
 * The long run under load (issue 13, point 4): one real `jupyter lab` whose
 * sidecar tracks 100 JupyterLab session jobs on the demo cluster — 20 of
 * them real JupyterLab servers whose forwards carry HTTP requests with their
 * tokens, 80 stand-ins (as bench/sections/slurm.mjs makes them: they write
 * the server file jupyter_server would and sleep) — and 10 cluster kernels
 * running execute_request loops through the server's kernel WebSockets, for
 * JLHPC_SOAK_MINUTES (default 10). Run with `bash scripts/test.sh soak`.
 *
 * Measured: the sidecar's RSS after warm-up and at the end; descriptors of
 * every process of ours on both sides (the lab, the sidecar and its ssh
 * processes; the sshd serving the connection and what runs under it; the
 * jobs' processes) before and after the load; the SSH channels (session
 * channels are sshd's children, forwarded connections its TCP sockets,
 * forwards the master's listening sockets) once everything is closed,
 * against just after connecting; processes of ours left after shutdown;
 * squeue calls per minute by Slurm's own sdiag; ERROR lines in the logs.
 *
 * So that 110 one-CPU jobs run at once on the demo's 8-CPU node, they go to
 * a partition made for the run (OverSubscribe=FORCE), created with
 * scontrol and deleted at the end: the demo cluster's configuration, which
 * other suites rely on, is not changed and no daemon restarts.
 */
import { execFileSync } from 'child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'fs';
import { request } from 'http';
import { join } from 'path';

import type { IKernelProfile } from '../../../src/common/api';
import type { ISessionInfo } from '../../../src/common/sessions';
import { demoCluster, writeDemoSshFiles } from '../../support/demo-cluster';
import { IRunningLab, startLab } from '../../support/jupyter-lab';
import {
  openKernelSocket,
  textOf,
  IKernelSocket
} from '../../support/kernel-ws';
import { makeHome } from '../../support/sidecar';
import { recordSoak } from '../report';
import {
  ageSeconds,
  allProcs,
  cwdOf,
  fdCount,
  IProc,
  procKey,
  rssMiB,
  socketInodes,
  sshdServing,
  tcpSockets,
  treeOf
} from '../support/process-census';
import { SqueueCounter } from '../support/sdiag';

const MINUTES = Number(process.env.JLHPC_SOAK_MINUTES ?? '10');
const SESSIONS = 100;
const REAL_SESSIONS = 20;
const KERNELS = 10;
const WARMUP_MS = 30_000;
/** Issue 10's bound while jobs run: not growing with their number. */
const SQUEUE_PER_MIN_MAX = 6;
const RSS_GROWTH_MAX = 0.1;
const PARTITION = 'jlhpc-soak';
const CLUSTER = 'demo';
const SIDECAR = 'jupyterlab-hpc';
const GRACE_SECONDS = 6;
/** Pause between two requests of one loop. */
const FORWARD_EVERY_MS = 1000;
const KERNEL_EVERY_MS = 1000;

jest.setTimeout((MINUTES * 60 + 25 * 60) * 1000);

const demo = demoCluster();
const LAB_ENV = demo.envs.find(e => e.jupyterlab)!;
const KERNEL_ENV = demo.envs.find(e => e.name === 'my-project-env')!;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

// Stands in for `jupyter lab` (job.sh runs it in the working directory):
// writes its server file as jupyter_server does, so the sidecar makes a
// forward and the session runs, then sleeps out the job.
const placeholder = (seconds: number) => `#!/bin/sh
port=0
for a in "$@"; do
  case $a in --port=*) port=\${a#--port=} ;; esac
done
f="$JUPYTER_RUNTIME_DIR/jpserver-$$.json"
printf '{"base_url": "/", "pid": %s, "port": %s, "token": "placeholder", "version": "placeholder"}\\n' "$$" "$port" >"$f.tmp" &&
  mv "$f.tmp" "$f"
exec sleep ${seconds}
`;

function scontrol(args: string[]): string {
  return execFileSync('scontrol', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe']
  });
}

function jobsIn(partition: string): string[] {
  return execFileSync('squeue', ['-h', '-p', partition, '-o', '%i'], {
    encoding: 'utf8'
  })
    .split('\n')
    .filter(Boolean);
}

async function cancelPartitionJobs(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = jobsIn(PARTITION);
    if (!left.length) {
      return;
    }
    try {
      execFileSync('scancel', left, { stdio: 'ignore' });
    } catch {
      // ended meanwhile
    }
    if (Date.now() > deadline) {
      throw new Error(`jobs still in ${PARTITION}: ${left.join(' ')}`);
    }
    await sleep(1000);
  }
}

/** GET through a forward, on a fresh connection; resolves with the status. */
function getStatus(port: number, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        headers: { Authorization: `token ${token}` }
      },
      res => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      }
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Processes younger than this hold nothing for long (see fdGrowth). */
const YOUNG_S = 10;

interface ISnapshot {
  /** Every process of ours with its descriptors, by procKey. */
  fds: Map<string, { proc: IProc; fds: number; young: boolean }>;
  /** Session channels (children of the serving sshd), forwarded TCP connections, forwards. */
  channels: { sessions: number; tcp: number; forwards: number };
}

describe('soak: 100 tracked jobs, 20 forwards and 10 kernels under traffic', () => {
  let lab: IRunningLab | null = null;
  let home = '';
  let base = '';
  const sessionIds: string[] = [];
  const jobIds = new Set<string>();
  const notebooks: {
    sessionId: string;
    kernelId: string;
    socket: IKernelSocket;
  }[] = [];
  /** Every process of ours seen, to find the ones left after shutdown. */
  const seen = new Map<string, IProc>();

  async function api<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
    method: string,
    path: string,
    body?: unknown
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(lab!.url + path.replace(/^\//, ''), {
      method,
      headers: {
        Authorization: `token ${lab!.token}`,
        'Content-Type': 'application/json'
      },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  const sidecar = <T>(method: string, route: string, body?: unknown) =>
    api<T>(method, `${SIDECAR}${route}`, body);

  async function sessions(): Promise<ISessionInfo[]> {
    const r = await sidecar<{ sessions: ISessionInfo[] }>(
      'GET',
      '/api/v1/sessions'
    );
    expect(r.status).toBe(200);
    return r.body.sessions;
  }

  /** The sidecar and its OpenSSH master (descendants of the lab). */
  function localParts(): { sidecar: IProc; master: IProc | undefined } {
    const tree = treeOf([lab!.process.pid!]);
    const sc = tree.find(p => p.args.includes('sidecar.js'));
    if (!sc) {
      throw new Error('no sidecar process under the lab');
    }
    const master = tree.find(
      p => p.args.startsWith('ssh ') && p.args.includes('ControlMaster=yes')
    );
    return { sidecar: sc, master };
  }

  /** Our processes on both sides, right now. */
  function ours(): { procs: IProc[]; sshdSession: IProc | null } {
    const procs = allProcs();
    const mine: IProc[] = [];
    let sshdSession: IProc | null = null;
    if (lab && lab.process.exitCode === null) {
      mine.push(...treeOf([lab.process.pid!], procs));
      const master = mine.find(
        p => p.args.startsWith('ssh ') && p.args.includes('ControlMaster=yes')
      );
      const served = master ? sshdServing(master.pid, demo.port, procs) : null;
      if (served) {
        sshdSession = served.session;
        mine.push(...treeOf([served.priv.pid], procs));
      }
    }
    // The jobs' processes: slurmstepd of our jobs and all under them.
    const steps = procs.filter(p => {
      const m = /^slurmstepd: \[(\d+)\./.exec(p.args);
      return m !== null && jobIds.has(m[1]);
    });
    mine.push(
      ...treeOf(
        steps.map(p => p.pid),
        procs
      )
    );
    // Anything working in the run's directory (jobs, kernels).
    mine.push(...procs.filter(p => base && cwdOf(p.pid).startsWith(base)));
    const unique = new Map(mine.map(p => [procKey(p), p]));
    for (const [k, p] of unique) {
      seen.set(k, p);
    }
    return { procs: [...unique.values()], sshdSession };
  }

  function snapshot(): ISnapshot {
    const { procs, sshdSession } = ours();
    const fds = new Map(
      procs.map(p => [
        procKey(p),
        { proc: p, fds: fdCount(p.pid), young: ageSeconds(p) < YOUNG_S }
      ])
    );
    const { master } = localParts();
    const conn = sshdSession
      ? (() => {
          const mine = socketInodes(sshdSession.pid);
          // The connection itself is on port 2222; the rest are forwards' connections.
          return tcpSockets().filter(
            s =>
              mine.has(s.inode) && s.localPort !== demo.port && s.state === '01'
          ).length;
        })()
      : 0;
    const listening = master
      ? (() => {
          const mine = socketInodes(master.pid);
          return tcpSockets().filter(s => mine.has(s.inode) && s.state === '0A')
            .length;
        })()
      : 0;
    return {
      fds,
      channels: {
        sessions: sshdSession
          ? procs.filter(p => p.ppid === sshdSession.pid).length
          : 0,
        tcp: conn,
        forwards: listening
      }
    };
  }

  /**
   * Descriptors opened between two snapshots, counted per kind of process
   * (its command line's first 60 characters): a process that replaced
   * another of its kind (the session watcher starts again every few
   * minutes, `sleep 1` every second) is not a leak; more descriptors held
   * by the processes of one kind is, as are those of a kind that appeared.
   * Processes younger than YOUNG_S are left out on both sides: what they
   * hold ends with them within seconds (`sleep 1`, squeue, ssh -O), and
   * whether one exists at the moment of a snapshot is chance (a baseline
   * taken between two `sleep 1` counted the next one as +3). Measured a
   * few times, the least is kept.
   */
  async function fdGrowth(
    before: ISnapshot
  ): Promise<{ leaked: number; detail: string[]; after: ISnapshot }> {
    let best: { leaked: number; detail: string[]; after: ISnapshot } | null =
      null;
    for (let i = 0; i < 5; i++) {
      const after = snapshot();
      let leaked = 0;
      const detail: string[] = [];
      const byKind = (snap: ISnapshot) => {
        const kinds = new Map<string, { fds: number; pids: number[] }>();
        for (const { proc, fds, young } of snap.fds.values()) {
          if (young) {
            continue;
          }
          const kind = proc.args.slice(0, 60);
          const k = kinds.get(kind) ?? { fds: 0, pids: [] };
          k.fds += fds;
          k.pids.push(proc.pid);
          kinds.set(kind, k);
        }
        return kinds;
      };
      const was = byKind(before);
      for (const [kind, now] of byKind(after)) {
        const grew = now.fds - (was.get(kind)?.fds ?? 0);
        if (grew > 0) {
          leaked += grew;
          detail.push(`${now.pids.join(',')} ${kind}: +${grew}`);
        }
      }
      if (!best || leaked < best.leaked) {
        best = { leaked, detail, after };
      }
      if (leaked === 0) {
        break;
      }
      await sleep(2000);
    }
    return best!;
  }

  function rss(samples = 5): Promise<number> {
    const pid = localParts().sidecar.pid;
    return (async () => {
      const xs: number[] = [];
      for (let i = 0; i < samples; i++) {
        xs.push(rssMiB(pid));
        await sleep(1000);
      }
      xs.sort((a, b) => a - b);
      return xs[Math.floor(xs.length / 2)];
    })();
  }

  it('holds for the run: bounded polling, flat memory, nothing leaked, no errors', async () => {
    const t0 = Date.now();
    const procsBefore = new Set(allProcs().map(procKey));
    if (
      jobsIn(PARTITION).length ||
      (() => {
        try {
          scontrol(['show', 'partition', PARTITION]);
          return true;
        } catch {
          return false;
        }
      })()
    ) {
      // Left by a run that was killed: its jobs are ours too.
      await cancelPartitionJobs();
      scontrol(['delete', `PartitionName=${PARTITION}`]);
    }
    const wallMinutes = MINUTES + 30;
    scontrol([
      'create',
      `PartitionName=${PARTITION}`,
      'Nodes=ALL',
      'OverSubscribe=FORCE:128',
      'MaxTime=INFINITE',
      'Default=NO',
      'State=UP'
    ]);

    let counter: SqueueCounter | null = null;
    const errors: string[] = [];
    let forwardRequests = 0;
    let kernelExecutions = 0;
    let kernelRefusal = '';
    let kernelsRan = 0;
    try {
      // The stand-ins' environment and the run's working directory.
      base = mkdtempSync(`/home/${demo.user}/jlhpc-soak-`);
      const env = join(base, 'env');
      mkdirSync(join(env, 'bin'), { recursive: true });
      writeFileSync(join(env, 'bin', 'jupyter'), placeholder(wallMinutes * 60));
      chmodSync(join(env, 'bin', 'jupyter'), 0o755);
      symlinkSync('/usr/bin/python3', join(env, 'bin', 'python'));
      execFileSync('chown', ['-R', `${demo.user}:${demo.user}`, base]);

      home = makeHome('jlhpc-soak-');
      writeDemoSshFiles(home);
      lab = await startLab({ env: { HOME: home } });
      const put = await sidecar('PUT', '/api/v1/clusters', {
        clusters: [{ name: CLUSTER, host: demo.alias }],
        allocationGraceMinutes: GRACE_SECONDS / 60
      });
      expect(put.status).toBe(200);
      const connected = await sidecar<{ state: string }>(
        'POST',
        `/api/v1/clusters/${CLUSTER}/connect`
      );
      expect(connected.body.state).toBe('connected');
      // One command, so that the connection's long-lived shell (a session
      // channel kept for the connection's life) is part of the baseline.
      const ran = await sidecar('POST', `/api/v1/clusters/${CLUSTER}/run`, {
        argv: ['true']
      });
      expect(ran.status).toBe(200);
      await sleep(2000);
      const atConnect = snapshot();

      // 10 kernels of one profile, in the run's partition.
      const profile = await sidecar<IKernelProfile>(
        'POST',
        '/api/v1/kernel-profiles',
        {
          cluster: CLUSTER,
          environment: KERNEL_ENV.prefix,
          resources: {
            partition: PARTITION,
            account: '',
            qos: '',
            wallTime: String(wallMinutes),
            cpus: 1,
            memory: '',
            gpus: { type: '', count: 0 },
            constraint: ''
          },
          workingDirectory: base,
          displayName: ''
        }
      );
      if (profile.status !== 201) {
        throw new Error(
          `POST kernel-profiles: ${profile.status} ${JSON.stringify(profile.body)}`
        );
      }

      // 100 sessions: the first 20 real JupyterLab, the rest stand-ins.
      const request = (real: boolean) => ({
        partition: PARTITION,
        account: '',
        qos: '',
        wallTime: String(wallMinutes),
        cpus: 1,
        memory: '',
        gpus: { type: '', count: 0 },
        constraint: '',
        environment: real ? LAB_ENV.prefix : env,
        workingDirectory: base,
        startTimeoutSeconds: 900
      });
      let next = 0;
      await Promise.all(
        Array.from({ length: 3 }, async () => {
          while (next < SESSIONS) {
            const real = next < REAL_SESSIONS;
            next++;
            const r = await sidecar<ISessionInfo>(
              'POST',
              `/api/v1/clusters/${CLUSTER}/sessions`,
              request(real)
            );
            if (r.status !== 201) {
              throw new Error(`launch: ${r.status} ${JSON.stringify(r.body)}`);
            }
            sessionIds.push(r.body.id);
            if (r.body.jobId) {
              jobIds.add(r.body.jobId);
            }
          }
        })
      );
      const realIds = new Set(sessionIds.slice(0, REAL_SESSIONS));

      // 10 kernels, which share one allocation. Each holds one SSH session
      // channel for its life (its relay step), and the sidecar keeps under
      // sshd's MaxSessions (10 here, OpenSSH's default): a start the
      // sidecar refuses is recorded, and the run goes on with the kernels
      // that started.
      for (let i = 0; i < KERNELS; i++) {
        const path = `soak-${i}.ipynb`;
        const r = await api('POST', 'api/sessions', {
          path,
          name: path,
          type: 'notebook',
          kernel: { name: profile.body.specName }
        });
        if (r.status !== 201) {
          const sshd = ours().sshdSession;
          kernelRefusal =
            `kernel ${i + 1} of ${KERNELS} did not start: POST /api/sessions answered ${r.status} ` +
            `"${r.body?.message}" with ${sshd ? allProcs().filter(p => p.ppid === sshd.pid).length : '?'} ` +
            `session channels open on the connection`;
          break;
        }
        const socket = await openKernelSocket(
          lab.url,
          lab.token,
          r.body.kernel.id
        );
        notebooks.push({
          sessionId: r.body.id,
          kernelId: r.body.kernel.id,
          socket
        });
        await socket.kernelInfo(120_000);
        const job = textOf(
          await socket.execute(
            "import os; n = 0; print(os.environ['SLURM_JOB_ID'])"
          )
        ).trim();
        jobIds.add(job);
      }

      kernelsRan = notebooks.length;

      // Every session running, with its job known.
      const deadline = Date.now() + 600_000;
      let list: ISessionInfo[] = [];
      for (;;) {
        list = (await sessions()).filter(s => sessionIds.includes(s.id));
        list.forEach(s => s.jobId && jobIds.add(s.jobId));
        const ended = list.find(s => s.phase === 'ended');
        if (ended) {
          throw new Error(`session ${ended.id} ended: ${ended.end?.message}`);
        }
        if (list.filter(s => s.phase === 'running').length === SESSIONS) {
          break;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `${list.filter(s => s.phase === 'running').length} of ${SESSIONS} sessions running after 10 minutes`
          );
        }
        await sleep(2000);
      }
      const forwards: { port: number; base: string; token: string }[] = [];
      for (const id of realIds) {
        const open = await sidecar<{ url: string }>(
          'GET',
          `/api/v1/sessions/${id}/open`
        );
        expect(open.status).toBe(200);
        const u = new URL(open.body.url);
        forwards.push({
          port: Number(u.port),
          base: u.pathname.replace(/lab\/?$/, ''),
          token: u.searchParams.get('token') ?? ''
        });
      }

      // Traffic: each forward and each kernel has a loop of its own.
      let stop = false;
      const forwardLoop = async (f: (typeof forwards)[number], i: number) => {
        for (let n = 0; !stop; n++) {
          const path = `${f.base}${n % 5 === 4 ? 'api/contents' : 'api/status'}`;
          try {
            const status = await getStatus(f.port, path, f.token);
            forwardRequests++;
            if (status !== 200) {
              errors.push(`forward ${i}: GET ${path} answered ${status}`);
            }
          } catch (err) {
            errors.push(`forward ${i}: GET ${path}: ${(err as Error).message}`);
          }
          await sleep(FORWARD_EVERY_MS);
        }
      };
      const kernelLoop = async (k: (typeof notebooks)[number], i: number) => {
        let expected = Number(
          textOf(await k.socket.execute('print(n)')).trim()
        );
        while (!stop) {
          expected++;
          try {
            const run = await k.socket.execute('n += 1; print(n)', {
              timeoutMs: 60_000
            });
            kernelExecutions++;
            const got = textOf(run).trim();
            if (run.reply.content.status !== 'ok' || got !== String(expected)) {
              errors.push(`kernel ${i}: printed ${got}, expected ${expected}`);
              expected = Number(got);
            }
          } catch (err) {
            errors.push(`kernel ${i}: ${(err as Error).message}`);
          }
          await sleep(KERNEL_EVERY_MS);
        }
      };
      const runTraffic = async (ms: number) => {
        stop = false;
        const loops = [
          ...forwards.map(forwardLoop),
          ...notebooks.map(kernelLoop),
          (async () => {
            // What the side panel does: the session list, every few seconds.
            while (!stop) {
              const now = (await sessions()).filter(s =>
                sessionIds.includes(s.id)
              );
              const notRunning = now.filter(s => s.phase !== 'running');
              if (notRunning.length) {
                errors.push(
                  `sessions not running: ${notRunning.map(s => `${s.id} ${s.phase}`).join(', ')}`
                );
              }
              await sleep(5000);
            }
          })()
        ];
        await sleep(ms);
        stop = true;
        await Promise.all(loops);
      };

      await runTraffic(WARMUP_MS);
      await sleep(3000);
      const rssStart = await rss();
      const atStart = snapshot();
      const errorsAtWarmup = errors.length;

      counter = new SqueueCounter(demo.user);
      const soakStart = Date.now();
      await runTraffic(MINUTES * 60_000);
      const soakMinutes = (Date.now() - soakStart) / 60_000;
      counter.stop();
      await sleep(3000);
      const rssEnd = await rss();
      const growth = await fdGrowth(atStart);

      // Everything closed, with the sidecar still running: channels back to
      // what they were just after connecting.
      for (const k of notebooks.splice(0)) {
        k.socket.close();
        const r = await api('DELETE', `api/sessions/${k.sessionId}`);
        expect(r.status).toBe(204);
      }
      for (const id of sessionIds) {
        const r = await sidecar('POST', `/api/v1/sessions/${id}/cancel`);
        expect(r.status).toBe(200);
      }
      const allEnded = Date.now() + 180_000;
      while (
        (await sessions()).some(
          s => sessionIds.includes(s.id) && s.phase !== 'ended'
        ) ||
        jobsIn(PARTITION).length
      ) {
        if (Date.now() > allEnded) {
          throw new Error(
            'sessions or jobs still there 3 minutes after cancelling'
          );
        }
        await sleep(2000);
      }
      await sleep(GRACE_SECONDS * 1000);
      let closed = snapshot();
      for (let i = 0; i < 10; i++) {
        const c = closed.channels;
        const a = atConnect.channels;
        if (
          c.sessions <= a.sessions &&
          c.tcp <= a.tcp &&
          c.forwards <= a.forwards
        ) {
          break;
        }
        await sleep(2000);
        closed = snapshot();
      }
      const leakedChannels =
        Math.max(0, closed.channels.sessions - atConnect.channels.sessions) +
        Math.max(0, closed.channels.tcp - atConnect.channels.tcp) +
        Math.max(0, closed.channels.forwards - atConnect.channels.forwards);
      // The sidecar and its master, back where they were before any job.
      const { sidecar: sc, master } = localParts();
      const idleFds = [sc, master].filter((p): p is IProc => !!p);
      const fdsAfterClose = idleFds.reduce((sum, p) => {
        const before = atConnect.fds.get(procKey(p))?.fds ?? 0;
        return sum + Math.max(0, fdCount(p.pid) - before);
      }, 0);
      // The remote JupyterLab servers' logs, before they are removed.
      const remoteLogs = sessionIds
        .filter(id => realIds.has(id))
        .map(id =>
          join(`/home/${demo.user}/.jupyterlab-hpc/sessions`, id, 'job.log')
        )
        .filter(existsSync)
        .map(f => readFileSync(f, 'utf8'));

      const labLog = lab.log();
      await lab.stop();
      lab = null;
      await sleep(2000);
      const alive = new Set(allProcs().map(procKey));
      const left = [...seen.entries()]
        .filter(([k]) => alive.has(k) && !procsBefore.has(k))
        .map(([, p]) => `${p.pid} ${p.args.slice(0, 80)}`);
      const strays = allProcs().filter(
        p => cwdOf(p.pid).startsWith(base) && !procsBefore.has(procKey(p))
      );
      left.push(
        ...strays.map(p => `${p.pid} ${p.args.slice(0, 80)} (in ${base})`)
      );

      const isError = (l: string) => /\bERROR\b|^\[E /.test(l);
      const logErrors = [
        ...labLog.split('\n').filter(isError),
        ...remoteLogs.flatMap(t => t.split('\n').filter(isError))
      ];
      const perMinute = counter.perMinute();
      const squeuePerMin = counter.total / soakMinutes;
      const leakedFds = growth.leaked + fdsAfterClose;
      const wallS = Math.round((Date.now() - t0) / 1000);
      const notes =
        (kernelRefusal ? `${kernelRefusal}; ${kernelsRan} kernels ran. ` : '') +
        `${forwardRequests} HTTP requests through the forwards and ${kernelExecutions} executions in the kernels; ` +
        `${errors.length} traffic errors (${errorsAtWarmup} in the warm-up). ` +
        `squeue calls per whole minute: ${perMinute.join(', ')} (${counter.others} job queries of other users left out). ` +
        `Descriptors: ${growth.after.fds.size} processes of ours under load, ` +
        `${[...growth.after.fds.values()].reduce((s, x) => s + x.fds, 0)} descriptors; ` +
        `the sidecar and its master after closing everything vs. after connecting: +${fdsAfterClose}. ` +
        `SSH channels after connecting ${JSON.stringify(atConnect.channels)}, under load ${JSON.stringify(atStart.channels)}, ` +
        `after closing ${JSON.stringify(closed.channels)}. Wall time ${wallS} s.`;
      recordSoak({
        minutes: Number(soakMinutes.toFixed(2)),
        trackedJobs: jobIds.size,
        forwards: forwards.length,
        kernels: kernelsRan,
        rssMbStart: Number(rssStart.toFixed(1)),
        rssMbEnd: Number(rssEnd.toFixed(1)),
        leakedFds,
        leakedProcesses: left.length,
        leakedChannels,
        squeuePerMin: Number(squeuePerMin.toFixed(2)),
        logErrors: logErrors.length,
        notes
      });

      expect(kernelsRan).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      expect(logErrors).toEqual([]);
      expect(Math.max(...perMinute)).toBeLessThanOrEqual(SQUEUE_PER_MIN_MAX);
      expect(counter.total).toBeGreaterThan(0);
      expect(rssEnd).toBeLessThanOrEqual(rssStart * (1 + RSS_GROWTH_MAX));
      expect(growth.detail).toEqual([]);
      expect(fdsAfterClose).toBe(0);
      expect(closed.channels).toEqual({
        sessions: Math.min(
          closed.channels.sessions,
          atConnect.channels.sessions
        ),
        tcp: Math.min(closed.channels.tcp, atConnect.channels.tcp),
        forwards: Math.min(
          closed.channels.forwards,
          atConnect.channels.forwards
        )
      });
      expect(left).toEqual([]);
    } catch (err) {
      if (lab) {
        writeFileSync('/tmp/jlhpc-soak-failed-lab.log', lab.log());
      }
      throw err;
    } finally {
      counter?.dispose();
      for (const k of notebooks) {
        k.socket.close();
      }
      await lab?.stop().catch(() => undefined);
      await cancelPartitionJobs().catch(() => undefined);
      const stray = [...jobIds].filter(Boolean);
      if (stray.length) {
        try {
          execFileSync('scancel', stray, { stdio: 'ignore' });
        } catch {
          // ended already
        }
      }
      try {
        scontrol(['delete', `PartitionName=${PARTITION}`]);
      } catch {
        // still has jobs (reported above) or gone
      }
      for (const id of sessionIds) {
        rmSync(join(`/home/${demo.user}/.jupyterlab-hpc/sessions`, id), {
          recursive: true,
          force: true
        });
      }
      if (base) {
        rmSync(base, { recursive: true, force: true });
      }
      if (home) {
        rmSync(home, { recursive: true, force: true });
      }
    }
  });
});
