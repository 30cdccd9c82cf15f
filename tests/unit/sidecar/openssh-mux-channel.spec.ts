/**
 * MuxChannel reads what a client of the ControlMaster (`ssh -S ctl -v`)
 * says on stderr: the child process is the boundary below, simulated here
 * with the exact lines OpenSSH 9.2's client prints.
 */
import { EventEmitter } from 'events';
import { PassThrough } from 'stream';
import type { ChildProcess } from 'child_process';

import { MuxChannel } from '../../../src/sidecar/ssh/openssh/master';

const BANNER = 'OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026\n';
const OPENED = 'debug1: mux_client_request_session: master session id: 2\n';
const REFUSED =
  'mux_client_request_session: session request failed: Session open refused by peer\n';

class FakeChild extends EventEmitter {
  stdin = new PassThrough();
  stdout = new PassThrough();
  stderr = new PassThrough();
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed: string[] = [];
  kill(signal: string): boolean {
    this.killed.push(signal);
    return true;
  }
  /** ssh exits: 'exit', then (after the pipes drained) 'close'. */
  async finish(code: number): Promise<void> {
    this.exitCode = code;
    this.emit('exit', code, null);
    await tick();
    this.emit('close', code, null);
  }
}

const tick = () => new Promise(resolve => setImmediate(resolve));

function open(child: FakeChild) {
  const channel = new MuxChannel(child as unknown as ChildProcess);
  const events: string[] = [];
  const stderr: string[] = [];
  let opened: Error | undefined | 'pending' = 'pending';
  channel.whenOpen(err => {
    opened = err;
    events.push(err ? 'refused' : 'open');
  });
  channel.on('data', (d: Buffer) => events.push(`out:${d}`));
  channel.stderr.on('data', (d: Buffer) => stderr.push(String(d)));
  channel.on('exit', (code: number | null) => events.push(`exit:${code}`));
  channel.on('close', () => events.push('close'));
  return {
    channel,
    events,
    stderr: () => stderr.join(''),
    opened: () => opened
  };
}

afterEach(() => {
  jest.useRealTimers();
});

describe('MuxChannel', () => {
  it("opens on the master session id line and drops the client's own words", async () => {
    const child = new FakeChild();
    const c = open(child);
    child.stderr.write(BANNER);
    await tick();
    expect(c.opened()).toBe('pending');
    child.stderr.write(OPENED + 'warning: from the program\n');
    child.stdout.write('hello\n');
    await tick();
    await child.finish(0);
    expect(c.events).toEqual(['open', 'out:hello\n', 'exit:0', 'close']);
    expect(c.stderr()).toBe('warning: from the program\n');
  });

  it("holds the program's stderr that came before the client's line, and passes it on after", async () => {
    const child = new FakeChild();
    const c = open(child);
    child.stderr.write(BANNER + 'Lmod: loading defaults\n');
    await tick();
    expect(c.opened()).toBe('pending');
    child.stderr.write('partial ');
    child.stderr.write('line\n' + OPENED);
    await tick();
    expect(c.opened()).toBeUndefined();
    expect(c.stderr()).toBe('Lmod: loading defaults\npartial line\n');
  });

  it('is open when the client says so only in its last words before exiting', async () => {
    const child = new FakeChild();
    const c = open(child);
    child.stderr.write(BANNER + 'oops\n');
    child.exitCode = 3;
    child.emit('exit', 3, null);
    child.stderr.write(OPENED);
    await tick();
    child.emit('close', 3, null);
    expect(c.events).toEqual(['open', 'exit:3', 'close']);
    expect(c.stderr()).toBe('oops\n');
  });

  it('gives an open refused at the session limit as an error with its reason, and ends the client', async () => {
    const child = new FakeChild();
    const c = open(child);
    child.stderr.write(BANNER + REFUSED);
    await tick();
    const err = c.opened() as Error & { reason?: number };
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('Session open refused by peer');
    expect(err.reason).toBe(2);
    expect(child.killed).toEqual(['SIGTERM']);
    await child.finish(255);
    expect(c.events).toEqual(['refused']);
  });

  it('takes output on stdout as the session being open, and still drops the late line', async () => {
    const child = new FakeChild();
    const c = open(child);
    child.stdout.write('early\n');
    await tick();
    child.stderr.write(BANNER + OPENED + 'err\n');
    await tick();
    await child.finish(0);
    expect(c.events).toEqual(['open', 'out:early\n', 'exit:0', 'close']);
    expect(c.stderr()).toBe('err\n');
  });

  it("passes on, in order and at once, the program's stderr held until a late client line", async () => {
    // Opened by stdout first; the program's stderr then comes before the
    // client's "master session id" line, and more of it after.
    const child = new FakeChild();
    const c = open(child);
    child.stdout.write('out\n');
    await tick();
    child.stderr.write(BANNER + 'err\n' + OPENED);
    await tick();
    child.stderr.write('more\n');
    await tick();
    // Not only at close: a login shell's session stays open for the next
    // command, and its frame's end marker comes after this text.
    expect(c.stderr()).toBe('err\nmore\n');
    await child.finish(0);
    expect(c.stderr()).toBe('err\nmore\n');
  });

  it('holds everything for a consumer that listens only after awaiting the open', async () => {
    const child = new FakeChild();
    const channel = new MuxChannel(child as unknown as ChildProcess);
    const opened = new Promise<void>(resolve =>
      channel.whenOpen(() => resolve())
    );
    // A quick command's output, its stderr and the open line in one read.
    child.stdout.write('early\n');
    child.stderr.write(BANNER + 'err\n' + OPENED);
    child.exitCode = 0;
    child.emit('exit', 0, null);
    await opened;
    const events: string[] = [];
    channel.on('data', (d: Buffer) => events.push(`out:${d}`));
    channel.stderr.on('data', (d: Buffer) => events.push(`err:${d}`));
    channel.on('exit', (code: number | null) => events.push(`exit:${code}`));
    channel.on('close', () => events.push('close'));
    await tick();
    child.emit('close', 0, null);
    expect(events.slice(0, 3).sort()).toEqual([
      'err:err\n',
      'exit:0',
      'out:early\n'
    ]);
    expect(events.slice(3)).toEqual(['close']);
  });

  it('fails with what the client said when it ends without a session', async () => {
    const child = new FakeChild();
    const c = open(child);
    child.stderr.write(
      'Control socket connect(/tmp/jlhpc-ssh-x/ctl): Connection refused\n'
    );
    await child.finish(255);
    const err = c.opened() as Error & { code?: string };
    expect(err.message).toBe(
      'Control socket connect(/tmp/jlhpc-ssh-x/ctl): Connection refused'
    );
    expect(err.code).toBe('connection-lost');
  });

  it('gives up on a master that never answers', async () => {
    jest.useFakeTimers();
    const child = new FakeChild();
    const c = open(child);
    jest.advanceTimersByTime(30_000);
    const err = c.opened() as Error & { code?: string };
    expect(err.code).toBe('channel-refused');
    expect(child.killed).toEqual(['SIGTERM']);
  });
});
