import { TranslationBundle } from '@jupyterlab/translation';

import {
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

/**
 * The package manager command a user would type: `-n name` for envs in an
 * envs directory (and base), `-p prefix` for envs made with `-p`. mamba or
 * micromamba when that is what the target has.
 */
export function condaCommand(
  list: IEnvironmentList | null,
  env: ICondaEnvironment,
  args: string
): string {
  const tools = list?.tools;
  const tool =
    tools && !tools.conda
      ? tools.mamba
        ? 'mamba'
        : tools.micromamba
          ? 'micromamba'
          : 'conda'
      : 'conda';
  const where =
    env.kind === 'prefix'
      ? `-p ${shellWord(env.prefix)}`
      : `-n ${shellWord(env.name)}`;
  return `${tool} install ${where} ${args}`;
}

export function installIpykernelCommand(
  list: IEnvironmentList | null,
  env: ICondaEnvironment
): string {
  return condaCommand(list, env, 'ipykernel');
}

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
