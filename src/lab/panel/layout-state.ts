import { IStateDB } from '@jupyterlab/statedb';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/** The key of the panel's layout in JupyterLab's state database. */
export const PANEL_LAYOUT_KEY = 'jupyterlab-hpc:panel-layout';

/** The panel's top-level sections. */
export type PanelSectionId = 'clusters' | 'sessions' | 'kernels' | 'local';

const SECTIONS: readonly PanelSectionId[] = [
  'clusters',
  'sessions',
  'kernels',
  'local'
];

/**
 * What of the panel's layout survives a reload: which sections the user
 * closed, and whether this computer's environments are open. A cluster's
 * environments always start closed, because opening them connects to the
 * cluster, which may ask for a password or a 2FA code.
 */
export interface IPanelLayout {
  collapsed: PanelSectionId[];
  localEnvironments: boolean;
}

export const DEFAULT_LAYOUT: IPanelLayout = {
  collapsed: [],
  localEnvironments: false
};

/** The stored layout, or the default for anything missing or malformed. */
export function parseLayout(value: unknown): IPanelLayout {
  if (!value || typeof value !== 'object') {
    return DEFAULT_LAYOUT;
  }
  const { collapsed, localEnvironments } = value as Record<string, unknown>;
  return {
    collapsed: Array.isArray(collapsed)
      ? SECTIONS.filter(id => collapsed.includes(id))
      : [],
    localEnvironments: localEnvironments === true
  };
}

/** Read and write the layout; without a state database, nothing persists. */
export class PanelLayoutStore {
  constructor(private readonly _db: IStateDB | null) {}

  async load(): Promise<IPanelLayout> {
    if (!this._db) {
      return DEFAULT_LAYOUT;
    }
    try {
      return parseLayout(await this._db.fetch(PANEL_LAYOUT_KEY));
    } catch {
      // A layout is a convenience: an unreadable one is the default one.
      return DEFAULT_LAYOUT;
    }
  }

  save(layout: IPanelLayout): Promise<void> {
    if (!this._db) {
      return Promise.resolve();
    }
    const value: ReadonlyPartialJSONObject = {
      collapsed: [...layout.collapsed],
      localEnvironments: layout.localEnvironments
    };
    return this._db.save(PANEL_LAYOUT_KEY, value).catch(() => undefined);
  }
}
