/**
 * The batch job that runs JupyterLab (sessions/job.sh with the header
 * batch-script.ts writes), submitted to the real demo cluster with the
 * sbatch options sbatchArgv builds: JupyterLab listens on a free port with
 * its own token, which stays out of argv, the job's record and every file
 * others can read; what ended it is recorded; File → Shut Down ends the job.
 */
import { execFileSync, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';

import type { ILaunchRequest } from '../../src/common/sessions';
import { quoteCommand } from '../../src/sidecar/shell/quote';
import {
  buildJobScript,
  parseSbatchParsable,
  SESSIONS_DIR,
  sbatchArgv
} from '../../src/sidecar/sessions/batch-script';
import { demoCluster } from '../support/demo-cluster';
import { waitFor } from '../support/proc';

const info = demoCluster();
const jupyterlab = info.envs.find(e => e.jupyterlab)!;

function ssh(command: string, input?: string): string {
  return execFileSync(
    'ssh',
    ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', info.alias, command],
    { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }
  );
}

const request: ILaunchRequest = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '10',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: jupyterlab.prefix,
  workingDirectory: '',
  startTimeoutSeconds: 120
};

interface ISubmitted {
  id: string;
  jobId: string;
  dir: string;
}

/** Lay out the session directory and submit, as the sidecar does. */
function submit(req: ILaunchRequest): ISubmitted {
  const id = randomBytes(8).toString('hex');
  const dir = `${SESSIONS_DIR}/${id}`;
  ssh(
    `umask 077 && mkdir -p ${SESSIONS_DIR} && mkdir ${dir} && : > ${dir}/job.log && cat > ${dir}/job.sh`,
    buildJobScript({ sessionId: id, request: req, idleShutdownSeconds: 0 })
  );
  const out = ssh(`cd ${dir} && ${quoteCommand(sbatchArgv(id, req))}`);
  const jobId = parseSbatchParsable(out);
  expect(jobId).toMatch(/^\d+$/);
  return { id, jobId: jobId!, dir };
}

function jobState(jobId: string): string {
  return ssh(`squeue -h -t all -j ${jobId} -o %T || true`).trim();
}

async function serverInfo(s: ISubmitted): Promise<{
  port: number;
  token: string;
  base_url: string;
}> {
  let text = '';
  await waitFor(
    'the jpserver file',
    () => {
      text = ssh(`cat ${s.dir}/runtime/jpserver-*.json 2>/dev/null || true`);
      return text.includes('"port"');
    },
    90_000
  );
  return JSON.parse(text);
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
    const server = await serverInfo(s);
    expect(server.port).toBeGreaterThan(0);
    expect(server.token).toMatch(/^[0-9a-f]{48}$/);

    // The token is in no argv on the node, no job record, no job name.
    const ps = ssh('ps -eo args');
    expect(ps).toContain('jupyter');
    expect(ps).not.toContain(server.token);
    const scontrol = ssh(`scontrol show job ${s.jobId}`);
    expect(scontrol).not.toContain(server.token);
    expect(ssh(`cat ${s.dir}/job.sh`)).not.toContain(server.token);
    // Only the owner can open the session's files.
    expect(
      ssh(
        `stat -c '%a %n' ${s.dir} ${s.dir}/runtime ${s.dir}/job.sh ${s.dir}/job.log ${s.dir}/runtime/jpserver-*.json`
      )
        .trim()
        .split('\n')
        .map(l => l.split(' ')[0])
    ).toEqual(['700', '700', '600', '600', '600']);

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
    const [ia, ib] = await Promise.all([serverInfo(a), serverInfo(b)]);
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
    await waitFor(
      'the job to fail',
      () => jobState(s.jobId) === 'FAILED',
      60_000
    );
    expect(ssh(`cat ${s.dir}/exit`)).toMatch(/^2 \d+ no working directory$/m);
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
  });
});
