/**
 * The sidecar's local state file under faults (issue 13, faults): a real
 * `jupyter lab` whose server extension owns the sidecar, and a JupyterLab
 * session in a real job on the demo cluster. The sessions file is filled
 * with garbage, then cut in half, each time just before the sidecar is
 * killed, so that the next one reads it; then its directory is made a full
 * disk (a small tmpfs, mounted over it: this needs root). For each: what the
 * user is told (the state-problem event, error code and sentence), that the
 * last good state is kept, and that the running session is found again.
 */
import { execFileSync, spawnSync } from 'child_process';
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type {
  IHealth,
  ISessionInfo,
  ISessionList,
  IStateProblem,
  IStateProblemEvent,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { IRunningLab, startLab } from '../support/jupyter-lab';
import { isAlive, waitFor } from '../support/proc';
import { makeHome } from '../support/sidecar';
import { recordFault, RECOVERY_TARGET_S } from './report';
import {
  labSidecar,
  remoteLabStatus,
  sessionEvent,
  type ILabSidecar
} from './support/lab-sidecar';

jest.setTimeout(240_000);

const demo = demoCluster();
const CLUSTER = 'demo';
const root = process.getuid?.() === 0;

let home: string;
let lab: IRunningLab;
let s: ILabSidecar;
let session: ISessionInfo;
let stateDir: string;
let sessionsFile: string;
const jobs = new Set<string>();

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

function log(line: string): void {
  process.stdout.write(`faults-state: ${line}\n`);
}

async function health(): Promise<IHealth | null> {
  const r = await s.sidecar<IHealth>('GET', '/api/v1/health').catch(() => null);
  return r?.status === 200 ? r.body : null;
}

async function list(): Promise<ISessionList> {
  const r = await s.sidecar<ISessionList>('GET', '/api/v1/sessions');
  expect(r.status).toBe(200);
  return r.body;
}

async function launch(): Promise<ISessionInfo> {
  const r = await s.sidecar<ISessionInfo>(
    'POST',
    `/api/v1/clusters/${CLUSTER}/sessions`,
    demoLaunchRequest()
  );
  if (r.status !== 201) {
    throw new Error(`launch: ${r.status} ${JSON.stringify(r.body)}`);
  }
  jobs.add(r.body.jobId!);
  return (
    await s.waitForEvent(
      sessionEvent(r.body.id, x => x.phase === 'running'),
      120_000
    )
  ).event.session;
}

const stateProblem =
  (check: (e: IStateProblemEvent) => boolean) =>
  (e: SidecarEvent): e is IStateProblemEvent =>
    e.type === 'state-problem' && check(e);

/** The file's sessions, or null when it is not JSON of sessions. */
function sessionsInFile(): string[] | null {
  try {
    return JSON.parse(readFileSync(sessionsFile, 'utf8')).sessions.map(
      (x: { id: string }) => x.id
    );
  } catch {
    return null;
  }
}

/**
 * Whether `path` holds the session running on its port. The event that says
 * it runs goes out as its write starts: a kill in between would leave the
 * backup one state behind, which is not the fault tested here.
 */
function savedRunning(path: string): boolean {
  try {
    return (
      JSON.parse(readFileSync(path, 'utf8')) as {
        sessions: { id: string; phase: string; localPort?: number }[];
      }
    ).sessions.some(
      x =>
        x.id === session.id &&
        x.phase === 'running' &&
        x.localPort === session.localPort
    );
  } catch {
    return false;
  }
}

/**
 * Damage the sessions file with `damage`, kill the sidecar at once, and
 * follow what the new one tells and whether it finds the session again.
 */
async function damageAndRestart(
  id: string,
  what: string,
  damage: (text: string) => string
): Promise<void> {
  const before = (await health())!;
  const from = s.events.length;
  const good = readFileSync(sessionsFile, 'utf8');
  writeFileSync(sessionsFile, damage(good));
  const at = performance.now();
  process.kill(before.pid, 'SIGKILL');
  await waitFor('the old sidecar to die', () => !isAlive(before.pid), 10_000);
  // Told by an event to the tabs connected, and in the list for the others.
  let problem: IStateProblem | undefined;
  await waitFor(
    'the damage to be told',
    async () => {
      const h = await health();
      if (!h || h.pid === before.pid) {
        return false;
      }
      problem = (await list()).stateProblems?.find(
        p => p.code === 'state-damaged'
      );
      return problem !== undefined;
    },
    60_000
  );
  const byEvent = s.events
    .slice(from)
    .some(e => stateProblem(x => x.problem?.code === 'state-damaged')(e.event));
  await waitFor(
    'the session running again and answering',
    async () =>
      (await list()).sessions.find(x => x.id === session.id)?.phase ===
        'running' && (await remoteLabStatus(s, session.id)) === 200,
    60_000
  );
  const recoveryS = seconds(performance.now() - at);
  const now = await list();
  const again = now.sessions.find(x => x.id === session.id)!;
  // The same job, running and answering, on the same port: the last good
  // copy is of the last state written.
  expect(again.jobId).toBe(session.jobId);
  const samePort = again.localPort === session.localPort;
  expect(samePort).toBe(true);
  session = again;
  expect(problem!.file).toBe('sessions');
  expect(problem!.message).toMatch(
    /^The sessions file .*sessions\.json was damaged \(.+\): it was set aside as sessions\.json\.bad-.+, and its last good copy was used\.$/
  );
  expect(now.stateProblems).toEqual([problem!]);
  // The damaged file is kept beside it for a look, never deleted.
  expect(
    readdirSync(stateDir).some(f => f.startsWith('sessions.json.bad-'))
  ).toBe(true);
  log(
    `${what}: same port ${samePort}; told "${problem!.code}: ${problem!.message}" (event: ${byEvent}); session back in ${recoveryS} s`
  );
  recordFault(`state-${what}`, {
    fault: `sessions state file ${what === 'garbage' ? 'overwritten with garbage' : 'truncated to half its JSON'}, then the sidecar killed (the next one reads it)`,
    userSees: `error that stays: "${problem!.message.replace(/ \(.*\): /, ' (…): ')}" (${problem!.code}); the running session is listed again, running, same port`,
    recoveryS,
    lost: samePort
      ? 'nothing (the last good copy held the running session; the damaged file is kept aside)'
      : "the session's local port: the forward came back on another port (an open tab of the remote JupyterLab must be opened again); the job and session were kept",
    survived: recoveryS <= RECOVERY_TARGET_S && samePort
  });
  expect(id).toBe(session.id);
}

beforeAll(async () => {
  home = makeHome('jlhpc-fstate-');
  writeDemoSshFiles(home);
  lab = await startLab({ env: { HOME: home } });
  stateDir = join(lab.home, 'data', 'jupyterlab_hpc');
  sessionsFile = join(stateDir, 'sessions.json');
  const syncClusters = () =>
    s.sidecar('PUT', '/api/v1/clusters', {
      clusters: [{ name: CLUSTER, host: demo.alias }]
    });
  s = labSidecar(lab, syncClusters);
  await waitFor(
    'the sidecar to answer',
    async () => (await health()) !== null,
    30_000
  );
  expect((await syncClusters()).status).toBe(200);
  session = await launch();
  await waitFor(
    'the running session in the file and its backup',
    () => savedRunning(sessionsFile) && savedRunning(`${sessionsFile}.bak`)
  );
});

afterAll(async () => {
  s?.close();
  await lab?.stop();
  const alive = new Set(
    execFileSync('squeue', ['-h', '-u', demo.user, '-o', '%i'], {
      encoding: 'utf8'
    })
      .split('\n')
      .filter(Boolean)
  );
  const left = [...jobs].filter(j => alive.has(j));
  if (left.length > 0) {
    execFileSync('scancel', left);
  }
  rmSync(home, { recursive: true, force: true });
});

describe('the sessions file damaged', () => {
  it('filled with garbage: the user is told, the last good copy is used, the running session is found again', async () => {
    await damageAndRestart(
      session.id,
      'garbage',
      () => '\u0000\u0001 not json at all {{{'
    );
  });

  it('truncated (half a JSON): the same', async () => {
    await waitFor(
      'a backup with the running session again',
      () => savedRunning(`${sessionsFile}.bak`),
      30_000
    );
    await damageAndRestart(session.id, 'truncated', text =>
      text.slice(0, Math.floor(text.length / 2))
    );
  });
});

(root ? describe : describe.skip)(
  'the disk of the state file full (a tmpfs; needs root)',
  () => {
    it('tells the user, keeps the last state written, goes on from memory, and recovers once there is room', async () => {
      const saved = mkdtempSync(join(tmpdir(), 'jlhpc-fstate-saved-'));
      cpSync(stateDir, saved, { recursive: true });
      const m = spawnSync('mount', [
        '-t',
        'tmpfs',
        '-o',
        'size=64k,mode=0700',
        'tmpfs',
        stateDir
      ]);
      expect(m.status).toBe(0);
      const filler = join(stateDir, 'filler');
      let second: ISessionInfo | null = null;
      try {
        cpSync(saved, stateDir, { recursive: true });
        // Fill it: whatever is left is too little for a new sessions file.
        spawnSync('dd', [
          'if=/dev/zero',
          `of=${filler}`,
          'bs=1k',
          'count=1024'
        ]);
        const before = readFileSync(sessionsFile, 'utf8');
        const from = s.events.length;
        // A change to save: a second session, which runs though it cannot be written.
        second = await launch();
        const told = await s.waitForEvent(
          stateProblem(e => e.problem?.code === 'state-unwritable'),
          30_000,
          from
        );
        const problem = told.event.problem!;
        expect(problem.message).toMatch(
          /^The sessions file .*sessions\.json cannot be written \(.*(ENOSPC|no space).*\): it keeps the last state written/
        );
        expect((await list()).stateProblems).toContainEqual(problem);
        // The last good state is on disk, whole; the new session lives in memory.
        expect(readFileSync(sessionsFile, 'utf8')).toBe(before);
        expect(sessionsInFile()).toContain(session.id);
        expect((await list()).sessions.map(x => x.id)).toEqual(
          expect.arrayContaining([session.id, second.id])
        );
        expect(await remoteLabStatus(s, second.id)).toBe(200);
        // Room again: the next change is written, and the user told so.
        const freedAt = performance.now();
        rmSync(filler);
        const cleared = s.events.length;
        const cancel = await s.sidecar(
          'POST',
          `/api/v1/sessions/${second.id}/cancel`
        );
        expect(cancel.status).toBe(200);
        await s.waitForEvent(
          stateProblem(
            e =>
              e.file === 'sessions' &&
              e.code === 'state-unwritable' &&
              e.problem === null
          ),
          30_000,
          cleared
        );
        const recoveryS = seconds(performance.now() - freedAt);
        expect(sessionsInFile()).toEqual(
          expect.arrayContaining([session.id, second.id])
        );
        expect(
          (await list()).stateProblems?.filter(
            p => p.code === 'state-unwritable'
          )
        ).toEqual([]);
        log(
          `disk full: told "${problem.code}: ${problem.message}"; written again ${recoveryS} s after room was made`
        );
        recordFault('state-disk-full', {
          fault:
            "the sessions state file's disk full (64 KiB tmpfs filled) while a session is launched",
          userSees: `error that stays: "${problem.message.replace(/ \(.*\): /, ' (…): ')}" (${problem.code}); the new session runs all the same; once there is room: "The sessions file is written again."`,
          recoveryS,
          lost: 'nothing (the file kept the last state written; the session launched meanwhile was written once there was room)',
          survived: recoveryS <= RECOVERY_TARGET_S
        });
      } finally {
        rmSync(filler, { force: true });
        spawnSync('umount', [stateDir]);
        rmSync(saved, { recursive: true, force: true });
      }
    });
  }
);
