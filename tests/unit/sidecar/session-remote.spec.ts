/**
 * The session's login-node commands as argv, and watch.sh's lines read back
 * (the lines as watch.sh printed them on the demo cluster).
 */
import { spawn, spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  cancelCommand,
  logCommand,
  parseLogOutput,
  parseWatchLine,
  submitCommand,
  watchCommand,
  listCommand,
  parseSessionList,
  parseSessionMeta
} from '../../../src/sidecar/sessions/remote';

const ID = 'abcdef0123456789';

describe('commands', () => {
  it('passes every value as its own positional parameter', () => {
    const c = submitCommand(ID, '#!/bin/bash\n', '{"a":1}', [
      'sbatch',
      '--parsable',
      'job.sh'
    ]);
    expect(c.argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(c.argv.slice(3)).toEqual([
      'jlhpc-submit',
      'sessions',
      ID,
      '#!/bin/bash\n',
      '{"a":1}',
      'sbatch',
      '--parsable',
      'job.sh'
    ]);
    expect(c.argv[2]).toMatch(/^# shellcheck shell=sh/);
  });

  it('runs sbatch and nothing else', () => {
    expect(() => submitCommand(ID, '', '', ['rm', '-rf', '~'])).toThrow(
      /submitted with sbatch/
    );
  });

  it.each(['', '../x', 'ABCDEFGH', 'a b', '-rf'])('refuses id %j', id => {
    expect(() => submitCommand(id, '', '', ['sbatch'])).toThrow(/session id/);
    expect(() => watchCommand([ID, id], 10)).toThrow(/session id/);
    expect(() => watchCommand([ID], 10, [id])).toThrow(/session id/);
  });

  it('follows only the exit of sessions named after --', () => {
    expect(watchCommand([], 600, [ID]).argv.slice(3)).toEqual([
      'jlhpc-watch',
      '600',
      '--',
      ID
    ]);
  });

  it('watches for a whole number of seconds, at least one', () => {
    expect(watchCommand([ID], 0.2).argv.slice(3)).toEqual([
      'jlhpc-watch',
      '1',
      ID
    ]);
  });

  it('cancels only job ids', () => {
    expect(cancelCommand(['12', '13']).argv).toEqual(['scancel', '12', '13']);
    expect(() => cancelCommand(['12', '-u'])).toThrow(/job id/);
  });
});

describe('parseWatchLine', () => {
  it.each([
    ['watching', { kind: 'watching' }],
    [
      `started ${ID} 1796542699 vm 15`,
      { kind: 'started', id: ID, at: 1796542699000, node: 'vm', jobId: '15' }
    ],
    [
      `exit ${ID} 2 1796542701 no working directory`,
      {
        kind: 'exit',
        id: ID,
        status: 2,
        at: 1796542701000,
        why: 'no working directory'
      }
    ],
    [
      `ready ${ID} {  "base_url": "/",  "hostname": "0.0.0.0",  "password": false,  "pid": 4242,  "port": 57459,  "root_dir": "/home/hpcdemo",  "secure": false,  "sock": "",  "token": "3b9f9f45d2d38316e866001a2251da31d0c9ecaabcf151fb",  "url": "http://vm:57459/",  "version": "2.21.1"}`,
      {
        kind: 'ready',
        id: ID,
        server: {
          port: 57459,
          token: '3b9f9f45d2d38316e866001a2251da31d0c9ecaabcf151fb',
          base_url: '/',
          pid: 4242,
          version: '2.21.1'
        }
      }
    ]
  ])('%s', (line, event) => {
    expect(parseWatchLine(line)).toEqual(event);
  });

  it.each([
    '',
    'Welcome to the cluster!',
    `ready ${ID} {"port": 0, "token": "x"}`,
    `ready ${ID} {"port": 80}`,
    `ready ${ID} {"port": 8888, "tok`,
    `started ${ID} soon`,
    `exit ${ID} -1 0 x`,
    `ready ../x {"port": 8888, "token": "x"}`
  ])('ignores %j', line => {
    expect(parseWatchLine(line)).toBeNull();
  });
});

describe('the job log', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'jlhpc-log-'));
    mkdirSync(join(home, '.jupyterlab-hpc', 'sessions', ID), {
      recursive: true
    });
    writeFileSync(
      join(home, '.jupyterlab-hpc', 'sessions', ID, 'job.log'),
      'first line\nsecond ünïcode line\n'
    );
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function run(offset: number) {
    const [program, ...args] = logCommand(ID, offset).argv;
    const r = spawnSync(program, args, {
      env: { HOME: home, PATH: process.env.PATH }
    });
    return { status: r.status, out: parseLogOutput(r.stdout) };
  }

  it('returns the log from an offset, with its size', () => {
    const size = Buffer.byteLength('first line\nsecond ünïcode line\n');
    expect(run(0)).toEqual({
      status: 0,
      out: { size, text: 'first line\nsecond ünïcode line\n', bytes: size }
    });
    expect(run(11).out).toEqual({
      size,
      text: 'second ünïcode line\n',
      bytes: size - 11
    });
    expect(run(size).out).toEqual({ size, text: '', bytes: 0 });
  });

  it('leaves a character cut by the chunk for the next read', () => {
    const text = 'a€😀é';
    const all = Buffer.from(text);
    // Every cut point: the text read so far plus the rest read from `bytes`
    // on is the whole text, with no replacement character anywhere.
    for (let cut = 0; cut <= all.length; cut++) {
      const first = parseLogOutput(
        Buffer.concat([Buffer.from(`${all.length}\n`), all.subarray(0, cut)])
      )!;
      expect(first.bytes).toBeLessThanOrEqual(cut);
      expect(cut - first.bytes).toBeLessThan(4);
      const rest = all.subarray(first.bytes).toString('utf8');
      expect(first.text + rest).toBe(text);
      expect(first.text).not.toContain('\ufffd');
    }
  });

  it('counts bytes that are not UTF-8 as read, so offsets still advance', () => {
    const raw = Buffer.from([0x61, 0xff, 0x62, 0x0a]);
    const out = parseLogOutput(Buffer.concat([Buffer.from('4\n'), raw]))!;
    expect(out.bytes).toBe(4);
    expect(out.text).toBe('a\ufffdb\n');
  });

  it('fails when the log is not there', () => {
    rmSync(join(home, '.jupyterlab-hpc'), { recursive: true });
    expect(run(0).status).toBe(3);
  });

  it.each([-1, 1.5, NaN])('refuses offset %p', offset => {
    expect(() => logCommand(ID, offset)).toThrow(/offset/);
  });

  it('reads nothing from output without a size line', () => {
    expect(parseLogOutput(Buffer.from('no size'))).toBeNull();
  });
});

describe('the session list for attaching', () => {
  it('lists every session directory, or the ones named', () => {
    expect(listCommand().argv.slice(3)).toEqual(['jlhpc-list']);
    expect(listCommand([ID]).argv.slice(3)).toEqual(['jlhpc-list', ID]);
    expect(() => listCommand(['../x'])).toThrow(/session id/);
  });

  it('reads the offset and each session with what session.json says', () => {
    const meta = JSON.stringify({
      id: ID,
      origin: { host: 'laptop', sidecar: '0123456789abcdef' },
      createdAt: '2026-12-06T10:00:00.000Z',
      request: { partition: 'gpu', cpus: 2 }
    });
    const listed = parseSessionList(
      [
        '+0100',
        `session ${ID} 131 ${meta}`,
        'session abcdef0123456780 132;other {"origin":"old-host"}',
        'session abcdef0123456781 133 ',
        'session BAD-ID 134 {}',
        'session abcdef0123456782 not-a-job {}',
        ''
      ].join('\n')
    );
    expect(listed.utcOffsetMinutes).toBe(60);
    expect(listed.sessions).toEqual([
      {
        id: ID,
        jobId: '131',
        meta: {
          origin: { host: 'laptop', sidecar: '0123456789abcdef' },
          createdAt: Date.parse('2026-12-06T10:00:00.000Z'),
          request: { partition: 'gpu', cpus: 2 }
        }
      },
      {
        id: 'abcdef0123456780',
        jobId: '132',
        meta: {
          origin: { host: 'old-host', sidecar: '' },
          createdAt: null,
          request: null
        }
      },
      {
        id: 'abcdef0123456781',
        jobId: '133',
        meta: { origin: null, createdAt: null, request: null }
      }
    ]);
  });

  it('knows nothing of a damaged session.json', () => {
    expect(parseSessionMeta('{"origin": ')).toEqual({
      origin: null,
      createdAt: null,
      request: null
    });
  });
});

describe('watch.sh and its input', () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'jlhpc-watch-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  /** Run watch.sh as sh would; resolves with its exit and how long it ran. */
  function watch(
    seconds: number,
    untilInputEnds: boolean,
    endInputAfterMs: number
  ) {
    const command = watchCommand([ID], seconds, [], untilInputEnds);
    const started = Date.now();
    const child = spawn(command.argv[0], command.argv.slice(1), {
      env: { PATH: process.env.PATH, HOME: home, ...command.env },
      stdio: ['pipe', 'pipe', 'inherit']
    });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out === 'watching\n') {
        timer = setTimeout(() => child.stdin.end(), endInputAfterMs);
      }
    });
    return new Promise<{ ms: number; out: string; status: number | null }>(
      resolve =>
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          child.stdin.end();
          resolve({
            ms: Date.now() - started,
            out,
            status: code ?? (signal ? 128 : null)
          });
        })
    );
  }

  it('stops once its input ends, though it prints nothing (a closed channel)', async () => {
    const r = await watch(30, true, 200);
    expect(r.out).toBe('watching\n');
    expect(r.ms).toBeLessThan(5_000);
  });

  it('runs to its time limit while its input stays open, and then ends', async () => {
    const r = await watch(2, true, 60_000);
    expect(r.ms).toBeGreaterThanOrEqual(1_000);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.status).toBe(0);
  });

  it('ignores its input when not asked to follow it', async () => {
    const r = await watch(2, false, 0);
    expect(r.ms).toBeGreaterThanOrEqual(1_000);
    expect(r.status).toBe(0);
  });
});
