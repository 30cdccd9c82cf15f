import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { IKernelProfile } from '../../common/api';
import { CommandIDs } from '../tokens';
import { clusterPath, resourcesSummary } from './messages';

/**
 * The cluster kernels made from one environment, under its row: the
 * picker's name, the resources, and the working directory written as a
 * cluster path (`hpc:~/project`) so it is not taken for a local one.
 */
export function ProfileList(props: {
  envName: string;
  profiles: readonly IKernelProfile[];
  commands: CommandRegistry;
  trans: TranslationBundle;
}): React.ReactElement {
  const { envName, profiles, commands, trans } = props;
  return (
    <ul
      className="jp-HpcProfiles"
      aria-label={trans.__('Cluster kernels of %1', envName)}
    >
      {profiles.map(profile => (
        <ProfileRow
          key={profile.id}
          profile={profile}
          commands={commands}
          trans={trans}
        />
      ))}
    </ul>
  );
}

function ProfileRow(props: {
  profile: IKernelProfile;
  commands: CommandRegistry;
  trans: TranslationBundle;
}): React.ReactElement {
  const { profile, commands, trans } = props;
  const nameId = React.useId();
  const args = { id: profile.id };
  const action = (id: string, text: string) => (
    <Button
      small={true}
      minimal={true}
      className="jp-HpcPanel-action"
      disabled={!commands.isEnabled(id, args)}
      title={commands.caption(id, args)}
      onClick={() => void commands.execute(id, args)}
    >
      {text}
    </Button>
  );
  const where = clusterPath(profile.cluster, profile.workingDirectory);
  return (
    <li
      className="jp-HpcProfile"
      aria-labelledby={nameId}
      data-profile-id={profile.id}
      data-spec-name={profile.specName}
    >
      <div className="jp-HpcProfile-head">
        <span id={nameId} className="jp-HpcProfile-name">
          {profile.displayName}
        </span>
        <span className="jp-HpcEnv-badge jp-mod-brand">
          {trans.__('cluster kernel')}
        </span>
      </div>
      <div className="jp-HpcProfile-resources">
        {resourcesSummary(profile.resources, trans)}
      </div>
      <div
        className="jp-HpcProfile-cwd"
        title={trans.__('Working directory on %1', profile.cluster)}
      >
        {trans.__('runs in %1', where)}
      </div>
      <div
        className="jp-HpcProfile-actions"
        role="group"
        aria-label={trans.__('Actions for %1', profile.displayName)}
      >
        {action(CommandIDs.editKernelProfile, trans.__('Edit…'))}
        {action(
          CommandIDs.removeKernelProfile,
          commands.label(CommandIDs.removeKernelProfile, args) ||
            trans.__('Remove')
        )}
      </div>
    </li>
  );
}
