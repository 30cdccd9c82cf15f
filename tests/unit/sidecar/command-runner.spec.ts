/**
 * SshCommandRunner over an OpenSSH ControlMaster's channels (MuxChannel):
 * the `ssh -S ctl` client processes are the boundary, simulated with what
 * OpenSSH 9.2's client prints. A quick command's whole output can reach us
 * in the same read as the client's "master session id" line, before the
 * runner (which awaits the open) has attached its listeners. ssh2's
 * channels (streams) are simulated the same way: ssh2 emits 'exit' as it
 * reads it, possibly in the same read as the open.
 */
import { randomBytes } from 'crypto';
import { EventEmitter } from 'events';
import { Duplex, PassThrough } from 'stream';
import type { ChildProcess } from 'child_process';

import { DEFAULT_MAX_OUTPUT_BYTES } from '../../../src/sidecar/shell/remote-command';
import { SshCommandRunner } from '../../../src/sidecar/ssh/command-runner';
import type {
  IExecChannel,
  IExecClient
} from '../../../src/sidecar/ssh/exec-client';
import { MuxChannel } from '../../../src/sidecar/ssh/openssh/master';
import { SessionLimiter } from '../../../src/sidecar/ssh/session-limiter';

const BANNER = 'OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026\n';
const OPENED = 'debug1: mux_client_request_session: master session id: 2\n';

class FakeSsh extends EventEmitter {
  stdin = new PassThrough();
  stdout = new PassThrough();
  stderr = new PassThrough();
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  kill(): boolean {
    this.exitCode = 255;
    this.emit('exit', 255, null);
    this.emit('close', 255, null);
    return true;
  }
}

/** The command a one-shot exec or a frame runs: its begin marker's nonce and argv[0]. */
function parse(text: string): { nonce: string; argv0: string } {
  // A one-shot command's script is octal-escaped (remote-command.ts).
  const script = text.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8))
  );
  return {
    nonce: /'([0-9a-f]{32})'/.exec(script)![1],
    argv0: [...script.matchAll(/\nexec '?([a-z]+)/g)].pop()![1]
  };
}
const begin = (nonce: string) => `##jlhpc:${nonce}:begin\n`;
const end = (nonce: string, status: number) =>
  `##jlhpc:${nonce}:end:${status}\n`;

/**
 * The master's clients. The session shell answers each frame with `say`
 * (its argv[0] in the frame); a one-shot command writes everything, stdout
 * first, in one go with the client's open line, then exits.
 */
class FakeMaster implements IExecClient {
  constructor(private readonly _say: (argv0: string) => string) {}

  exec(
    command: string,
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): void {
    const child = new FakeSsh();
    const channel = new MuxChannel(child as unknown as ChildProcess);
    channel.whenOpen(err => callback(err, channel));
    if (command.includes(' session')) {
      child.stderr.write(BANNER + OPENED);
      child.stdin.on('data', (frame: Buffer) => {
        const { nonce, argv0 } = parse(frame.toString());
        child.stdout.write(begin(nonce) + this._say(argv0) + end(nonce, 0));
        child.stderr.write(begin(nonce) + end(nonce, 0));
      });
      return;
    }
    const { nonce, argv0 } = parse(command);
    child.stdout.write(begin(nonce) + this._say(argv0));
    child.stderr.write(BANNER + begin(nonce) + 'note\n' + OPENED);
    child.exitCode = 0;
    setImmediate(() => {
      child.emit('exit', 0, null);
      setImmediate(() => child.emit('close', 0, null));
    });
  }
}

const say = (argv0: string) =>
  ({ id: 'hpcdemo\n', date: '+0000\n', echo: 'x\n', true: '' })[argv0] ?? '?';

describe('SshCommandRunner over OpenSSH', () => {
  it('returns the output of commands run at once on a fresh connection', async () => {
    const runner = new SshCommandRunner(
      new FakeMaster(say),
      new SessionLimiter(),
      'hpc-demo'
    );
    const outs = await Promise.all(
      [['id', '-un'], ['date', '+%z'], ['true'], ['echo', 'x']].map(argv =>
        runner.run({ argv })
      )
    );
    expect(outs.map(o => o.stdout.toString())).toEqual([
      'hpcdemo\n',
      '+0000\n',
      '',
      'x\n'
    ]);
    expect(outs.map(o => o.exitCode)).toEqual([0, 0, 0, 0]);
    // The program's stderr that came before the open line is kept too.
    expect(outs.slice(1).map(o => o.stderr.toString())).toEqual([
      'note\n',
      'note\n',
      'note\n'
    ]);
  });
});

/** An ssh2 channel: a stream, with stderr a stream of its own. */
class Ssh2LikeChannel extends PassThrough {
  stderr = new PassThrough();
  signal(_name: string): void {
    return;
  }
  close(): void {
    return;
  }
}

/**
 * ssh2 reading the open confirmation, the output, the exit status and the
 * close of a quick command all in one go.
 */
class Ssh2LikeClient implements IExecClient {
  exec(
    command: string,
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): void {
    const channel = new Ssh2LikeChannel();
    const { nonce } = parse(command);
    callback(undefined, channel);
    channel.push(begin(nonce) + 'out\n');
    channel.stderr.push(begin(nonce) + 'err\n');
    channel.emit('exit', 3);
    channel.push(null);
    channel.stderr.push(null);
    channel.on('end', () => setImmediate(() => channel.emit('close')));
  }
}

describe('SshCommandRunner over ssh2', () => {
  it('keeps the exit status of a command on an exec channel of its own', async () => {
    const runner = new SshCommandRunner(
      new Ssh2LikeClient(),
      new SessionLimiter(),
      'hpc-demo'
    );
    // More output than the session keeps: an exec channel.
    const out = await runner.run(
      { argv: ['sh', '-c', 'exit 3'] },
      { maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES + 1 }
    );
    expect(out.stdout.toString()).toBe('out\n');
    expect(out.stderr.toString()).toBe('err\n');
    expect(out.exitCode).toBe(3);
  });

  it('keeps the exit status of a streamed command', async () => {
    const runner = new SshCommandRunner(
      new Ssh2LikeClient(),
      new SessionLimiter(),
      'hpc-demo'
    );
    const seen: string[] = [];
    const out = await runner.run(
      { argv: ['sh', '-c', 'exit 3'] },
      { onOutput: (stream, chunk) => seen.push(`${stream}:${chunk}`) }
    );
    expect(seen.sort()).toEqual(['stderr:err\n', 'stdout:out\n']);
    expect(out.exitCode).toBe(3);
  });
});

/**
 * A streamed command that echoes its input (`cat`): over ssh2 a Duplex
 * channel with a small buffer (so writes see backpressure), over OpenSSH the
 * master's client process. Its end of input ends the command.
 */
class EchoSsh2Channel extends Duplex {
  stderr = new PassThrough();
  writes = 0;
  constructor(nonce: string) {
    super({ writableHighWaterMark: 1024 });
    // A one-shot command prints begin markers only; its exit status ends it.
    this.push(begin(nonce));
    this.stderr.push(begin(nonce));
  }
  _read(): void {
    return;
  }
  _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.writes++;
    this.push(chunk);
    // A slow peer: the buffer fills, and 'drain' comes later.
    setImmediate(done);
  }
  _final(done: () => void): void {
    this.emit('exit', 0);
    this.push(null);
    this.stderr.push(null);
    this.on('end', () => setImmediate(() => this.emit('close')));
    done();
  }
  signal(): void {
    return;
  }
  close(): void {
    return;
  }
}

class EchoClient implements IExecClient {
  channels: EchoSsh2Channel[] = [];
  commands: string[] = [];
  constructor(private readonly _kind: 'ssh2' | 'openssh') {}
  exec(
    command: string,
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): void {
    this.commands.push(command);
    const { nonce } = parse(command);
    if (this._kind === 'ssh2') {
      const channel = new EchoSsh2Channel(nonce);
      this.channels.push(channel);
      callback(undefined, channel);
      return;
    }
    const child = new FakeSsh();
    const channel = new MuxChannel(child as unknown as ChildProcess);
    channel.whenOpen(err => callback(err, channel));
    child.stderr.write(BANNER + OPENED + begin(nonce));
    child.stdout.write(begin(nonce));
    child.stdin.on('data', (chunk: Buffer) => child.stdout.write(chunk));
    child.stdin.on('end', () => {
      child.stdout.end();
      child.stderr.end();
      child.exitCode = 0;
      setImmediate(() => {
        child.emit('exit', 0, null);
        setImmediate(() => child.emit('close', 0, null));
      });
    });
  }
}

describe.each(['ssh2', 'openssh'] as const)(
  'SshCommandRunner input over %s',
  kind => {
    it('pipes the input to the command, binary and in order, and ends it', async () => {
      const client = new EchoClient(kind);
      const runner = new SshCommandRunner(
        client,
        new SessionLimiter(),
        'hpc-demo'
      );
      const input = new PassThrough();
      const chunks: Buffer[] = [];
      const sent: Buffer[] = [];
      const running = runner.run(
        { argv: ['cat'] },
        {
          stdin: input,
          onOutput: (stream, chunk) => {
            if (stream === 'stdout') {
              chunks.push(chunk);
            }
          }
        }
      );
      for (let i = 0; i < 64; i++) {
        const piece = randomBytes(4096 + i);
        piece[0] = 0x23; // '#': nothing in the input is a marker
        sent.push(piece);
        input.write(piece);
      }
      input.end();
      const out = await running;
      expect(out.exitCode).toBe(0);
      expect(Buffer.concat(chunks).equals(Buffer.concat(sent))).toBe(true);
      // The command reads the channel, not /dev/null.
      const script = client.commands[0].replace(
        /\\([0-7]{3})/g,
        (_, octal: string) => String.fromCharCode(parseInt(octal, 8))
      );
      expect(script).toContain("\nexec 'cat'");
      expect(script).not.toContain("exec 'cat' </dev/null");
      if (kind === 'ssh2') {
        expect(client.channels[0].writes).toBeGreaterThan(1);
      }
    });
  }
);

/**
 * A quiet long-running command (watch.sh waiting for records) whose channel
 * opens only when the test says so. Over ssh2 a TERM signal request ends
 * it; over OpenSSH (no signal requests) the runner's sweep by tag, sent on
 * the shared session, does.
 */
class QuietClient implements IExecClient {
  opening: (() => void)[] = [];
  signals: string[] = [];
  running = 0;
  private readonly _byTag = new Map<string, () => void>();
  constructor(private readonly _kind: 'ssh2' | 'openssh') {}

  exec(
    command: string,
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): void {
    if (command.includes(' session')) {
      this._session(callback);
      return;
    }
    const tag = /JLHPC_RUN=([0-9a-f]{32})/.exec(command)![1];
    const { nonce } = parse(command);
    if (this._kind === 'ssh2') {
      const channel = new Ssh2LikeChannel();
      const end = () => {
        this.running--;
        channel.emit('exit', null, 'TERM');
        channel.push(null);
        channel.stderr.push(null);
        channel.on('end', () => setImmediate(() => channel.emit('close')));
      };
      channel.signal = (name: string) => {
        this.signals.push(name);
        end();
      };
      this.opening.push(() => {
        this.running++;
        callback(undefined, channel);
        channel.push(begin(nonce));
      });
      return;
    }
    const child = new FakeSsh();
    const channel = new MuxChannel(child as unknown as ChildProcess);
    channel.whenOpen(err => callback(err, channel));
    this._byTag.set(tag, () => {
      this.running--;
      child.exitCode = 143;
      child.emit('exit', 143, null);
      child.emit('close', 143, null);
    });
    this.opening.push(() => {
      this.running++;
      child.stderr.write(BANNER + OPENED);
      child.stdout.write(begin(nonce));
    });
  }

  private _session(
    callback: (err: Error | undefined, channel: IExecChannel) => void
  ): void {
    const child = new FakeSsh();
    const channel = new MuxChannel(child as unknown as ChildProcess);
    channel.whenOpen(err => callback(err, channel));
    child.stderr.write(BANNER + OPENED);
    child.stdin.on('data', (frame: Buffer) => {
      const text = frame.toString();
      const nonce = /'([0-9a-f]{32})'/.exec(text)![1];
      for (const [, tag] of text.matchAll(/JLHPC_RUN=([0-9a-f]{32})/g)) {
        this._byTag.get(tag)?.();
        this._byTag.delete(tag);
      }
      child.stdout.write(begin(nonce) + end(nonce, 0));
      child.stderr.write(begin(nonce) + end(nonce, 0));
    });
  }
}

describe.each(['ssh2', 'openssh'] as const)(
  'SshCommandRunner stopping a streamed command over %s',
  kind => {
    it.each(['once it runs', 'while its channel opens'])(
      'ends the command and frees its slot when aborted %s',
      async when => {
        const client = new QuietClient(kind);
        const limiter = new SessionLimiter();
        const runner = new SshCommandRunner(client, limiter, 'hpc-demo');
        const abort = new AbortController();
        const outcome = runner
          .run(
            { argv: ['sh', '-c', 'sleep 600'] },
            { signal: abort.signal, onOutput: () => undefined }
          )
          .then(
            () => 'resolved',
            (err: { code?: string }) => err.code
          );
        await new Promise(r => setImmediate(r));
        expect(client.opening).toHaveLength(1);
        if (when === 'once it runs') {
          client.opening[0]();
          await new Promise(r => setImmediate(r));
          abort.abort();
        } else {
          abort.abort();
          client.opening[0]();
        }
        expect(await outcome).toBe('command-timeout');
        expect(client.running).toBe(0);
        if (kind === 'ssh2') {
          expect(client.signals).toEqual(['TERM']);
        }
        // Its slot is free again: only the shared session, opened for the
        // sweep by tag, holds one.
        expect(limiter.active).toBe(1);
      },
      10_000
    );
  }
);

describe('SshCommandRunner onStart', () => {
  it('is called once the command has its channel, not while it waits for one', async () => {
    const client = new QuietClient('ssh2');
    const limiter = new SessionLimiter(1);
    const runner = new SshCommandRunner(client, limiter, 'hpc-demo');
    const release = await limiter.acquire();
    const abort = new AbortController();
    let started = 0;
    const outcome = runner
      .run(
        { argv: ['sh', '-c', 'sleep 600'] },
        {
          signal: abort.signal,
          onOutput: () => undefined,
          onStart: () => started++
        }
      )
      .catch(() => undefined);
    await new Promise(r => setImmediate(r));
    expect(client.opening).toHaveLength(0);
    release();
    await new Promise(r => setImmediate(r));
    expect(started).toBe(0);
    client.opening[0]();
    await new Promise(r => setImmediate(r));
    expect(started).toBe(1);
    abort.abort();
    await outcome;
  });
});
