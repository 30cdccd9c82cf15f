import { API_VERSION, IHealth } from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';

/** A health answer from a sidecar of this very release. */
export const health: IHealth = {
  name: 'jupyterlab-hpc-sidecar',
  version: PACKAGE_VERSION,
  apiVersion: API_VERSION,
  uptimeSeconds: 5,
  node: 'v20.11.1',
  pid: 4242
};
