/**
 * What a cluster offers the launch form: its partitions (limits, nodes,
 * GPUs), the user's accounts and QOS when it has accounting, and its clock's
 * offset from UTC (Slurm prints local times without a zone). Gathered with
 * a handful of short commands on the login node, run side by side over the
 * cluster's one connection.
 */
import type { ICommandOutput } from '../shell/remote-command';
import {
  associationsArgv,
  defaultAccountArgv,
  parseAccounting,
  QOS_ARGV
} from '../slurm/accounting';
import { parseUtcOffset } from '../slurm/duration';
import type { ICommandText } from '../slurm/output';
import {
  parsePartitions,
  SCONTROL_PARTITIONS_ARGV,
  SINFO_ARGV
} from '../slurm/partitions';
import type { ITransport } from '../transport/types';
import type { IClusterOffer } from './launch-check';

export interface IClusterFacts extends IClusterOffer {
  /** The cluster user's name. */
  user: string;
  utcOffsetMinutes: number;
}

/** A finished command's output as text. */
export function asText(output: ICommandOutput): ICommandText {
  return {
    exitCode: output.exitCode,
    stdout: output.stdout.toString('utf8'),
    stderr: output.stderr.toString('utf8')
  };
}

async function run(
  transport: ITransport,
  argv: readonly string[]
): Promise<ICommandText> {
  return asText(await transport.run({ argv, timeoutSeconds: 30 }));
}

/** Ask the cluster; throws a SidecarError when it cannot be reached. */
export async function gatherClusterFacts(
  transport: ITransport
): Promise<IClusterFacts> {
  const [who, offset, scontrol, sinfo] = await Promise.all([
    run(transport, ['id', '-un']),
    run(transport, ['date', '+%z']),
    run(transport, SCONTROL_PARTITIONS_ARGV),
    run(transport, SINFO_ARGV)
  ]);
  if (scontrol.exitCode !== 0) {
    throw new Error(
      `The cluster's partitions could not be read: ${scontrol.stderr.trim() || `scontrol exited with status ${scontrol.exitCode}`}`
    );
  }
  const user = who.stdout.trim();
  const [assoc, account, qos] = await Promise.all([
    run(transport, associationsArgv(user)),
    run(transport, defaultAccountArgv(user)),
    run(transport, QOS_ARGV)
  ]);
  return {
    user,
    utcOffsetMinutes: parseUtcOffset(offset.stdout),
    partitions: parsePartitions(scontrol, sinfo),
    accounting: parseAccounting(assoc, account, qos)
  };
}
