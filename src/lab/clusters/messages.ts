import { TranslationBundle } from '@jupyterlab/translation';

import {
  CondaToolName,
  IClusterStatus,
  IConnectionTest,
  ISshHostAlias
} from '../../common/api';
import { Tone } from '../panel/messages';
import { FieldProblem } from './validation';

export interface IStateBadge {
  /** Drives the badge's color; 'idle' is the quiet gray of "nothing yet". */
  tone: Tone | 'idle';
  label: string;
}

/** The state badge of a cluster row. */
export function stateBadge(
  status: IClusterStatus | null,
  trans: TranslationBundle
): IStateBadge {
  switch (status?.state ?? 'idle') {
    case 'connected':
      return { tone: 'ok', label: trans.__('Connected') };
    case 'connecting':
      return { tone: 'busy', label: trans.__('Connecting…') };
    case 'needs-input':
      return { tone: 'warning', label: trans.__('Needs input') };
    case 'reconnecting':
      return {
        tone: 'warning',
        label: trans.__('Reconnecting (attempt %1)', status?.attempt ?? 1)
      };
    case 'error':
      return {
        tone: 'error',
        label: trans.__(
          'Error: %1',
          status?.error?.message || trans.__('the connection failed')
        )
      };
    default:
      return { tone: 'idle', label: trans.__('Not connected') };
  }
}

/** One line for a configured Host of ~/.ssh/config: `user@host:port via gw`. */
export function describeAlias(
  alias: ISshHostAlias,
  trans: TranslationBundle
): string {
  if (!alias.hostName) {
    return trans.__('%1 (cannot be resolved)', alias.alias);
  }
  const user = alias.user ? `${alias.user}@` : '';
  const port = alias.port ? `:${alias.port}` : '';
  const target = `${user}${alias.hostName}${port}`;
  return alias.via ? trans.__('%1 via %2', target, alias.via) : target;
}

/** The rows of a connection test, label then value, for a definition list. */
export function testSummary(
  result: IConnectionTest,
  trans: TranslationBundle
): [string, string][] {
  const rows: [string, string][] = [
    [
      trans.__('Round trip'),
      result.connectMs > 0
        ? trans.__(
            '%1 ms (connected in %2 ms)',
            formatMs(result.rttMs),
            formatMs(result.connectMs)
          )
        : trans.__('%1 ms', formatMs(result.rttMs))
    ],
    [
      trans.__('SLURM'),
      result.slurmVersion ? result.slurmVersion : trans.__('SLURM not found')
    ],
    ...(['conda', 'mamba', 'micromamba'] as const).map(
      (tool): [string, string] => [tool, toolText(result, tool, trans)]
    ),
    [trans.__('Remote host'), result.remoteHost],
    [trans.__('Shell'), result.shell]
  ];
  if (result.sshClient) {
    rows.push([
      trans.__('SSH client'),
      result.sshClient === 'openssh'
        ? trans.__('OpenSSH (ControlMaster)')
        : trans.__('Built-in')
    ]);
  }
  return rows;
}

/**
 * Where a package manager is: its path, and whether typing its name works
 * (conda installed without `conda init` is not on PATH).
 */
function toolText(
  result: IConnectionTest,
  tool: CondaToolName,
  trans: TranslationBundle
): string {
  const path = result.tools[tool];
  if (!path) {
    return trans.__('not found');
  }
  return result.toolsOnPath.includes(tool)
    ? path
    : trans.__('%1 (not on PATH)', path);
}

/** A short sentence for a notification after a successful test. */
export function testHeadline(
  name: string,
  result: IConnectionTest,
  trans: TranslationBundle
): string {
  const tools = (['conda', 'mamba', 'micromamba'] as const).filter(
    t => result.tools[t]
  );
  return trans.__(
    '%1: %2 ms round trip, %3, %4',
    name,
    formatMs(result.rttMs),
    result.slurmVersion ?? trans.__('SLURM not found'),
    tools.length > 0
      ? tools.join(', ')
      : trans.__('no conda, mamba or micromamba')
  );
}

function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

/** The inline message of a field the "Add cluster" form refuses. */
export function problemMessage(
  problem: FieldProblem,
  trans: TranslationBundle
): string {
  switch (problem) {
    case 'required':
      return trans.__('Required.');
    case 'duplicate':
      return trans.__('Another cluster has this name.');
    case 'name-pattern':
      return trans.__(
        'Use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.'
      );
    case 'host-has-user':
      return trans.__('Put the user name in the User field, not in the host.');
    case 'host-pattern':
      return trans.__('A host name, an address or an alias: no spaces or "/".');
    case 'user-pattern':
      return trans.__(
        'Use up to 64 letters, digits, ".", "_" or "-", not starting with "." or "-".'
      );
    case 'port-not-number':
      return trans.__('A whole number, or empty for the default.');
    case 'port-range':
      return trans.__('A port between 1 and 65535.');
    case 'jump-pattern':
      return trans.__(
        '[user@]host[:port], several separated by commas, without spaces.'
      );
  }
}
