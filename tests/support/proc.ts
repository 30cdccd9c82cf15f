/** Facts about a live process, read from /proc (Linux only). */
import { readdirSync, readFileSync, readlinkSync } from 'fs';

export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter(Boolean);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1];
    return !state.startsWith('Z');
  } catch {
    return false;
  }
}

/** Inodes of the sockets a process holds open. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(
        readlinkSync(`/proc/${pid}/fd/${fd}`)
      );
      if (m) {
        inodes.add(m[1]);
      }
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** TCP ports (v4 and v6) on which the process listens. */
export function tcpListenPorts(pid: number): number[] {
  const mine = socketInodes(pid);
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = readFileSync(table, 'utf8').trim().split('\n').slice(1);
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = cols;
      if (state === '0A' && mine.has(inode)) {
        ports.push(parseInt(local.split(':')[1], 16));
      }
    }
  }
  return ports;
}

/** Paths of the unix sockets the process listens on. */
export function unixListenPaths(pid: number): string[] {
  const mine = socketInodes(pid);
  const rows = readFileSync('/proc/net/unix', 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  const paths: string[] = [];
  for (const row of rows) {
    const cols = row.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path; St 01 = listening
    if (cols[6] !== undefined && mine.has(cols[6]) && cols[3] === '00010000') {
      if (cols[7]) {
        paths.push(cols[7]);
      }
    }
  }
  return paths;
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) {
      return;
    }
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
