/**
 * What tests/cluster/demo-cluster.sh says about the demo cluster it started
 * (its `info` JSON), typed once for every test that uses it.
 */
import { readFileSync } from 'fs';

export const CLUSTER_JSON = '/var/lib/jupyterlab-hpc-demo/cluster.json';

export interface IDemoEnv {
  name: string;
  prefix: string;
  ipykernel: boolean;
  jupyterlab: boolean;
}

export interface IDemoCluster {
  name: string;
  alias: string;
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHosts: string;
  slurmVersion: string;
  partition: string;
  condaRoot: string;
  envs: IDemoEnv[];
}

/** Read anew on each call: a test may run right after `start` rewrote it. */
export function demoCluster(): IDemoCluster {
  return JSON.parse(readFileSync(CLUSTER_JSON, 'utf8'));
}
