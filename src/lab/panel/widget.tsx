import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  Button,
  ReactWidget,
  refreshIcon,
  settingsIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { LOCAL_TARGET } from '../../common/api';
import { IClusterModel } from '../clusters/model';
import { CommandIDs } from '../tokens';
import { EnvSection } from '../envs/env-section';
import { IEnvironmentsModel } from '../envs/model';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { ClusterRow } from './cluster-row';
import { IStatusMessage, sidecarMessage } from './messages';

export interface IHpcPanelOptions {
  sidecar: ISidecarModel;
  /** The clusters from settings, and whether they could be read. */
  settings: IClusterSettings;
  /** Their connection states, tests and actions. */
  clusters: IClusterModel;
  /** Runs the row and header actions (see CommandIDs). */
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** The environments of this computer and the clusters; none without it. */
  envs?: IEnvironmentsModel | null;
}

/**
 * The left side panel: the sidecar's state, the configured clusters with
 * their environments, and this computer's environments.
 */
export class HpcPanel extends ReactWidget {
  constructor(private readonly _options: IHpcPanelOptions) {
    super();
    this.addClass('jp-HpcPanel');
    const { sidecar, settings, clusters } = _options;
    sidecar.stateChanged.connect(this._changed, this);
    settings.changed.connect(this._changed, this);
    clusters.changed.connect(this._changed, this);
    _options.envs?.changed.connect(this._changed, this);
  }

  /** Whether the Environments section of `target` is open. */
  isExpanded(target: string): boolean {
    return this._expanded.has(target);
  }

  /** Open or close a target's Environments; opening fetches the list once. */
  toggleEnvironments(target: string, expand = !this._expanded.has(target)) {
    const envs = this._options.envs;
    if (expand) {
      this._expanded.add(target);
      const state = envs?.state(target);
      if (envs && state && !state.loading && (!state.list || state.error)) {
        void envs.load(target);
      }
    } else {
      this._expanded.delete(target);
    }
    this.update();
  }

  /** Scroll to a cluster and mark it for a moment (see style/base.css). */
  revealCluster(name: string): void {
    this._highlighted = name;
    this._reveals++;
    this.update();
    requestAnimationFrame(() => {
      this.node
        .querySelector(`[data-cluster-name="${CSS.escape(name)}"]`)
        ?.scrollIntoView({ block: 'nearest' });
    });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    const { sidecar, settings, clusters } = this._options;
    sidecar.stateChanged.disconnect(this._changed, this);
    settings.changed.disconnect(this._changed, this);
    clusters.changed.disconnect(this._changed, this);
    this._options.envs?.changed.disconnect(this._changed, this);
    super.dispose();
  }

  protected render(): React.ReactElement {
    const { sidecar, trans } = this._options;
    return (
      <div className="jp-HpcPanel-content">
        <header className="jp-HpcPanel-header">
          <h2>{trans.__('HPC')}</h2>
        </header>
        <SidecarStatus
          message={sidecarMessage(sidecar.state, trans)}
          state={sidecar.state}
          trans={trans}
          retry={() => void sidecar.refresh()}
        />
        {this._renderClusters()}
        {this._renderLocal()}
      </div>
    );
  }

  private _renderClusters(): React.ReactElement {
    const { settings, clusters, commands, trans } = this._options;
    const error = settings.error;
    const list = settings.clusters;
    return (
      <section
        className="jp-HpcPanel-clusters"
        aria-label={trans.__('Clusters')}
      >
        <div className="jp-HpcPanel-sectionHeader">
          <h3>{trans.__('Clusters')}</h3>
          <span className="jp-HpcPanel-headerActions">
            <Button
              minimal={true}
              disabled={!commands.isEnabled(CommandIDs.addCluster)}
              onClick={() => void commands.execute(CommandIDs.addCluster)}
              title={commands.caption(CommandIDs.addCluster)}
            >
              <addIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
              {trans.__('Add cluster')}
            </Button>
            <Button
              minimal={true}
              aria-label={trans.__('HPC settings')}
              disabled={!commands.isEnabled(CommandIDs.openSettings)}
              title={trans.__(
                'Open the HPC settings: clusters and job defaults'
              )}
              onClick={() => void commands.execute(CommandIDs.openSettings)}
            >
              <settingsIcon.react
                tag="span"
                className="jp-HpcPanel-buttonIcon"
              />
            </Button>
          </span>
        </div>
        {error && (
          <div className="jp-HpcPanel-settingsError" role="alert">
            {trans.__(
              'Your HPC settings could not be read (%1). Fix them in Settings → HPC clusters; until then no cluster is shown.',
              error
            )}
          </div>
        )}
        {clusters.syncError && (
          <div className="jp-HpcPanel-settingsError" role="alert">
            {trans.__(
              'The sidecar did not take the cluster list: %1',
              clusters.syncError.message
            )}
          </div>
        )}
        {error ? null : list.length === 0 ? (
          <p className="jp-HpcPanel-empty">
            {trans.__(
              'No clusters yet. Choose "Add cluster" to add a host from ~/.ssh/config or the login node of your cluster.'
            )}
          </p>
        ) : (
          <ul className="jp-HpcPanel-clusterList">
            {list.map(cluster => {
              const highlighted = cluster.name === this._highlighted;
              return (
                <ClusterRow
                  key={
                    highlighted
                      ? `${cluster.name}#${this._reveals}`
                      : cluster.name
                  }
                  cluster={cluster}
                  status={clusters.status(cluster.name)}
                  test={clusters.lastTest(cluster.name)}
                  isBusy={action => clusters.isBusy(cluster.name, action)}
                  highlighted={highlighted}
                  commands={commands}
                  trans={trans}
                  dismissTest={() => clusters.clearTest(cluster.name)}
                >
                  {this._renderEnvs(cluster.name, cluster.jupyterEnvironment)}
                </ClusterRow>
              );
            })}
          </ul>
        )}
      </section>
    );
  }

  private _renderLocal(): React.ReactElement | null {
    const { trans } = this._options;
    if (!this._options.envs) {
      return null;
    }
    return (
      <section
        className="jp-HpcPanel-local"
        aria-label={trans.__('This computer')}
      >
        <div className="jp-HpcPanel-sectionHeader">
          <h3>{trans.__('This computer')}</h3>
        </div>
        {this._renderEnvs(LOCAL_TARGET)}
      </section>
    );
  }

  private _renderEnvs(
    target: string,
    jupyterEnvironment?: string
  ): React.ReactElement | null {
    const { envs, commands, trans } = this._options;
    if (!envs) {
      return null;
    }
    return (
      <EnvSection
        target={target}
        state={envs.state(target)}
        expanded={this._expanded.has(target)}
        onToggle={() => this.toggleEnvironments(target)}
        filter={this._filters.get(target) ?? ''}
        onFilter={filter => {
          this._filters.set(target, filter);
          this.update();
        }}
        jupyterEnvironment={jupyterEnvironment}
        isBusy={(prefix, action) => envs.isBusy(target, prefix, action)}
        installing={prefix =>
          envs.runningTask(target, 'install-ipykernel', prefix)
        }
        installingConda={
          target === LOCAL_TARGET
            ? null
            : envs.runningTask(target, 'install-miniforge')
        }
        commands={commands}
        trans={trans}
      />
    );
  }

  private _changed(): void {
    this.update();
  }

  private _expanded = new Set<string>();
  private _filters = new Map<string, string>();
  private _highlighted: string | null = null;
  private _reveals = 0;
}

function SidecarStatus(props: {
  message: IStatusMessage;
  state: SidecarState;
  trans: TranslationBundle;
  retry: () => void;
}): React.ReactElement {
  const { message, state, trans, retry } = props;
  return (
    <section
      className={`jp-HpcPanel-sidecar jp-mod-${message.tone}`}
      aria-label={trans.__('Sidecar status')}
      data-status={state.status}
    >
      <div className="jp-HpcPanel-statusLine" role="status">
        <span className="jp-HpcPanel-dot" aria-hidden="true" />
        <span className="jp-HpcPanel-statusTitle">{message.title}</span>
      </div>
      <p className="jp-HpcPanel-detail">{message.detail}</p>
      {message.fix && (
        <pre className="jp-HpcPanel-fix">
          <code>{message.fix}</code>
        </pre>
      )}
      {state.status !== 'ready' && state.status !== 'connecting' && (
        <Button minimal={true} onClick={retry} title={trans.__('Check again')}>
          <refreshIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
          {trans.__('Check again')}
        </Button>
      )}
    </section>
  );
}
