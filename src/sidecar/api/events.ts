import type { WebSocket } from 'ws';

import type { SidecarEvent } from '../../common/api';

/**
 * Fans sidecar events out to every connected frontend. Each browser tab
 * holds one WebSocket; a tab that stops answering pings is dropped.
 */
export class EventHub {
  constructor(private readonly heartbeatMs = 15_000) {}

  get size(): number {
    return this._clients.size;
  }

  add(socket: WebSocket, first: SidecarEvent): void {
    this._clients.add(socket);
    this._alive.set(socket, true);
    socket.on('pong', () => this._alive.set(socket, true));
    socket.on('close', () => this._remove(socket));
    socket.on('error', () => this._remove(socket));
    this._send(socket, first);
    this._ensureTimer();
  }

  broadcast(event: SidecarEvent): void {
    for (const socket of this._clients) {
      this._send(socket, event);
    }
  }

  close(): void {
    if (this._timer) {
      clearInterval(this._timer);
      this._timer = null;
    }
    for (const socket of this._clients) {
      socket.close(1001, 'sidecar shutting down');
    }
    this._clients.clear();
  }

  private _send(socket: WebSocket, event: SidecarEvent): void {
    if (socket.readyState === socket.OPEN) {
      socket.send(JSON.stringify(event));
    }
  }

  private _remove(socket: WebSocket): void {
    this._clients.delete(socket);
    this._alive.delete(socket);
    if (this._clients.size === 0 && this._timer) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _ensureTimer(): void {
    if (this._timer) {
      return;
    }
    this._timer = setInterval(() => {
      for (const socket of this._clients) {
        if (!this._alive.get(socket)) {
          socket.terminate();
          this._remove(socket);
          continue;
        }
        this._alive.set(socket, false);
        socket.ping();
      }
      this.broadcast({ type: 'heartbeat', time: Date.now() });
    }, this.heartbeatMs);
    this._timer.unref();
  }

  private _clients = new Set<WebSocket>();
  private _alive = new Map<WebSocket, boolean>();
  private _timer: NodeJS.Timeout | null = null;
}
