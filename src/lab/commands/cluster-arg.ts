import { InputDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/** The class of a cluster row in the panel; its context menu is ours. */
export const CLUSTER_ROW_CLASS = 'jp-HpcClusterRow';

/** The attribute of a cluster row that holds the cluster's name. */
export const CLUSTER_ID_ATTRIBUTE = 'data-cluster-id';

/** `app.contextMenuHitTest`: the node of the open context menu that passes. */
export type HitTest = (
  test: (node: HTMLElement) => boolean
) => HTMLElement | undefined;

/**
 * Which cluster a per-cluster command acts on. In order: the `name`
 * argument (palette entries, key bindings, panel buttons); the row the
 * context menu was opened on (items added with `{ isContextMenu: true }`);
 * none, and the command asks (`ask`) among the clusters it can act on.
 */
export class ClusterArg {
  constructor(
    private readonly _hitTest: HitTest | null,
    private readonly _trans: TranslationBundle
  ) {}

  /** The cluster named by the arguments or the clicked row, else null. */
  of(args: ReadonlyPartialJSONObject): string | null {
    if (typeof args.name === 'string' && args.name !== '') {
      return args.name;
    }
    if (args.isContextMenu && this._hitTest) {
      const row = this._hitTest(node =>
        node.classList.contains(CLUSTER_ROW_CLASS)
      );
      return row?.getAttribute(CLUSTER_ID_ATTRIBUTE) || null;
    }
    return null;
  }

  /** Whether the arguments leave the cluster to be asked for. */
  asks(args: ReadonlyPartialJSONObject): boolean {
    return this.of(args) === null && !args.isContextMenu;
  }

  /**
   * The cluster to act on: from the arguments, or the user's choice among
   * `candidates` (null when cancelled or there is none to choose).
   */
  async resolve(
    args: ReadonlyPartialJSONObject,
    candidates: readonly string[],
    title: string
  ): Promise<string | null> {
    const named = this.of(args);
    if (named !== null || !this.asks(args)) {
      return named;
    }
    if (candidates.length === 0) {
      return null;
    }
    const choice = await InputDialog.getItem({
      title,
      label: this._trans.__('Cluster'),
      items: [...candidates],
      okLabel: this._trans.__('OK'),
      cancelLabel: this._trans.__('Cancel')
    });
    return choice.button.accept ? choice.value : null;
  }

  /** The `describedBy` schema of a command that takes a cluster. */
  schema(argName = 'name'): {
    args: {
      type: 'object';
      properties: Record<string, { type: string; description: string }>;
    };
  } {
    return {
      args: {
        type: 'object',
        properties: {
          [argName]: {
            type: 'string',
            description: this._trans.__(
              'The cluster name; without it the command asks which cluster'
            )
          },
          isContextMenu: {
            type: 'boolean',
            description: this._trans.__(
              'Act on the cluster row the context menu was opened on'
            )
          }
        }
      }
    };
  }
}
