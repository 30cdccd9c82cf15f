import { LOCAL_TARGET, Routes } from '../../../src/common/api';
import {
  CLUSTER,
  del,
  get,
  IRequest,
  KERNEL,
  ok,
  post,
  RouteTable
} from '../../../src/sidecar/api/router';
import { BadRequest } from '../../../src/sidecar/api/validate';

/** A table whose handlers answer with their own name and the params. */
const named = (name: string) => (r: IRequest) => ok({ name, params: r.params });

const table = new RouteTable([
  get(Routes.clusters, named('list')),
  get(Routes.cluster(CLUSTER), named('status')),
  post(Routes.connect(CLUSTER), named('connect')),
  get(Routes.envs(LOCAL_TARGET), named('local envs')),
  get(Routes.envs(CLUSTER), named('cluster envs')),
  del(Routes.kernel(CLUSTER, KERNEL), named('unregister'))
]);

async function answer(method: string, path: string): Promise<unknown> {
  const match = table.match(method, path);
  if (match.kind !== 'found') {
    return match;
  }
  const reply = await match.handler({
    req: {} as IRequest['req'],
    body: Buffer.alloc(0),
    params: match.params,
    query: new URLSearchParams()
  });
  return reply.body;
}

describe('RouteTable', () => {
  it('routes on the paths the Routes builders make, with decoded params', async () => {
    expect(await answer('GET', Routes.clusters)).toEqual({
      name: 'list',
      params: {}
    });
    expect(await answer('POST', Routes.connect('hpc gw'))).toEqual({
      name: 'connect',
      params: { cluster: 'hpc gw' }
    });
    expect(await answer('DELETE', Routes.kernel('swc', 'py 3.12'))).toEqual({
      name: 'unregister',
      params: { cluster: 'swc', kernel: 'py 3.12' }
    });
    expect(await answer('GET', Routes.envs(LOCAL_TARGET))).toEqual({
      name: 'local envs',
      params: {}
    });
  });

  it('answers HEAD with the GET handler and lists HEAD as allowed', async () => {
    expect(await answer('HEAD', Routes.cluster('swc'))).toMatchObject({
      name: 'status'
    });
    expect(table.match('PUT', Routes.cluster('swc'))).toEqual({
      kind: 'method-not-allowed',
      allowed: ['GET', 'HEAD']
    });
    expect(table.match('GET', Routes.connect('swc'))).toEqual({
      kind: 'method-not-allowed',
      allowed: ['POST']
    });
  });

  it.each([
    '/api/v1/nope',
    '/api/v1/clusters/swc/connect/more',
    // Literal segments are compared as sent, not decoded.
    '/api/v1/%63lusters',
    // Dot segments are not resolved into another route.
    '/api/v1/clusters/swc/../../health',
    // The local target has its own paths; no second spelling of them.
    `/api/v1/clusters/${encodeURIComponent(LOCAL_TARGET)}/envs`
  ])('finds no route for %s', path => {
    expect(table.match('GET', path)).toEqual({ kind: 'not-found' });
  });

  it.each([
    ['empty', '/api/v1/clusters//connect'],
    ['..', '/api/v1/clusters/../connect'],
    ['encoded ..', '/api/v1/clusters/%2e%2E/connect'],
    ['.', '/api/v1/clusters/./connect'],
    ['encoded /', '/api/v1/clusters/a%2Fb/connect'],
    ['NUL', '/api/v1/clusters/a%00b/connect'],
    ['bad escape', '/api/v1/clusters/%E0%A4%A/connect']
  ])('refuses a cluster name that is %s with bad-request', (_what, path) => {
    expect(() => table.match('POST', path)).toThrow(BadRequest);
  });

  it('routes paths of any length (not the shortened ones of the logs)', async () => {
    const cluster = 'c'.repeat(64);
    const kernel = 'k'.repeat(128);
    expect(await answer('DELETE', Routes.kernel(cluster, kernel))).toEqual({
      name: 'unregister',
      params: { cluster, kernel }
    });
  });

  it('refuses a table with the same method and path twice', () => {
    expect(
      () =>
        new RouteTable([
          post(Routes.connect(CLUSTER), named('a')),
          post(Routes.connect(CLUSTER), named('b'))
        ])
    ).toThrow(/POST .*connect is defined twice/);
  });
});
