import { TranslationBundle } from '@jupyterlab/translation';

import { API_VERSION } from '../../common/api';
import { PACKAGE_VERSION } from '../../common/version';
import { SidecarState } from '../sidecar/model';

export type Tone = 'ok' | 'busy' | 'warning' | 'error';

export interface IStatusMessage {
  tone: Tone;
  title: string;
  /** What happened and what to do about it. */
  detail: string;
  /** A command the user can copy to fix it. */
  fix?: string;
}

/**
 * Whether the panel shows the sidecar's state: only when the user has
 * something to do (install, reinstall, reload, read the log). Starting and
 * running need nothing from them.
 */
export function needsAttention(state: SidecarState): boolean {
  switch (state.status) {
    case 'connecting':
      return false;
    case 'ready':
      return state.otherRelease;
    default:
      return true;
  }
}

/** The sentence the side panel shows for a sidecar state. */
export function sidecarMessage(
  state: SidecarState,
  trans: TranslationBundle
): IStatusMessage {
  switch (state.status) {
    case 'connecting':
      return {
        tone: 'busy',
        title: trans.__('Starting the HPC sidecar…'),
        detail: trans.__(
          'The Jupyter server starts it on first use; this takes a second.'
        )
      };
    case 'ready':
      if (state.otherRelease) {
        return {
          tone: 'warning',
          title: trans.__('Sidecar %1 is running', state.health.version),
          detail: trans.__(
            'This page was loaded with jupyterlab-hpc %1 but the server runs %2. Reload the page; if this stays, one environment has an old copy installed.',
            PACKAGE_VERSION,
            state.health.version
          )
        };
      }
      return {
        tone: 'ok',
        title: trans.__('Sidecar %1 is running', state.health.version),
        detail: state.live
          ? trans.__('Connected; events are live.')
          : trans.__('Connected; waiting for the event channel.')
      };
    case 'missing':
      return {
        tone: 'error',
        title: trans.__('The jupyterlab-hpc server part is missing'),
        detail: trans.__(
          'This page has the jupyterlab-hpc extension, but the Jupyter server has no sidecar route. Install the package into the Python environment that runs `jupyter lab`, then restart JupyterLab.'
        ),
        fix: 'pip install jupyterlab-hpc'
      };
    case 'incompatible':
      return {
        tone: 'error',
        title: trans.__('The sidecar is of another version'),
        detail: state.health
          ? trans.__(
              'The server runs jupyterlab-hpc %1 (API %2); this page needs %3 (API %4). Install one version in the environment that runs `jupyter lab`, restart JupyterLab and reload this page.',
              state.health.version,
              state.health.apiVersion,
              PACKAGE_VERSION,
              API_VERSION
            )
          : trans.__(
              'Something else answers at the sidecar route. Reinstall jupyterlab-hpc %1 in the environment that runs `jupyter lab` and restart JupyterLab.',
              PACKAGE_VERSION
            ),
        fix: `pip install --force-reinstall jupyterlab-hpc==${PACKAGE_VERSION}`
      };
    case 'failed':
      return {
        tone: 'error',
        title: trans.__('The HPC sidecar is not running'),
        detail: trans.__(
          '%1 Look in the Jupyter server log for lines starting with "[jupyterlab-hpc sidecar]"; it is retried automatically.',
          state.detail
        )
      };
  }
}
