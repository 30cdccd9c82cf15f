/**
 * A cluster's partitions as the launch form shows them: limits from
 * `scontrol --oneliner show partition`, nodes and resources from `sinfo`.
 * Pure: the caller runs both commands (one round trip: they can share one
 * script) and hands their output here.
 */
import type { IGres, IPartition } from '../../common/sessions';
import { parseSlurmDuration } from './duration';
import type { ICommandText } from './output';

export type { IGres, IPartition };

export const SINFO_FORMAT = '%R|%F|%c|%m|%G|%f';

export const SINFO_ARGV: readonly string[] = [
  'sinfo',
  '--noheader',
  '--all',
  `--format=${SINFO_FORMAT}`
];

export const SCONTROL_PARTITIONS_ARGV: readonly string[] = [
  'scontrol',
  '--oneliner',
  'show',
  'partition'
];

/** `Key=Value Key=Value …` of one scontrol --oneliner record. */
export function parseScontrolRecord(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const word of line.trim().split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq > 0) {
      fields.set(word.slice(0, eq), word.slice(eq + 1));
    }
  }
  return fields;
}

/** `gpu:tesla:2(S:0-1),mps:100` → its parts; `(null)` → none. */
export function parseGres(text: string): IGres[] {
  const t = text.trim();
  if (t === '' || t === '(null)') {
    return [];
  }
  const out: IGres[] = [];
  // Commas also appear inside `(S:0,1)` socket lists.
  for (const item of t.replace(/\([^)]*\)/g, '').split(',')) {
    const parts = item.trim().split(':');
    if (parts[0] === '') {
      continue;
    }
    const last = parts[parts.length - 1];
    const count = /^\d+$/.test(last) ? Number(last) : 1;
    const named = /^\d+$/.test(last) ? parts.slice(0, -1) : parts;
    out.push({ name: named[0], type: named[1] ?? null, count });
  }
  return out;
}

function limit(text: string | undefined): number | null {
  if (!text || !/^\d+$/.test(text)) {
    return null;
  }
  return Number(text);
}

function allowList(text: string | undefined): 'all' | string[] {
  if (!text || text.toUpperCase() === 'ALL') {
    return 'all';
  }
  return text.split(',').filter(s => s !== '');
}

/** `4000`, `4000+` (sinfo's "at least") → 4000. */
function count(text: string): number {
  const n = Number(text.replace(/\+$/, ''));
  if (!Number.isFinite(n)) {
    throw new Error(`Unexpected sinfo number: ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * Merge the two outputs into one entry per partition, in scontrol's order.
 * A partition sinfo does not list (no nodes) has zero nodes.
 */
export function parsePartitions(
  scontrol: ICommandText,
  sinfo: ICommandText
): IPartition[] {
  const partitions = new Map<string, IPartition>();
  for (const line of scontrol.stdout.split('\n')) {
    if (!line.startsWith('PartitionName=')) {
      continue;
    }
    const f = parseScontrolRecord(line);
    const name = f.get('PartitionName')!;
    partitions.set(name, {
      name,
      isDefault: f.get('Default') === 'YES',
      up: f.get('State') === 'UP',
      maxTimeSeconds: parseSlurmDuration(f.get('MaxTime') ?? 'UNLIMITED'),
      defaultTimeSeconds: parseSlurmDuration(f.get('DefaultTime') ?? 'NONE'),
      nodes: { allocated: 0, idle: 0, other: 0, total: 0 },
      cpusPerNode: { min: 0, max: 0 },
      memoryMiBPerNode: { min: 0, max: 0 },
      gres: [],
      features: [],
      allowAccounts: allowList(f.get('AllowAccounts')),
      allowQos: allowList(f.get('AllowQos')),
      maxCpusPerNode: limit(f.get('MaxCPUsPerNode')),
      maxMemMiBPerNode: limit(f.get('MaxMemPerNode'))
    });
  }
  for (const line of sinfo.stdout.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    const parts = line.split('|');
    if (parts.length !== 6) {
      throw new Error(`Unexpected sinfo line: ${JSON.stringify(line)}`);
    }
    const [name, nodes, cpus, memory, gres, features] = parts;
    const p = partitions.get(name.trim());
    if (!p) {
      continue;
    }
    const [a, i, o, t] = nodes.split('/').map(Number);
    const first = p.nodes.total === 0;
    p.nodes.allocated += a;
    p.nodes.idle += i;
    p.nodes.other += o;
    p.nodes.total += t;
    for (const [range, value] of [
      [p.cpusPerNode, count(cpus)],
      [p.memoryMiBPerNode, count(memory)]
    ] as const) {
      range.min = first ? value : Math.min(range.min, value);
      range.max = first ? value : Math.max(range.max, value);
    }
    for (const g of parseGres(gres)) {
      const known = p.gres.find(x => x.name === g.name && x.type === g.type);
      if (known) {
        known.count = Math.max(known.count, g.count);
      } else {
        p.gres.push(g);
      }
    }
    for (const feature of features.trim() === '(null)'
      ? []
      : features.split(',')) {
      if (feature !== '' && !p.features.includes(feature)) {
        p.features.push(feature);
      }
    }
  }
  return [...partitions.values()];
}
