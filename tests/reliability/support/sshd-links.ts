/**
 * The SSH connections of a process tree and the sshd processes on the other
 * end of each, read from `ss` (both ends are on this machine: the demo
 * cluster's sshd listens on 127.0.0.1), so that a test can cut exactly the
 * connection of the sidecar it started and leave everyone else's alone.
 */
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid …: comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

interface ISocket {
  local: string;
  peer: string;
  pids: number[];
}

function establishedTo(port: number): ISocket[] {
  const text = execFileSync(
    'ss',
    [
      '-tnpH',
      'state',
      'established',
      `( sport = :${port} or dport = :${port} )`
    ],
    { encoding: 'utf8' }
  );
  return text
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [, , local, peer, ...rest] = line.trim().split(/\s+/);
      const pids = [...rest.join(' ').matchAll(/pid=(\d+)/g)].map(m =>
        Number(m[1])
      );
      return { local, peer, pids };
    });
}

/**
 * The sshd processes (the privileged monitor and the user's process) serving
 * the connections that processes of `clientTree` hold to `sshdPort`.
 */
export function sshdServing(clientTree: number[], sshdPort: number): number[] {
  const sockets = establishedTo(sshdPort);
  const mine = new Set(clientTree);
  const clientEnds = sockets
    .filter(
      s => s.peer.endsWith(`:${sshdPort}`) && s.pids.some(p => mine.has(p))
    )
    .map(s => s.local);
  return sockets
    .filter(
      s => s.local.endsWith(`:${sshdPort}`) && clientEnds.includes(s.peer)
    )
    .flatMap(s => s.pids);
}

/** SIGKILL the sshd processes serving `clientTree`'s connections; their pids. */
export function killSshdServing(
  clientTree: number[],
  sshdPort: number
): number[] {
  const pids = sshdServing(clientTree, sshdPort);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone (the monitor takes its child with it)
    }
  }
  return pids;
}
