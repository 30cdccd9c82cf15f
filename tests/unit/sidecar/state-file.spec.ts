/**
 * The state file on a real file system: atomic, owner-only writes, a
 * copy of the last state written, damaged files set aside, and a full disk
 * (a 64 KiB tmpfs, mounted when the tests run as root) that loses nothing.
 */
import { spawnSync } from 'child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  StateFile,
  type IStateFileProblem
} from '../../../src/sidecar/state/json-file';

interface IState {
  sessions: string[];
}

function parse(raw: unknown): IState {
  const r = raw as IState;
  if (!r || !Array.isArray(r.sessions)) {
    throw new Error('sessions must be a list');
  }
  return { sessions: r.sessions.map(String) };
}

let dir: string;
let path: string;
const file = () =>
  new StateFile<IState>({ path, parse, empty: () => ({ sessions: [] }) });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-state-'));
  path = join(dir, 'sub', 'state.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('starts empty, then reads back what it wrote', async () => {
  expect(await file().load()).toEqual({
    state: { sessions: [] },
    report: { source: 'empty', problem: null, setAside: null }
  });
  await file().save({ sessions: ['a'] });
  expect((await file().load()).state).toEqual({ sessions: ['a'] });
});

it('writes owner-only files in an owner-only directory', async () => {
  const f = file();
  await f.save({ sessions: ['a'] });
  await f.save({ sessions: ['b'] });
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(statSync(`${path}.bak`).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
  // No temporary file is left behind.
  expect(readdirSync(join(dir, 'sub')).sort()).toEqual([
    'state.json',
    'state.json.bak'
  ]);
});

it('keeps the order of queued writes', async () => {
  const f = file();
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => f.save({ sessions: [String(i)] }))
  );
  expect((await f.load()).state).toEqual({ sessions: ['19'] });
});

it.each([
  ['truncated', '{"sessions": ["a", "b'],
  ['not JSON', '\u0000\u0000\u0000'],
  ['empty', ''],
  ['of the wrong shape', '{"sessions": 3}']
])('a file that is %s is set aside and the backup used', async (_, text) => {
  const f = file();
  await f.save({ sessions: ['old'] });
  await f.save({ sessions: ['new'] });
  // Damaged where it lies (same inode): a hand edit, `>` in a shell. The
  // copy is of the last state written, not the one before (which could
  // predate what the cluster has since, such as a forward's port).
  writeFileSync(path, text);
  const { state, report } = await f.load();
  expect(state).toEqual({ sessions: ['new'] });
  expect(report.source).toBe('backup');
  expect(report.problem).toMatch(/is damaged/);
  expect(readFileSync(report.setAside!, 'utf8')).toBe(text);
  expect(existsSync(path)).toBe(false);
});

it('starts empty, saying why, when file and backup are damaged', async () => {
  mkdirSync(join(dir, 'sub'));
  writeFileSync(path, '{');
  writeFileSync(`${path}.bak`, '{');
  const { state, report } = await file().load();
  expect(state).toEqual({ sessions: [] });
  expect(report).toMatchObject({
    source: 'empty',
    problem: expect.stringMatching(/damaged/)
  });
});

const root = process.getuid?.() === 0;
(root ? it : it.skip)(
  'loses nothing on a full disk (needs root to mount a tmpfs)',
  async () => {
    const mnt = join(dir, 'tiny');
    mkdirSync(mnt);
    const m = spawnSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      'size=64k',
      'tmpfs',
      mnt
    ]);
    if (m.status !== 0) {
      throw new Error(`mount failed: ${m.stderr}`);
    }
    try {
      path = join(mnt, 'state.json');
      const f = file();
      await f.save({ sessions: ['kept'] });
      const huge = { sessions: ['x'.repeat(200 * 1024)] };
      await expect(f.save(huge)).rejects.toThrow(/ENOSPC|no space/i);
      // The file still holds the previous state, and no partial file stays.
      expect((await f.load()).state).toEqual({ sessions: ['kept'] });
      expect(readdirSync(mnt).filter(n => n.endsWith('.tmp'))).toEqual([]);
      // Writing works again once there is room.
      await f.save({ sessions: ['after'] });
      expect((await f.load()).state).toEqual({ sessions: ['after'] });
    } finally {
      spawnSync('umount', [mnt]);
    }
  }
);

describe('what the user is told (onProblem)', () => {
  const told: (IStateFileProblem | null)[] = [];
  const telling = () =>
    new StateFile<IState>({
      path,
      parse,
      empty: () => ({ sessions: [] }),
      label: 'sessions',
      shownPath: '~/sub/state.json',
      lostHint: 'Attach them again.',
      onProblem: (_kind, p) => told.push(p)
    });
  beforeEach(() => {
    told.length = 0;
  });

  it('a damaged file whose backup was used: names the file, the damage and where it went', async () => {
    await telling().save({ sessions: ['good'] });
    await telling().save({ sessions: ['newer'] });
    writeFileSync(path, '{"sessions": ["ha');
    const f = telling();
    const { state, report } = await f.load();
    expect(state).toEqual({ sessions: ['newer'] });
    expect(told).toHaveLength(1);
    expect(told[0]).toEqual({
      kind: 'damaged',
      message: expect.stringMatching(
        /^The sessions file ~\/sub\/state\.json was damaged \(.+\): it was set aside as state\.json\.bad-[^,]+, and its last good copy was used\.$/
      )
    });
    expect(told[0]!.message).toContain(report.setAside!.split('/').pop()!);
    expect(f.problem).toEqual(told[0]);
  });

  it('a damaged file with no good copy: says so, with the hint', async () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(path, 'garbage \u0000\u0001');
    await telling().load();
    expect(told[0]?.kind).toBe('damaged');
    expect(told[0]?.message).toMatch(
      /no good copy of it was left: .*\. Attach them again\.$/
    );
  });

  it('writes that fail: told once, with the cause; told again when they work', async () => {
    const f = telling();
    await f.save({ sessions: ['kept'] });
    // The directory replaced by a file: every write fails (ENOTDIR).
    rmSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub'), '');
    await expect(f.save({ sessions: ['a'] })).rejects.toThrow();
    await expect(f.save({ sessions: ['b'] })).rejects.toThrow();
    await f.flush();
    expect(told).toEqual([
      {
        kind: 'unwritable',
        message: expect.stringMatching(
          /^The sessions file ~\/sub\/state\.json cannot be written \(.*E(NOTDIR|EXIST).*\): it keeps the last state written/
        )
      }
    ]);
    expect(f.problem?.kind).toBe('unwritable');
    rmSync(join(dir, 'sub'));
    await f.save({ sessions: ['c'] });
    await f.flush();
    expect(told).toHaveLength(2);
    expect(told[1]).toBeNull();
    expect(f.problem).toBeNull();
  });
});
