import { ServerConnection } from '@jupyterlab/services';

import {
  requestSidecar,
  SidecarRequestError,
  sidecarUrl,
  sidecarWsUrl
} from '../../../src/lab/sidecar/request';

const BASE = 'http://localhost:8888/user/ana/';

/** The network boundary: every request ends here. */
const fetchMock = jest.fn<Promise<Response>, [Request]>();

function settings(
  options: Partial<ServerConnection.ISettings> = {}
): ServerConnection.ISettings {
  return ServerConnection.makeSettings({
    baseUrl: BASE,
    wsUrl: 'ws://localhost:8888/user/ana/',
    token: '',
    appendToken: false,
    fetch: fetchMock as unknown as typeof fetch,
    ...options
  });
}

const jsonResponse = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' }
  });

/** The Request the helper handed to fetch. */
const sent = (): Request => fetchMock.mock.calls[0][0];

/** The SidecarRequestError a call failed with. */
async function failure(call: Promise<unknown>): Promise<SidecarRequestError> {
  const error = await call.then(
    () => {
      throw new Error('the request did not fail');
    },
    (err: unknown) => err
  );
  expect(error).toBeInstanceOf(SidecarRequestError);
  return error as SidecarRequestError;
}

beforeEach(() => {
  fetchMock.mockReset();
  fetchMock.mockResolvedValue(jsonResponse(200, { ok: true }));
});

describe('sidecarUrl', () => {
  it.each([
    [
      'http://localhost:8888/',
      '/api/v1/health',
      'http://localhost:8888/jupyterlab-hpc/api/v1/health'
    ],
    [BASE, '/api/v1/health', `${BASE}jupyterlab-hpc/api/v1/health`],
    [BASE, 'api/v1/health', `${BASE}jupyterlab-hpc/api/v1/health`],
    [BASE, '/', `${BASE}jupyterlab-hpc/`]
  ])('joins base %p and path %p into %p', (baseUrl, path, url) => {
    expect(sidecarUrl(path, settings({ baseUrl }))).toBe(url);
  });
});

describe('sidecarWsUrl', () => {
  it('appends the token when the settings say to', () => {
    expect(
      sidecarWsUrl(
        '/api/v1/events',
        settings({ token: 'a b/c+d', appendToken: true })
      )
    ).toBe(
      'ws://localhost:8888/user/ana/jupyterlab-hpc/api/v1/events?token=a%20b%2Fc%2Bd'
    );
  });

  it('leaves the token out when the cookie authenticates', () => {
    expect(
      sidecarWsUrl(
        '/api/v1/events',
        settings({ token: 'secret', appendToken: false })
      )
    ).toBe('ws://localhost:8888/user/ana/jupyterlab-hpc/api/v1/events');
  });

  it('appends nothing when there is no token', () => {
    expect(
      sidecarWsUrl('/api/v1/events', settings({ token: '', appendToken: true }))
    ).toBe('ws://localhost:8888/user/ana/jupyterlab-hpc/api/v1/events');
  });
});

describe('requestSidecar', () => {
  it('sends a GET to <base>jupyterlab-hpc/<path> with the request header', async () => {
    await requestSidecar('/api/v1/health', {}, settings());

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const request = sent();
    expect(request.method).toBe('GET');
    // makeRequest appends a cache buster to every URL.
    expect(request.url).toMatch(
      /^http:\/\/localhost:8888\/user\/ana\/jupyterlab-hpc\/api\/v1\/health\?\d+$/
    );
    expect(request.headers.get('X-Jupyterlab-Hpc')).toBe('1');
  });

  it('sends no content type when there is no body', async () => {
    await requestSidecar('/api/v1/health', {}, settings());
    expect(sent().headers.get('Content-Type')).toBeNull();
  });

  it('sends a body as JSON', async () => {
    await requestSidecar(
      '/api/v1/jobs',
      { method: 'POST', body: JSON.stringify({ cluster: 'swc' }) },
      settings()
    );
    const request = sent();
    expect(request.method).toBe('POST');
    expect(request.headers.get('Content-Type')).toBe('application/json');
    expect(request.headers.get('X-Jupyterlab-Hpc')).toBe('1');
    expect(await request.text()).toBe('{"cluster":"swc"}');
  });

  it('keeps a content type the caller chose', async () => {
    await requestSidecar(
      '/api/v1/upload',
      {
        method: 'PUT',
        body: 'raw text',
        headers: { 'Content-Type': 'text/plain' }
      },
      settings()
    );
    expect(sent().headers.get('Content-Type')).toBe('text/plain');
    expect(sent().headers.get('X-Jupyterlab-Hpc')).toBe('1');
  });

  it("authenticates with Jupyter's token as well", async () => {
    await requestSidecar('/api/v1/health', {}, settings({ token: 'tok' }));
    expect(sent().headers.get('Authorization')).toBe('token tok');
  });

  it('resolves with the parsed body of a 2xx answer', async () => {
    fetchMock.mockResolvedValue(jsonResponse(200, { name: 'x', n: 2 }));
    await expect(
      requestSidecar('/api/v1/health', {}, settings())
    ).resolves.toEqual({ name: 'x', n: 2 });
  });

  it('resolves with null for an empty 2xx answer', async () => {
    fetchMock.mockResolvedValue(new Response(null, { status: 204 }));
    await expect(
      requestSidecar('/api/v1/jobs/1', { method: 'DELETE' }, settings())
    ).resolves.toBeNull();
  });

  it.each([
    [
      403,
      'missing-request-header',
      'State-changing requests need a JSON body.'
    ],
    [403, 'forbidden-origin', 'Requests from another origin are refused.'],
    [404, 'not-found', 'No such endpoint: /api/v1/nope'],
    [405, 'method-not-allowed', 'POST is not allowed on /api/v1/health'],
    [500, 'internal', 'The sidecar failed to answer.']
  ])(
    'turns a sidecar %i error body into SidecarRequestError %p',
    async (status, code, message) => {
      fetchMock.mockResolvedValue(
        jsonResponse(status, { error: { code, message } })
      );
      const error = await failure(
        requestSidecar('/api/v1/nope', {}, settings())
      );
      expect([error.code, error.message, error.status]).toEqual([
        code,
        message,
        status
      ]);
    }
  );

  it("reports a 404 from Jupyter itself as 'not-installed'", async () => {
    fetchMock.mockResolvedValue(
      new Response('<html><title>404 : Not Found</title></html>', {
        status: 404,
        headers: { 'Content-Type': 'text/html' }
      })
    );
    const error = await failure(
      requestSidecar('/api/v1/health', {}, settings())
    );
    expect([error.code, error.status]).toEqual(['not-installed', 404]);
    expect(error.message).toBe(
      'The Jupyter server has no jupyterlab-hpc sidecar route.'
    );
  });

  it("reports a Jupyter JSON 404 (not our error shape) as 'not-installed'", async () => {
    fetchMock.mockResolvedValue(jsonResponse(404, { message: 'Not Found' }));
    const error = await failure(
      requestSidecar('/api/v1/health', {}, settings())
    );
    expect(error.code).toBe('not-installed');
  });

  it.each([502, 503, 500])(
    "reports a bare %i from the proxy as 'not-running'",
    async status => {
      fetchMock.mockResolvedValue(
        new Response('Bad Gateway', { status, headers: {} })
      );
      const error = await failure(
        requestSidecar('/api/v1/health', {}, settings())
      );
      expect([error.code, error.status]).toEqual(['not-running', status]);
      expect(error.message).toBe(
        `The sidecar could not be reached (HTTP ${status}).`
      );
    }
  );

  it("reports a failed fetch as 'network'", async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'));
    const error = await failure(
      requestSidecar('/api/v1/health', {}, settings())
    );
    expect([error.code, error.status]).toEqual(['network', null]);
    expect(error.message).toBe(
      'The Jupyter server did not answer: Failed to fetch'
    );
  });
});
