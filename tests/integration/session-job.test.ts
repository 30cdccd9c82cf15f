/**
 * The batch job that runs JupyterLab (sessions/job.sh with the header
 * batch-script.ts writes), submitted to the real demo cluster with the
 * sbatch options sbatchArgv builds: JupyterLab listens on a free port with
 * a random token, which stays out of argv, the environment, the job's
 * record, its log and every file others can read; what ended it is recorded; File → Shut Down ends the job.
 */
import { execFileSync, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';

import type { ILaunchRequest } from '../../src/common/sessions';
import {
  buildRemoteCommand,
  type IRemoteCommand
} from '../../src/sidecar/shell/remote-command';
import {
  buildJobScript,
  parseSbatchParsable,
  SESSIONS_DIR,
  sbatchArgv
} from '../../src/sidecar/sessions/batch-script';
import {
  parseWatchLine,
  submitCommand,
  watchCommand,
  type IServerRecord,
  type WatchEvent
} from '../../src/sidecar/sessions/remote';
import { demoCluster, demoLaunchRequest } from '../support/demo-cluster';
import { waitFor } from '../support/proc';

const info = demoCluster();

function ssh(command: string, input?: string): string {
  return execFileSync(
    'ssh',
    ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', info.alias, command],
    { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }
  );
}

const request = demoLaunchRequest();

interface ISubmitted {
  id: string;
  jobId: string;
  dir: string;
}

/** Run a command as the sidecar's transport sends it: one exec request. */
function run(command: IRemoteCommand) {
  return spawnSync(
    'ssh',
    [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      info.alias,
      buildRemoteCommand(command)
    ],
    { encoding: 'utf8', timeout: 120_000 }
  );
}

/** Lay out the session directory and submit (submit.sh), as the sidecar does. */
function submit(req: ILaunchRequest): ISubmitted {
  const id = randomBytes(8).toString('hex');
  const dir = `${SESSIONS_DIR}/${id}`;
  const r = run(
    submitCommand(
      id,
      buildJobScript({ sessionId: id, request: req, idleShutdownSeconds: 0 }),
      JSON.stringify({ id, origin: 'session-job.test.ts' }),
      sbatchArgv(id, req)
    )
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const jobId = parseSbatchParsable(r.stdout);
  expect(jobId).toMatch(/^\d+$/);
  return { id, jobId: jobId!, dir };
}

/** Follow the sessions with watch.sh until each is ready or ended. */
function watch(ids: string[]): WatchEvent[] {
  const r = run(watchCommand(ids, 90));
  expect(r.status).toBe(0);
  return r.stdout
    .split('\n')
    .filter(l => l !== '')
    .map(l => {
      const e = parseWatchLine(l);
      expect(e).not.toBeNull();
      return e!;
    });
}

function ready(events: WatchEvent[], id: string): IServerRecord {
  const e = events.find(x => x.kind === 'ready' && x.id === id);
  expect(e).toBeDefined();
  return (e as { server: IServerRecord }).server;
}

function jobState(jobId: string): string {
  return ssh(`squeue -h -t all -j ${jobId} -o %T || true`).trim();
}

const cleanup: ISubmitted[] = [];
afterAll(() => {
  for (const s of process.env.KEEP_SESSIONS ? [] : cleanup) {
    spawnSync('ssh', [info.alias, `scancel ${s.jobId}; rm -rf ${s.dir}`]);
  }
});

describe('the JupyterLab session job', () => {
  it('runs JupyterLab with a token nobody else can see, and ends when it shuts down', async () => {
    const s = submit(request);
    cleanup.push(s);
    const events = watch([s.id]);
    expect(events.map(e => e.kind)).toEqual(['watching', 'started', 'ready']);
    const server = ready(events, s.id);
    expect(server.port).toBeGreaterThan(0);
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);

    // The token is in no argv or environment on the node, no job record,
    // no job name, and not in the log jupyter_server writes its URLs to.
    const ps = ssh('ps -eo args');
    expect(ps).toContain('jupyter');
    expect(ps).not.toContain(server.token);
    const environments = ssh(
      `for p in $(pgrep -u "$(id -u)"); do tr '\\0' '\\n' </proc/$p/environ 2>/dev/null; done`
    );
    expect(environments).toContain('JUPYTER_RUNTIME_DIR=');
    expect(environments).not.toContain(server.token);
    const log = ssh(`cat ${s.dir}/job.log`);
    expect(log).toContain('/lab?token=...');
    expect(log).not.toContain(server.token);
    const scontrol = ssh(`scontrol show job ${s.jobId}`);
    expect(scontrol).not.toContain(server.token);
    expect(ssh(`cat ${s.dir}/job.sh`)).not.toContain(server.token);
    // Only the owner can open the session's files.
    expect(
      ssh(
        `stat -c '%a %n' ${s.dir} ${s.dir}/runtime ${s.dir}/job.sh ${s.dir}/job.log ${s.dir}/token.json ${s.dir}/runtime/jpserver-*.json`
      )
        .trim()
        .split('\n')
        .map(l => l.split(' ')[0])
    ).toEqual(['700', '700', '600', '600', '600', '600']);

    // JupyterLab answers with the token (the node is this machine).
    const status = await fetch(`http://127.0.0.1:${server.port}/api/status`, {
      headers: { Authorization: `token ${server.token}` }
    });
    expect(status.status).toBe(200);
    const refused = await fetch(`http://127.0.0.1:${server.port}/api/status`);
    expect(refused.status).toBe(403);

    // File → Shut Down: the job ends, and says why.
    await fetch(`http://127.0.0.1:${server.port}/api/shutdown`, {
      method: 'POST',
      headers: { Authorization: `token ${server.token}` }
    });
    await waitFor(
      'the job to complete',
      () => jobState(s.jobId) === 'COMPLETED',
      60_000
    );
    expect(ssh(`cat ${s.dir}/exit`)).toMatch(/^0 \d+ jupyterlab shut down$/m);
    expect(ssh(`cat ${s.dir}/started`)).toMatch(
      new RegExp(`^\\d+ \\S+ ${s.jobId}$`, 'm')
    );
  });

  it('gives two sessions on one node their own ports', async () => {
    const a = submit(request);
    const b = submit(request);
    cleanup.push(a, b);
    const events = watch([a.id, b.id]);
    const [ia, ib] = [ready(events, a.id), ready(events, b.id)];
    expect(ia.port).not.toBe(ib.port);
    expect(ia.token).not.toBe(ib.token);
    ssh(`scancel ${a.jobId} ${b.jobId}`);
    await waitFor(
      'both jobs to end',
      () =>
        ['CANCELLED', 'COMPLETED'].includes(jobState(a.jobId)) &&
        ['CANCELLED', 'COMPLETED'].includes(jobState(b.jobId)),
      60_000
    );
    // scancel's TERM reached the batch shell, which recorded it.
    await waitFor(
      'the exit records',
      () =>
        /signal TERM/.test(ssh(`cat ${a.dir}/exit ${b.dir}/exit 2>&1 || true`)),
      30_000
    );
  });

  it('fails at once, saying why, when the working directory is missing', async () => {
    const s = submit({ ...request, workingDirectory: '~/no such dir' });
    cleanup.push(s);
    expect(watch([s.id]).slice(2)).toEqual([
      {
        kind: 'exit',
        id: s.id,
        status: 2,
        at: expect.any(Number),
        why: 'no working directory'
      }
    ]);
    await waitFor(
      'the job to fail',
      () => jobState(s.jobId) === 'FAILED',
      60_000
    );
    expect(ssh(`cat ${s.dir}/job.log`)).toContain(
      'the working directory /home/hpcdemo/no such dir does not exist'
    );
  });

  it('fails at once when the environment has no JupyterLab', async () => {
    const other = info.envs.find(e => !e.jupyterlab)!;
    const s = submit({ ...request, environment: other.prefix });
    cleanup.push(s);
    await waitFor(
      'the job to fail',
      () => jobState(s.jobId) === 'FAILED',
      60_000
    );
    expect(ssh(`cat ${s.dir}/exit`)).toMatch(/^3 \d+ no jupyter$/m);
    expect(ssh(`cat ${s.dir}/session.json ${s.dir}/job-id`)).toBe(
      `${JSON.stringify({ id: s.id, origin: 'session-job.test.ts' })}\n${s.jobId}\n`
    );
  });
});
