/**
 * What Slurm accounting says the user may use: accounts, partitions, QOS
 * and the QOS wall time limits, from `sacctmgr` (pure parsing; the caller
 * runs the commands). A cluster without slurmdbd answers "You are not
 * running a supported accounting_storage plugin": the form then takes
 * free text and sbatch has the last word.
 */
import { parseSlurmDuration, type SlurmDuration } from './duration';
import type { ICommandText } from './output';

/** One association: an account, optionally bound to a partition. */
export interface IAssociation {
  account: string;
  /** null: any partition. */
  partition: string | null;
  qos: string[];
  defaultQos: string | null;
}

export type Accounting =
  | { enabled: false; reason: string }
  | {
      enabled: true;
      associations: IAssociation[];
      defaultAccount: string | null;
      /** QOS name → its MaxWall; only QOS that have one. */
      qosMaxWallSeconds: Map<string, SlurmDuration>;
    };

/** `sacctmgr` argv for the user's associations (`user` must be safe). */
export function associationsArgv(user: string): string[] {
  assertUserName(user);
  return [
    'sacctmgr',
    '--noheader',
    '--parsable2',
    'show',
    'associations',
    `where`,
    `user=${user}`,
    'format=account,partition,qos,defaultqos'
  ];
}

export function defaultAccountArgv(user: string): string[] {
  assertUserName(user);
  return [
    'sacctmgr',
    '--noheader',
    '--parsable2',
    'show',
    'user',
    user,
    'format=defaultaccount'
  ];
}

export const QOS_ARGV: readonly string[] = [
  'sacctmgr',
  '--noheader',
  '--parsable2',
  'show',
  'qos',
  'format=name,maxwall'
];

/** POSIX user names as clusters use them; anything else is refused. */
export function assertUserName(user: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(user)) {
    throw new Error(`Not a user name: ${JSON.stringify(user)}`);
  }
}

const NO_ACCOUNTING =
  /not running a supported accounting_storage plugin|accounting_storage\/none|slurmdbd.*(not|down|unavailable)|connection refused/i;

function list(text: string): string[] {
  return text
    .split(',')
    .map(s => s.trim())
    .filter(s => s !== '');
}

/** Read the three sacctmgr answers (see the argv functions above). */
export function parseAccounting(
  associations: ICommandText,
  defaultAccount: ICommandText,
  qos: ICommandText
): Accounting {
  if (associations.exitCode !== 0 || NO_ACCOUNTING.test(associations.stderr)) {
    const reason =
      associations.stderr.trim().split('\n')[0] ||
      `sacctmgr exited with status ${associations.exitCode}`;
    return { enabled: false, reason };
  }
  const assocs: IAssociation[] = [];
  for (const line of associations.stdout.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    const [account, partition, qosList, defaultQos] = line.split('|');
    if (!account) {
      continue;
    }
    assocs.push({
      account,
      partition: partition ? partition : null,
      qos: list(qosList ?? ''),
      defaultQos: defaultQos ? defaultQos : null
    });
  }
  const qosMaxWallSeconds = new Map<string, SlurmDuration>();
  if (qos.exitCode === 0) {
    for (const line of qos.stdout.split('\n')) {
      const [name, maxWall] = line.split('|');
      if (name && maxWall) {
        qosMaxWallSeconds.set(name, parseSlurmDuration(maxWall));
      }
    }
  }
  const account =
    defaultAccount.exitCode === 0 ? defaultAccount.stdout.trim() : '';
  return {
    enabled: true,
    associations: assocs,
    defaultAccount: account === '' ? null : account,
    qosMaxWallSeconds
  };
}
