/**
 * The launch form's values, checked before anything reaches sbatch: first
 * their shape (so nothing odd reaches a command line), then against what
 * the cluster reports (partition limits, GPUs, the user's accounts and QOS).
 * Pure. Each problem names its field, so the form shows it beside it. What
 * the cluster does not report (no accounting) is left to sbatch, whose own
 * refusal the user then sees as is.
 */
import type { ILaunchProblem, ILaunchRequest } from '../../common/sessions';
import type { Accounting } from '../slurm/accounting';
import {
  formatSlurmDuration,
  parseWallTime,
  type SlurmDuration
} from '../slurm/duration';
import type { IPartition } from '../slurm/partitions';

/** What the cluster reported, for the checks against it. */
export interface IClusterOffer {
  partitions: IPartition[];
  accounting: Accounting;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MEMORY = /^(\d{1,9})([KMGT]?)$/;
/** Slurm feature expressions: names joined by & | , with [] () and *count. */
const CONSTRAINT = /^[A-Za-z0-9_.&|,*[\]():-]{1,256}$/;
const MAX_PATH = 4096;

const MEMORY_MIB: Record<string, number> = {
  '': 1,
  K: 1 / 1024,
  M: 1,
  G: 1024,
  T: 1024 * 1024
};

/** `8G` → MiB (Slurm's unit without a suffix is MiB). */
export function memoryMiB(text: string): number {
  const m = MEMORY.exec(text);
  if (!m) {
    throw new Error(`Not a memory size: ${JSON.stringify(text)}`);
  }
  return Number(m[1]) * MEMORY_MIB[m[2]];
}

function problem(
  field: ILaunchProblem['field'],
  message: string
): ILaunchProblem {
  return { field, message };
}

/** A path on the cluster: absolute, or `~`/`~/…` for the home directory. */
function checkPath(
  field: 'environment' | 'workingDirectory',
  path: string,
  emptyOk: boolean
): ILaunchProblem | null {
  if (path === '') {
    return emptyOk ? null : problem(field, 'Choose an environment.');
  }
  if (path.length > MAX_PATH) {
    return problem(field, `A path can be at most ${MAX_PATH} characters.`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) {
    return problem(field, 'A path cannot contain control characters.');
  }
  const home = field === 'workingDirectory' && /^~(\/|$)/.test(path);
  if (!path.startsWith('/') && !home) {
    return problem(
      field,
      field === 'workingDirectory'
        ? 'Use an absolute path, or ~/… for one in your home directory.'
        : 'Use the absolute path of the environment.'
    );
  }
  return null;
}

/** Problems of shape alone: no cluster facts needed. */
export function checkLaunchShape(req: ILaunchRequest): ILaunchProblem[] {
  const out: ILaunchProblem[] = [];
  for (const field of ['partition', 'account', 'qos'] as const) {
    if (req[field] !== '' && !NAME.test(req[field])) {
      out.push(
        problem(
          field,
          'Use letters, digits, _ . and - only (at most 64 characters).'
        )
      );
    }
  }
  try {
    parseWallTime(req.wallTime);
  } catch (err) {
    out.push(problem('wallTime', (err as Error).message));
  }
  if (!Number.isInteger(req.cpus) || req.cpus < 1 || req.cpus > 4096) {
    out.push(problem('cpus', 'CPUs must be a whole number from 1 to 4096.'));
  }
  if (req.memory !== '' && !MEMORY.test(req.memory)) {
    out.push(
      problem('memory', 'Memory is a number with K, M, G or T: 8G, 500M.')
    );
  }
  const gpus = req.gpus;
  if (!Number.isInteger(gpus.count) || gpus.count < 0 || gpus.count > 64) {
    out.push(
      problem('gpus.count', 'GPUs must be a whole number from 0 to 64.')
    );
  }
  if (gpus.type !== '' && !NAME.test(gpus.type)) {
    out.push(problem('gpus.type', 'Not a GPU type this form can pass on.'));
  }
  if (req.constraint !== '' && !CONSTRAINT.test(req.constraint)) {
    out.push(
      problem(
        'constraint',
        'A constraint is feature names joined by & | and , (no spaces).'
      )
    );
  }
  for (const p of [
    checkPath('environment', req.environment, false),
    checkPath('workingDirectory', req.workingDirectory, true)
  ]) {
    if (p) {
      out.push(p);
    }
  }
  if (
    !Number.isInteger(req.startTimeoutSeconds) ||
    req.startTimeoutSeconds < 10 ||
    req.startTimeoutSeconds > 3600
  ) {
    out.push(
      problem(
        'startTimeoutSeconds',
        'The start time-out is from 10 to 3600 seconds.'
      )
    );
  }
  return out;
}

function within(seconds: number, limit: SlurmDuration): boolean {
  return limit === null || limit === 'unlimited' || seconds <= limit;
}

function names(items: string[]): string {
  return items.length === 0 ? '(none)' : items.join(', ');
}

/** Problems against what the cluster reported; run after the shape checks. */
export function checkLaunchAgainst(
  req: ILaunchRequest,
  offer: IClusterOffer
): ILaunchProblem[] {
  const out: ILaunchProblem[] = [];
  const partition =
    req.partition === ''
      ? offer.partitions.find(p => p.isDefault)
      : offer.partitions.find(p => p.name === req.partition);
  if (!partition) {
    if (req.partition !== '') {
      out.push(
        problem(
          'partition',
          `There is no partition ${req.partition} on this cluster; there are: ${names(offer.partitions.map(p => p.name))}.`
        )
      );
    }
  } else {
    const where = `The ${partition.name} partition`;
    if (!partition.up) {
      out.push(
        problem('partition', `${where} is not up: jobs would not start.`)
      );
    }
    const seconds = parseWallTime(req.wallTime);
    if (!within(seconds, partition.maxTimeSeconds)) {
      out.push(
        problem(
          'wallTime',
          `${where} allows at most ${formatSlurmDuration(partition.maxTimeSeconds as number)}.`
        )
      );
    }
    const maxCpus = Math.min(
      partition.cpusPerNode.max,
      partition.maxCpusPerNode ?? Infinity
    );
    if (partition.nodes.total > 0 && req.cpus > maxCpus) {
      out.push(
        problem('cpus', `${where} has at most ${maxCpus} CPUs per node.`)
      );
    }
    const maxMem = Math.min(
      partition.memoryMiBPerNode.max,
      partition.maxMemMiBPerNode ?? Infinity
    );
    if (
      partition.nodes.total > 0 &&
      req.memory !== '' &&
      memoryMiB(req.memory) > maxMem
    ) {
      out.push(
        problem('memory', `${where} has at most ${maxMem} MiB per node.`)
      );
    }
    if (req.gpus.count > 0) {
      const gpus = partition.gres.filter(g => g.name === 'gpu');
      const fitting = gpus.filter(
        g => req.gpus.type === '' || g.type === req.gpus.type
      );
      if (gpus.length === 0) {
        out.push(problem('gpus.count', `${where} has no GPUs.`));
      } else if (fitting.length === 0) {
        out.push(
          problem(
            'gpus.type',
            `${where} has no ${req.gpus.type} GPUs; it has: ${names(gpus.map(g => g.type ?? 'untyped'))}.`
          )
        );
      } else if (Math.max(...fitting.map(g => g.count)) < req.gpus.count) {
        out.push(
          problem(
            'gpus.count',
            `${where} has at most ${Math.max(...fitting.map(g => g.count))} such GPUs per node.`
          )
        );
      }
    }
    if (
      req.account !== '' &&
      partition.allowAccounts !== 'all' &&
      !partition.allowAccounts.includes(req.account)
    ) {
      out.push(
        problem(
          'account',
          `${where} takes jobs of the accounts ${names(partition.allowAccounts)} only.`
        )
      );
    }
    if (
      req.qos !== '' &&
      partition.allowQos !== 'all' &&
      !partition.allowQos.includes(req.qos)
    ) {
      out.push(
        problem(
          'qos',
          `${where} takes jobs of the QOS ${names(partition.allowQos)} only.`
        )
      );
    }
  }

  const acct = offer.accounting;
  if (acct.enabled) {
    const partitionName = partition?.name ?? req.partition;
    const usable = acct.associations.filter(
      a => a.partition === null || a.partition === partitionName
    );
    const account = req.account !== '' ? req.account : acct.defaultAccount;
    const accounts = [...new Set(usable.map(a => a.account))];
    const assoc = usable.find(a => a.account === account);
    if (req.account !== '' && !assoc) {
      out.push(
        problem(
          'account',
          `You have no account ${req.account}${partition ? ` for the ${partition.name} partition` : ''}; yours: ${names(accounts)}.`
        )
      );
    }
    if (assoc && req.qos !== '' && !assoc.qos.includes(req.qos)) {
      out.push(
        problem(
          'qos',
          `The account ${assoc.account} cannot use the QOS ${req.qos}; it can use: ${names(assoc.qos)}.`
        )
      );
    }
    const qos = req.qos !== '' ? req.qos : (assoc?.defaultQos ?? '');
    const maxWall = acct.qosMaxWallSeconds.get(qos) ?? null;
    const seconds = parseWallTime(req.wallTime);
    if (qos !== '' && !within(seconds, maxWall)) {
      out.push(
        problem(
          'wallTime',
          `The QOS ${qos} allows at most ${formatSlurmDuration(maxWall as number)}; a longer job would wait forever (QOSMaxWallDurationPerJobLimit).`
        )
      );
    }
  }
  return out;
}

/**
 * The values no check above could verify: an account or QOS on a cluster
 * without accounting, which only sbatch can judge.
 */
export function uncheckedFields(
  req: ILaunchRequest,
  offer: IClusterOffer
): ILaunchProblem[] {
  if (offer.accounting.enabled) {
    return [];
  }
  const out: ILaunchProblem[] = [];
  if (req.account !== '') {
    out.push(
      problem(
        'account',
        `Not checked: this cluster has no accounting to list accounts; the job is labelled ${req.account} as given.`
      )
    );
  }
  if (req.qos !== '') {
    // Slurm 22.05 without accounting takes any --qos and runs the job with
    // none (scontrol shows QOS=(null)).
    out.push(
      problem(
        'qos',
        `Not checked: this cluster has no accounting, so no QOS; Slurm accepts ${req.qos} and ignores it.`
      )
    );
  }
  return out;
}

/** Every problem: shape first; facts only when the shape is right. */
export function checkLaunch(
  req: ILaunchRequest,
  offer: IClusterOffer | null
): ILaunchProblem[] {
  const shape = checkLaunchShape(req);
  if (shape.length > 0 || offer === null) {
    return shape;
  }
  return checkLaunchAgainst(req, offer);
}
