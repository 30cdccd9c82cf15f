import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  API_VERSION,
  IHealth,
  isHealth,
  parseEvent,
  Routes,
  SidecarEvent
} from '../../common/api';
import { PACKAGE_VERSION } from '../../common/version';
import { requestSidecar, SidecarRequestError, sidecarWsUrl } from './request';

/**
 * What the frontend knows of its sidecar. Views turn `status` and `reason`
 * into translated sentences; the model holds no user-facing text.
 */
export type SidecarState =
  | { status: 'connecting' }
  | {
      status: 'ready';
      health: IHealth;
      /** True while the event WebSocket is open. */
      live: boolean;
      /** The sidecar is of another package release (but the same API). */
      otherRelease: boolean;
    }
  /** No `jupyterlab-hpc/` route: the Python package is not in the server's env. */
  | { status: 'missing' }
  /** The sidecar speaks another API version: frontend and server differ. */
  | { status: 'incompatible'; health: IHealth | null }
  /** The route exists but the process did not answer (failed to start, crashed). */
  | { status: 'failed'; detail: string };

export interface ISidecarModel extends IDisposable {
  readonly state: SidecarState;
  readonly stateChanged: ISignal<ISidecarModel, SidecarState>;
  /** Every event the sidecar pushes. */
  readonly event: ISignal<ISidecarModel, SidecarEvent>;
  /** Check the sidecar now instead of at the next poll. */
  refresh(): Promise<void>;
}

export interface ISidecarModelOptions {
  serverSettings?: ServerConnection.ISettings;
  /** Milliseconds between health checks while all is well. */
  interval?: number;
  /** WebSocket constructor; injectable for tests. */
  WebSocket?: typeof WebSocket;
}

export class SidecarModel implements ISidecarModel {
  constructor(options: ISidecarModelOptions = {}) {
    this._settings = options.serverSettings ?? ServerConnection.makeSettings();
    this._WebSocket = options.WebSocket ?? this._settings.WebSocket;
    this._poll = new Poll({
      auto: true,
      factory: () => this._check(),
      frequency: {
        interval: options.interval ?? 30_000,
        backoff: true,
        max: 300_000
      },
      name: 'jupyterlab-hpc:sidecar',
      standby: 'when-hidden'
    });
  }

  get state(): SidecarState {
    return this._state;
  }

  get stateChanged(): ISignal<ISidecarModel, SidecarState> {
    return this._stateChanged;
  }

  get event(): ISignal<ISidecarModel, SidecarEvent> {
    return this._event;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  async refresh(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    await this._poll.refresh();
    await this._poll.tick;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    this._closeSocket();
    Signal.clearData(this);
  }

  private async _check(): Promise<void> {
    let body: unknown;
    try {
      body = await requestSidecar<unknown>(Routes.health, {}, this._settings);
    } catch (err) {
      this._closeSocket();
      const code = err instanceof SidecarRequestError ? err.code : 'network';
      if (code === 'not-installed') {
        this._setState({ status: 'missing' });
      } else {
        this._setState({
          status: 'failed',
          detail: (err as Error).message
        });
      }
      throw err; // makes the poll back off
    }
    if (!isHealth(body) || body.apiVersion !== API_VERSION) {
      this._closeSocket();
      this._setState({
        status: 'incompatible',
        health: isHealth(body) ? body : null
      });
      throw new Error('incompatible sidecar');
    }
    this._setState({
      status: 'ready',
      health: body,
      live: this._socket?.readyState === this._WebSocket.OPEN,
      otherRelease: body.version !== PACKAGE_VERSION
    });
    this._openSocket();
  }

  private _openSocket(): void {
    if (this._socket || this._isDisposed) {
      return;
    }
    const socket = new this._WebSocket(
      sidecarWsUrl(Routes.events, this._settings)
    );
    this._socket = socket;
    socket.onopen = () => this._setLive(true);
    socket.onmessage = (msg: MessageEvent) => {
      let data: unknown;
      try {
        data = JSON.parse(String(msg.data));
      } catch {
        return;
      }
      const event = parseEvent(data);
      if (event) {
        this._event.emit(event);
      }
    };
    socket.onclose = () => {
      if (this._socket !== socket) {
        return;
      }
      this._socket = null;
      this._setLive(false);
      // The sidecar may have restarted or gone: find out now.
      if (!this._isDisposed) {
        void this._poll.refresh();
      }
    };
  }

  private _closeSocket(): void {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
  }

  private _setLive(live: boolean): void {
    if (this._state.status === 'ready' && this._state.live !== live) {
      this._setState({ ...this._state, live });
    }
  }

  private _setState(state: SidecarState): void {
    if (JSON.stringify(state) === JSON.stringify(this._state)) {
      return;
    }
    this._state = state;
    this._stateChanged.emit(state);
  }

  private _settings: ServerConnection.ISettings;
  private _WebSocket: typeof WebSocket;
  private _poll: Poll;
  private _socket: WebSocket | null = null;
  private _state: SidecarState = { status: 'connecting' };
  private _stateChanged = new Signal<ISidecarModel, SidecarState>(this);
  private _event = new Signal<ISidecarModel, SidecarEvent>(this);
  private _isDisposed = false;
}
