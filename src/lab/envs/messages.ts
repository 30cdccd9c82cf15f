import { TranslationBundle } from '@jupyterlab/translation';

import {
  CondaToolName,
  ICondaEnvironment,
  IEnvironmentList,
  ITask,
  LOCAL_TARGET
} from '../../common/api';

/** Where Miniforge goes by default: the cluster tutorial's location. */
export const DEFAULT_MINIFORGE_PREFIX = '~/.local/miniforge';

/** The tutorial's way to make a project environment that Jupyter can run. */
export const CREATE_ENV_COMMAND =
  'conda create -n my-project-env python ipykernel';

/** "this computer" or the cluster's name, for sentences. */
export function targetLabel(target: string, trans: TranslationBundle): string {
  return target === LOCAL_TARGET ? trans.__('this computer') : target;
}

/** What a list says about conda, mamba and micromamba. */
type ToolFacts = Pick<IEnvironmentList, 'tools' | 'toolsOnPath'>;

/** The package managers, in the order a hint prefers them. */
const TOOL_ORDER: readonly CondaToolName[] = ['conda', 'mamba', 'micromamba'];

/**
 * The package manager a hint names, as a shell word that runs it in the
 * target's login shell: its name when the login PATH finds it, else its
 * absolute path (quoted when it needs to be). Null when there is none.
 */
export function packageManagerWord(
  list: ToolFacts
): { kind: CondaToolName; word: string; root: string | null } | null {
  const kind = TOOL_ORDER.find(t => list.tools[t]);
  if (!kind) {
    return null;
  }
  const path = list.tools[kind]!;
  const root = /^(.+)\/(?:bin|condabin)\/[^/]+$/.exec(path)?.[1] ?? null;
  return list.toolsOnPath.includes(kind)
    ? { kind, word: kind, root }
    : { kind, word: shellWord(path), root };
}

/**
 * The package manager command a user would type: `-n name` for envs in an
 * envs directory (and base), `-p prefix` for envs made with `-p` and for a
 * package manager called by its path that belongs to another install (its
 * `-n` would look in its own envs). mamba or micromamba when that is what
 * the target has. Null when the target has no package manager; before the
 * first scan (`list` null), conda's own command.
 */
export function condaCommand(
  list: IEnvironmentList | null,
  env: ICondaEnvironment,
  args: string
): string | null {
  const manager = list
    ? packageManagerWord(list)
    : { kind: 'conda', word: 'conda', root: null };
  if (!manager) {
    return null;
  }
  const byName =
    env.kind !== 'prefix' &&
    (manager.word === manager.kind || manager.root === env.root);
  const where = byName
    ? `-n ${shellWord(env.name)}`
    : `-p ${shellWord(env.prefix)}`;
  return `${manager.word} install ${where} ${args}`;
}

/**
 * The command that installs ipykernel into `env`, as the install task would:
 * with the target's package manager, else with the env's own pip.
 */
export function installIpykernelCommand(
  list: IEnvironmentList | null,
  env: ICondaEnvironment
): string {
  return (
    condaCommand(list, env, 'ipykernel') ??
    `${shellWord(`${env.prefix}/bin/python`)} -m pip install ipykernel`
  );
}

/**
 * `conda create -n <name> <packages>` with the package manager the target
 * has, named so that it runs there (CREATE_ENV_COMMAND by default).
 */
export function createEnvCommand(
  list: ToolFacts,
  name = 'my-project-env',
  packages = 'python ipykernel'
): string {
  const manager = packageManagerWord(list);
  return `${manager?.word ?? 'conda'} create -n ${shellWord(name)} ${packages}`;
}

/**
 * CREATE_ENV_COMMAND once Miniforge is installed at the default prefix: the
 * install does not run `conda init`, so conda is not on PATH yet.
 */
export const MINIFORGE_CREATE_ENV_COMMAND = `${DEFAULT_MINIFORGE_PREFIX}/bin/conda create -n my-project-env python ipykernel`;

/** Quote a word for a POSIX shell only when it needs it (for display). */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./~:@%+=,-]+$/.test(word)
    ? word
    : `'${word.replace(/'/g, "'\\''")}'`;
}

/** What the settings get for "Use for JupyterLab": a name when it is unambiguous. */
export function jupyterEnvironmentValue(
  list: IEnvironmentList | null,
  env: ICondaEnvironment
): string {
  if (env.kind !== 'named') {
    return env.prefix;
  }
  const sameName = (list?.envs ?? []).filter(e => e.name === env.name);
  return sameName.length <= 1 ? env.name : env.prefix;
}

/** True when the target has no conda, mamba or micromamba and no environment. */
export function hasNoConda(list: IEnvironmentList): boolean {
  return (
    !list.tools.conda &&
    !list.tools.mamba &&
    !list.tools.micromamba &&
    list.roots.length === 0 &&
    list.envs.length === 0
  );
}

/** Does `env` match what the user typed in the filter box? */
export function matchesFilter(env: ICondaEnvironment, filter: string): boolean {
  const words = filter.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) {
    return true;
  }
  const haystack = [
    env.name,
    env.prefix,
    env.pythonVersion ? `python ${env.pythonVersion}` : '',
    env.registered?.displayName ?? '',
    env.registered?.name ?? ''
  ]
    .join('\n')
    .toLowerCase();
  return words.every(w => haystack.includes(w));
}

/** base first, then by name, then by prefix: how `conda env list` reads. */
export function sortEnvs(
  envs: readonly ICondaEnvironment[]
): ICondaEnvironment[] {
  const rank = (e: ICondaEnvironment) => (e.kind === 'base' ? 0 : 1);
  return [...envs].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.name.localeCompare(b.name) ||
      a.prefix.localeCompare(b.prefix)
  );
}

/** A task's state in words, for the task view and notifications. */
export function taskStateLabel(
  state: ITask['state'],
  trans: TranslationBundle
): string {
  switch (state) {
    case 'running':
      return trans.__('Running');
    case 'succeeded':
      return trans.__('Done');
    case 'failed':
      return trans.__('Failed');
    case 'cancelled':
      return trans.__('Cancelled');
  }
}

/** "12 s", "3 min 4 s": how long a task ran or runs. */
export function formatDuration(ms: number, trans: TranslationBundle): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) {
    return trans.__('%1 s', seconds);
  }
  return trans.__('%1 min %2 s', Math.floor(seconds / 60), seconds % 60);
}
