/*
 * Streamed command output (ICommandOptions.onOutput): the parser passes on a
 * command's own output as it comes, holding back only what may be the start
 * of a marker; the local transport streams real processes and, when stopped,
 * answers only once their process group is gone. The SSH side is covered by
 * tests/integration/install-tasks.test.ts against the demo cluster's sshd.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  buildScript,
  FramedOutputParser
} from '../../../src/sidecar/shell/remote-command';
import { SidecarError } from '../../../src/sidecar/errors';
import { LocalTransport } from '../../../src/sidecar/transport/local';

const N1 = '0123456789abcdef0123456789abcdef';
const begin = (nonce: string) => `##jlhpc:${nonce}:begin\n`;
const end = (nonce: string, status: number) =>
  `##jlhpc:${nonce}:end:${status}\n`;

function streamingParser(): {
  parser: FramedOutputParser;
  seen: { stdout: string; stderr: string };
} {
  const seen = { stdout: '', stderr: '' };
  const parser = new FramedOutputParser({
    maxOutputBytes: 8,
    onOutput: (stream, chunk) => (seen[stream] += chunk.toString('latin1'))
  });
  parser.expect({ nonce: N1 });
  return { parser, seen };
}

describe('FramedOutputParser onOutput', () => {
  const body = 'line one\n#not a marker ##jl\nlast ##jlhpc';
  const stdout = Buffer.from(`motd\n${begin(N1)}${body}${end(N1, 3)}`);
  const stderr = Buffer.from(`login noise\n${begin(N1)}oops\n${end(N1, 3)}`);

  it.each([1, 2, 3, 5, 7, 11, 64, 1000])(
    'passes on exactly the body, whatever the chunk size (%p)',
    size => {
      const { parser, seen } = streamingParser();
      const done = [];
      for (let i = 0; i < Math.max(stdout.length, stderr.length); i += size) {
        done.push(...parser.pushStdout(stdout.subarray(i, i + size)));
        done.push(...parser.pushStderr(stderr.subarray(i, i + size)));
      }
      expect(seen).toEqual({ stdout: body, stderr: 'oops\n' });
      // The collected result still has its limit; the stream has none.
      expect(done).toHaveLength(1);
      expect(done[0].stdout.toString()).toBe(body.slice(0, 8));
      expect(done[0].stdoutTruncated).toBe(true);
      expect(done[0].exitCode).toBe(3);
    }
  );

  it('holds back nothing that cannot start a marker', () => {
    const { parser, seen } = streamingParser();
    parser.pushStdout(Buffer.from(`${begin(N1)}Unpacking payload ...\n`));
    expect(seen.stdout).toBe('Unpacking payload ...\n');
    parser.pushStdout(Buffer.from('50% ##jlh'));
    expect(seen.stdout).toBe('Unpacking payload ...\n50% ');
    parser.pushStdout(Buffer.from('x\n'));
    expect(seen.stdout).toBe('Unpacking payload ...\n50% ##jlhx\n');
  });

  it('passes on what came instead of the command when it never began', () => {
    const { parser, seen } = streamingParser();
    parser.pushStderr(Buffer.from('bash: /nope: No such file'));
    expect(seen.stderr).toBe('');
    const [result] = parser.finish(127);
    expect(seen.stderr).toBe('bash: /n');
    expect(result.stderr.toString()).toBe('bash: /n');
  });
});

describe('LocalTransport with onOutput', () => {
  let work: string;
  let home: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'jlhpc-stream-'));
    home = join(work, 'home');
    mkdirSync(home);
    writeFileSync(join(home, '.profile'), 'echo "noise from .profile"\n');
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const transport = (killGraceMs?: number) =>
    new LocalTransport({ env: { HOME: home, SHELL: '/bin/sh' }, killGraceMs });

  it('streams output while the command runs, without the login noise', async () => {
    const chunks: { stream: string; text: string; at: number }[] = [];
    const started = Date.now();
    const out = await transport().run(
      {
        argv: ['sh', '-c', 'echo first; sleep 0.5; echo second >&2; echo ü✓']
      },
      {
        onOutput: (stream, chunk) =>
          chunks.push({ stream, text: chunk.toString(), at: Date.now() })
      }
    );
    const ended = Date.now();
    expect(out.exitCode).toBe(0);
    expect(chunks.map(c => c.text).join('')).toBe('first\nsecond\nü✓\n');
    expect(chunks.every(c => !c.text.includes('noise'))).toBe(true);
    expect(chunks[0]).toMatchObject({ stream: 'stdout', text: 'first\n' });
    // The first line came long before the end.
    expect(chunks[0].at - started).toBeLessThan(ended - started - 300);
    expect(out.stdout.toString()).toBe('first\nü✓\n');
  });

  it('answers a stop only once the whole process group is gone', async () => {
    const pidFile = join(work, 'stubborn.pid');
    const controller = new AbortController();
    const lines: string[] = [];
    // The child ignores SIGTERM: only the SIGKILL after the grace ends it.
    const running = transport(400).run(
      {
        argv: [
          'sh',
          '-c',
          'trap "" TERM; sleep 100 & echo $! > "$1"; echo started; wait',
          'sh',
          pidFile
        ]
      },
      {
        signal: controller.signal,
        onOutput: (_stream, chunk) => lines.push(chunk.toString())
      }
    );
    const deadline = Date.now() + 5000;
    while (!lines.join('').includes('started') && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 20));
    }
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const aborted = Date.now();
    controller.abort();
    const error = await running.then(
      () => null,
      (err: unknown) => err
    );
    expect(error).toBeInstanceOf(SidecarError);
    expect((error as SidecarError).code).toBe('command-timeout');
    expect(Date.now() - aborted).toBeGreaterThanOrEqual(400);
    expect(isAlive(pid)).toBe(false);
  });
});

describe('buildScript stdinFromDevNull', () => {
  it('gives the program /dev/null as input', () => {
    expect(
      buildScript({ argv: ['cat'], stdinFromDevNull: true })
        .split('\n')
        .pop()
    ).toBe("exec 'cat' </dev/null");
    expect(
      buildScript({ argv: ['cat'] })
        .split('\n')
        .pop()
    ).toBe("exec 'cat'");
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
