/**
 * How SessionService decides why a session ended, with the cluster's
 * transport as the boundary stubbed: a fake login node that answers squeue,
 * sacct, sacctmgr and the session's own scripts the way Slurm 22.05 on the
 * demo cluster does (texts copied from it). The real runs are in
 * tests/integration/session-service.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Duplex } from 'stream';

import type { ISessionInfo } from '../../../src/common/sessions';
import { createLogger } from '../../../src/sidecar/log';
import {
  emptyState,
  parseSessionState,
  type ISessionState
} from '../../../src/sidecar/sessions/record';
import { SessionService } from '../../../src/sidecar/sessions/service';
import type {
  ICommandOutput,
  IRemoteCommand
} from '../../../src/sidecar/shell/remote-command';
import { StateFile } from '../../../src/sidecar/state/json-file';
import type {
  ICommandOptions,
  ITransport
} from '../../../src/sidecar/transport/types';

const NO_ACCOUNTING =
  'sacctmgr: error: You are not running a supported accounting_storage plugin\n';

function out(stdout: string, exitCode = 0, stderr = ''): ICommandOutput {
  return {
    nonce: 'x',
    stdout: Buffer.from(stdout),
    stderr: Buffer.from(stderr),
    exitCode,
    stdoutBytes: stdout.length,
    stderrBytes: stderr.length,
    stdoutTruncated: false,
    stderrTruncated: false
  };
}

/** A login node: jobs numbered from 40, alive while in `alive`. */
class FakeLoginNode implements ITransport {
  readonly kind = 'ssh' as const;
  accounting = true;
  alive = new Map<string, string>();
  /** What `sacct` answers, one entry per call (the last one repeats). */
  sacct: string[] = [];
  exitRecords = new Map<string, string>();
  /** job-id files of sessions submitted by an earlier process. */
  jobIds = new Map<string, string>();
  calls: string[][] = [];
  private _next = 40;

  async run(
    command: IRemoteCommand,
    options?: ICommandOptions
  ): Promise<ICommandOutput> {
    const argv = command.argv;
    this.calls.push([...argv]);
    switch (argv[0]) {
      case 'id':
        return out('demo\n');
      case 'date':
        return out('+0000\n');
      case 'scontrol':
      case 'sinfo':
        return out('');
      case 'sacctmgr':
        return this.accounting
          ? out(argv.includes('associations') ? 'demo|||\n' : '')
          : out('', 1, NO_ACCOUNTING);
      case 'scancel':
        argv.slice(1).forEach(id => this.alive.delete(id));
        return out('');
      case 'squeue': {
        const ids = argv
          .find(a => a.startsWith('--jobs='))!
          .slice(7)
          .split(',');
        const lines = ids
          .filter(id => this.alive.has(id))
          .map(
            id => `${id}|${this.alive.get(id)}|None|N/A|9:00|N/A|n1|n1|0:10`
          );
        return lines.length > 0
          ? out(lines.join('\n') + '\n')
          : out('', 1, 'slurm_load_jobs error: Invalid job id specified\n');
      }
      case 'sacct': {
        const answer =
          this.sacct.length > 1 ? this.sacct.shift()! : (this.sacct[0] ?? '');
        return out(answer);
      }
      case 'sh':
        if (argv[3] === 'jlhpc-watch') {
          this._watchReady(argv, options);
        }
        return this._script(argv[3], argv[4], options);
    }
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }

  private async _script(
    name: string,
    id: string,
    options?: ICommandOptions
  ): Promise<ICommandOutput> {
    switch (name) {
      case 'jlhpc-submit': {
        const jobId = String(this._next++);
        this.alive.set(jobId, 'RUNNING');
        return out(`${jobId}\n`);
      }
      case 'jlhpc-exit':
        return out(this.exitRecords.get(id) ?? '');
      case 'jlhpc-job-id':
        return out(this.jobIds.get(id) ?? '');
      case 'jlhpc-watch':
        // Nothing (more) recorded: runs until stopped.
        await new Promise<void>(resolve =>
          options?.signal?.addEventListener('abort', () => resolve())
        );
        return out('');
    }
    throw new Error(`unexpected script ${name}`);
  }

  /** Whether every session's JupyterLab listens (watch.sh says ready). */
  ready = false;

  /** What watch.sh prints at once for the pending sessions that are ready. */
  private _watchReady(
    argv: readonly string[],
    options?: ICommandOptions
  ): void {
    const rest = argv.slice(5);
    const cut = rest.indexOf('--');
    const pending = cut === -1 ? rest : rest.slice(0, cut);
    for (const id of this.ready ? pending : []) {
      options?.onOutput?.(
        'stdout',
        Buffer.from(
          `started ${id} 1765000000 n1 \n` +
            `ready ${id} {"port": 8888, "token": "secret", "base_url": "/"}\n`
        )
      );
    }
  }

  openStream(): Promise<Duplex> {
    throw new Error('no streams here');
  }

  async close(): Promise<void> {
    // nothing held
  }

  count(program: string): number {
    return this.calls.filter(c => c[0] === program).length;
  }
}

const request = {
  partition: '',
  account: '',
  qos: '',
  wallTime: '10',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '/envs/lab',
  workingDirectory: '',
  startTimeoutSeconds: 300
};

let dir: string;
let node: FakeLoginNode;
let svc: SessionService;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-svc-'));
  node = new FakeLoginNode();
  svc = new SessionService({
    host: {
      transport: async () => node,
      openForward: async () => {
        throw new Error('no forwards here');
      },
      closeForward: async () => undefined
    },
    state: new StateFile<ISessionState>({
      path: join(dir, 'sessions.json'),
      parse: parseSessionState,
      empty: emptyState
    }),
    log: createLogger('error'),
    onChange: () => undefined,
    origin: 'test',
    sacctRetryMs: [10, 10, 10]
  });
});

afterEach(async () => {
  svc.dispose();
  await svc.flush();
  rmSync(dir, { recursive: true, force: true });
});

async function ended(id: string): Promise<ISessionInfo> {
  const deadline = Date.now() + 8000;
  while (svc.get(id).phase !== 'ended') {
    if (Date.now() > deadline) {
      throw new Error(`${id} did not end: ${JSON.stringify(svc.get(id))}`);
    }
    await new Promise(r => setTimeout(r, 20));
  }
  return svc.get(id);
}

/** Launch, and let the job leave the queue at once. */
async function launchGone(): Promise<ISessionInfo> {
  const s = await svc.launch('c', request);
  node.alive.delete(s.jobId!);
  return s;
}

describe('why a session ended', () => {
  it('asks accounting about a job squeue no longer knows', async () => {
    node.sacct = ['40|TIMEOUT|0:0\n'];
    const s = await launchGone();
    expect((await ended(s.id)).end).toMatchObject({
      outcome: 'timeout',
      message: 'The job reached its wall time.'
    });
  });

  it('asks again while accounting lags behind, and names the exit code', async () => {
    node.sacct = ['', '40|RUNNING|0:0\n', '40|FAILED|7:0\n'];
    const s = await launchGone();
    const end = (await ended(s.id)).end!;
    expect(end.outcome).toBe('failed');
    expect(end.message).toMatch(/exit code 7/);
    expect(node.count('sacct')).toBe(3);
  });

  it('takes accounting over squeue’s last state', async () => {
    node.sacct = ['40|OUT_OF_MEMORY|0:125\n'];
    const s = await svc.launch('c', request);
    node.alive.set(s.jobId!, 'FAILED');
    const end = (await ended(s.id)).end!;
    expect(end.outcome).toBe('out-of-memory');
    expect(end.message).toMatch(/exit code 0, signal 125/);
  });

  it('asks once for every job that ended in the same poll', async () => {
    node.sacct = ['40|CANCELLED by 1001|0:0\n41|COMPLETED|0:0\n'];
    const a = await svc.launch('c', request);
    const b = await svc.launch('c', request);
    await new Promise(r => setTimeout(r, 50));
    const before = node.count('sacct');
    node.alive.clear();
    const [ea, eb] = await Promise.all([ended(a.id), ended(b.id)]);
    expect(ea.end).toMatchObject({
      outcome: 'cancelled',
      message: expect.stringMatching(/by user id 1001/)
    });
    expect(eb.end?.outcome).toBe('completed');
    expect(node.count('sacct') - before).toBe(1);
    expect(node.calls.find(c => c[0] === 'sacct')).toContain('--jobs=40,41');
  });

  it('keeps our own cancel and a shut down JupyterLab over accounting', async () => {
    node.sacct = ['40|CANCELLED by 1001|15:0\n41|COMPLETED|0:0\n'];
    const a = await svc.launch('c', request);
    await svc.cancel(a.id);
    expect((await ended(a.id)).end?.outcome).toBe('cancelled');
    const b = await svc.launch('c', request);
    node.exitRecords.set(b.id, '0 1765000000 jupyterlab shut down');
    node.alive.delete(b.jobId!);
    expect((await ended(b.id)).end?.outcome).toBe('shut-down');
    expect(node.count('sacct')).toBe(0);
  });

  it('without accounting, falls back to what the job recorded', async () => {
    node.accounting = false;
    const s = await svc.launch('c', request);
    node.exitRecords.set(s.id, '3 1765000000 no jupyter');
    node.alive.delete(s.jobId!);
    expect((await ended(s.id)).end).toMatchObject({
      outcome: 'failed',
      message: 'The job failed: no jupyter (status 3). Its log says more.'
    });
    expect(node.count('sacct')).toBe(0);
  });

  it('without accounting or a record, says it does not know', async () => {
    node.accounting = false;
    const s = await launchGone();
    expect((await ended(s.id)).end?.outcome).toBe('unknown');
  });

  it('when sacct does not know the job at all, keeps squeue’s word', async () => {
    node.sacct = [''];
    const s = await svc.launch('c', request);
    node.alive.set(s.jobId!, 'CANCELLED');
    expect((await ended(s.id)).end?.outcome).toBe('cancelled');
    expect(node.count('sacct')).toBe(4);
  });
});

describe('a submission the last process did not see answered', () => {
  const submitting = (id: string) => ({
    id,
    cluster: 'c',
    request,
    createdAt: 1,
    jobId: null,
    phase: 'submitting',
    job: null,
    server: null,
    localPort: null,
    schedulerUnreachable: false,
    end: null
  });

  it('takes the job id from the session directory, or drops it', async () => {
    writeFileSync(
      join(dir, 'sessions.json'),
      JSON.stringify({
        version: 1,
        sessions: [
          submitting('aaaaaaaaaaaaaaaa'),
          submitting('bbbbbbbbbbbbbbbb')
        ]
      })
    );
    node.jobIds.set('aaaaaaaaaaaaaaaa', '77\n');
    node.alive.set('77', 'PENDING');
    await svc.restore();
    const deadline = Date.now() + 5000;
    while (svc.list().length !== 1 || svc.list()[0].jobId === null) {
      if (Date.now() > deadline) {
        throw new Error(JSON.stringify(svc.list()));
      }
      await new Promise(r => setTimeout(r, 20));
    }
    expect(svc.list()).toEqual([
      expect.objectContaining({
        id: 'aaaaaaaaaaaaaaaa',
        jobId: '77',
        phase: 'queued'
      })
    ]);
  });
});

describe('a running session when its connection goes and comes back', () => {
  let forwards: { id: string; localPort: number; open: boolean }[];
  let relinked: SessionService;
  /** Local ports another program holds. */
  let taken: Set<number>;

  beforeEach(() => {
    forwards = [];
    taken = new Set();
    let port = 5000;
    relinked = new SessionService({
      host: {
        transport: async () => node,
        openForward: async (cluster, r) => {
          if (taken.has(r.localPort ?? 0)) {
            throw new Error(`port ${r.localPort} is in use`);
          }
          const f = {
            id: `f${forwards.length + 1}`,
            localPort: r.localPort || ++port,
            open: true
          };
          forwards.push(f);
          return {
            id: f.id,
            cluster,
            remoteHost: r.remoteHost,
            remotePort: r.remotePort,
            localPort: f.localPort,
            openConnections: null,
            totalConnections: null
          };
        },
        closeForward: async id => {
          forwards.find(f => f.id === id)!.open = false;
        },
        forwardOpen: id => forwards.find(f => f.id === id)?.open ?? false
      },
      state: new StateFile<ISessionState>({
        path: join(dir, 'relink.json'),
        parse: parseSessionState,
        empty: emptyState
      }),
      log: createLogger('error'),
      onChange: () => undefined,
      origin: 'test'
    });
  });

  afterEach(() => relinked.dispose());

  async function runningSession(): Promise<ISessionInfo> {
    node.ready = true;
    const s = await relinked.launch('c', request);
    const deadline = Date.now() + 5000;
    while (relinked.get(s.id).phase !== 'running') {
      if (Date.now() > deadline) {
        throw new Error(JSON.stringify(relinked.get(s.id)));
      }
      await new Promise(r => setTimeout(r, 20));
    }
    return relinked.get(s.id);
  }

  it("keeps a forward the connection made again, and says 'connecting' meanwhile", async () => {
    const s = await runningSession();
    relinked.connectionChanged('c', 'reconnecting');
    expect(relinked.get(s.id).phase).toBe('connecting');
    expect(relinked.get(s.id).localPort).toBeNull();
    relinked.connectionChanged('c', 'connected');
    await new Promise(r => setTimeout(r, 100));
    expect(relinked.get(s.id)).toMatchObject({
      phase: 'running',
      localPort: s.localPort
    });
    expect(forwards).toHaveLength(1);
  });

  it('makes a lost forward again on its old port', async () => {
    const s = await runningSession();
    relinked.connectionChanged('c', 'reconnecting');
    // The master could not make it again (ssh/connection.ts onForwardLost).
    forwards[0].open = false;
    relinked.connectionChanged('c', 'connected');
    await new Promise(r => setTimeout(r, 100));
    expect(forwards.map(f => [f.localPort, f.open])).toEqual([
      [s.localPort, false],
      [s.localPort, true]
    ]);
    expect(relinked.get(s.id)).toMatchObject({
      phase: 'running',
      localPort: s.localPort
    });
  });

  it('moves a forward whose port another program took, and says so', async () => {
    const s = await runningSession();
    expect(s.portMoved).toBeNull();
    relinked.connectionChanged('c', 'reconnecting');
    forwards[0].open = false;
    taken.add(s.localPort!);
    relinked.connectionChanged('c', 'connected');
    await new Promise(r => setTimeout(r, 100));
    const now = relinked.get(s.id);
    expect(now.phase).toBe('running');
    expect(now.localPort).not.toBe(s.localPort);
    expect(now.portMoved).toEqual({
      from: s.localPort,
      to: now.localPort,
      at: expect.any(Number)
    });
  });

  it('ends a session whose job ended while the connection was down', async () => {
    node.sacct = ['40|CANCELLED by 1001|0:0\n'];
    const s = await runningSession();
    relinked.connectionChanged('c', 'reconnecting');
    node.alive.delete(s.jobId!);
    relinked.connectionChanged('c', 'connected');
    await new Promise(r => setTimeout(r, 200));
    expect(relinked.get(s.id).phase).toBe('ended');
    expect(forwards[0].open).toBe(false);
  });
});
