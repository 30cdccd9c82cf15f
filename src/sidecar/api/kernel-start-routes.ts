/**
 * The kernel starts the Jupyter server waits for: GET Routes.kernelStarts
 * (what the notebook shows while a cluster kernel is queued) and POST
 * Routes.kernelStartCancel(id) (its Cancel button).
 */
import { Routes, type IKernelStartList } from '../../common/api';
import { SidecarError } from '../errors';
import type { KernelLeases } from '../kernels/lease';
import { get, KERNEL, ok, post, type IRoute } from './router';

export function kernelStartRoutes(
  leases: Pick<KernelLeases, 'starts' | 'cancel'>
): IRoute[] {
  return [
    get(Routes.kernelStarts, () => {
      const list: IKernelStartList = { starts: leases.starts() };
      return ok(list);
    }),
    post(Routes.kernelStartCancel(KERNEL), ({ params }) => {
      if (!leases.cancel(params.kernel)) {
        throw new SidecarError(
          'kernel-start-not-found',
          'That kernel is not starting any more: it has started, failed or was cancelled already.'
        );
      }
      return ok({ cancelled: true });
    })
  ];
}
