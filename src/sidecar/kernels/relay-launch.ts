/**
 * Relays started in the background on the login node (relay-launch.sh), the
 * default way: the launch is one command of the cluster's long-lived shell
 * (~10 ms) instead of an SSH session channel of its own (a channel, a login
 * shell: ~200 ms measured), a kernel holds no channel (sshd's MaxSessions
 * no longer caps the number of kernels), and the step outlives the
 * connection that started it, so the sidecar can link to it again after a
 * cut. The relay's frames then go only over its link (relay.py).
 *
 *     const out = await transport.run(launchCommand(relayCommand(…), 100));
 *     const { pid, dir, wait } = parseLaunch(out.stdout.toString());
 *     // wait.hello: the HELLO (with the link's token); wait.status once it ended
 */
import type { IRemoteCommand } from '../shell/remote-command';
import launchSh from './relay-launch.sh';
import type { IRelayHello } from './relay-protocol';

/** What the launcher knows of a relay it started. */
export interface IDetachedRelay {
  /** The launcher's process group on the login node. */
  pid: number;
  /** Its 0700 directory there. */
  dir: string;
}

/** What `wait` found: the HELLO, and the status once the step has ended. */
export interface IRelayWait {
  hello: IRelayHello | null;
  status: number | null;
  /** The step's stderr as kept (the first 64 KiB), once it has ended. */
  stderr: string;
  /** The directory is not there: reaped, so the relay has ended. */
  gone: boolean;
}

/** One wait step of the launcher, in 10 ms units. */
export const WAIT_STEP_MS = 10;

function script(...args: string[]): IRemoteCommand {
  return {
    argv: ['sh', '-c', launchSh, 'jlhpc-relay', ...args],
    stdinFromDevNull: true
  };
}

/**
 * Start `relay` (relayCommand's argv, run detached: `detach <linger>` is
 * added) and wait up to `waitMs` for its HELLO.
 */
export function launchCommand(
  relay: IRemoteCommand,
  lingerSeconds: number,
  waitMs: number
): IRemoteCommand {
  return script(
    'launch',
    String(Math.ceil(waitMs / WAIT_STEP_MS)),
    ...relay.argv,
    'detach',
    String(lingerSeconds)
  );
}

/** Wait up to `waitMs` more for the HELLO or the step's end. */
export function waitCommand(dir: string, waitMs: number): IRemoteCommand {
  return script('wait', dir, String(Math.ceil(waitMs / WAIT_STEP_MS)));
}

/** Signal the launcher's process group (srun passes TERM on to the relay). */
export function stopCommand(
  relay: IDetachedRelay,
  signal: 'TERM' | 'KILL'
): IRemoteCommand {
  return script('stop', relay.dir, String(relay.pid), signal);
}

/** Remove the relay's directory once its end is known. */
export function reapCommand(dir: string): IRemoteCommand {
  return script('reap', dir);
}

/** What `launch` printed; throws on output it does not recognise. */
export function parseLaunch(stdout: string): IDetachedRelay & {
  wait: IRelayWait;
} {
  const pid = /^pid (\d+)$/m.exec(stdout);
  const dir = /^dir (\/[^\n]*\/r\.[A-Za-z0-9]+)$/m.exec(stdout);
  if (!pid || !dir) {
    throw new Error(
      `the relay launcher said something unexpected: ${stdout.slice(0, 200)}`
    );
  }
  const rest = stdout.slice(dir.index + dir[0].length + 1);
  return { pid: Number(pid[1]), dir: dir[1], wait: parseWait(rest) };
}

/** What `wait` (or the end of `launch`) printed. */
export function parseWait(stdout: string): IRelayWait {
  let hello: IRelayHello | null = null;
  let status: number | null = null;
  let stderr = '';
  let gone = false;
  let at = 0;
  while (at < stdout.length) {
    const end = stdout.indexOf('\n', at);
    const line = stdout.slice(at, end < 0 ? undefined : end);
    at = end < 0 ? stdout.length : end + 1;
    if (line === 'gone') {
      gone = true;
    } else if (line.startsWith('hello ')) {
      hello = parseHello(line.slice('hello '.length));
    } else if (line.startsWith('status ')) {
      const n = Number(line.slice('status '.length));
      status = Number.isInteger(n) ? n : -1;
    } else if (line === 'stderr') {
      stderr = stdout.slice(at);
      break;
    }
  }
  return { hello, status, stderr, gone };
}

function parseHello(text: string): IRelayHello | null {
  try {
    const hello = JSON.parse(text) as IRelayHello;
    return typeof hello === 'object' &&
      hello !== null &&
      typeof hello.version === 'number'
      ? hello
      : null;
  } catch {
    return null;
  }
}
