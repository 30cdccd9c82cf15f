import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ISshHosts } from '../../common/api';
import { IClusterConfig } from '../../common/settings';
import { newFormId, TextField } from './form-field';
import { describeAlias, problemMessage } from './messages';
import { toFailure } from './model';
import { ValidatingDialog, IValidatingBody } from './validating-dialog';
import {
  clusterFromDraft,
  DraftField,
  DraftProblems,
  draftFromCluster,
  EMPTY_DRAFT,
  hasProblems,
  IClusterDraft,
  suggestName,
  validateDraft
} from './validation';

/** What the host picker shows while and after ~/.ssh/config is read. */
type HostList =
  | { status: 'loading' }
  | { status: 'loaded'; hosts: ISshHosts }
  | { status: 'failed'; message: string };

export interface IClusterFormOptions {
  trans: TranslationBundle;
  /** The cluster to edit; absent to add one. */
  cluster?: IClusterConfig;
  /** Names the cluster may not take (the other clusters'). */
  takenNames: readonly string[];
  /** Reads the Host aliases of ~/.ssh/config (GET Routes.sshHosts). */
  loadHosts: () => Promise<ISshHosts>;
}

const FIELD_ORDER: DraftField[] = [
  'name',
  'host',
  'user',
  'port',
  'identityFile',
  'jumpHost'
];

/**
 * The body of the "Add cluster" and "Edit cluster" dialogs: a picker of the
 * Host aliases of ~/.ssh/config, the fields of a cluster and their inline
 * problems, judged by the rules of schema/plugin.json.
 */
export class ClusterForm
  extends ReactWidget
  implements IValidatingBody<IClusterConfig>
{
  constructor(private readonly _options: IClusterFormOptions) {
    super();
    this.addClass('jp-HpcClusterForm');
    this._draft = _options.cluster
      ? draftFromCluster(_options.cluster)
      : { ...EMPTY_DRAFT };
    _options.loadHosts().then(
      hosts => this._setHosts({ status: 'loaded', hosts }),
      err =>
        this._setHosts({ status: 'failed', message: toFailure(err).message })
    );
  }

  /** The element ids of this form's fields. */
  readonly ids = {
    transport: newFormId('transport'),
    alias: newFormId('alias'),
    name: newFormId('name'),
    host: newFormId('host'),
    user: newFormId('user'),
    port: newFormId('port'),
    identityFile: newFormId('identity-file'),
    jumpHost: newFormId('jump-host'),
    sshClient: newFormId('ssh-client')
  };

  get draft(): IClusterDraft {
    return this._draft;
  }

  get problems(): DraftProblems {
    return validateDraft(this._draft, this._options.takenNames);
  }

  validate(): boolean {
    this._showAll = true;
    const problems = this.problems;
    this.update();
    const first = FIELD_ORDER.find(field => problems[field]);
    if (first) {
      this.node.querySelector<HTMLInputElement>(`#${this.ids[first]}`)?.focus();
    }
    return !hasProblems(problems);
  }

  getValue(): IClusterConfig {
    // What this form does not show is kept as it was.
    const kept = this._options.cluster?.jupyterEnvironment;
    return {
      ...clusterFromDraft(this._draft),
      ...(kept ? { jupyterEnvironment: kept } : {})
    };
  }

  protected render(): React.ReactElement {
    const { trans } = this._options;
    const draft = this._draft;
    const problems = this.problems;
    const shown = (field: DraftField): string | null => {
      const problem = problems[field];
      return problem && (this._showAll || this._touched.has(field))
        ? problemMessage(problem, trans)
        : null;
    };
    const field = (
      name: DraftField,
      label: string,
      extra: { hint?: string; placeholder?: string; numeric?: boolean } = {}
    ) => (
      <TextField
        id={this.ids[name]}
        label={label}
        value={draft[name]}
        hint={extra.hint}
        placeholder={extra.placeholder}
        inputMode={extra.numeric ? 'numeric' : undefined}
        problem={shown(name)}
        onChange={value => this._change({ [name]: value })}
        onBlur={() => this._touch(name)}
      />
    );
    const ssh = draft.transport === 'ssh';
    return (
      <div className="jp-HpcForm">
        <fieldset className="jp-HpcForm-choice">
          <legend className="jp-HpcForm-label">{trans.__('Connection')}</legend>
          {(['ssh', 'local'] as const).map(transport => (
            <label key={transport} className="jp-HpcForm-radio">
              <input
                type="radio"
                name={this.ids.transport}
                value={transport}
                checked={draft.transport === transport}
                onChange={() => this._change({ transport })}
              />
              {transport === 'ssh'
                ? trans.__('SSH')
                : trans.__('This computer (no SSH)')}
            </label>
          ))}
        </fieldset>
        {ssh && this._renderHostPicker()}
        {field('name', trans.__('Name'), {
          hint: trans.__('A short name shown in JupyterLab, e.g. "swc".')
        })}
        {field(
          'host',
          ssh ? trans.__('Host or ~/.ssh/config alias') : trans.__('Label'),
          {
            hint: ssh
              ? (this._aliasHint() ??
                trans.__('e.g. hpc-gw1, login.cluster.example.org or 10.0.0.5'))
              : trans.__(
                  'JupyterLab runs on the login node itself; this only names it.'
                )
          }
        )}
        {ssh && (
          <>
            {field('user', trans.__('User'), {
              hint: trans.__(
                "Leave empty for ~/.ssh/config's or your local user name."
              )
            })}
            {field('port', trans.__('Port'), {
              hint: trans.__("Leave empty for ~/.ssh/config's or 22."),
              numeric: true
            })}
            {field('identityFile', trans.__('Identity file'), {
              hint: trans.__(
                'Private key, e.g. ~/.ssh/id_ed25519. Leave empty for the ssh-agent or the default keys.'
              )
            })}
            {field('jumpHost', trans.__('Jump host (ProxyJump)'), {
              hint: trans.__(
                'Gateways to go through: [user@]host[:port], separated by commas.'
              )
            })}
            <label className="jp-HpcForm-label" htmlFor={this.ids.sshClient}>
              {trans.__('SSH client')}
            </label>
            <HTMLSelect
              id={this.ids.sshClient}
              className="jp-HpcForm-select"
              value={draft.sshClient}
              onChange={event =>
                this._change({
                  sshClient: event.target.value as IClusterDraft['sshClient']
                })
              }
              options={[
                { value: 'auto', label: trans.__('Automatic') },
                { value: 'openssh', label: trans.__('OpenSSH') },
                { value: 'builtin', label: trans.__('Built-in') }
              ]}
            />
            <p className="jp-HpcForm-hint">
              {trans.__(
                'Automatic uses OpenSSH wherever it can multiplex (its forwards are as fast as ssh -L), else the built-in client.'
              )}
            </p>
          </>
        )}
      </div>
    );
  }

  private _renderHostPicker(): React.ReactElement {
    const { trans } = this._options;
    const list = this._hosts;
    let content: React.ReactElement;
    if (list.status === 'loading') {
      content = (
        <p className="jp-HpcForm-hint" role="status">
          {trans.__('Reading ~/.ssh/config…')}
        </p>
      );
    } else if (list.status === 'failed') {
      content = (
        <p className="jp-HpcForm-warning" role="status">
          {trans.__(
            'The hosts of ~/.ssh/config are not available (%1). Type the host below.',
            list.message
          )}
        </p>
      );
    } else {
      const { aliases, configPath, error } = list.hosts;
      const chosen = aliases.some(a => a.alias === this._draft.host.trim())
        ? this._draft.host.trim()
        : '';
      content = (
        <>
          {aliases.length > 0 ? (
            <HTMLSelect
              id={this.ids.alias}
              className="jp-HpcForm-select"
              value={chosen}
              onChange={event => this._chooseAlias(event.target.value)}
              options={[
                { value: '', label: trans.__('Choose a host…') },
                ...aliases.map(a => ({
                  value: a.alias,
                  label: `${a.alias} — ${describeAlias(a, trans)}`
                }))
              ]}
            />
          ) : (
            <p className="jp-HpcForm-hint">
              {trans.__('%1 has no Host entries.', configPath)}
            </p>
          )}
          {error && (
            <p className="jp-HpcForm-warning" role="status">
              {trans.__(
                '%1 could not be read completely: %2 You can still type a host below.',
                configPath,
                error.message
              )}
            </p>
          )}
        </>
      );
    }
    return (
      <div className="jp-HpcForm-field">
        <label className="jp-HpcForm-label" htmlFor={this.ids.alias}>
          {trans.__('Host from ~/.ssh/config')}
        </label>
        {content}
      </div>
    );
  }

  /** How ~/.ssh/config resolves the host typed, if it is an alias there. */
  private _aliasHint(): string | null {
    if (this._hosts.status !== 'loaded') {
      return null;
    }
    const alias = this._hosts.hosts.aliases.find(
      a => a.alias === this._draft.host.trim()
    );
    return alias
      ? this._options.trans.__(
          'From ~/.ssh/config: %1',
          describeAlias(alias, this._options.trans)
        )
      : null;
  }

  private _chooseAlias(alias: string): void {
    if (!alias) {
      return;
    }
    const change: Partial<IClusterDraft> = { host: alias };
    const name = this._draft.name.trim();
    if (!name || name === this._suggested) {
      this._suggested = suggestName(alias, this._options.takenNames);
      change.name = this._suggested;
    }
    this._change(change);
  }

  private _change(change: Partial<IClusterDraft>): void {
    this._draft = { ...this._draft, ...change };
    for (const key of Object.keys(change)) {
      if (key !== 'transport' && key !== 'sshClient') {
        this._touched.add(key as DraftField);
      }
    }
    this.update();
  }

  private _touch(field: DraftField): void {
    if (!this._touched.has(field)) {
      this._touched.add(field);
      this.update();
    }
  }

  private _setHosts(hosts: HostList): void {
    if (!this.isDisposed) {
      this._hosts = hosts;
      this.update();
    }
  }

  private _draft: IClusterDraft;
  private _hosts: HostList = { status: 'loading' };
  private _touched = new Set<DraftField>();
  private _showAll = false;
  /** The name last filled in from an alias, replaced by the next choice. */
  private _suggested: string | null = null;
}

/**
 * Ask for a new cluster, or changes to one; resolves with the cluster to
 * save, or null when cancelled.
 */
export async function showClusterDialog(
  options: IClusterFormOptions
): Promise<IClusterConfig | null> {
  const { trans, cluster } = options;
  const form = new ClusterForm(options);
  const title = cluster
    ? trans.__('Edit cluster %1', cluster.name)
    : trans.__('Add cluster');
  const dialog = new ValidatingDialog<IClusterConfig>({
    title,
    body: form,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: cluster ? trans.__('Save') : trans.__('Add') })
    ],
    focusNodeSelector: `#${form.ids.name}`
  });
  dialog.node.setAttribute('aria-label', title);
  // A dialog disposed before it was answered (JupyterLab shutting down,
  // Dialog.flush) rejects: that is no answer either.
  const result = await dialog.launch().catch(() => null);
  return result?.button.accept ? result.value : null;
}

/** Ask before removing a cluster from the settings. */
export async function confirmRemoveCluster(
  name: string,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Remove cluster %1?', name),
    body: trans.__(
      'This removes %1 from your HPC settings and closes its connection. Nothing on the cluster changes.',
      name
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Remove') })
    ],
    defaultButton: 0
  }).catch(() => null);
  return result?.button.accept ?? false;
}
