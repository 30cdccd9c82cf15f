import { createServer, Server, Socket } from 'net';
import type { Duplex } from 'stream';

import { SidecarError } from '../errors';

export interface ILocalForwardOptions {
  /** A stream to the remote end, made anew for every local connection. */
  open: () => Promise<Duplex>;
  /** 0 for any free port. Always bound on 127.0.0.1. */
  localPort?: number;
  onChange?: () => void;
  onError?: (err: Error) => void;
}

/**
 * `ssh -L 127.0.0.1:<port>:<host>:<port>` through a cluster's connection:
 * a listener on loopback whose every connection is piped to a new stream
 * to the remote end, with TCP_NODELAY so small requests are not held back.
 */
export class LocalForward {
  private constructor(
    private readonly _server: Server,
    private readonly _options: ILocalForwardOptions
  ) {
    _server.on('connection', socket => this._accept(socket));
  }

  static listen(options: ILocalForwardOptions): Promise<LocalForward> {
    const server = createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new SidecarError(
            'forward-failed',
            err.code === 'EADDRINUSE'
              ? `Port ${options.localPort} on 127.0.0.1 is already in use; choose another or leave it empty.`
              : `Could not listen on 127.0.0.1: ${err.message}`
          )
        )
      );
      server.listen(options.localPort ?? 0, '127.0.0.1', () =>
        resolve(new LocalForward(server, options))
      );
    });
  }

  get localPort(): number {
    const address = this._server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get openConnections(): number {
    return this._sockets.size;
  }

  get totalConnections(): number {
    return this._total;
  }

  close(): Promise<void> {
    for (const socket of this._sockets) {
      socket.destroy();
    }
    return new Promise(resolve => this._server.close(() => resolve()));
  }

  private _accept(socket: Socket): void {
    socket.setNoDelay(true);
    this._sockets.add(socket);
    this._total++;
    this._options.onChange?.();
    socket.once('close', () => {
      this._sockets.delete(socket);
      this._options.onChange?.();
    });
    socket.on('error', () => socket.destroy());
    socket.pause();
    this._options.open().then(
      remote => {
        if (socket.destroyed) {
          remote.destroy();
          return;
        }
        remote.on('error', () => socket.destroy());
        remote.once('close', () => socket.destroy());
        socket.once('close', () => remote.destroy());
        socket.pipe(remote);
        remote.pipe(socket);
        socket.resume();
      },
      err => {
        this._options.onError?.(err as Error);
        socket.destroy();
      }
    );
  }

  private _sockets = new Set<Socket>();
  private _total = 0;
}
