/**
 * The allocation routes over a stubbed service: the list waits for the
 * restore, DELETE ends the named allocation and passes its errors on.
 */
import { PromiseDelegate } from '@lumino/coreutils';

import { Routes, type IAllocationInfo } from '../../../src/common/api';
import { kernelAllocationRoutes } from '../../../src/sidecar/api/allocation-routes';
import { RouteTable, type IRequest } from '../../../src/sidecar/api/router';
import { SidecarError } from '../../../src/sidecar/errors';

const info = { id: 'abcdef01', phase: 'ending' } as IAllocationInfo;

function setUp() {
  const restored = new PromiseDelegate<void>();
  const ended: string[] = [];
  const table = new RouteTable(
    kernelAllocationRoutes({
      restored: restored.promise,
      list: () => [info],
      end: async id => {
        if (id !== info.id) {
          throw new SidecarError(
            'allocation-not-found',
            `There is no allocation ${id}.`
          );
        }
        ended.push(id);
        return info;
      }
    })
  );
  const answer = async (method: string, path: string) => {
    const match = table.match(method, path);
    if (match.kind !== 'found') {
      throw new Error(match.kind);
    }
    return match.handler({
      req: {} as IRequest['req'],
      body: Buffer.alloc(0),
      params: match.params,
      query: new URLSearchParams()
    });
  };
  return { restored, ended, answer };
}

describe('kernelAllocationRoutes', () => {
  it('lists the allocations once they are restored', async () => {
    const { restored, answer } = setUp();
    let body: unknown = null;
    const pending = answer('GET', Routes.kernelAllocations).then(
      r => (body = r.body)
    );
    await new Promise(r => setTimeout(r, 10));
    expect(body).toBeNull();
    restored.resolve();
    await pending;
    expect(body).toEqual({ allocations: [info] });
  });

  it('ends the allocation named in the path', async () => {
    const { restored, ended, answer } = setUp();
    restored.resolve();
    const reply = await answer('DELETE', Routes.kernelAllocation(info.id));
    expect(reply.body).toEqual(info);
    expect(ended).toEqual([info.id]);
    await expect(
      answer('DELETE', Routes.kernelAllocation('nosuch01'))
    ).rejects.toMatchObject({ code: 'allocation-not-found' });
  });
});
