import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { IClusterStatus } from '../../common/api';
import { IClusterConfig } from '../../common/settings';
import { IClusterModel } from '../clusters/model';
import { IClusterSettings } from '../settings/model';

export interface IClusterToastsOptions {
  settings: IClusterSettings;
  /** Connection states; without it, toasts follow only the settings. */
  clusters?: IClusterModel | null;
  trans: TranslationBundle;
}

interface IShownToast {
  id: string;
  /** The cluster's settings when the toast was shown. */
  config: string;
  /** Its connection state then. */
  state: IClusterStatus['state'] | null;
}

/**
 * The toasts about each cluster, kept true to its current state: an error
 * about a cluster is dismissed when its settings change or it is removed
 * (the error was about what is no longer there), and turns into a short
 * success once the cluster is connected. A newer toast about a cluster
 * replaces the last one instead of stacking up.
 */
export class ClusterToasts implements IDisposable {
  constructor(options: IClusterToastsOptions) {
    this._settings = options.settings;
    this._clusters = options.clusters ?? null;
    this._trans = options.trans;
    this._settings.changed.connect(this._onSettingsChanged, this);
    this._clusters?.changed.connect(this._onClustersChanged, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** An error about `cluster` that stays until the user or a change ends it. */
  error(
    cluster: string,
    message: string,
    options: Notification.IOptions<never> = {}
  ): string {
    return this._show(cluster, 'error', message, {
      autoClose: false,
      ...options
    });
  }

  success(cluster: string, message: string): string {
    return this._show(cluster, 'success', message, { autoClose: 5000 });
  }

  info(cluster: string, message: string): string {
    return this._show(cluster, 'info', message, { autoClose: 5000 });
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.disconnectReceiver(this);
    this._shown.clear();
  }

  private _show(
    cluster: string,
    type: Notification.TypeOptions,
    message: string,
    options: Notification.IOptions<never>
  ): string {
    const last = this._shown.get(cluster);
    let id: string;
    if (
      last &&
      Notification.update({ id: last.id, type, message, ...options })
    ) {
      id = last.id;
    } else {
      id = Notification.emit(message, type, options);
    }
    if (type === 'error') {
      this._shown.set(cluster, {
        id,
        config: configKey(this._config(cluster)),
        state: this._clusters?.status(cluster)?.state ?? null
      });
    } else {
      // Closes by itself: nothing to keep true.
      this._shown.delete(cluster);
    }
    return id;
  }

  private _config(cluster: string): IClusterConfig | null {
    return this._settings.clusters.find(c => c.name === cluster) ?? null;
  }

  private _onSettingsChanged(): void {
    for (const [cluster, toast] of Array.from(this._shown)) {
      const config = this._config(cluster);
      if (config === null || configKey(config) !== toast.config) {
        // Removed or edited: the error was about what is no longer there.
        Notification.dismiss(toast.id);
        this._shown.delete(cluster);
      }
    }
  }

  private _onClustersChanged(): void {
    for (const [cluster, toast] of Array.from(this._shown)) {
      const state = this._clusters?.status(cluster)?.state ?? null;
      if (state === 'connected' && toast.state !== 'connected') {
        Notification.update({
          id: toast.id,
          type: 'success',
          message: this._trans.__('%1 is connected now.', cluster),
          autoClose: 5000
        });
        this._shown.delete(cluster);
      } else {
        toast.state = state;
      }
    }
  }

  private _settings: IClusterSettings;
  private _clusters: IClusterModel | null;
  private _trans: TranslationBundle;
  private _shown = new Map<string, IShownToast>();
  private _isDisposed = false;
}

const configKey = (config: IClusterConfig | null) => JSON.stringify(config);
