/*
 * TaskManager: events in order, output gapless and bounded, finished tasks
 * forgotten after a while, errors as codes, cancel that really stops. Real
 * processes through the LocalTransport where a command runs; a transport of
 * the test's own only where a byte-exact chunking must be forced.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type {
  ITask,
  ITaskOutputEvent,
  SidecarEvent
} from '../../../src/common/api';
import type { ICommandOutput } from '../../../src/sidecar/shell/remote-command';
import {
  displayCommand,
  lastLine,
  TaskManager
} from '../../../src/sidecar/tasks/manager';
import { SidecarError } from '../../../src/sidecar/errors';
import { LocalTransport } from '../../../src/sidecar/transport/local';
import type { ITransport } from '../../../src/sidecar/transport/types';

let work: string;
let local: LocalTransport;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-tasks-'));
  mkdirSync(join(work, 'home'));
  local = new LocalTransport({
    env: { HOME: join(work, 'home'), SHELL: '/bin/sh' },
    killGraceMs: 500
  });
});

afterAll(async () => {
  await local.close();
  rmSync(work, { recursive: true, force: true });
});

function manager(options: { maxOutputChars?: number; keep?: number } = {}) {
  const events: SidecarEvent[] = [];
  const tasks = new TaskManager({
    broadcast: e => events.push(e),
    maxOutputChars: options.maxOutputChars,
    keepFinished: options.keep,
    outputFlushMs: 10
  });
  return { tasks, events };
}

/** The events of one task, as compact strings: "task running Step", "out …". */
function timeline(events: SidecarEvent[], id: string): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.type === 'task' && e.task.id === id) {
      out.push(`task ${e.task.state} ${e.task.step}`);
    } else if (e.type === 'task-output' && e.id === id) {
      out.push(`out ${e.text}`);
    }
  }
  return out;
}

function streamed(events: SidecarEvent[], id: string): string {
  let text = '';
  for (const e of events) {
    if (e.type === 'task-output' && e.id === id) {
      expect((e as ITaskOutputEvent).offset).toBe(text.length);
      text += e.text;
    }
  }
  return text;
}

describe('TaskManager', () => {
  it('sends the output written before a step change before the change', async () => {
    const { tasks, events } = manager();
    const task = tasks.start({
      kind: 'install-ipykernel',
      target: 'demo',
      title: 'Install',
      prefix: null,
      step: 'One',
      run: async t => {
        t.write('a');
        t.write('b\n');
        t.step('Two');
        t.write('c\n');
        await new Promise(r => setTimeout(r, 30));
        t.write('d\n');
      }
    });
    expect(task).toMatchObject({ state: 'running', step: 'One' });
    const done = await tasks.settled(task.id);
    expect(done).toMatchObject({
      state: 'succeeded',
      error: null,
      output: 'ab\nc\nd\n',
      outputOffset: 0,
      outputLength: 7
    });
    expect(done.endedAt).not.toBeNull();
    expect(timeline(events, task.id)).toEqual([
      'task running One',
      'out ab\n',
      'task running Two',
      'out c\n',
      'out d\n',
      'task succeeded Two'
    ]);
  });

  it('keeps the last maxOutputChars of the output and says where they start', async () => {
    const { tasks, events } = manager({ maxOutputChars: 100 });
    const lines = Array.from({ length: 300 }, (_, i) => `${i}\n`);
    const task = tasks.start({
      kind: 'install-miniforge',
      target: 'demo',
      title: 'Chatty',
      prefix: null,
      step: 'Talking',
      run: async t => {
        for (const line of lines) {
          t.write(line);
        }
      }
    });
    const done = await tasks.settled(task.id);
    const whole = lines.join('');
    expect(done.outputLength).toBe(whole.length);
    expect(done.output!.length).toBeLessThanOrEqual(125);
    expect(done.output!.length).toBeGreaterThanOrEqual(100);
    expect(done.outputOffset).toBe(whole.length - done.output!.length);
    expect(whole.endsWith(done.output!)).toBe(true);
    // The events still carried everything, in order.
    expect(streamed(events, task.id)).toBe(whole);
    // Listing never carries output.
    expect(tasks.list()[0].output).toBeUndefined();
  });

  it('keeps every running task and only the last finished ones', async () => {
    const { tasks } = manager({ keep: 2 });
    let release = (): void => undefined;
    const blocked = new Promise<void>(r => (release = r));
    const long = tasks.start({
      kind: 'install-miniforge',
      target: 'demo',
      title: 'Long',
      prefix: null,
      step: 'Waiting',
      run: () => blocked
    });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const t = tasks.start({
        kind: 'install-ipykernel',
        target: 'demo',
        title: `Quick ${i}`,
        prefix: null,
        step: 'Quick',
        run: async () => undefined
      });
      await tasks.settled(t.id);
      ids.push(t.id);
    }
    expect(tasks.list().map(t => t.title)).toEqual([
      'Long',
      'Quick 2',
      'Quick 3'
    ]);
    expect(() => tasks.get(ids[0])).toThrow(
      expect.objectContaining({ code: 'task-not-found' })
    );
    expect(tasks.findRunning('install-miniforge', 'demo')?.id).toBe(long.id);
    expect(tasks.findRunning('install-miniforge', 'other')).toBeNull();
    release();
    await tasks.settled(long.id);
    // Oldest first: Quick 2 ended before the others and is forgotten.
    expect(tasks.list().map(t => t.title)).toEqual(['Long', 'Quick 3']);
  });

  it.each([
    [
      new SidecarError('conda-exists', '/x exists.'),
      'conda-exists',
      '/x exists.'
    ],
    [new Error('boom'), 'task-failed', 'The task failed: boom']
  ])('reports %p as %s', async (thrown, code, message) => {
    const { tasks } = manager();
    const task = tasks.start({
      kind: 'install-ipykernel',
      target: 'demo',
      title: 'Fails',
      prefix: null,
      step: 'Failing',
      run: async () => {
        throw thrown;
      }
    });
    const done = await tasks.settled(task.id);
    expect(done.state).toBe('failed');
    expect(done.error).toEqual({ code, message });
    expect(done.output).toBe(`\n${message}\n`);
  });

  it('runs commands with their output streamed, and fails on a non-zero status with the last line said', async () => {
    const { tasks, events } = manager();
    const task = tasks.start({
      kind: 'install-ipykernel',
      target: ':local',
      title: 'Commands',
      prefix: null,
      step: 'Installing',
      run: async t => {
        await t.run(local, {
          argv: ['sh', '-c', 'echo "it\'s fine"; echo ü']
        });
        await t.run(local, {
          argv: [
            'sh',
            '-c',
            'echo progress; printf "50%%\\r100%%\\nERROR: no space left\\n" >&2; exit 3'
          ]
        });
        t.write('never');
      }
    });
    const done = await tasks.settled(task.id);
    expect(done.state).toBe('failed');
    expect(done.error).toEqual({
      code: 'task-failed',
      message:
        'Installing failed: sh exited with status 3: ERROR: no space left'
    });
    expect(done.output).toContain(
      `$ sh -c 'echo "it'\\''s fine"; echo ü'\nit's fine\nü\n`
    );
    expect(done.output).toContain('progress\n');
    expect(done.output).not.toContain('never');
    expect(streamed(events, task.id)).toBe(done.output);
  });

  it('decodes a character split between chunks', async () => {
    const bytes = Buffer.from('ü✓\n');
    const chunked: ITransport = {
      kind: 'local',
      run: async (_command, options) => {
        for (let i = 0; i < bytes.length; i++) {
          options!.onOutput!('stdout', bytes.subarray(i, i + 1));
        }
        return { exitCode: 0 } as ICommandOutput;
      },
      openStream: () => Promise.reject(new Error('unused')),
      close: async () => undefined
    };
    const { tasks } = manager();
    const task = tasks.start({
      kind: 'install-ipykernel',
      target: 'demo',
      title: 'Split',
      prefix: null,
      step: 'Split',
      run: async t => {
        await t.run(chunked, { argv: ['x'] }, { display: 'shown' });
      }
    });
    expect((await tasks.settled(task.id)).output).toBe('$ shown\nü✓\n');
  });

  it('cancels: the command and what it started are stopped, then the clean-up runs', async () => {
    const { tasks } = manager();
    const pidFile = join(work, 'sleep.pid');
    let cleanedUp = false;
    const task = tasks.start({
      kind: 'install-miniforge',
      target: ':local',
      title: 'Cancel me',
      prefix: null,
      step: 'Sleeping',
      run: async t => {
        try {
          await t.run(local, {
            argv: [
              'sh',
              '-c',
              'sleep 100 & echo $! > "$1"; echo ready; wait',
              'sh',
              pidFile
            ]
          });
        } finally {
          cleanedUp = true;
        }
      }
    });
    const deadline = Date.now() + 5000;
    // "\nready\n" is the command's; the `$ sh -c …` line has "echo ready;".
    while (!tasks.get(task.id).output!.includes('\nready\n')) {
      if (Date.now() > deadline) {
        throw new Error('the command did not start');
      }
      await new Promise(r => setTimeout(r, 20));
    }
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const cancelled: ITask = await tasks.cancel(task.id);
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.error).toEqual({
      code: 'task-cancelled',
      message: 'Cancelled.'
    });
    expect(cleanedUp).toBe(true);
    expect(isAlive(pid)).toBe(false);
    // Again: nothing changes.
    expect((await tasks.cancel(task.id)).state).toBe('cancelled');
  });

  it('refuses new tasks once closed, and close cancels running ones', async () => {
    const { tasks } = manager();
    const task = tasks.start({
      kind: 'install-ipykernel',
      target: 'demo',
      title: 'Waits',
      prefix: null,
      step: 'Waiting',
      run: t =>
        new Promise((_resolve, reject) =>
          t.signal.addEventListener('abort', () => reject(new Error('x')))
        )
    });
    await tasks.close();
    expect(tasks.get(task.id).state).toBe('cancelled');
    expect(() =>
      tasks.start({
        kind: 'install-ipykernel',
        target: 'demo',
        title: 'Late',
        prefix: null,
        step: 'Late',
        run: async () => undefined
      })
    ).toThrow(expect.objectContaining({ code: 'disconnected' }));
  });

  it('answers task-not-found for an unknown id', async () => {
    const { tasks } = manager();
    expect(() => tasks.get('t-nope')).toThrow(
      expect.objectContaining({ code: 'task-not-found' })
    );
    await expect(tasks.cancel('t-nope')).rejects.toMatchObject({
      code: 'task-not-found'
    });
  });
});

describe('lastLine and displayCommand', () => {
  it.each([
    ['', ''],
    ['a\nb\n\n', 'b'],
    ['  0%\r 50%\r100%  \n', '100%'],
    ['x\n\r\n', 'x']
  ])('lastLine(%j) is %j', (text, line) => {
    expect(lastLine(text)).toBe(line);
  });

  it('quotes what a shell would need quoted, to copy and paste', () => {
    expect(displayCommand(['/usr/bin/curl', '-o', '/tmp/a b', "it's"])).toBe(
      "/usr/bin/curl -o '/tmp/a b' 'it'\\''s'"
    );
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}
