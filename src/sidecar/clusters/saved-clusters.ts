/**
 * The last cluster list JupyterLab gave the sidecar, kept beside the
 * sessions. JupyterLab's settings stay the source: every page sends them
 * again when it connects. The copy is for a sidecar that starts again
 * (after a crash, or with the server) while no page is open: it can then
 * reconnect its sessions' forwards and take its kernels up again at once
 * instead of waiting for a page, which a kernel cannot do for long. The
 * entries hold no secret (names, hosts, users, jump hosts, paths).
 */
import { checkClusters, type IClusterConfig } from '../../common/settings';
import { StateFile } from '../state/json-file';

export interface ISavedClusters {
  version: 1;
  clusters: IClusterConfig[];
  /** The kernel allocations' grace period from the settings, if sent. */
  allocationGraceMinutes: number | null;
}

export function emptySavedClusters(): ISavedClusters {
  return { version: 1, clusters: [], allocationGraceMinutes: null };
}

/** The file's content, checked as a PUT of the list is: all or nothing. */
export function parseSavedClusters(raw: unknown): ISavedClusters {
  const o = raw as Partial<Record<keyof ISavedClusters, unknown>> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    o.version !== 1 ||
    !Array.isArray(o.clusters)
  ) {
    throw new Error('expected {"version": 1, "clusters": [...]}');
  }
  const { clusters, rejected } = checkClusters(o.clusters);
  if (rejected.length > 0) {
    throw new Error(`a cluster entry is not valid: ${rejected[0].reason}`);
  }
  const grace = o.allocationGraceMinutes ?? null;
  if (
    grace !== null &&
    (typeof grace !== 'number' || !(grace >= 0 && grace <= 1440))
  ) {
    throw new Error('"allocationGraceMinutes" must be 0 to 1440 or null');
  }
  return { version: 1, clusters, allocationGraceMinutes: grace };
}

export function savedClustersFile(
  path: string,
  shownPath?: string
): StateFile<ISavedClusters> {
  return new StateFile({
    path,
    parse: parseSavedClusters,
    empty: emptySavedClusters,
    label: 'clusters',
    shownPath,
    lostHint: 'JupyterLab sends the clusters again when a page is opened.'
  });
}
