/**
 * The forwards open through one cluster's connection, under the ids the
 * API hands out. A forward is carried by Node (`LocalForward`) or by the
 * OpenSSH master itself (`INativeForward`); either way it holds the
 * connection up until it is released.
 */
import type { IForward, IForwardRequest } from '../../common/api';
import type { INativeForward } from '../ssh/connection';
import { LocalForward } from './local-forward';

export type ForwardChannel = LocalForward | INativeForward;

export interface IForwardEntry {
  forward: ForwardChannel;
  info: IForward;
  /** Lets the connection go down again once nothing holds it. */
  release: () => void;
}

// Ids are unique across clusters: DELETE /forwards/<id> names no cluster.
let nextForwardId = 1;

export class ClusterForwards {
  constructor(private readonly _cluster: string) {}

  get size(): number {
    return this._entries.size;
  }

  ids(): string[] {
    return [...this._entries.keys()];
  }

  /** Keep a forward that was just opened; its info as the API shows it. */
  add(
    request: IForwardRequest,
    forward: ForwardChannel,
    release: () => void
  ): IForward {
    const id = `f${nextForwardId++}`;
    const info: IForward = {
      id,
      cluster: this._cluster,
      remoteHost: request.remoteHost,
      remotePort: request.remotePort,
      localPort: forward.localPort,
      openConnections: 0,
      totalConnections: 0
    };
    const entry = { forward, info, release };
    this._entries.set(id, entry);
    return forwardInfo(entry);
  }

  /** Forget a forward and hand it back (to close it); undefined if not here. */
  take(id: string): IForwardEntry | undefined {
    const entry = this._entries.get(id);
    this._entries.delete(id);
    return entry;
  }

  /** Forget every forward on `localPort` (the connection lost it). */
  takeLocalPort(localPort: number): IForwardEntry[] {
    const lost = [...this._entries].filter(
      ([, entry]) => entry.info.localPort === localPort
    );
    for (const [id] of lost) {
      this._entries.delete(id);
    }
    return lost.map(([, entry]) => entry);
  }

  takeAll(): IForwardEntry[] {
    const all = [...this._entries.values()];
    this._entries.clear();
    return all;
  }

  list(): IForward[] {
    return [...this._entries.values()].map(forwardInfo);
  }

  private readonly _entries = new Map<string, IForwardEntry>();
}

/** A forward's info with its live connection counts. */
function forwardInfo(entry: IForwardEntry): IForward {
  const { forward, info } = entry;
  // OpenSSH does not tell how many connections its forwards carry.
  return forward instanceof LocalForward
    ? {
        ...info,
        openConnections: forward.openConnections,
        totalConnections: forward.totalConnections
      }
    : { ...info, openConnections: null, totalConnections: null };
}
