/**
 * What tests/cluster/demo-cluster.sh says about the demo cluster it started
 * (its `info` JSON), typed once for every test that uses it.
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';

import type { ILaunchRequest } from '../../src/common/sessions';

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

/** The demo sshd's host keys, as known_hosts lines (from the client's file). */
export function demoKnownHostsLines(info = demoCluster()): string {
  const name = `[${info.host}]:${info.port}`;
  return (
    readFileSync(info.knownHosts, 'utf8')
      .split('\n')
      .filter(l => l.startsWith(name + ' '))
      .join('\n') + '\n'
  );
}

/**
 * A client home (made by the caller, with a 0700 .ssh) that reaches the
 * demo cluster as `hpc-demo`, with its own known_hosts.
 */
export function writeDemoSshFiles(home: string, info = demoCluster()): void {
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host hpc-demo\n  HostName ${info.host}\n  Port ${info.port}\n  User ${info.user}\n` +
      `  IdentityFile ${info.identityFile}\n  IdentitiesOnly yes\n`,
    { mode: 0o600 }
  );
  writeFileSync(join(home, '.ssh', 'known_hosts'), demoKnownHostsLines(info), {
    mode: 0o600
  });
}

/** A launch request for the demo cluster's JupyterLab environment. */
export function demoLaunchRequest(
  overrides: Partial<ILaunchRequest> = {},
  info = demoCluster()
): ILaunchRequest {
  return {
    partition: '',
    account: '',
    qos: '',
    wallTime: '10',
    cpus: 1,
    memory: '',
    gpus: { type: '', count: 0 },
    constraint: '',
    environment: info.envs.find(e => e.jupyterlab)!.prefix,
    workingDirectory: '',
    startTimeoutSeconds: 120,
    ...overrides
  };
}
