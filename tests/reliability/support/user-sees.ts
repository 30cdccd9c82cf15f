/**
 * What the panel shows during a fault, from the sidecar's events (the panel
 * renders exactly these): the cluster's connection state with its message,
 * and a session's phase and local port, each change once, in order.
 */
import type { SidecarEvent } from '../../../src/common/api';

export function userSees(
  events: SidecarEvent[],
  from: number,
  sessionId?: string
): string {
  const seen: string[] = [];
  const push = (s: string) => {
    if (seen[seen.length - 1] !== s) {
      seen.push(s);
    }
  };
  for (const e of events.slice(from)) {
    if (e.type === 'cluster-state') {
      const error = e.cluster.error ? ` ("${e.cluster.error.message}")` : '';
      push(`cluster ${e.cluster.state}${error}`);
    } else if (e.type === 'session' && e.session.id === sessionId) {
      const s = e.session;
      const port = s.localPort ? ` on port ${s.localPort}` : '';
      const end = s.end ? ` (${s.end.message})` : '';
      const moved =
        s.portMoved && s.phase === 'running'
          ? ` (warning: port ${s.portMoved.from} was taken by another program; now on ${s.portMoved.to})`
          : '';
      push(`session ${s.phase}${port}${end}${moved}`);
    }
  }
  return seen.join(' → ') || 'no change';
}
