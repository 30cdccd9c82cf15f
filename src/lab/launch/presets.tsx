import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ISessionPreset } from '../../common/settings';
import { sessionPresetSchemaErrors } from '../../common/settings-schema';
import { SelectField, TextField } from '../clusters/form-field';
import { toFailure } from '../clusters/model';
import { IClusterSettings } from '../settings/model';
import { ILaunchDraft, presetFromDraft, presetsFor } from './draft';

const PRESET_NAME = /^\S(.{0,62}\S)?$/;

export interface IPresetPickerOptions {
  trans: TranslationBundle;
  cluster: string;
  settings: IClusterSettings;
  ids: { preset: string; presetName: string };
  /** The form's values now, for "Save as preset". */
  draft: () => ILaunchDraft | null;
  /** Put a preset's values into the form. */
  apply: (preset: ISessionPreset) => void;
  /** Render the form again. */
  update: () => void;
}

/**
 * The launch form's presets: choose one (its values go into the form),
 * save the form's values under a name in the HPC settings, delete one.
 */
export class PresetPicker {
  constructor(private readonly _o: IPresetPickerOptions) {}

  /** The preset row; `ready` once the form has its values. */
  render(ready: boolean): React.ReactElement | null {
    const { trans, cluster, settings } = this._o;
    const presets = presetsFor(settings.sessionPresets, cluster);
    if (!ready && presets.length === 0) {
      return null;
    }
    const chosen = presets.find(p => p.name === this._chosen) ?? null;
    return (
      <div className="jp-HpcLaunchForm-presets">
        <div className="jp-HpcLaunchForm-row">
          <SelectField
            id={this._o.ids.preset}
            label={trans.__('Preset')}
            value={chosen?.name ?? ''}
            disabled={!ready || presets.length === 0}
            options={[
              {
                value: '',
                label:
                  presets.length === 0
                    ? trans.__('No presets saved yet')
                    : trans.__('Choose a preset…')
              },
              ...presets.map(p => ({
                value: p.name,
                label: p.cluster
                  ? p.name
                  : trans.__('%1 (every cluster)', p.name)
              }))
            ]}
            onChange={value => this._apply(value)}
          />
          <div className="jp-HpcLaunchForm-presetActions">
            {this._name === null ? (
              <Button
                small={true}
                disabled={!ready}
                onClick={() => {
                  this._name = chosen?.name ?? '';
                  this._error = null;
                  this._o.update();
                }}
              >
                {trans.__('Save as preset…')}
              </Button>
            ) : null}
            {chosen && this._name === null && (
              <Button
                small={true}
                minimal={true}
                onClick={() => void this._delete(chosen)}
              >
                {trans.__('Delete preset')}
              </Button>
            )}
          </div>
        </div>
        {this._name !== null && (
          <div className="jp-HpcLaunchForm-row jp-HpcLaunchForm-saveRow">
            <TextField
              id={this._o.ids.presetName}
              label={trans.__('Preset name')}
              value={this._name}
              problem={this._error}
              hint={trans.__(
                'Saved in your HPC settings, for %1. A preset with this name is replaced.',
                cluster
              )}
              onChange={value => {
                this._name = value;
                this._error = null;
                this._o.update();
              }}
            />
            <div className="jp-HpcLaunchForm-presetActions">
              <Button small={true} onClick={() => void this._save()}>
                {trans.__('Save preset')}
              </Button>
              <Button
                small={true}
                minimal={true}
                onClick={() => {
                  this._name = null;
                  this._o.update();
                }}
              >
                {trans.__('Cancel')}
              </Button>
            </div>
          </div>
        )}
      </div>
    );
  }

  private _apply(name: string): void {
    const preset = presetsFor(
      this._o.settings.sessionPresets,
      this._o.cluster
    ).find(p => p.name === name);
    this._chosen = preset ? name : null;
    if (preset && this._o.draft()) {
      this._o.apply(preset);
    } else {
      this._o.update();
    }
  }

  private async _save(): Promise<void> {
    const { trans, settings, cluster } = this._o;
    const name = (this._name ?? '').trim();
    const draft = this._o.draft();
    if (!draft) {
      return;
    }
    if (!PRESET_NAME.test(name)) {
      this._error = trans.__(
        'A name of 1 to 64 characters on one line, not starting or ending with a space.'
      );
      this._o.update();
      return;
    }
    const preset = presetFromDraft(name, cluster, draft);
    const errors = sessionPresetSchemaErrors(preset);
    if (errors.length > 0) {
      const fields = [
        ...new Set(errors.map(e => e.instancePath.split('/')[1] ?? ''))
      ].filter(Boolean);
      this._error = trans.__(
        'These values cannot be saved as a preset: %1. Correct them first.',
        fields.join(', ')
      );
      this._o.update();
      return;
    }
    const others = settings.sessionPresets.filter(
      p => !(p.name === name && (p.cluster ?? '') === cluster)
    );
    try {
      await settings.setSessionPresets([...others, preset]);
      this._chosen = name;
      this._name = null;
      this._error = null;
    } catch (err) {
      this._error = trans.__(
        'The preset could not be saved: %1',
        toFailure(err).message
      );
    }
    this._o.update();
  }

  private async _delete(preset: ISessionPreset): Promise<void> {
    const { settings } = this._o;
    try {
      await settings.setSessionPresets(
        settings.sessionPresets.filter(p => p !== preset)
      );
      this._chosen = null;
    } catch (err) {
      this._error = toFailure(err).message;
    }
    this._o.update();
  }

  /** The preset chosen last, by name. */
  private _chosen: string | null = null;
  /** The preset name being typed; null while not saving one. */
  private _name: string | null = null;
  private _error: string | null = null;
}
