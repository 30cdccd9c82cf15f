/**
 * Why a session ended on a cluster without Slurm accounting (the demo's
 * second cluster, `noAccounting` in its cluster.json: no slurmdbd, and a
 * MinJobAge of 10 s, so squeue forgets ended jobs quickly). A job that
 * ended while no sidecar was running is gone from squeue and sacct has no
 * history: the job's own exit record says why.
 */
import { execFileSync } from 'child_process';
import { readFileSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';

import type {
  ISessionEvent,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import { CLUSTER_JSON, demoLaunchRequest } from '../support/demo-cluster';
import { waitFor } from '../support/proc';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';
import { skipMissing } from '../support/skip';

interface INoAccounting {
  host: string;
  port: number;
  user: string;
  alias: string;
  identityFile: string;
  knownHosts: string;
  accounting: boolean;
  minJobAgeSeconds: number;
  envs: { name: string; prefix: string; jupyterlab: boolean }[];
}

const cluster = (
  JSON.parse(readFileSync(CLUSTER_JSON, 'utf8')) as {
    noAccounting?: INoAccounting;
  }
).noAccounting;

function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', cluster!.alias, command], {
    encoding: 'utf8'
  });
}

const isSession =
  (id: string, phase: ISessionInfo['phase']) =>
  (e: SidecarEvent): e is ISessionEvent =>
    e.type === 'session' && e.session.id === id && e.session.phase === phase;

if (!cluster) {
  skipMissing(
    'a cluster without accounting',
    ['noAccounting'],
    'is not in the demo cluster.json'
  );
} else {
  const c = cluster;
  let home: string;
  let sidecar: ISidecar | null = null;
  const jobs: string[] = [];

  async function start(): Promise<ISidecar> {
    sidecar = await startSidecar({ home });
    const put = await sidecar.api('PUT', '/api/v1/clusters', {
      clusters: [{ name: 'noacct', host: 'hpc-noacct' }]
    });
    expect(put.status).toBe(200);
    return sidecar;
  }

  beforeAll(() => {
    home = makeHome('jlhpc-noacct-');
    writeFileSync(
      join(home, '.ssh', 'config'),
      `Host hpc-noacct\n  HostName ${c.host}\n  Port ${c.port}\n  User ${c.user}\n` +
        `  IdentityFile ${c.identityFile}\n  IdentitiesOnly yes\n`,
      { mode: 0o600 }
    );
    const name = `[${c.host}]:${c.port} `;
    writeFileSync(
      join(home, '.ssh', 'known_hosts'),
      readFileSync(c.knownHosts, 'utf8')
        .split('\n')
        .filter(l => l.startsWith(name))
        .join('\n') + '\n',
      { mode: 0o600 }
    );
  });

  afterAll(async () => {
    await sidecar?.stop();
    if (jobs.length > 0) {
      ssh(`scancel ${jobs.join(' ')} 2>/dev/null || true`);
    }
    rmSync(home, { recursive: true, force: true });
  });

  describe('a cluster without accounting', () => {
    it('says why a job that squeue forgot ended, from what the job recorded', async () => {
      const s = await start();
      const offer = await s.api('GET', '/api/v1/clusters/noacct/launch-offer');
      expect(offer.body.accounting.enabled).toBe(false);
      const bare = c.envs.find(e => !e.jupyterlab)!;
      // The launch form would refuse an env without JupyterLab; this one
      // checks nothing, so that the job fails at once on the node.
      const launched = await s.api<ISessionInfo>(
        'POST',
        '/api/v1/clusters/noacct/sessions',
        demoLaunchRequest({ environment: bare.prefix, wallTime: '5' })
      );
      if (launched.status !== 201) {
        throw new Error(JSON.stringify(launched.body));
      }
      const { id, jobId } = launched.body;
      jobs.push(jobId!);
      // The sidecar dies before it sees the job end (and, as it happens,
      // often before its state file has the job id: it is read back from
      // the session's directory).
      s.child.kill('SIGKILL');
      await new Promise(r => s.child.once('exit', r));
      sidecar = null;
      await waitFor(
        'squeue to forget the job',
        () =>
          ssh(
            `squeue -h -t all -j ${jobId} -o %i 2>/dev/null || true`
          ).trim() === '',
        (c.minJobAgeSeconds + 60) * 1000
      );
      const again = await start();
      const ended = await again.waitForEvent(isSession(id, 'ended'), 30_000);
      expect(ended.session.end).toMatchObject({
        outcome: 'failed',
        message: 'The job failed: no jupyter (status 3). Its log says more.'
      });
    });
  });
}
