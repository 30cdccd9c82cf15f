import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { API_VERSION, IHealth } from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';
import { sidecarMessage } from '../../../src/lab/panel/messages';
import { SidecarState } from '../../../src/lab/sidecar/model';
import { health } from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const newer: IHealth = { ...health, version: '7.3.1', apiVersion: 99 };

const ready = (live: boolean, otherRelease = false): SidecarState => ({
  status: 'ready',
  health: otherRelease ? { ...health, version: '0.0.9' } : health,
  live,
  otherRelease
});

/** Every state the model can be in, by a name that reads in a test title. */
const states: Record<string, SidecarState> = {
  connecting: { status: 'connecting' },
  'ready and live': ready(true),
  'ready, socket not open yet': ready(false),
  'ready but of another release': ready(true, true),
  missing: { status: 'missing' },
  'incompatible with health': { status: 'incompatible', health: newer },
  'incompatible without health': { status: 'incompatible', health: null },
  failed: { status: 'failed', detail: 'HTTP 502.' }
};

describe('sidecarMessage', () => {
  it.each([
    [
      'connecting',
      'busy',
      'Starting the HPC sidecar…',
      'The Jupyter server starts it on first use'
    ],
    [
      'ready and live',
      'ok',
      `Sidecar ${PACKAGE_VERSION} is running`,
      'events are live'
    ],
    [
      'ready, socket not open yet',
      'ok',
      `Sidecar ${PACKAGE_VERSION} is running`,
      'waiting for the event channel'
    ],
    [
      'ready but of another release',
      'warning',
      'Sidecar 0.0.9 is running',
      'Reload the page'
    ],
    [
      'missing',
      'error',
      'The jupyterlab-hpc server part is missing',
      'then restart JupyterLab'
    ],
    [
      'incompatible with health',
      'error',
      'The sidecar is of another version',
      'The server runs jupyterlab-hpc 7.3.1 (API 99)'
    ],
    [
      'incompatible without health',
      'error',
      'The sidecar is of another version',
      'Something else answers at the sidecar route'
    ],
    ['failed', 'error', 'The HPC sidecar is not running', 'HTTP 502.']
  ])(
    'gives the state "%s" the tone %p, the title %p and a detail that says %p',
    (name, tone, title, says) => {
      const message = sidecarMessage(states[name], trans);
      expect(message.tone).toBe(tone);
      expect(message.title).toBe(title);
      expect(message.detail).toContain(says);
    }
  );

  it('says whether the event channel is live', () => {
    expect(sidecarMessage(ready(true), trans).detail).toBe(
      'Connected; events are live.'
    );
    expect(sidecarMessage(ready(false), trans).detail).toBe(
      'Connected; waiting for the event channel.'
    );
  });

  it('names both releases when page and server differ', () => {
    const { detail, fix } = sidecarMessage(ready(true, true), trans);
    expect(detail).toBe(
      `This page was loaded with jupyterlab-hpc ${PACKAGE_VERSION} but the server runs 0.0.9. Reload the page; if this stays, one environment has an old copy installed.`
    );
    expect(fix).toBeUndefined();
  });

  it('tells the user how to install the missing server part', () => {
    const m = sidecarMessage({ status: 'missing' }, trans);
    expect(m.tone).toBe('error');
    expect(m.detail).toContain('restart JupyterLab');
    expect(m.fix).toBe('pip install jupyterlab-hpc');
  });

  it('names both versions and both API levels of an incompatible sidecar', () => {
    const m = sidecarMessage({ status: 'incompatible', health: newer }, trans);
    expect(m.detail).toBe(
      `The server runs jupyterlab-hpc 7.3.1 (API 99); this page needs ${PACKAGE_VERSION} (API ${API_VERSION}). Install one version in the environment that runs \`jupyter lab\`, restart JupyterLab and reload this page.`
    );
    expect(m.fix).toBe(
      `pip install --force-reinstall jupyterlab-hpc==${PACKAGE_VERSION}`
    );
  });

  it('names the needed version when something else answers at the route', () => {
    const m = sidecarMessage({ status: 'incompatible', health: null }, trans);
    expect(m.detail).toBe(
      `Something else answers at the sidecar route. Reinstall jupyterlab-hpc ${PACKAGE_VERSION} in the environment that runs \`jupyter lab\` and restart JupyterLab.`
    );
    expect(m.fix).toBe(
      `pip install --force-reinstall jupyterlab-hpc==${PACKAGE_VERSION}`
    );
  });

  it('passes the failure on and says where to look', () => {
    const m = sidecarMessage(
      {
        status: 'failed',
        detail: 'The sidecar could not be reached (HTTP 502).'
      },
      trans
    );
    expect(m.detail).toBe(
      'The sidecar could not be reached (HTTP 502). Look in the Jupyter server log for lines starting with "[jupyterlab-hpc sidecar]"; it is retried automatically.'
    );
    expect(m.fix).toBeUndefined();
  });

  it.each(Object.keys(states))(
    'translates every sentence of the state "%s"',
    name => {
      const marked = {
        __: (msgid: string, ...args: unknown[]) =>
          `⟦${msgid.replace(/%(\d)/g, (_, i) => String(args[Number(i) - 1]))}⟧`
      } as unknown as TranslationBundle;
      const { title, detail } = sidecarMessage(states[name], marked);
      expect(title).toMatch(/^⟦.*⟧$/s);
      expect(detail).toMatch(/^⟦.*⟧$/s);
    }
  );
});
