import { JupyterFrontEnd } from '@jupyterlab/application';
import { ILauncher, LauncherModel } from '@jupyterlab/launcher';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { IClusterConfig } from '../../../src/common/settings';
import { CommandIDs } from '../../../src/lab/tokens';
import { launcherPlugin } from '../../../src/lab/plugins/launcher';
import { IClusterSettings } from '../../../src/lab/settings/model';

/** Just enough of ClusterSettings: a list and its `changed` signal. */
class ClustersStub {
  clusters: IClusterConfig[] = [];
  readonly changed = new Signal<IClusterSettings, void>(
    this as unknown as IClusterSettings
  );

  set(clusters: IClusterConfig[]): void {
    this.clusters = clusters;
    this.changed.emit();
  }
}

const cluster = (name: string): IClusterConfig => ({
  name,
  host: `${name}.example.org`
});

const trans = nullTranslator.load('jupyterlab');

/** Another extension's tile, which must survive every rebuild. */
const notebookTile: ILauncher.IItemOptions = {
  command: 'notebook:create-new',
  category: trans.__('Notebook'),
  rank: 1
};

let launcher: LauncherModel;
let clusters: ClustersStub;

/** The HPC tiles as `command args`, in launcher order. */
const hpcTiles = (): string[] =>
  Array.from(launcher.items())
    .filter(item => item.category === 'HPC')
    .sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0))
    .map(item => `${item.command} ${JSON.stringify(item.args)}`);

const panelTile = `${CommandIDs.openPanel} {"isLauncher":true}`;
const clusterTile = (name: string) =>
  `${CommandIDs.launchSession} {"name":"${name}","isLauncher":true}`;

beforeEach(() => {
  launcher = new LauncherModel();
  clusters = new ClustersStub();
  launcher.add(notebookTile);
});

function activate(): void {
  void launcherPlugin.activate(
    {} as JupyterFrontEnd,
    launcher as ILauncher,
    clusters as unknown as IClusterSettings,
    null
  );
}

describe('launcherPlugin', () => {
  it('adds only the panel tile while there are no clusters', () => {
    activate();
    expect(hpcTiles()).toEqual([panelTile]);
  });

  it('adds one tile per cluster after the panel tile', () => {
    clusters.clusters = [cluster('swc'), cluster('archer2')];
    activate();
    expect(hpcTiles()).toEqual([
      panelTile,
      clusterTile('swc'),
      clusterTile('archer2')
    ]);
    const ranks = Array.from(launcher.items())
      .filter(item => item.category === 'HPC')
      .map(item => item.rank);
    expect(ranks).toEqual([0, 10, 11]);
  });

  it('rebuilds the tiles when the cluster list changes', () => {
    clusters.clusters = [cluster('swc'), cluster('archer2')];
    activate();

    clusters.set([cluster('archer2'), cluster('csd3')]);

    expect(hpcTiles()).toEqual([
      panelTile,
      clusterTile('archer2'),
      clusterTile('csd3')
    ]);
  });

  it('disposes the old tiles instead of piling new ones on top', () => {
    clusters.clusters = [cluster('swc')];
    activate();
    const total = () => Array.from(launcher.items()).length;
    expect(total()).toBe(3);

    clusters.set([cluster('swc')]);
    clusters.set([cluster('swc')]);
    expect(total()).toBe(3);

    clusters.set([]);
    expect(hpcTiles()).toEqual([panelTile]);
    expect(total()).toBe(2);
  });

  it("leaves other extensions' tiles alone", () => {
    clusters.clusters = [cluster('swc')];
    activate();
    clusters.set([]);
    expect(
      Array.from(launcher.items()).filter(i => i.category !== 'HPC')
    ).toEqual([expect.objectContaining(notebookTile)]);
  });

  it('tells the launcher it changed on a rebuild', () => {
    activate();
    const changed = jest.fn();
    launcher.stateChanged.connect(changed);
    clusters.set([cluster('swc')]);
    expect(changed).toHaveBeenCalled();
    expect(hpcTiles()).toHaveLength(2);
  });
});
