import { IStateDB } from '@jupyterlab/statedb';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  Button,
  ReactWidget,
  refreshIcon,
  settingsIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { LOCAL_TARGET } from '../../common/api';
import { IClusterModel } from '../clusters/model';
import { CommandIDs } from '../tokens';
import { EnvSection } from '../envs/env-section';
import { AllocationList } from '../kernels/allocation-section';
import { IKernelsModel } from '../kernels/model';
import { IEnvironmentsModel } from '../envs/model';
import { ISessionsModel } from '../sessions/model';
import { SessionList } from '../sessions/session-section';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { BreakablePath } from './breakable';
import { ClusterRow } from './cluster-row';
import {
  DEFAULT_LAYOUT,
  IPanelLayout,
  PanelLayoutStore,
  PanelSectionId
} from './layout-state';
import { IStatusMessage, needsAttention, sidecarMessage } from './messages';
import { PanelSection } from './section';

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
  /** Where the open and closed sections are kept across reloads. */
  state?: IStateDB | null;
  /** The JupyterLab sessions in jobs; no Sessions section without it. */
  sessions?: ISessionsModel | null;
  /** Cluster kernels; no Cluster kernels section without it. */
  kernels?: IKernelsModel | null;
}

/**
 * The left side panel: a toolbar, the sidecar's state when it needs the
 * user, the configured clusters with their environments, and this
 * computer's environments, in collapsible sections.
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
    _options.sessions?.changed.connect(this._changed, this);
    _options.kernels?.changed.connect(this._changed, this);
    this._store = new PanelLayoutStore(_options.state ?? null);
    this.restored = this._store.load().then(layout => {
      // What the user changed meanwhile wins over what was stored.
      if (!this._touched && !this.isDisposed) {
        this._applyLayout(layout);
      }
    });
  }

  /** Settles once the stored layout (if any) is applied. */
  readonly restored: Promise<void>;

  /** Whether the Environments section of `target` is open. */
  isExpanded(target: string): boolean {
    return this._expanded.has(target);
  }

  /** Whether a top-level section is open. */
  isSectionExpanded(id: PanelSectionId): boolean {
    return !this._collapsed.has(id);
  }

  /** Open or close a top-level section. */
  toggleSection(id: PanelSectionId, expand = this._collapsed.has(id)): void {
    if (expand) {
      this._collapsed.delete(id);
    } else {
      this._collapsed.add(id);
    }
    this._layoutChanged();
  }

  /** Open or close a target's Environments; opening fetches the list once. */
  toggleEnvironments(target: string, expand = !this._expanded.has(target)) {
    this._setEnvironments(target, expand);
    this._layoutChanged();
  }

  /** Scroll to a cluster and mark it for a moment (see style/base.css). */
  revealCluster(name: string): void {
    this._highlighted = name;
    this._reveals++;
    this._collapsed.delete('clusters');
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
    this._options.sessions?.changed.disconnect(this._changed, this);
    this._options.kernels?.changed.disconnect(this._changed, this);
    super.dispose();
  }

  protected render(): React.ReactElement {
    const { sidecar, commands, trans } = this._options;
    const message = sidecarMessage(sidecar.state, trans);
    // For tests and styles: the sidecar's state, shown or not.
    this.node.dataset.sidecarStatus = sidecar.state.status;
    this.node.dataset.sidecarLive = String(
      sidecar.state.status === 'ready' && sidecar.state.live
    );
    return (
      <div className="jp-HpcPanel-content">
        <div className="jp-HpcPanel-header">
          <h2 className="jp-HpcPanel-title">{trans.__('HPC')}</h2>
          <div
            className="jp-HpcPanel-toolbar"
            role="toolbar"
            aria-label={trans.__('HPC panel actions')}
          >
            <ToolbarButtonComponent
              icon={refreshIcon}
              tooltip={trans.__('Check the HPC sidecar again')}
              onClick={() => void sidecar.refresh()}
            />
            <ToolbarButtonComponent
              icon={settingsIcon}
              tooltip={trans.__('HPC settings')}
              enabled={commands.isEnabled(CommandIDs.openSettings)}
              onClick={() => void commands.execute(CommandIDs.openSettings)}
            />
          </div>
        </div>
        {needsAttention(sidecar.state) && (
          <SidecarStatus
            message={message}
            state={sidecar.state}
            trans={trans}
            retry={() => void sidecar.refresh()}
          />
        )}
        {this._renderSessions()}
        {this._renderKernels()}
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
      <PanelSection
        className="jp-HpcPanel-clusters"
        label={trans.__('Clusters')}
        detail={list.length > 0 ? String(list.length) : undefined}
        expanded={!this._collapsed.has('clusters')}
        onToggle={() => this.toggleSection('clusters')}
        actions={
          <ToolbarButtonComponent
            icon={addIcon}
            tooltip={trans.__('Add cluster')}
            enabled={commands.isEnabled(CommandIDs.addCluster)}
            onClick={() => void commands.execute(CommandIDs.addCluster)}
          />
        }
      >
        {error && (
          <div className="jp-HpcPanel-settingsError" role="alert">
            {trans.__(
              'Your HPC settings could not be read (%1). Fix them in Settings → HPC clusters; until then no cluster is shown.',
              error
            )}
          </div>
        )}
        {settings.rejected && (
          <div className="jp-HpcPanel-settingsError" role="alert">
            {trans.__(
              'Some cluster entries in Settings → HPC clusters are left out: %1',
              settings.rejected
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
          <div className="jp-HpcPanel-empty">
            <p>
              {trans.__(
                'No clusters yet. Add a host from ~/.ssh/config or the login node of your cluster.'
              )}
            </p>
            <Button
              small={true}
              className="jp-HpcPanel-action jp-mod-accept"
              title={commands.caption(CommandIDs.addCluster)}
              disabled={!commands.isEnabled(CommandIDs.addCluster)}
              onClick={() => void commands.execute(CommandIDs.addCluster)}
            >
              {trans.__('Add cluster…')}
            </Button>
          </div>
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
      </PanelSection>
    );
  }

  private _renderSessions(): React.ReactElement | null {
    const { sessions, settings, commands, trans } = this._options;
    if (!sessions) {
      return null;
    }
    const list = sessions.sessions;
    if (list.length === 0 && settings.clusters.length === 0) {
      // Nothing to run anything on yet: the Clusters section says what to do.
      return null;
    }
    const active = list.filter(s => s.phase !== 'ended').length;
    return (
      <PanelSection
        className="jp-HpcPanel-sessions"
        label={trans.__('Sessions')}
        detail={active > 0 ? String(active) : undefined}
        expanded={!this._collapsed.has('sessions')}
        onToggle={() => this.toggleSection('sessions')}
      >
        <SessionList
          sessions={list}
          clusters={settings.clusters.map(c => c.name)}
          commands={commands}
          trans={trans}
        />
      </PanelSection>
    );
  }

  private _renderKernels(): React.ReactElement | null {
    const { kernels, commands, trans } = this._options;
    if (!kernels) {
      return null;
    }
    const list = kernels.allocations;
    if (list.length === 0 && kernels.profiles.length === 0) {
      // No cluster kernel yet: the environment rows offer to add one.
      return null;
    }
    const active = list.filter(a => a.phase !== 'ended').length;
    return (
      <PanelSection
        className="jp-HpcPanel-kernels"
        label={trans.__('Cluster kernels')}
        detail={active > 0 ? String(active) : undefined}
        expanded={!this._collapsed.has('kernels')}
        onToggle={() => this.toggleSection('kernels')}
      >
        <AllocationList
          allocations={list}
          profiles={kernels.profiles}
          commands={commands}
          trans={trans}
        />
      </PanelSection>
    );
  }

  private _renderLocal(): React.ReactElement | null {
    const { trans } = this._options;
    if (!this._options.envs) {
      return null;
    }
    return (
      <PanelSection
        className="jp-HpcPanel-local"
        label={trans.__('This computer')}
        expanded={!this._collapsed.has('local')}
        onToggle={() => this.toggleSection('local')}
      >
        {this._renderEnvs(LOCAL_TARGET)}
      </PanelSection>
    );
  }

  private _renderEnvs(
    target: string,
    jupyterEnvironment?: string
  ): React.ReactElement | null {
    const { envs, kernels, commands, trans } = this._options;
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
        profiles={
          kernels && target !== LOCAL_TARGET
            ? prefix => kernels.profilesFor(target, prefix)
            : undefined
        }
        commands={commands}
        trans={trans}
      />
    );
  }

  private _setEnvironments(target: string, expand: boolean): void {
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
  }

  private _applyLayout(layout: IPanelLayout): void {
    this._collapsed = new Set(layout.collapsed);
    if (layout.localEnvironments) {
      this._setEnvironments(LOCAL_TARGET, true);
    }
    this.update();
  }

  private _layoutChanged(): void {
    this._touched = true;
    const layout: IPanelLayout = {
      ...DEFAULT_LAYOUT,
      collapsed: [...this._collapsed],
      localEnvironments: this._expanded.has(LOCAL_TARGET)
    };
    void this._store.save(layout);
    this.update();
  }

  private _changed(): void {
    this.update();
  }

  private readonly _store: PanelLayoutStore;
  private _touched = false;
  private _collapsed = new Set<PanelSectionId>();
  private _expanded = new Set<string>();
  private _filters = new Map<string, string>();
  private _highlighted: string | null = null;
  private _reveals = 0;
}

/**
 * The sidecar's state, shown only when it needs the user: missing, of
 * another version or release, or failed. A running sidecar says nothing,
 * as JupyterLab's own panels say nothing about their server.
 */
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
          <BreakablePath text={message.fix} />
        </pre>
      )}
      {state.status !== 'ready' && (
        <Button
          small={true}
          className="jp-HpcPanel-action"
          onClick={retry}
          title={trans.__('Ask the sidecar for its health now')}
        >
          <refreshIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
          {trans.__('Check again')}
        </Button>
      )}
    </section>
  );
}
