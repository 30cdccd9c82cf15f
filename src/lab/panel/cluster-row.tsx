import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  closeIcon,
  deleteIcon,
  editIcon,
  LabIcon,
  lockIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { IClusterStatus } from '../../common/api';
import { describeCluster, IClusterConfig } from '../../common/settings';
import { stateBadge, testSummary } from '../clusters/messages';
import { ClusterAction, TestOutcome } from '../clusters/model';
import { CommandIDs } from '../tokens';
import { MiddleElided } from './elide';

export interface IClusterRowProps {
  cluster: IClusterConfig;
  status: IClusterStatus | null;
  test: TestOutcome | null;
  isBusy: (action: ClusterAction) => boolean;
  highlighted: boolean;
  commands: CommandRegistry;
  trans: TranslationBundle;
  dismissTest: () => void;
  /** Shown at the end of the row: the cluster's environments. */
  children?: React.ReactNode;
}

/**
 * One cluster in the side panel: its name with the icon buttons that manage
 * it, how it is reached, the state of its connection, its actions (commands,
 * so the palette and the row agree) and the last connection test.
 */
export function ClusterRow(props: IClusterRowProps): React.ReactElement {
  const { cluster, status, test, isBusy, highlighted, commands, trans } = props;
  const nameId = React.useId();
  const args = { name: cluster.name };
  const badge = stateBadge(status, trans);
  const configured = describeCluster(cluster);
  const connectable = !status || ['idle', 'error'].includes(status.state);

  const action = (
    id: string,
    text: string,
    options: { icon?: LabIcon; primary?: boolean } = {}
  ): React.ReactElement => {
    const { icon, primary } = options;
    return (
      <Button
        minimal={icon !== undefined}
        small={true}
        className={
          icon
            ? 'jp-HpcPanel-iconAction'
            : primary
              ? 'jp-HpcPanel-action jp-mod-accept'
              : 'jp-HpcPanel-action'
        }
        disabled={!commands.isEnabled(id, args)}
        title={commands.caption(id, args)}
        aria-label={icon ? text : undefined}
        onClick={() => void commands.execute(id, args)}
      >
        {icon ? (
          <icon.react tag="span" className="jp-HpcPanel-buttonIcon" />
        ) : (
          text
        )}
      </Button>
    );
  };

  return (
    <li
      aria-labelledby={nameId}
      data-cluster-id={cluster.name}
      data-cluster-name={cluster.name}
      data-state={status?.state ?? 'idle'}
      className={
        highlighted
          ? 'jp-HpcClusterRow jp-HpcPanel-cluster jp-mod-highlighted'
          : 'jp-HpcClusterRow jp-HpcPanel-cluster'
      }
    >
      <div className="jp-HpcPanel-clusterHead">
        <span
          id={nameId}
          className="jp-HpcPanel-clusterName"
          title={cluster.name}
        >
          {cluster.name}
        </span>
        <div
          className="jp-HpcPanel-clusterTools"
          role="group"
          aria-label={trans.__('Manage %1', cluster.name)}
        >
          {cluster.transport !== 'local' &&
            action(CommandIDs.setupKey, trans.__('Set up SSH key'), {
              icon: lockIcon
            })}
          {action(CommandIDs.editCluster, trans.__('Edit'), { icon: editIcon })}
          {action(CommandIDs.removeCluster, trans.__('Remove'), {
            icon: deleteIcon
          })}
        </div>
      </div>
      <MiddleElided
        className="jp-HpcPanel-clusterHost"
        text={
          cluster.transport === 'local'
            ? trans.__('%1 (this computer)', cluster.host)
            : configured
        }
      />
      {status?.target && status.target !== configured && (
        <MiddleElided
          className="jp-HpcPanel-clusterTarget"
          text={trans.__('→ %1', status.target)}
        />
      )}
      <div className={`jp-HpcPanel-state jp-mod-${badge.tone}`} role="status">
        <span className="jp-HpcPanel-dot" aria-hidden="true" />
        <span className="jp-HpcPanel-stateLabel">{badge.label}</span>
      </div>
      <div
        className="jp-HpcPanel-actions"
        role="group"
        aria-label={trans.__('Actions for %1', cluster.name)}
      >
        {connectable
          ? action(
              CommandIDs.connectCluster,
              isBusy('connect') ? trans.__('Connecting…') : trans.__('Connect'),
              { primary: true }
            )
          : action(CommandIDs.disconnectCluster, trans.__('Disconnect'))}
        {commands.hasCommand(CommandIDs.launchSession) &&
          action(CommandIDs.launchSession, trans.__('Launch JupyterLab…'))}
        {action(
          CommandIDs.testCluster,
          isBusy('test') ? trans.__('Testing…') : trans.__('Test connection')
        )}
      </div>
      {test && (
        <TestResult
          name={cluster.name}
          outcome={test}
          trans={trans}
          dismiss={props.dismissTest}
        />
      )}
      {props.children}
    </li>
  );
}

function TestResult(props: {
  name: string;
  outcome: TestOutcome;
  trans: TranslationBundle;
  dismiss: () => void;
}): React.ReactElement {
  const { name, outcome, trans, dismiss } = props;
  return (
    <section
      className={`jp-HpcPanel-test ${outcome.ok ? 'jp-mod-ok' : 'jp-mod-error'}`}
      aria-label={trans.__('Connection test of %1', name)}
    >
      <div className="jp-HpcPanel-testHeader">
        <span className="jp-HpcPanel-testTitle">
          {outcome.ok
            ? trans.__('Connection test')
            : trans.__('Connection test failed')}
        </span>
        <Button
          minimal={true}
          small={true}
          className="jp-HpcPanel-iconAction"
          aria-label={trans.__('Dismiss the test result')}
          title={trans.__('Dismiss the test result')}
          onClick={dismiss}
        >
          <closeIcon.react tag="span" className="jp-HpcPanel-buttonIcon" />
        </Button>
      </div>
      {outcome.ok ? (
        <dl className="jp-HpcPanel-testFacts">
          {testSummary(outcome.result, trans).map(([label, value]) => (
            <React.Fragment key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </React.Fragment>
          ))}
        </dl>
      ) : (
        <p className="jp-HpcPanel-testError" role="alert">
          {outcome.error.message}
        </p>
      )}
    </section>
  );
}
