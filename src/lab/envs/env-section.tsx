import { TranslationBundle } from '@jupyterlab/translation';
import { Button, caretDownIcon, refreshIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import {
  ICondaEnvironment,
  IEnvironmentList,
  IKernelProfile,
  LOCAL_TARGET
} from '../../common/api';
import { ProfileList } from '../kernels/profile-list';
import { BreakablePath } from '../panel/breakable';
import { MiddleElided } from '../panel/elide';
import { CommandIDs } from '../tokens';
import {
  CREATE_ENV_COMMAND,
  createEnvCommand,
  DEFAULT_MINIFORGE_PREFIX,
  hasNoConda,
  installIpykernelCommand,
  MINIFORGE_CREATE_ENV_COMMAND,
  matchesFilter,
  sortEnvs,
  targetLabel
} from './messages';
import { EnvAction, IEnvTargetState, ITaskState } from './model';

export interface IEnvSectionProps {
  /** LOCAL_TARGET or a cluster name. */
  target: string;
  state: IEnvTargetState;
  expanded: boolean;
  onToggle: () => void;
  /** The filter box's text, kept by the panel across re-renders. */
  filter: string;
  onFilter: (filter: string) => void;
  /** For a cluster: its JupyterLab environment setting (name or prefix). */
  jupyterEnvironment?: string;
  isBusy: (prefix: string, action?: EnvAction) => boolean;
  /** The running ipykernel install of an env started from this page. */
  installing: (prefix: string) => ITaskState | null;
  /** The running Miniforge install of this cluster. */
  installingConda: ITaskState | null;
  /** The cluster kernel profiles of an environment; none without it. */
  profiles?: (prefix: string) => readonly IKernelProfile[];
  commands: CommandRegistry;
  trans: TranslationBundle;
}

/**
 * "Environments" of this computer or of one cluster: collapsed until the
 * user opens it (the list is fetched then), with a filter, one row per
 * environment, and empty states that say how to get one.
 */
export function EnvSection(props: IEnvSectionProps): React.ReactElement {
  const { target, state, expanded, commands, trans } = props;
  const bodyId = React.useId();
  const where = targetLabel(target, trans);
  const list = state.list;
  const refreshArgs = { target };

  return (
    <section
      className="jp-HpcEnvs"
      aria-label={trans.__('Environments on %1', where)}
      data-target={target}
    >
      <div className="jp-HpcEnvs-header">
        <button
          type="button"
          className="jp-HpcEnvs-toggle"
          aria-expanded={expanded}
          aria-controls={bodyId}
          onClick={props.onToggle}
        >
          <caretDownIcon.react
            tag="span"
            className={
              expanded
                ? 'jp-HpcEnvs-caret'
                : 'jp-HpcEnvs-caret jp-mod-collapsed'
            }
          />
          {list
            ? trans.__('Environments (%1)', list.envs.length)
            : trans.__('Environments')}
        </button>
        {expanded && (
          <Button
            minimal={true}
            small={true}
            className="jp-HpcPanel-iconAction"
            aria-label={trans.__('Rescan')}
            title={commands.caption(CommandIDs.refreshEnvs, refreshArgs)}
            disabled={!commands.isEnabled(CommandIDs.refreshEnvs, refreshArgs)}
            onClick={() =>
              void commands.execute(CommandIDs.refreshEnvs, refreshArgs)
            }
          >
            <refreshIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
          </Button>
        )}
      </div>
      {expanded && (
        <div id={bodyId} className="jp-HpcEnvs-body">
          <EnvBody {...props} />
        </div>
      )}
    </section>
  );
}

function EnvBody(props: IEnvSectionProps): React.ReactElement {
  const { target, state, filter, commands, trans } = props;
  const where = targetLabel(target, trans);
  const list = state.list;
  const cluster = target !== LOCAL_TARGET;

  const notes: React.ReactElement[] = [];
  if (state.loading) {
    notes.push(
      <p key="loading" className="jp-HpcEnvs-note" aria-live="polite">
        {state.refreshing || list
          ? trans.__('Looking for environments on %1 again…', where)
          : trans.__('Looking for environments on %1…', where)}
      </p>
    );
  }
  if (state.error) {
    notes.push(
      <p key="error" className="jp-HpcEnvs-error" role="alert">
        {trans.__(
          'The environments on %1 could not be listed: %2',
          where,
          state.error.message
        )}
      </p>
    );
  }
  if (!list) {
    return <>{notes}</>;
  }
  for (const [i, warning] of list.warnings.entries()) {
    notes.push(
      <p key={`warning-${i}`} className="jp-HpcEnvs-warning">
        {warning}
      </p>
    );
  }
  if (cluster && !list.kernelsDir && list.envs.length > 0) {
    notes.push(
      <p key="no-lab" className="jp-HpcEnvs-warning">
        {trans.__(
          'The JupyterLab environment "%1" was not found on %2, so kernels cannot be registered there yet. Choose one with "Use for JupyterLab", or create it: %3',
          props.jupyterEnvironment || 'jupyterlab',
          where,
          createEnvCommand(list, 'jupyterlab', 'jupyterlab ipykernel')
        )}
      </p>
    );
  }

  if (hasNoConda(list)) {
    return (
      <>
        {notes}
        <NoConda {...props} />
      </>
    );
  }
  if (list.envs.length === 0) {
    return (
      <>
        {notes}
        <div className="jp-HpcEnvs-empty">
          <p>
            {trans.__(
              'No conda environments on %1 yet. Create one for your project, with ipykernel so Jupyter can run it, then choose Rescan:',
              where
            )}
          </p>
          <pre className="jp-HpcPanel-fix">
            <BreakablePath text={createEnvCommand(list)} />
          </pre>
        </div>
      </>
    );
  }

  const shown = sortEnvs(list.envs).filter(e => matchesFilter(e, filter));
  return (
    <>
      {notes}
      <input
        type="search"
        className="jp-mod-styled jp-HpcEnvs-filter"
        aria-label={trans.__('Filter environments on %1', where)}
        placeholder={trans.__('Filter environments')}
        title={trans.__('Filter by name, path or Python version')}
        value={filter}
        onChange={event => props.onFilter(event.target.value)}
      />
      {shown.length === 0 ? (
        <p className="jp-HpcEnvs-empty">
          {trans.__('No environment matches "%1".', filter.trim())}
        </p>
      ) : (
        <ul
          className="jp-HpcEnvs-list"
          aria-label={trans.__('Conda environments on %1', where)}
        >
          {shown.map(env => (
            <EnvRow
              key={env.prefix}
              env={env}
              list={list}
              target={target}
              isBusy={action => props.isBusy(env.prefix, action)}
              installing={props.installing(env.prefix)}
              profiles={props.profiles?.(env.prefix) ?? []}
              commands={commands}
              trans={trans}
            />
          ))}
        </ul>
      )}
      {list.kernelsDir && (
        <div className="jp-HpcEnvs-note">
          {trans.__('Kernels are registered in')}{' '}
          <MiddleElided className="jp-HpcEnvs-path" text={list.kernelsDir} />
        </div>
      )}
    </>
  );
}

/** A cluster (or this computer) with no conda of any kind and no env. */
function NoConda(props: IEnvSectionProps): React.ReactElement {
  const { target, commands, trans, installingConda } = props;
  const where = targetLabel(target, trans);
  if (target === LOCAL_TARGET) {
    return (
      <div className="jp-HpcEnvs-empty">
        <p>
          {trans.__(
            'No conda, mamba or micromamba and no conda environment were found on this computer. Install Miniforge (https://conda-forge.org/download), then create an environment for your project:'
          )}
        </p>
        <pre className="jp-HpcPanel-fix">
          <BreakablePath text={CREATE_ENV_COMMAND} />
        </pre>
      </div>
    );
  }
  const args = { cluster: target };
  return (
    <div className="jp-HpcEnvs-empty">
      <p>
        {trans.__(
          'No conda, mamba or micromamba and no conda environment were found on %1. Miniforge can be installed into %2, as the cluster tutorial does; then create environments with:',
          where,
          DEFAULT_MINIFORGE_PREFIX
        )}
      </p>
      <pre className="jp-HpcPanel-fix">
        <BreakablePath text={MINIFORGE_CREATE_ENV_COMMAND} />
      </pre>
      <div className="jp-HpcEnvs-emptyActions">
        {installingConda ? (
          <Button
            small={true}
            className="jp-HpcPanel-action"
            title={installingConda.task.title}
            onClick={() =>
              void commands.execute(CommandIDs.showTask, {
                id: installingConda.task.id
              })
            }
          >
            {trans.__('Installing Miniforge… (show output)')}
          </Button>
        ) : (
          <Button
            small={true}
            className="jp-HpcPanel-action"
            title={commands.caption(CommandIDs.installMiniforge, args)}
            disabled={!commands.isEnabled(CommandIDs.installMiniforge, args)}
            onClick={() =>
              void commands.execute(CommandIDs.installMiniforge, args)
            }
          >
            {trans.__('Install Miniforge…')}
          </Button>
        )}
      </div>
    </div>
  );
}

interface IEnvRowProps {
  env: ICondaEnvironment;
  list: IEnvironmentList;
  target: string;
  isBusy: (action: EnvAction) => boolean;
  installing: ITaskState | null;
  /** Its cluster kernel profiles. */
  profiles?: readonly IKernelProfile[];
  commands: CommandRegistry;
  trans: TranslationBundle;
}

/**
 * One environment: name, Python, where it lives, what Jupyter can do with
 * it, and the actions (commands, so the palette and the row agree).
 */
export function EnvRow(props: IEnvRowProps): React.ReactElement {
  const { env, list, target, isBusy, installing, commands, trans } = props;
  const nameId = React.useId();
  const args = { target, prefix: env.prefix };
  const cluster = target !== LOCAL_TARGET;
  const hostsLab = cluster && list.jupyterlabPrefix === env.prefix;

  const action = (id: string, text: string): React.ReactElement => (
    <Button
      key={id}
      small={true}
      className="jp-HpcPanel-action"
      disabled={!commands.isEnabled(id, args)}
      title={commands.caption(id, args)}
      onClick={() => void commands.execute(id, args)}
    >
      {text}
    </Button>
  );

  const actions: React.ReactElement[] = [];
  if (env.registered) {
    actions.push(
      action(
        CommandIDs.unregisterKernel,
        isBusy('unregister')
          ? trans.__('Unregistering…')
          : trans.__('Unregister')
      )
    );
  } else if (env.ipykernelVersion) {
    actions.push(
      action(
        CommandIDs.registerKernel,
        isBusy('register')
          ? trans.__('Registering…')
          : trans.__('Register kernel')
      )
    );
  } else if (installing) {
    actions.push(
      <Button
        key="show-task"
        small={true}
        className="jp-HpcPanel-action"
        title={installing.task.title}
        onClick={() =>
          void commands.execute(CommandIDs.showTask, {
            id: installing.task.id
          })
        }
      >
        {trans.__('Installing ipykernel… (show output)')}
      </Button>
    );
  } else {
    actions.push(
      action(
        CommandIDs.installIpykernel,
        isBusy('install-ipykernel')
          ? trans.__('Starting…')
          : trans.__('Install ipykernel…')
      )
    );
  }
  if (
    cluster &&
    env.ipykernelVersion &&
    commands.hasCommand(CommandIDs.addKernelProfile)
  ) {
    actions.push(
      action(CommandIDs.addKernelProfile, trans.__('Add as cluster kernel…'))
    );
  }
  if (cluster && env.jupyterlabVersion && !hostsLab) {
    actions.push(
      action(
        CommandIDs.useForJupyterLab,
        isBusy('use-for-jupyterlab')
          ? trans.__('Saving…')
          : trans.__('Use for JupyterLab')
      )
    );
  }

  return (
    <li
      aria-labelledby={nameId}
      className="jp-HpcEnv"
      data-prefix={env.prefix}
      data-registered={env.registered ? 'true' : 'false'}
    >
      <div className="jp-HpcEnv-head">
        <span id={nameId} className="jp-HpcEnv-name" title={env.prefix}>
          {env.name}
        </span>
        <span className="jp-HpcEnv-python">
          {env.pythonVersion
            ? trans.__('Python %1', env.pythonVersion)
            : trans.__('no Python')}
        </span>
      </div>
      <MiddleElided className="jp-HpcEnv-prefix" text={env.prefix} />
      <div className="jp-HpcEnv-badges">
        {env.ipykernelVersion ? (
          <span className="jp-HpcEnv-badge jp-mod-ok">
            {trans.__('ipykernel %1', env.ipykernelVersion)}
          </span>
        ) : (
          <span className="jp-HpcEnv-badge jp-mod-warning">
            {trans.__('no ipykernel')}
          </span>
        )}
        {env.jupyterlabVersion && (
          <span className="jp-HpcEnv-badge">
            {trans.__('JupyterLab %1', env.jupyterlabVersion)}
          </span>
        )}
        {hostsLab && (
          <span
            className="jp-HpcEnv-badge jp-mod-brand"
            title={trans.__(
              'The JupyterLab environment of %1: registered kernels go to %2',
              target,
              list.kernelsDir ?? ''
            )}
          >
            {trans.__('hosts JupyterLab')}
          </span>
        )}
        {env.registered ? (
          <span
            className="jp-HpcEnv-badge jp-mod-ok jp-HpcEnv-kernel"
            title={trans.__(
              'Kernel %1 in %2',
              env.registered.name,
              env.registered.path
            )}
          >
            {trans.__('kernel: %1', env.registered.displayName)}
          </span>
        ) : (
          env.ipykernelVersion && (
            <span className="jp-HpcEnv-badge jp-mod-muted">
              {trans.__('not registered')}
            </span>
          )
        )}
      </div>
      {env.problems.map(problem => (
        <p key={problem.code} className="jp-HpcEnv-problem">
          {problem.message}
        </p>
      ))}
      {!env.ipykernelVersion && (
        <p className="jp-HpcEnv-hint">
          {trans.__(
            'Jupyter needs ipykernel to run this environment. Add it with'
          )}{' '}
          <BreakablePath text={installIpykernelCommand(list, env)} />{' '}
          {trans.__('or choose "Install ipykernel…".')}
        </p>
      )}
      <div
        className="jp-HpcEnv-actions"
        role="group"
        aria-label={trans.__('Environment actions for %1', env.name)}
      >
        {actions}
      </div>
      {props.profiles && props.profiles.length > 0 && (
        <ProfileList
          envName={env.name}
          profiles={props.profiles}
          commands={commands}
          trans={trans}
        />
      )}
    </li>
  );
}
