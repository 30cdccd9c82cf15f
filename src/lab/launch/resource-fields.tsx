import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ILaunchOffer, ILaunchProblem } from '../../common/sessions';
import { SelectField, TextField } from '../clusters/form-field';
import {
  accountChange,
  gpusOf,
  IResourceDraft,
  partitionChange,
  partitionOf,
  qosFor,
  ResourceField
} from './draft';
import {
  constraintHint,
  cpusHint,
  gpuTypeOptions,
  memoryHint,
  partitionLabel,
  qosHint,
  wallTimeHint
} from './messages';

export interface IResourceFieldsProps {
  trans: TranslationBundle;
  offer: ILaunchOffer;
  draft: IResourceDraft;
  /** The element id of each field. */
  ids: Record<ResourceField, string>;
  /** The problem shown under a field, or null. */
  problem: (field: ResourceField) => string | null;
  /** Values passed on unchecked (no accounting): a note under the field. */
  unchecked: readonly ILaunchProblem[];
  /**
   * A change of the fields. A function is given the form's current draft:
   * a change that depends on other fields must not read a stale render's.
   */
  onChange: (change: ResourceChange) => void;
  /** "Read again": read the partitions and accounts from the cluster again. */
  onReload: () => void;
}

export type ResourceChange =
  | Partial<IResourceDraft>
  | ((current: IResourceDraft) => Partial<IResourceDraft>);

/** The fields a change sets, against the form's current draft. */
export function resolveChange(
  change: ResourceChange,
  current: IResourceDraft
): Partial<IResourceDraft> {
  return typeof change === 'function' ? change(current) : change;
}

type Option = { value: string; label: string; disabled?: boolean };

/**
 * A job's resources from what the cluster offers: partition, account and
 * QOS, wall time, CPUs, memory, GPUs and constraint, each with its hint or
 * its problem. Shared by the launch form and the kernel profile dialog.
 */
export function ResourceFields(
  props: IResourceFieldsProps
): React.ReactElement {
  const { trans, offer, draft, ids, problem, onChange } = props;
  const partition = partitionOf(offer, draft.partition);
  const gpus = gpusOf(partition);
  const text = (
    field: ResourceField,
    label: string,
    hint: string,
    extra: { placeholder?: string; numeric?: boolean } = {}
  ) => (
    <TextField
      id={ids[field]}
      label={label}
      value={draft[field]}
      hint={hint}
      placeholder={extra.placeholder}
      inputMode={extra.numeric ? 'numeric' : undefined}
      problem={problem(field)}
      onChange={value => onChange({ [field]: value })}
    />
  );
  const partitionOptions = withUnknown(
    offer.partitions.map(p => ({
      value: p.name,
      label: partitionLabel(p, trans)
    })),
    draft.partition,
    trans
  );
  return (
    <>
      <div className="jp-HpcLaunchForm-partition">
        <SelectField
          id={ids.partition}
          label={trans.__('Partition')}
          value={draft.partition}
          options={partitionOptions}
          problem={problem('partition')}
          hint={trans.__(
            'Read from the cluster %1.',
            new Date(offer.fetchedAt).toLocaleTimeString()
          )}
          onChange={value =>
            onChange(current => partitionChange(offer, current, value))
          }
        />
        <Button
          small={true}
          minimal={true}
          className="jp-HpcLaunchForm-reread"
          title={trans.__('Read the partitions and accounts again')}
          onClick={props.onReload}
        >
          {trans.__('Read again')}
        </Button>
      </div>
      <AccountingFields {...props} />
      {text(
        'wallTime',
        trans.__('Wall time'),
        wallTimeHint(offer, partition, draft.qos, trans)
      )}
      <div className="jp-HpcLaunchForm-row">
        {text('cpus', trans.__('CPUs'), cpusHint(partition, trans), {
          numeric: true
        })}
        {text('memory', trans.__('Memory'), memoryHint(partition, trans), {
          placeholder: trans.__('partition default')
        })}
      </div>
      {gpus.length > 0 ? (
        <div className="jp-HpcLaunchForm-row">
          {text('gpuCount', trans.__('GPUs'), trans.__('0 for none.'), {
            numeric: true
          })}
          <SelectField
            id={ids.gpuType}
            label={trans.__('GPU type')}
            value={draft.gpuType}
            options={withUnknown(
              gpuTypeOptions(partition, trans),
              draft.gpuType,
              trans
            )}
            problem={problem('gpuType')}
            disabled={draft.gpuCount.trim() === '0'}
            onChange={value => onChange({ gpuType: value })}
          />
        </div>
      ) : (
        <p className="jp-HpcForm-hint">
          {trans.__('The %1 partition has no GPUs.', partition?.name ?? '')}
        </p>
      )}
      {text(
        'constraint',
        trans.__('Constraint'),
        constraintHint(partition, trans)
      )}
    </>
  );
}

/** A value the offer does not list stays choosable, marked as such. */
function withUnknown(
  options: Option[],
  value: string,
  trans: TranslationBundle
): Option[] {
  return value === '' || options.some(o => o.value === value)
    ? options
    : [...options, { value, label: trans.__('%1 (not offered)', value) }];
}

/**
 * Account and QOS: lists from Slurm's accounting, or free text with the
 * reason when the cluster has none.
 */
function AccountingFields(props: IResourceFieldsProps): React.ReactElement {
  const { trans, offer, draft, ids, problem, onChange } = props;
  const { accounting } = offer;
  if (!accounting.enabled) {
    const unchecked = (field: 'account' | 'qos') =>
      props.unchecked
        .filter(u => u.field === field)
        .map(u => u.message)
        .join(' ') || undefined;
    const why = trans.__(
      'This cluster reports no Slurm accounting (%1), so accounts and QOS cannot be listed: type them if your site needs them, or leave them empty.',
      accounting.reason ?? trans.__('no reason given')
    );
    return (
      <>
        <p className="jp-HpcForm-hint jp-HpcLaunchForm-noAccounting">{why}</p>
        <div className="jp-HpcLaunchForm-row">
          <TextField
            id={ids.account}
            label={trans.__('Account')}
            value={draft.account}
            placeholder={trans.__('your default')}
            hint={unchecked('account')}
            problem={problem('account')}
            onChange={value => onChange({ account: value })}
          />
          <TextField
            id={ids.qos}
            label={trans.__('QOS')}
            value={draft.qos}
            placeholder={trans.__('your default')}
            hint={unchecked('qos')}
            problem={problem('qos')}
            onChange={value => onChange({ qos: value })}
          />
        </div>
      </>
    );
  }
  const defaultAccount = accounting.defaultAccount
    ? trans.__('Your default (%1)', accounting.defaultAccount)
    : trans.__('Your default');
  const accounts: Option[] = [
    { value: '', label: defaultAccount },
    ...accounting.accounts.map(a => ({ value: a, label: a }))
  ];
  const qos: Option[] = [
    { value: '', label: trans.__('The default QOS') },
    ...qosFor(offer, draft.account).map(q => {
      const wall = accounting.qosMaxWallSeconds[q];
      return {
        value: q,
        label:
          typeof wall === 'number'
            ? trans.__('%1 (at most %2)', q, formatWall(wall))
            : q
      };
    })
  ];
  const add = (list: Option[], value: string) =>
    value === '' || list.some(o => o.value === value)
      ? list
      : [...list, { value, label: trans.__('%1 (not yours)', value) }];
  return (
    <div className="jp-HpcLaunchForm-row">
      <SelectField
        id={ids.account}
        label={trans.__('Account')}
        value={draft.account}
        options={add(accounts, draft.account)}
        problem={problem('account')}
        onChange={value =>
          onChange(current => accountChange(offer, current, value))
        }
      />
      <SelectField
        id={ids.qos}
        label={trans.__('QOS')}
        value={draft.qos}
        options={add(qos, draft.qos)}
        problem={problem('qos')}
        hint={qosHint(offer, draft.account, trans)}
        onChange={value => onChange({ qos: value })}
      />
    </div>
  );
}

function formatWall(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:00`;
}
