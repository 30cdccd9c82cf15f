import { TranslationBundle } from '@jupyterlab/translation';

import { IEnvironmentList, ICondaEnvironment } from '../../common/api';
import { ILaunchOffer, IPartition, SlurmDuration } from '../../common/sessions';
import { condaCommand, shellWord } from '../envs/messages';
import { gpusOf, qosFor } from './draft';

/** Seconds as Slurm writes a time: `30:00`, `1:00:00`, `2-00:00:00`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  const hms = `${hours}:${two(minutes)}:${two(rest)}`;
  return days > 0 ? `${days}-${two(hours)}:${two(minutes)}:${two(rest)}` : hms;
}

export function formatLimit(
  limit: SlurmDuration,
  trans: TranslationBundle
): string {
  if (limit === null) {
    return trans.__('unknown');
  }
  return limit === 'unlimited' ? trans.__('no limit') : formatSeconds(limit);
}

/** MiB in the unit people read: `500 MiB`, `3.9 GiB`. */
export function formatMiB(mib: number): string {
  if (mib >= 1024 * 1024) {
    return `${+(mib / 1024 / 1024).toFixed(1)} TiB`;
  }
  return mib >= 1024 ? `${+(mib / 1024).toFixed(1)} GiB` : `${mib} MiB`;
}

function range(min: number, max: number, show: (n: number) => string) {
  return min === max ? show(max) : `${show(min)}–${show(max)}`;
}

/** `gpu:tesla:2, gpu:a100:4` */
export function formatGres(partition: IPartition): string {
  return partition.gres
    .map(g => [g.name, g.type, g.count].filter(x => x !== null).join(':'))
    .join(', ');
}

/**
 * One partition in one line, for its option in the select:
 * `gpu — max 1:00:00 · 1/1 nodes idle · 2 CPUs, 3.9 GiB per node · gpu:tesla:2`.
 */
export function partitionLabel(
  partition: IPartition,
  trans: TranslationBundle
): string {
  const parts = [
    trans.__('max %1', formatLimit(partition.maxTimeSeconds, trans)),
    trans.__('%1/%2 nodes idle', partition.nodes.idle, partition.nodes.total),
    trans.__(
      '%1 CPUs, %2 per node',
      range(partition.cpusPerNode.min, partition.cpusPerNode.max, String),
      range(
        partition.memoryMiBPerNode.min,
        partition.memoryMiBPerNode.max,
        formatMiB
      )
    )
  ];
  if (partition.gres.length > 0) {
    parts.push(formatGres(partition));
  }
  let name = partition.name;
  if (partition.isDefault) {
    name = trans.__('%1 (default)', name);
  }
  if (!partition.up) {
    name = trans.__('%1 (down)', name);
  }
  return `${name} — ${parts.join(' · ')}`;
}

/** The wall time limits that apply: the partition's and the QOS's. */
export function wallTimeHint(
  offer: ILaunchOffer | null,
  partition: IPartition | null,
  qos: string,
  trans: TranslationBundle
): string {
  const out = [trans.__('e.g. 2:00:00, 90 (minutes) or 1-12:00:00.')];
  if (partition) {
    out.push(
      trans.__(
        'The %1 partition allows %2.',
        partition.name,
        formatLimit(partition.maxTimeSeconds, trans)
      )
    );
  }
  const maxWall = qos ? offer?.accounting.qosMaxWallSeconds[qos] : undefined;
  if (typeof maxWall === 'number') {
    out.push(trans.__('The QOS %1 allows %2.', qos, formatSeconds(maxWall)));
  }
  return out.join(' ');
}

export function cpusHint(
  partition: IPartition | null,
  trans: TranslationBundle
): string {
  if (!partition) {
    return trans.__('CPUs for JupyterLab and its kernels (--cpus-per-task).');
  }
  const max = Math.min(
    partition.cpusPerNode.max,
    partition.maxCpusPerNode ?? Infinity
  );
  return trans.__('At most %1 on the %2 partition.', max, partition.name);
}

export function memoryHint(
  partition: IPartition | null,
  trans: TranslationBundle
): string {
  const base = trans.__('Per node, e.g. 8G or 500M; empty for the default.');
  if (!partition) {
    return base;
  }
  const max = Math.min(
    partition.memoryMiBPerNode.max,
    partition.maxMemMiBPerNode ?? Infinity
  );
  return `${base} ${trans.__('At most %1 on the %2 partition.', formatMiB(max), partition.name)}`;
}

export function constraintHint(
  partition: IPartition | null,
  trans: TranslationBundle
): string {
  const base = trans.__('Node features joined by & or |; empty for any node.');
  if (!partition) {
    return base;
  }
  return partition.features.length > 0
    ? `${base} ${trans.__('Features on %1: %2.', partition.name, partition.features.join(', '))}`
    : `${base} ${trans.__('The %1 partition lists no features.', partition.name)}`;
}

/** The GPU type options of a partition: `tesla (2 per node)`. */
export function gpuTypeOptions(
  partition: IPartition | null,
  trans: TranslationBundle
): { value: string; label: string }[] {
  return [
    { value: '', label: trans.__('Any type') },
    ...gpusOf(partition)
      .filter(g => g.type !== null)
      .map(g => ({
        value: g.type as string,
        label: trans.__('%1 (%2 per node)', g.type as string, g.count)
      }))
  ];
}

/** Why the QOS list is what it is, under the QOS select. */
export function qosHint(
  offer: ILaunchOffer,
  account: string,
  trans: TranslationBundle
): string {
  const chosen = account || offer.accounting.defaultAccount || '';
  const list = qosFor(offer, account);
  return chosen
    ? trans.__('The QOS the account %1 can use: %2.', chosen, list.join(', '))
    : trans.__('Empty for your default QOS.');
}

/**
 * The command that adds JupyterLab to an environment, with the cluster's
 * package manager, else with the environment's own pip.
 */
export function installJupyterLabCommand(
  list: IEnvironmentList | null,
  env: ICondaEnvironment
): string {
  return (
    condaCommand(list, env, 'jupyterlab') ??
    `${shellWord(`${env.prefix}/bin/python`)} -m pip install jupyterlab`
  );
}
