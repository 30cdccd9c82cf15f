/**
 * Counting what processes hold, from /proc (Linux; this machine is both the
 * computer and the cluster): process trees, open descriptors, resident
 * memory, and the sshd session that serves one OpenSSH connection.
 */
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync, readlinkSync } from 'fs';

export interface IProc {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: pid + start names one process. */
  start: number;
  uid: number;
  /** argv joined by spaces (the kernel's comm in brackets when empty). */
  args: string;
}

/** A process's identity that survives pid reuse. */
export const procKey = (p: Pick<IProc, 'pid' | 'start'>): string =>
  `${p.pid}@${p.start}`;

function readProc(pid: number): IProc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields follow the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') {
      return null;
    }
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter(Boolean);
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return {
      pid,
      ppid: Number(rest[1]),
      start: Number(rest[19]),
      uid,
      args: argv.length ? argv.join(' ') : `[${comm}]`
    };
  } catch {
    return null; // gone meanwhile
  }
}

/** Every live process. */
export function allProcs(): IProc[] {
  return readdirSync('/proc')
    .filter(n => /^\d+$/.test(n))
    .map(n => readProc(Number(n)))
    .filter((p): p is IProc => p !== null);
}

/** The processes `roots` name and all their descendants. */
export function treeOf(roots: number[], procs = allProcs()): IProc[] {
  const children = new Map<number, IProc[]>();
  for (const p of procs) {
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  }
  const out: IProc[] = [];
  const todo = procs.filter(p => roots.includes(p.pid));
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** Open file descriptors of a process (0 once it is gone). */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

let clockTicks = 0;

/** Seconds since the process started. */
export function ageSeconds(p: Pick<IProc, 'start'>): number {
  if (!clockTicks) {
    clockTicks = Number(
      execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
    );
  }
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return uptime - p.start / clockTicks;
}

/** Resident set size in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return kb / 1024;
}

/** The process's working directory ('' when unreadable or gone). */
export function cwdOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

/** Inodes of the sockets a process holds open. */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
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

export interface ITcpSocket {
  localPort: number;
  remotePort: number;
  /** /proc/net/tcp state: '01' established, '0A' listening. */
  state: string;
  inode: string;
}

/** Every IPv4 and IPv6 TCP socket of this machine. */
export function tcpSockets(): ITcpSocket[] {
  const out: ITcpSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = readFileSync(table, 'utf8').trim().split('\n').slice(1);
    for (const row of rows) {
      const [, local, remote, state, , , , , , inode] = row.trim().split(/\s+/);
      out.push({
        localPort: parseInt(local.split(':').pop()!, 16),
        remotePort: parseInt(remote.split(':').pop()!, 16),
        state,
        inode
      });
    }
  }
  return out;
}

/**
 * The sshd process (`sshd: user@notty`) serving the TCP connection that
 * the client process `clientPid` (an OpenSSH master) made to `serverPort`,
 * and its privileged parent (`sshd: user [priv]`).
 */
export function sshdServing(
  clientPid: number,
  serverPort: number,
  procs = allProcs()
): { priv: IProc; session: IProc } | null {
  const sockets = tcpSockets();
  const mine = socketInodes(clientPid);
  const conn = sockets.find(
    s => mine.has(s.inode) && s.remotePort === serverPort && s.state === '01'
  );
  if (!conn) {
    return null;
  }
  const peer = sockets.find(
    s =>
      s.localPort === serverPort &&
      s.remotePort === conn.localPort &&
      s.state === '01'
  );
  if (!peer) {
    return null;
  }
  const holder = procs.find(
    p => p.args.startsWith('sshd:') && socketInodes(p.pid).has(peer.inode)
  );
  if (!holder) {
    return null;
  }
  // The [priv] monitor holds the socket too; the session is its child.
  const priv = holder.args.includes('[priv]')
    ? holder
    : procs.find(p => p.pid === holder.ppid);
  const session = procs.find(
    p => p.ppid === priv?.pid && p.args.startsWith('sshd:')
  );
  return priv && session ? { priv, session } : null;
}
