import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import { DisposableSet, IDisposable } from '@lumino/disposable';

import { IClusterSettings } from '../settings/model';
import { CLUSTER_ROW_CLASS } from './cluster-arg';

export interface IClusterCommandEntry {
  command: string;
  /** The arguments that name one cluster, e.g. `{ name }` or `{ target }`. */
  argsFor: (cluster: string) => ReadonlyJSONObject;
}

/** Put per-cluster commands in the context menu of every cluster row. */
export function addClusterRowMenu(
  app: JupyterFrontEnd,
  commands: readonly string[],
  firstRank: number
): IDisposable {
  const items = new DisposableSet();
  commands.forEach((command, i) =>
    items.add(
      app.contextMenu.addItem({
        command,
        selector: `.${CLUSTER_ROW_CLASS}`,
        rank: firstRank + i,
        args: { isContextMenu: true }
      })
    )
  );
  return items;
}

/**
 * Put per-cluster commands in the palette: once without arguments (the
 * command asks which cluster) and once for each cluster, rebuilt whenever
 * the cluster names change, as the launcher tiles are.
 */
export function addClusterPaletteItems(
  palette: ICommandPalette,
  settings: IClusterSettings,
  entries: readonly IClusterCommandEntry[],
  category: string
): IDisposable {
  const all = new DisposableSet();
  entries.forEach(({ command }) =>
    all.add(palette.addItem({ command, category }))
  );
  let perCluster = new DisposableSet();
  let names = '';
  const rebuild = () => {
    const current = settings.clusters.map(c => c.name);
    if (current.join('\n') === names) {
      return;
    }
    names = current.join('\n');
    perCluster.dispose();
    perCluster = new DisposableSet();
    for (const cluster of current) {
      for (const { command, argsFor } of entries) {
        perCluster.add(
          palette.addItem({ command, category, args: argsFor(cluster) })
        );
      }
    }
  };
  rebuild();
  settings.changed.connect(rebuild);
  all.add({
    get isDisposed() {
      return perCluster.isDisposed;
    },
    dispose: () => {
      settings.changed.disconnect(rebuild);
      perCluster.dispose();
    }
  });
  return all;
}
