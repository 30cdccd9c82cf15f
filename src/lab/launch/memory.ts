import { IStateDB } from '@jupyterlab/statedb';
import { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import { ILaunchRequest, LAUNCH_TEXT_FIELDS } from '../../common/sessions';

/** The last launch choices per cluster, the form's first defaults. */
export interface ILaunchMemory {
  /** The choices of the last launch on `cluster`, or null. */
  recall(cluster: string): Promise<ILaunchRequest | null>;
  remember(cluster: string, request: ILaunchRequest): Promise<void>;
}

const KEY_PREFIX = 'jupyterlab-hpc:launch-choices:';

/**
 * The choices in JupyterLab's state database: kept with the workspace
 * state of this browser, not in the settings the user edits (they change
 * with every launch).
 */
export class StateLaunchMemory implements ILaunchMemory {
  constructor(private readonly _state: IStateDB) {}

  async recall(cluster: string): Promise<ILaunchRequest | null> {
    try {
      const value = await this._state.fetch(KEY_PREFIX + cluster);
      return isLaunchRequest(value) ? value : null;
    } catch {
      return null;
    }
  }

  async remember(cluster: string, request: ILaunchRequest): Promise<void> {
    await this._state.save(
      KEY_PREFIX + cluster,
      request as unknown as ReadonlyPartialJSONValue
    );
  }
}

/** Whether a stored value still has the shape of a request. */
export function isLaunchRequest(value: unknown): value is ILaunchRequest {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Record<string, unknown>;
  const gpus = v.gpus as Record<string, unknown> | null | undefined;
  return (
    LAUNCH_TEXT_FIELDS.every(key => typeof v[key] === 'string') &&
    typeof v.cpus === 'number' &&
    typeof v.startTimeoutSeconds === 'number' &&
    typeof gpus === 'object' &&
    gpus !== null &&
    typeof gpus.type === 'string' &&
    typeof gpus.count === 'number'
  );
}
