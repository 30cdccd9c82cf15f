/**
 * The allocations part of the API: the jobs held for cluster kernels, and
 * ending one (its kernels end as dead, with the reason).
 */
import { Routes, type IAllocationList } from '../../common/api';
import type { AllocationService } from '../kernels/allocations';
import { ALLOCATION, del, get, ok, type Handler, type IRoute } from './router';

export function kernelAllocationRoutes(
  allocations: Pick<AllocationService, 'list' | 'end' | 'restored'>
): IRoute[] {
  // A list asked for before the state file is back would look empty.
  const after =
    (handler: Handler): Handler =>
    async request => {
      await allocations.restored;
      return handler(request);
    };
  return [
    get(
      Routes.kernelAllocations,
      after(() => {
        const body: IAllocationList = { allocations: allocations.list() };
        return ok(body);
      })
    ),
    del(
      Routes.kernelAllocation(ALLOCATION),
      after(async ({ params }) => ok(await allocations.end(params.allocation)))
    )
  ];
}
