import { IStateDB, StateDB } from '@jupyterlab/statedb';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { SidecarEvent } from '../../../src/common/api';
import { IClusterConfig } from '../../../src/common/settings';
import { PACKAGE_VERSION } from '../../../src/common/version';
import { ClusterModel } from '../../../src/lab/clusters/model';
import { CommandIDs } from '../../../src/lab/tokens';
import { HpcPanel } from '../../../src/lab/panel/widget';
import { IClusterSettings } from '../../../src/lab/settings/model';
import { ISidecarModel, SidecarState } from '../../../src/lab/sidecar/model';
import { FakeSidecar, health } from './fixtures';
import { allocationInfo, FakeKernels, profileInfo } from './kernel-fixtures';

/** The sidecar model as the panel sees it; the test sets its state. */
class SidecarStub {
  state: SidecarState = { status: 'connecting' };
  readonly stateChanged = new Signal<ISidecarModel, SidecarState>(
    this as unknown as ISidecarModel
  );
  readonly event = new Signal<ISidecarModel, SidecarEvent>(
    this as unknown as ISidecarModel
  );
  readonly refresh = jest.fn(async () => undefined);

  set(state: SidecarState): void {
    this.state = state;
    this.stateChanged.emit(state);
  }
}

class ClustersStub {
  clusters: IClusterConfig[] = [];
  error: string | null = null;
  readonly ready = Promise.resolve();
  readonly canWrite = true;
  readonly changed = new Signal<IClusterSettings, void>(
    this as unknown as IClusterSettings
  );

  set(clusters: IClusterConfig[]): void {
    this.clusters = clusters;
    this.changed.emit();
  }

  fail(error: string): void {
    this.clusters = [];
    this.error = error;
    this.changed.emit();
  }
}

const swc: IClusterConfig = { name: 'swc', host: 'hpc-gw1', user: 'ana' };
const archer2: IClusterConfig = {
  name: 'archer2',
  host: 'login.archer2.ac.uk',
  port: 2222,
  jumpHost: 'bastion'
};

let sidecar: SidecarStub;
let clusters: ClustersStub;
let commands: CommandRegistry;
let executed: [string, unknown][];
let panel: HpcPanel;
let model: ClusterModel;

/**
 * Resolve once `probe` finds something in the panel, checking again on
 * every DOM mutation: React renders when it likes, and this waits for
 * exactly that instead of for a guessed delay.
 */
function rendered<T>(probe: () => T | null | undefined | false): Promise<T> {
  return new Promise(resolve => {
    const observer = new MutationObserver(() => check());
    const check = () => {
      const found = probe();
      if (found) {
        observer.disconnect();
        resolve(found);
      }
      return found;
    };
    if (!check()) {
      observer.observe(panel.node, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true
      });
    }
  });
}

const $ = (selector: string) => panel.node.querySelector<HTMLElement>(selector);
const text = (selector: string) => $(selector)?.textContent ?? null;
const button = (name: string) =>
  Array.from(panel.node.querySelectorAll('button')).find(
    b => b.textContent?.trim() === name
  );
/** Each cluster row as "name | how it is reached". */
const clusterRows = () =>
  Array.from(panel.node.querySelectorAll('li.jp-HpcPanel-cluster')).map(
    li =>
      `${li.querySelector('.jp-HpcPanel-clusterName')?.textContent} | ${
        li.querySelector('.jp-HpcPanel-clusterHost')?.textContent
      }`
  );

/** Render the panel as JupyterLab would, and wait for its first paint. */
async function attach(state: IStateDB | null = null): Promise<void> {
  model = new ClusterModel({
    sidecar: sidecar as unknown as ISidecarModel,
    settings: clusters as unknown as IClusterSettings,
    serverSettings: new FakeSidecar().serverSettings
  });
  panel = new HpcPanel({
    sidecar: sidecar as unknown as ISidecarModel,
    settings: clusters as unknown as IClusterSettings,
    clusters: model,
    commands,
    trans: nullTranslator.load('jupyterlab_hpc'),
    state
  });
  Widget.attach(panel, document.body);
  await panel.restored;
  await rendered(() => $('section[aria-label="Clusters"]'));
}

/** The header button that opens and closes a top-level section. */
const sectionToggle = (name: string) =>
  $(`section[aria-label="${name}"] .jp-HpcPanel-sectionToggle`)!;

beforeEach(() => {
  sidecar = new SidecarStub();
  clusters = new ClustersStub();
  commands = new CommandRegistry();
  executed = [];
  for (const id of [CommandIDs.addCluster, CommandIDs.openSettings]) {
    commands.addCommand(id, {
      label: id,
      caption: `caption of ${id}`,
      execute: args => void executed.push([id, args]),
      describedBy: { args: { type: 'object', properties: {} } }
    });
  }
});

afterEach(() => {
  panel.dispose();
  model.dispose();
  delete (Element.prototype as Partial<Element>).scrollIntoView;
});

describe('HpcPanel', () => {
  it('says nothing about a sidecar that is starting, and offers to add a cluster', async () => {
    await attach();
    expect(panel.hasClass('jp-HpcPanel')).toBe(true);
    expect($('section.jp-HpcPanel-sidecar')).toBeNull();
    expect(panel.node.dataset.sidecarStatus).toBe('connecting');
    expect(text('.jp-HpcPanel-empty p')).toBe(
      'No clusters yet. Add a host from ~/.ssh/config or the login node of your cluster.'
    );
    button('Add cluster…')!.click();
    expect(executed.map(([id]) => id)).toEqual(['hpc:add-cluster']);
    expect(clusterRows()).toEqual([]);
  });

  it('lists the configured clusters with how each is reached', async () => {
    clusters.clusters = [swc, archer2];
    await attach();
    expect(clusterRows()).toEqual([
      'swc | ana@hpc-gw1',
      'archer2 | login.archer2.ac.uk:2222 via bastion'
    ]);
    expect(text('.jp-HpcPanel-clusterName')).toBe('swc');
    expect(text('.jp-HpcPanel-clusterHost')).toBe('ana@hpc-gw1');
    expect($('.jp-HpcPanel-empty')).toBeNull();
  });

  it('shows the sidecar only while it needs the user', async () => {
    await attach();

    sidecar.set({ status: 'failed', detail: 'HTTP 502.' });
    const box = await rendered(() => $('section.jp-HpcPanel-sidecar'));
    expect(box.getAttribute('aria-label')).toBe('Sidecar status');
    expect(box.classList).toContain('jp-mod-error');
    expect(box.querySelector('[role="status"]')?.textContent).toBe(
      'The HPC sidecar is not running'
    );

    sidecar.set({ status: 'ready', health, live: true, otherRelease: false });
    await rendered(() => !$('section.jp-HpcPanel-sidecar'));
    expect(panel.node.dataset.sidecarStatus).toBe('ready');
    expect(panel.node.dataset.sidecarLive).toBe('true');

    // Another release than this page's: reload, says the box.
    sidecar.set({ status: 'ready', health, live: true, otherRelease: true });
    const warning = await rendered(() => $('section.jp-HpcPanel-sidecar'));
    expect(warning.classList).toContain('jp-mod-warning');
    expect(text('.jp-HpcPanel-statusTitle')).toBe(
      `Sidecar ${PACKAGE_VERSION} is running`
    );
    expect(button('Check again')).toBeUndefined();
  });

  it('renders the state the model is already in', async () => {
    sidecar.state = { status: 'missing' };
    await attach();
    expect(text('.jp-HpcPanel-statusTitle')).toBe(
      'The jupyterlab-hpc server part is missing'
    );
  });

  it('shows the command that fixes a missing server part', async () => {
    await attach();
    sidecar.set({ status: 'missing' });
    const fix = await rendered(() => $('pre.jp-HpcPanel-fix code'));
    expect(fix.textContent).toBe('pip install jupyterlab-hpc');
    expect($('.jp-HpcPanel-sidecar')!.classList).toContain('jp-mod-error');
  });

  it('offers to check again after a failure, and does so on click', async () => {
    await attach();
    sidecar.set({
      status: 'failed',
      detail: 'The sidecar could not be reached (HTTP 502).'
    });
    const retry = await rendered(() => button('Check again'));
    expect(text('.jp-HpcPanel-detail')).toMatch(
      /^The sidecar could not be reached \(HTTP 502\)\. Look in the Jupyter server log/
    );

    retry.click();

    expect(sidecar.refresh).toHaveBeenCalledTimes(1);
  });

  it('updates the list when the clusters change', async () => {
    await attach();

    clusters.set([swc]);
    await rendered(() => clusterRows().length === 1);
    expect(clusterRows()).toEqual(['swc | ana@hpc-gw1']);
    expect($('.jp-HpcPanel-empty')).toBeNull();

    clusters.set([]);
    await rendered(() => $('.jp-HpcPanel-empty'));
    expect(clusterRows()).toEqual([]);
  });

  it('runs "Add cluster" from its section header, and opens the settings from the toolbar', async () => {
    clusters.clusters = [swc];
    await attach();
    const clustersHeader = $(
      'section[aria-label="Clusters"] .jp-HpcPanel-sectionHeader'
    )!;
    const add = Array.from(
      clustersHeader.querySelectorAll<HTMLElement>('[aria-label="Add cluster"]')
    );
    expect(add).toHaveLength(1);
    add[0].click();
    const toolbar = $('[role="toolbar"]')!;
    expect(toolbar.getAttribute('aria-label')).toBe('HPC panel actions');
    toolbar.querySelector<HTMLElement>('[aria-label="HPC settings"]')!.click();
    toolbar
      .querySelector<HTMLElement>('[aria-label="Check the HPC sidecar again"]')!
      .click();
    expect(executed.map(([id]) => id)).toEqual([
      'hpc:add-cluster',
      'hpc:open-settings'
    ]);
    expect(sidecar.refresh).toHaveBeenCalledTimes(1);
  });

  it('closes and opens its sections from their headers', async () => {
    clusters.clusters = [swc];
    await attach();
    const toggle = sectionToggle('Clusters');
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(toggle.textContent).toBe('Clusters1');

    toggle.click();
    await rendered(() => clusterRows().length === 0);
    expect(sectionToggle('Clusters').getAttribute('aria-expanded')).toBe(
      'false'
    );
    expect(panel.isSectionExpanded('clusters')).toBe(false);

    // Revealing a cluster opens its section again.
    Element.prototype.scrollIntoView = () => undefined;
    panel.revealCluster('swc');
    await rendered(() => clusterRows().length === 1);
  });

  it('keeps closed sections closed across a reload', async () => {
    const db = new StateDB();
    clusters.clusters = [swc];
    await attach(db);
    sectionToggle('Clusters').click();
    await rendered(() => clusterRows().length === 0);
    panel.dispose();
    model.dispose();

    await attach(db);
    await rendered(
      () => sectionToggle('Clusters').getAttribute('aria-expanded') === 'false'
    );
    expect(clusterRows()).toEqual([]);
    expect(await db.fetch('jupyterlab-hpc:panel-layout')).toEqual({
      collapsed: ['clusters'],
      localEnvironments: false
    });
  });

  it('lets what the user does win over a layout that loads late', async () => {
    const late = new StateDB();
    await late.save('jupyterlab-hpc:panel-layout', { collapsed: ['clusters'] });
    const slow = {
      // Read at once (what a reload finds), answered later.
      fetch: (id: string) => {
        const stored = late.fetch(id);
        return new Promise(resolve => setTimeout(() => resolve(stored), 50));
      },
      save: (id: string, value: never) => late.save(id, value)
    } as unknown as IStateDB;
    clusters.clusters = [swc];
    model = new ClusterModel({
      sidecar: sidecar as unknown as ISidecarModel,
      settings: clusters as unknown as IClusterSettings,
      serverSettings: new FakeSidecar().serverSettings
    });
    panel = new HpcPanel({
      sidecar: sidecar as unknown as ISidecarModel,
      settings: clusters as unknown as IClusterSettings,
      clusters: model,
      commands,
      trans: nullTranslator.load('jupyterlab_hpc'),
      state: slow
    });
    Widget.attach(panel, document.body);
    // Closed and opened again before the stored layout arrives.
    panel.toggleSection('clusters', false);
    panel.toggleSection('clusters', true);
    await panel.restored;
    expect(panel.isSectionExpanded('clusters')).toBe(true);
  });

  it('highlights a revealed cluster and scrolls it into view', async () => {
    clusters.clusters = [swc, archer2];
    await attach();
    // jsdom does not lay out, so it has no scrollIntoView of its own.
    const scrolled = new Promise<[Element, unknown]>(resolve => {
      Element.prototype.scrollIntoView = function (
        this: Element,
        arg?: boolean | ScrollIntoViewOptions
      ) {
        resolve([this, arg]);
      };
    });

    panel.revealCluster('archer2');

    const row = await rendered(() => $('li.jp-mod-highlighted'));
    expect(row.dataset.clusterName).toBe('archer2');
    expect(panel.node.querySelectorAll('li.jp-mod-highlighted')).toHaveLength(
      1
    );
    // The row may be scrolled to just before React swaps in the marked one.
    const [element, options] = await scrolled;
    expect((element as HTMLElement).dataset.clusterName).toBe('archer2');
    expect(options).toEqual({ block: 'nearest' });
  });

  it('replays the mark when the same cluster is revealed again', async () => {
    clusters.clusters = [swc, archer2];
    await attach();
    Element.prototype.scrollIntoView = () => undefined;

    panel.revealCluster('swc');
    const first = await rendered(() => $('li.jp-mod-highlighted'));
    panel.revealCluster('swc');
    const second = await rendered(() => {
      const row = $('li.jp-mod-highlighted');
      return row !== first && row;
    });

    // A new element, so its CSS animation starts over.
    expect(second.dataset.clusterName).toBe('swc');
    expect(first.isConnected).toBe(false);
    expect(clusterRows()).toEqual([
      'swc | ana@hpc-gw1',
      'archer2 | login.archer2.ac.uk:2222 via bastion'
    ]);
  });

  it('says why no cluster is shown when the settings are invalid', async () => {
    await attach();
    clusters.fail('/clusters/1/name: must match pattern');
    const alert = await rendered(() =>
      panel.node.querySelector('.jp-HpcPanel-settingsError')
    );
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toContain('/clusters/1/name: must match pattern');
    expect(alert.textContent).toContain('Settings → HPC clusters');
    // An empty-list hint would be wrong: there may be clusters, unreadable.
    expect(panel.node.querySelector('.jp-HpcPanel-empty')).toBeNull();
  });
});

describe('HpcPanel with cluster kernels', () => {
  it('shows a Cluster kernels section once there is a profile or an allocation', async () => {
    const kernels = new FakeKernels();
    model = new ClusterModel({
      sidecar: sidecar as unknown as ISidecarModel,
      settings: clusters as unknown as IClusterSettings,
      serverSettings: new FakeSidecar().serverSettings
    });
    panel = new HpcPanel({
      sidecar: sidecar as unknown as ISidecarModel,
      settings: clusters as unknown as IClusterSettings,
      clusters: model,
      commands,
      trans: nullTranslator.load('jupyterlab_hpc'),
      kernels
    });
    Widget.attach(panel, document.body);
    await panel.restored;
    await rendered(() => $('section[aria-label="Clusters"]'));
    expect($('section[aria-label="Cluster kernels"]')).toBeNull();

    kernels.profiles = [profileInfo()];
    kernels.allocations = [allocationInfo()];
    kernels.changed.emit();
    const row = await rendered(() =>
      $('section[aria-label="Cluster kernels"] li[data-allocation-id="a1"]')
    );
    expect(row.textContent).toContain('Running on node1');
    expect(
      text('section[aria-label="Cluster kernels"] .jp-HpcPanel-sectionDetail')
    ).toBe('1');

    sectionToggle('Cluster kernels').click();
    await rendered(() => !$('li[data-allocation-id="a1"]'));
    expect(panel.isSectionExpanded('kernels')).toBe(false);
  });
});
