import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  Button,
  ReactWidget,
  refreshIcon,
  UseSignal
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { describeCluster, IClusterConfig } from '../../common/settings';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { IStatusMessage, sidecarMessage } from './messages';

export interface IHpcPanelOptions {
  sidecar: ISidecarModel;
  clusters: IClusterSettings;
  trans: TranslationBundle;
  openSettings: () => void;
}

/** The left side panel: the sidecar's state and the configured clusters. */
export class HpcPanel extends ReactWidget {
  constructor(private readonly _options: IHpcPanelOptions) {
    super();
    this.addClass('jp-HpcPanel');
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

  protected render(): React.ReactElement {
    const { sidecar, clusters, trans, openSettings } = this._options;
    return (
      <div className="jp-HpcPanel-content">
        <header className="jp-HpcPanel-header">
          <h2>{trans.__('HPC')}</h2>
        </header>
        <UseSignal signal={sidecar.stateChanged} initialArgs={sidecar.state}>
          {(_, state) => (
            <SidecarStatus
              message={sidecarMessage(state ?? sidecar.state, trans)}
              state={state ?? sidecar.state}
              trans={trans}
              retry={() => void sidecar.refresh()}
            />
          )}
        </UseSignal>
        <UseSignal signal={clusters.changed}>
          {() => (
            <ClusterList
              clusters={clusters.clusters}
              error={clusters.error}
              highlighted={this._highlighted}
              reveals={this._reveals}
              trans={trans}
              openSettings={openSettings}
            />
          )}
        </UseSignal>
      </div>
    );
  }

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

function ClusterList(props: {
  clusters: readonly IClusterConfig[];
  error: string | null;
  highlighted: string | null;
  /** Changes on every reveal, so revealing again replays the mark. */
  reveals: number;
  trans: TranslationBundle;
  openSettings: () => void;
}): React.ReactElement {
  const { clusters, error, highlighted, reveals, trans, openSettings } = props;
  return (
    <section className="jp-HpcPanel-clusters" aria-label={trans.__('Clusters')}>
      <div className="jp-HpcPanel-sectionHeader">
        <h3>{trans.__('Clusters')}</h3>
        <Button
          minimal={true}
          onClick={openSettings}
          title={trans.__('Add or edit clusters')}
        >
          <addIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
          {trans.__('Add cluster')}
        </Button>
      </div>
      {error && (
        <div className="jp-HpcPanel-settingsError" role="alert">
          {trans.__(
            'Your HPC settings could not be read (%1). Fix them in Settings → HPC clusters; until then no cluster is shown.',
            error
          )}
        </div>
      )}
      {error ? null : clusters.length === 0 ? (
        <p className="jp-HpcPanel-empty">
          {trans.__(
            'No clusters yet. Add one with the host (or ~/.ssh/config alias) of its login node.'
          )}
        </p>
      ) : (
        <ul className="jp-HpcPanel-clusterList">
          {clusters.map(cluster => (
            <li
              key={
                cluster.name === highlighted
                  ? `${cluster.name}#${reveals}`
                  : cluster.name
              }
              data-cluster-name={cluster.name}
              className={
                cluster.name === highlighted
                  ? 'jp-HpcPanel-cluster jp-mod-highlighted'
                  : 'jp-HpcPanel-cluster'
              }
            >
              <span className="jp-HpcPanel-clusterName">{cluster.name}</span>
              <span className="jp-HpcPanel-clusterHost">
                {describeCluster(cluster)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
