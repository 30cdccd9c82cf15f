import { IClusterConfig, SshClientSetting } from '../../common/settings';
import { clusterSchemaErrors, fieldOf } from '../../common/settings-schema';

/** What the "Add cluster" form holds: the text of each field. */
export interface IClusterDraft {
  name: string;
  host: string;
  user: string;
  port: string;
  identityFile: string;
  jumpHost: string;
  transport: 'ssh' | 'local';
  sshClient: SshClientSetting;
}

export type DraftField = Exclude<
  keyof IClusterDraft,
  'transport' | 'sshClient'
>;

/** Why a field is refused; the view turns it into a sentence. */
export type FieldProblem =
  | 'required'
  | 'duplicate'
  | 'name-pattern'
  | 'host-has-user'
  | 'host-pattern'
  | 'user-pattern'
  | 'port-not-number'
  | 'port-range'
  | 'jump-pattern';

export type DraftProblems = Partial<Record<DraftField, FieldProblem>>;

export const EMPTY_DRAFT: IClusterDraft = {
  name: '',
  host: '',
  user: '',
  port: '',
  identityFile: '',
  jumpHost: '',
  transport: 'ssh',
  sshClient: 'auto'
};

/** The form's text for a configured cluster (to edit it). */
export function draftFromCluster(cluster: IClusterConfig): IClusterDraft {
  return {
    name: cluster.name,
    host: cluster.host,
    user: cluster.user ?? '',
    port: typeof cluster.port === 'number' ? String(cluster.port) : '',
    identityFile: cluster.identityFile ?? '',
    jumpHost: cluster.jumpHost ?? '',
    transport: cluster.transport === 'local' ? 'local' : 'ssh',
    sshClient: cluster.sshClient ?? 'auto'
  };
}

/** The problem to show for a field the schema refuses. */
const SCHEMA_PROBLEM: Partial<Record<string, FieldProblem>> = {
  name: 'name-pattern',
  host: 'host-pattern',
  user: 'user-pattern',
  port: 'port-range',
  jumpHost: 'jump-pattern'
};

/**
 * Check a draft with schema/plugin.json's own rules (the precompiled
 * validator the sidecar uses too), plus what the schema cannot say: that a
 * field is filled in, that the port is a number, that the name is not taken
 * by another cluster. Fields that only matter for SSH are not checked for a
 * cluster on this computer (they are not saved then).
 */
export function validateDraft(
  draft: IClusterDraft,
  takenNames: readonly string[]
): DraftProblems {
  const problems: DraftProblems = {};
  const port = draft.port.trim();
  const entry: Record<string, unknown> = {
    ...clusterFromDraft({ ...draft, port: /^\d+$/.test(port) ? port : '' })
  };
  for (const error of clusterSchemaErrors(entry)) {
    const field = fieldOf(error) as DraftField;
    const problem = SCHEMA_PROBLEM[field];
    if (problem && !problems[field]) {
      problems[field] = problem;
    }
  }

  const name = draft.name.trim();
  if (!name) {
    problems.name = 'required';
  } else if (!problems.name && takenNames.includes(name)) {
    problems.name = 'duplicate';
  }
  const host = draft.host.trim();
  if (!host) {
    problems.host = 'required';
  } else if (host.includes('@')) {
    problems.host = 'host-has-user';
  }
  if (draft.transport !== 'local' && port && !/^\d+$/.test(port)) {
    problems.port = 'port-not-number';
  }
  return problems;
}

export function hasProblems(problems: DraftProblems): boolean {
  return Object.keys(problems).length > 0;
}

/** The settings entry of a valid draft (see `validateDraft`). */
export function clusterFromDraft(draft: IClusterDraft): IClusterConfig {
  const cluster: IClusterConfig = {
    name: draft.name.trim(),
    host: draft.host.trim(),
    transport: draft.transport
  };
  if (draft.transport === 'local') {
    return cluster;
  }
  const port = draft.port.trim();
  return {
    ...cluster,
    port: port ? Number(port) : null,
    user: draft.user.trim(),
    identityFile: draft.identityFile.trim(),
    jumpHost: draft.jumpHost.trim(),
    sshClient: draft.sshClient
  };
}

/**
 * A valid, unused cluster name made from an ~/.ssh/config alias:
 * `login.hpc.example.org` stays, `my host` becomes `my-host`, a taken name
 * gets `-2`, `-3`, ...
 */
export function suggestName(
  alias: string,
  takenNames: readonly string[]
): string {
  let base = alias
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  if (!base) {
    base = 'cluster';
  }
  if (!takenNames.includes(base)) {
    return base;
  }
  for (let i = 2; ; i++) {
    const suffix = `-${i}`;
    const candidate = base.slice(0, 64 - suffix.length) + suffix;
    if (!takenNames.includes(candidate)) {
      return candidate;
    }
  }
}
