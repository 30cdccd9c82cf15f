import { ServerConnection } from '@jupyterlab/services';
import { signalToPromise } from '@jupyterlab/testing';

import { API_VERSION, IHealth, SidecarEvent } from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';
import { SidecarModel, SidecarState } from '../../../src/lab/sidecar/model';

const health: IHealth = {
  name: 'jupyterlab-hpc-sidecar',
  version: PACKAGE_VERSION,
  apiVersion: API_VERSION,
  uptimeSeconds: 3,
  node: 'v20.11.1',
  pid: 4242
};

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

/** What the Jupyter server answers at <base>jupyterlab-hpc/api/v1/health. */
let answer: () => Response | Promise<Response>;
const fetchMock = jest.fn<Promise<Response>, [Request]>(async () => answer());

/**
 * A browser WebSocket as far as the model uses it; the test opens, feeds
 * and drops it by hand.
 */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static all: FakeSocket[] = [];

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  readyState = FakeSocket.CONNECTING;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  closeCalls = 0;

  close(): void {
    this.closeCalls++;
    this.readyState = FakeSocket.CLOSED;
  }

  /** The server accepted the handshake. */
  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.(new Event('open'));
  }

  receive(data: string): void {
    this.onmessage?.(new MessageEvent('message', { data }));
  }

  /** The connection went away (sidecar restarted, network gone). */
  drop(): void {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.(new CloseEvent('close', { code: 1006 }));
  }
}

let model: SidecarModel;
let states: SidecarState[];

function createModel(): void {
  model = new SidecarModel({
    serverSettings: ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      wsUrl: 'ws://localhost:8888/',
      token: 'tok',
      appendToken: true,
      fetch: fetchMock as unknown as typeof fetch
    }),
    WebSocket: FakeSocket as unknown as typeof WebSocket
  });
  states = [];
  model.stateChanged.connect((_, state) => states.push(state));
}

/** The state the model reaches next. */
async function nextState(): Promise<SidecarState> {
  const [, state] = await signalToPromise(model.stateChanged);
  return state;
}

beforeEach(() => {
  FakeSocket.all = [];
  fetchMock.mockClear();
  answer = () => json(200, health);
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  model?.dispose();
  jest.restoreAllMocks();
});

describe('SidecarModel', () => {
  it('starts in the connecting state', () => {
    createModel();
    expect(model.state).toEqual({ status: 'connecting' });
  });

  it('checks the health endpoint on its own once started', async () => {
    createModel();
    expect((await nextState()).status).toBe('ready');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock.mock.calls[0][0].url).toMatch(
      /^http:\/\/localhost:8888\/jupyterlab-hpc\/api\/v1\/health\?/
    );
  });

  it('becomes ready, then live once the event socket opens', async () => {
    createModel();
    await model.refresh();

    expect(model.state).toEqual({
      status: 'ready',
      health,
      live: false,
      otherRelease: false
    });
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakeSocket.all[0].url).toBe(
      'ws://localhost:8888/jupyterlab-hpc/api/v1/events?token=tok'
    );

    FakeSocket.all[0].open();

    expect(model.state).toEqual({
      status: 'ready',
      health,
      live: true,
      otherRelease: false
    });
    expect(states.map(s => s.status === 'ready' && s.live)).toEqual([
      false,
      true
    ]);
  });

  it('keeps one socket and stays quiet when a later check finds the same health', async () => {
    createModel();
    await model.refresh();
    FakeSocket.all[0].open();
    const before = states.length;

    await model.refresh();

    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(FakeSocket.all).toHaveLength(1);
    expect(states).toHaveLength(before);
    expect(model.state).toMatchObject({ status: 'ready', live: true });
  });

  it('flags a sidecar of another release with the same API', async () => {
    answer = () => json(200, { ...health, version: '0.0.9' });
    createModel();
    await model.refresh();
    expect(model.state).toEqual({
      status: 'ready',
      health: { ...health, version: '0.0.9' },
      live: false,
      otherRelease: true
    });
  });

  it('reports a server without the sidecar route as missing', async () => {
    answer = () =>
      new Response('<html>404 Not Found</html>', {
        status: 404,
        headers: { 'Content-Type': 'text/html' }
      });
    createModel();
    await model.refresh();
    expect(model.state).toEqual({ status: 'missing' });
    expect(FakeSocket.all).toHaveLength(0);
  });

  it('reports a sidecar of another API version as incompatible, with its health', async () => {
    const other = { ...health, version: '9.0.0', apiVersion: 99 };
    answer = () => json(200, other);
    createModel();
    await model.refresh();
    expect(model.state).toEqual({ status: 'incompatible', health: other });
    expect(FakeSocket.all).toHaveLength(0);
  });

  it.each([
    ['a JSON body that is not ours', () => json(200, { version: '2.14.0' })],
    [
      'an HTML page',
      () => new Response('<html>Jupyter</html>', { status: 200 })
    ]
  ])(
    'reports %s at the route as incompatible, without health',
    async (_case, reply) => {
      answer = reply;
      createModel();
      await model.refresh();
      expect(model.state).toEqual({ status: 'incompatible', health: null });
    }
  );

  it('reports a route whose process does not answer (502) as failed', async () => {
    answer = () => new Response('Bad Gateway', { status: 502 });
    createModel();
    await model.refresh();
    expect(model.state).toEqual({
      status: 'failed',
      detail: 'The sidecar could not be reached (HTTP 502).'
    });
  });

  it('reports an unreachable Jupyter server as failed', async () => {
    answer = () => {
      throw new TypeError('Failed to fetch');
    };
    createModel();
    await model.refresh();
    expect(model.state).toEqual({
      status: 'failed',
      detail: 'The Jupyter server did not answer: Failed to fetch'
    });
  });

  it('closes the event socket when a later check fails', async () => {
    createModel();
    await model.refresh();
    const socket = FakeSocket.all[0];
    socket.open();

    answer = () => new Response('Bad Gateway', { status: 502 });
    await model.refresh();

    expect(model.state.status).toBe('failed');
    expect(socket.closeCalls).toBe(1);
  });

  it('recovers from failed to ready on the next check', async () => {
    answer = () => new Response('Bad Gateway', { status: 502 });
    createModel();
    await model.refresh();
    expect(model.state.status).toBe('failed');

    answer = () => json(200, health);
    await model.refresh();

    expect(model.state.status).toBe('ready');
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('relays parsed events and ignores anything else on the socket', async () => {
    createModel();
    await model.refresh();
    const socket = FakeSocket.all[0];
    socket.open();
    const events: SidecarEvent[] = [];
    model.event.connect((_, event) => events.push(event));

    socket.receive(JSON.stringify({ type: 'hello', health }));
    socket.receive('not json {');
    socket.receive(JSON.stringify({ type: 'job-finished', id: 1 }));
    socket.receive('null');
    socket.receive(JSON.stringify({ type: 'heartbeat', time: 1234 }));

    expect(events).toEqual([
      { type: 'hello', health },
      { type: 'heartbeat', time: 1234 }
    ]);
  });

  it('checks again at once when the socket closes', async () => {
    createModel();
    await model.refresh();
    FakeSocket.all[0].open();
    expect(fetchMock).toHaveBeenCalledTimes(1);

    answer = () => new Response('Bad Gateway', { status: 502 });
    const failed = nextState().then(nextState);
    FakeSocket.all[0].drop();

    expect(model.state).toMatchObject({ status: 'ready', live: false });
    expect(await failed).toEqual({
      status: 'failed',
      detail: 'The sidecar could not be reached (HTTP 502).'
    });
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('opens a new socket when the sidecar is back after a close', async () => {
    createModel();
    await model.refresh();
    FakeSocket.all[0].open();

    FakeSocket.all[0].drop();
    await model.refresh();

    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].open();
    expect(model.state).toMatchObject({ status: 'ready', live: true });
  });

  it('closes the socket and stops checking when disposed', async () => {
    createModel();
    await model.refresh();
    const socket = FakeSocket.all[0];
    socket.open();

    model.dispose();

    expect(model.isDisposed).toBe(true);
    expect(socket.closeCalls).toBe(1);
    expect(socket.onclose).toBeNull();
    // (refresh() of a disposed model rejects with "Poll … is disposed".)
    await model.refresh().catch(() => undefined);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});
