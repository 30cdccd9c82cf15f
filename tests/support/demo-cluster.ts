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
  /**
   * Another Unix user of the cluster (no login, no jobs): a neighbour on a
   * shared cluster, for tests run as it with runuser.
   */
  otherUser: string;
  /** Slurm accounting (slurmdbd) runs, enforcing associations and QOS. */
  accounting: boolean;
  /** The cluster user's accounts; `defaultAccount` is one of them. */
  accounts: string[];
  defaultAccount: string;
  qos: string[];
  /** QOS name → its MaxWall (`HH:MM:SS`). */
  qosMaxWall: Record<string, string>;
  /** The second cluster on the same machine, without accounting. */
  noAccounting: IDemoNoAccountingCluster;
}

/**
 * A second, independent Slurm cluster beside the first (same machine, munge,
 * sshd, client key and environments): no slurmdbd, so no accounts, QOS or
 * sacct history, and squeue forgets an ended job after `minJobAgeSeconds`
 * (plus up to a minute: slurmctld purges once a minute). Its user's shell
 * exports `SLURM_CONF=<slurmConf>`.
 */
export interface IDemoNoAccountingCluster {
  /** Its ClusterName. */
  name: string;
  /** `Host` in the client's ~/.ssh/config. */
  alias: string;
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHosts: string;
  slurmVersion: string;
  slurmConf: string;
  /** Its one node's NodeName. */
  node: string;
  /** The default (and only) partition. */
  partition: string;
  partitions: IDemoPartition[];
  accounting: false;
  minJobAgeSeconds: number;
  /** hpcdemo's environments, which this user runs too. */
  condaRoot: string;
  envs: IDemoEnv[];
}

/** Read anew on each call: a test may run right after `start` rewrote it. */
export function demoCluster(): IDemoCluster {
  return JSON.parse(readFileSync(CLUSTER_JSON, 'utf8'));
}

/** The demo cluster without accounting (see IDemoNoAccountingCluster). */
export function noAccountingCluster(
  info = demoCluster()
): IDemoNoAccountingCluster {
  if (!info.noAccounting) {
    throw new Error(
      `${CLUSTER_JSON} has no noAccounting cluster: run tests/cluster/demo-cluster.sh start again.`
    );
  }
  return info.noAccounting;
}

type SshTarget = Pick<
  IDemoCluster,
  'alias' | 'host' | 'port' | 'user' | 'identityFile' | 'knownHosts'
>;

/** The demo sshd's host keys, as known_hosts lines (from the client's file). */
export function demoKnownHostsLines(
  info: Pick<SshTarget, 'host' | 'port' | 'knownHosts'> = demoCluster()
): string {
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
  writeSshFiles(home, [{ ...info, alias: 'hpc-demo' }]);
}

/**
 * A client home (made by the caller, with a 0700 .ssh) that reaches both
 * demo clusters: `hpc-demo` and the one without accounting (`hpc-noacct`).
 */
export function writeBothClustersSshFiles(
  home: string,
  info = demoCluster()
): void {
  writeSshFiles(home, [info, noAccountingCluster(info)]);
}

function writeSshFiles(home: string, targets: SshTarget[]): void {
  writeFileSync(
    join(home, '.ssh', 'config'),
    targets
      .map(
        t =>
          `Host ${t.alias}\n  HostName ${t.host}\n  Port ${t.port}\n  User ${t.user}\n` +
          `  IdentityFile ${t.identityFile}\n  IdentitiesOnly yes\n`
      )
      .join(''),
    { mode: 0o600 }
  );
  // Both clusters are behind the one demo sshd: its host keys once.
  writeFileSync(
    join(home, '.ssh', 'known_hosts'),
    demoKnownHostsLines(targets[0]),
    { mode: 0o600 }
  );
}

/**
 * A launch request for the demo cluster's JupyterLab environment (the same
 * prefix on the cluster without accounting).
 */
export function demoLaunchRequest(
  overrides: Partial<ILaunchRequest> = {},
  info: { envs: IDemoEnv[] } = demoCluster()
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
