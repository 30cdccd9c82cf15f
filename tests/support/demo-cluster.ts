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

export interface IDemoPartition {
  name: string;
  default: boolean;
  /** `HH:MM:SS`, or null for no limit. */
  maxTime: string | null;
  /** `gpu:<type>:<count>` of its node. */
  gres: string | null;
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
  partitions: IDemoPartition[];
  /** Slurm accounting (slurmdbd) runs, enforcing associations and QOS. */
  accounting: boolean;
  /** The cluster user's accounts; `defaultAccount` is one of them. */
  accounts: string[];
  defaultAccount: string;
  qos: string[];
  /** QOS name → its MaxWall (`HH:MM:SS`). */
  qosMaxWall: Record<string, string>;
}

/** Read anew on each call: a test may run right after `start` rewrote it. */
export function demoCluster(): IDemoCluster {
  return JSON.parse(readFileSync(CLUSTER_JSON, 'utf8'));
}
