import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { IEnvironmentList } from '../../common/api';
import {
  ILaunchOffer,
  ILaunchProblem,
  ISessionInfo
} from '../../common/sessions';
import { newFormId, SelectField, TextField } from '../clusters/form-field';
import { toFailure } from '../clusters/model';
import { IEnvironmentsModel } from '../envs/model';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { SidecarRequestError } from '../sidecar/request';
import {
  applyPreset,
  DraftField,
  draftFieldOf,
  draftFromJobDefaults,
  draftFromRequest,
  fitDraft,
  hasJupyterLab,
  ILaunchDraft,
  requestFromDraft
} from './draft';
import { CheckLoop, ICheckAnswer } from './check-loop';
import { PresetPicker } from './presets';
import { SubmitDialog } from './submit-dialog';
import { ILaunchMemory } from './memory';
import { installJupyterLabCommand } from './messages';
import { resolveChange, ResourceFields } from './resource-fields';

export interface ILaunchFormOptions {
  trans: TranslationBundle;
  cluster: string;
  sessions: Pick<ISessionsModel, 'offer' | 'check' | 'launch'>;
  settings: IClusterSettings;
  envs: IEnvironmentsModel | null;
  memory: ILaunchMemory | null;
  /** Milliseconds from the last edit to the check; 400 by default. */
  checkDelay?: number;
}

type OfferState =
  | { status: 'loading' }
  | { status: 'loaded'; offer: ILaunchOffer }
  | { status: 'failed'; message: string };

/** The order of the fields, for the focus after a refusal. */
const FIELD_ORDER: DraftField[] = [
  'partition',
  'account',
  'qos',
  'wallTime',
  'cpus',
  'memory',
  'gpuCount',
  'gpuType',
  'constraint',
  'environment',
  'workingDirectory',
  'startTimeout'
];

/**
 * The body of "JupyterLab on <cluster>": the job's resources from what the
 * cluster offers, the environment that runs JupyterLab, presets, and the
 * sidecar's checks next to each field as the user types. `submit` launches
 * and keeps the form as it was when the scheduler refuses.
 */
export class LaunchForm extends ReactWidget {
  constructor(private readonly _options: ILaunchFormOptions) {
    super();
    this.addClass('jp-HpcLaunchForm');
    this.ids = Object.fromEntries(
      [...FIELD_ORDER, 'preset', 'presetName'].map(f => [f, newFormId(f)])
    ) as Record<DraftField | 'preset' | 'presetName', string>;
    this._presets = new PresetPicker({
      trans: this._options.trans,
      cluster: this._options.cluster,
      settings: this._options.settings,
      ids: this.ids,
      draft: () => this._draft,
      apply: preset => {
        if (this._draft) {
          this._change(applyPreset(this._draft, preset));
        }
      },
      update: () => this.update()
    });
    _options.envs?.changed.connect(this._onEnvsChanged, this);
    _options.settings.changed.connect(this._onSettingsChanged, this);
    void this._load(false);
  }

  /** The element ids of the fields. */
  readonly ids: Record<DraftField | 'preset' | 'presetName', string>;

  /** Emitted whenever `canSubmit` may have changed. */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  get draft(): ILaunchDraft | null {
    return this._draft;
  }

  /** Every problem known now, local ones first. */
  get problems(): ILaunchProblem[] {
    return [...this._localProblems(), ...this._serverProblems];
  }

  /** Whether Launch may be pressed: values known, no problem, not busy. */
  get canSubmit(): boolean {
    return (
      this._draft !== null &&
      this._offer.status === 'loaded' &&
      !this._submitting &&
      this.problems.length === 0
    );
  }

  /** The session launched, once `submit` succeeded. */
  getValue(): ISessionInfo | null {
    return this._launched;
  }

  /**
   * Launch. Resolves with the session, or null when it was refused (the
   * problems or the scheduler's words are then shown in the form).
   */
  async submit(): Promise<ISessionInfo | null> {
    const draft = this._draft;
    if (!draft || !this.canSubmit) {
      this._focusFirstProblem();
      return null;
    }
    const { request } = requestFromDraft(draft, this._offerOrNull(), {
      wholeNumber: f => this._numberMessage(f)
    });
    if (!request) {
      return null;
    }
    this._checks.cancel();
    this._submitting = true;
    this._refusal = null;
    this._changed();
    try {
      const session = await this._options.sessions.launch(
        this._options.cluster,
        request
      );
      this._launched = session;
      return session;
    } catch (err) {
      if (
        err instanceof SidecarRequestError &&
        err.code === 'launch-invalid' &&
        err.problems.length > 0
      ) {
        this._serverProblems = [...err.problems];
      } else if (
        err instanceof SidecarRequestError &&
        err.code === 'sbatch-refused'
      ) {
        this._refusal = {
          title: this._options.trans.__('The scheduler refused the job:'),
          text: err.message
        };
      } else {
        this._refusal = {
          title: this._options.trans.__('The job could not be submitted:'),
          text: toFailure(err).message
        };
      }
      return null;
    } finally {
      this._submitting = false;
      this._changed();
      this._focusFirstProblem();
    }
  }

  dispose(): void {
    this._checks.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  protected render(): React.ReactElement {
    const { trans, cluster } = this._options;
    const state = this._offer;
    return (
      <div className="jp-HpcForm jp-HpcLaunchForm-body">
        {this._presets.render(
          this._draft !== null && this._offer.status === 'loaded'
        )}
        {state.status === 'loading' && (
          <p className="jp-HpcForm-hint" role="status">
            {trans.__('Reading partitions and accounts on %1…', cluster)}
          </p>
        )}
        {state.status === 'failed' && (
          <div className="jp-HpcForm-warning" role="alert">
            <p className="jp-HpcLaunchForm-message">
              {trans.__(
                'What %1 offers could not be read: %2',
                cluster,
                state.message
              )}
            </p>
            <Button small={true} onClick={() => void this._load(true)}>
              {trans.__('Try again')}
            </Button>
          </div>
        )}
        {state.status === 'loaded' && this._draft && this._renderFields()}
        {this._refusal && (
          <div className="jp-HpcLaunchForm-refusal" role="alert">
            <p className="jp-HpcLaunchForm-message">{this._refusal.title}</p>
            <pre className="jp-HpcLaunchForm-refusalText">
              {this._refusal.text}
            </pre>
          </div>
        )}
      </div>
    );
  }

  private _renderFields(): React.ReactElement {
    const { trans } = this._options;
    const offer = (this._offer as { offer: ILaunchOffer }).offer;
    const draft = this._draft!;
    const problem = this._problemsByField();
    const text = (
      field: DraftField,
      label: string,
      hint: string,
      extra: { placeholder?: string; numeric?: boolean } = {}
    ) => (
      <TextField
        id={this.ids[field]}
        label={label}
        value={draft[field]}
        hint={hint}
        placeholder={extra.placeholder}
        inputMode={extra.numeric ? 'numeric' : undefined}
        problem={problem(field)}
        onChange={value => this._change({ [field]: value })}
      />
    );
    return (
      <>
        <ResourceFields
          trans={trans}
          offer={offer}
          draft={draft}
          ids={this.ids}
          problem={problem}
          unchecked={this._unchecked}
          onChange={change =>
            this._draft && this._change(resolveChange(change, this._draft))
          }
          onReload={() => void this._load(true)}
        />
        {this._renderEnvironment(problem('environment'))}
        {text(
          'workingDirectory',
          trans.__('Working directory'),
          trans.__(
            'A directory on the cluster: an absolute path or ~/…; empty for your home directory.'
          ),
          { placeholder: '~' }
        )}
        {text(
          'startTimeout',
          trans.__('Start time-out (seconds)'),
          trans.__(
            'How long JupyterLab may take to start once the job runs; after that the session is given up and its job cancelled.'
          ),
          { numeric: true }
        )}
      </>
    );
  }

  private _renderEnvironment(problem: string | null): React.ReactElement {
    const { trans, cluster } = this._options;
    const draft = this._draft!;
    const list = this._envList();
    const id = this.ids.environment;
    if (!list) {
      const loading = this._options.envs?.state(cluster).loading ?? false;
      return (
        <TextField
          id={id}
          label={trans.__('JupyterLab environment')}
          value={draft.environment}
          hint={
            loading
              ? trans.__('Reading the environments of %1…', cluster)
              : trans.__(
                  'The absolute path of a conda environment on %1 that has JupyterLab.',
                  cluster
                )
          }
          problem={problem}
          onChange={value => this._change({ environment: value })}
        />
      );
    }
    const without = list.envs.filter(e => !hasJupyterLab(e));
    const options = list.envs.map(e => ({
      value: e.prefix,
      label: hasJupyterLab(e)
        ? `${e.name} — ${e.prefix}`
        : trans.__('%1 — no JupyterLab', e.name),
      disabled: !hasJupyterLab(e)
    }));
    if (draft.environment === '') {
      options.unshift({
        value: '',
        label: trans.__('Choose an environment…'),
        disabled: true
      });
    } else if (!options.some(o => o.value === draft.environment)) {
      options.push({
        value: draft.environment,
        label: trans.__('%1 (not found)', draft.environment),
        disabled: false
      });
    }
    return (
      <div className="jp-HpcLaunchForm-env">
        <SelectField
          id={id}
          label={trans.__('JupyterLab environment')}
          value={draft.environment}
          options={options}
          problem={problem}
          hint={trans.__('The conda environment that runs JupyterLab.')}
          onChange={value => this._change({ environment: value })}
        />
        {without.length > 0 && (
          <details className="jp-HpcLaunchForm-without">
            <summary>
              {trans._n(
                '%1 environment has no JupyterLab',
                '%1 environments have no JupyterLab',
                without.length
              )}
            </summary>
            <p className="jp-HpcForm-hint">
              {trans.__(
                'They cannot run JupyterLab until it is installed in them, on %1:',
                cluster
              )}
            </p>
            <ul>
              {without.map(e => (
                <li key={e.prefix}>
                  <span className="jp-HpcLaunchForm-envName">{e.name}</span>{' '}
                  <code>{installJupyterLabCommand(list, e)}</code>
                </li>
              ))}
            </ul>
          </details>
        )}
      </div>
    );
  }

  /** Read the offer (again), then make the first draft from the defaults. */
  private async _load(refresh: boolean): Promise<void> {
    const { sessions, cluster, envs, memory } = this._options;
    this._offer = { status: 'loading' };
    this._changed();
    const envsLoaded =
      envs && (refresh || !envs.state(cluster).list)
        ? envs.load(cluster, { refresh })
        : Promise.resolve();
    try {
      const [offer, remembered] = await Promise.all([
        sessions.offer(cluster, refresh),
        this._draft
          ? Promise.resolve(null)
          : (memory?.recall(cluster) ?? Promise.resolve(null)),
        envsLoaded
      ]);
      if (this.isDisposed) {
        return;
      }
      this._offer = { status: 'loaded', offer };
      if (!this._draft) {
        this._draft = fitDraft(
          remembered
            ? draftFromRequest(remembered)
            : draftFromJobDefaults(
                this._options.settings.jobDefaults,
                this._clusterEnvironment()
              ),
          offer,
          this._envList()
        );
      }
      this._changed();
      this._runCheck();
    } catch (err) {
      if (!this.isDisposed) {
        this._offer = { status: 'failed', message: toFailure(err).message };
        this._changed();
      }
    }
  }

  private _change(change: Partial<ILaunchDraft>): void {
    if (!this._draft) {
      return;
    }
    this._draft = { ...this._draft, ...change };
    this._refusal = null;
    this._changed();
    this._scheduleCheck();
  }

  private _scheduleCheck(): void {
    this._checks.schedule();
  }

  private _runCheck(): void {
    this._checks.run();
  }

  /** The sidecar's check of the values now (null: not a request yet). */
  private _check(): Promise<ICheckAnswer> | null {
    const draft = this._draft;
    if (!draft || this.isDisposed) {
      return null;
    }
    const { request } = requestFromDraft(draft, this._offerOrNull(), {
      wholeNumber: f => this._numberMessage(f)
    });
    return request
      ? this._options.sessions.check(this._options.cluster, request)
      : null;
  }

  /** What the form itself knows is wrong: numbers, and the environment. */
  private _localProblems(): ILaunchProblem[] {
    const draft = this._draft;
    if (!draft) {
      return [];
    }
    const { trans, cluster } = this._options;
    const { problems } = requestFromDraft(draft, this._offerOrNull(), {
      wholeNumber: f => this._numberMessage(f)
    });
    const list = this._envList();
    const env = list?.envs.find(e => e.prefix === draft.environment);
    if (env && !hasJupyterLab(env)) {
      problems.push({
        field: 'environment',
        message: trans.__(
          '%1 has no JupyterLab. Install it on %2: %3',
          env.name,
          cluster,
          installJupyterLabCommand(list, env)
        )
      });
    } else if (list && !env && draft.environment === '') {
      problems.push({
        field: 'environment',
        message: trans.__(
          'Choose the environment that runs JupyterLab; none of %1 has it yet.',
          cluster
        )
      });
    }
    return problems;
  }

  private _problemsByField(): (field: DraftField) => string | null {
    const by = new Map<DraftField, string[]>();
    for (const p of this.problems) {
      const field = draftFieldOf(p.field) ?? 'partition';
      const list = by.get(field) ?? [];
      if (!list.includes(p.message)) {
        list.push(p.message);
      }
      by.set(field, list);
    }
    return field => by.get(field)?.join(' ') ?? null;
  }

  private _focusFirstProblem(): void {
    const by = this._problemsByField();
    const first = FIELD_ORDER.find(f => by(f) !== null);
    if (first) {
      // After React rendered the problem.
      requestAnimationFrame(() =>
        this.node
          .querySelector<HTMLElement>(`#${CSS.escape(this.ids[first])}`)
          ?.focus()
      );
    }
  }

  private _numberMessage(field: DraftField): string {
    const { trans } = this._options;
    switch (field) {
      case 'cpus':
        return trans.__('CPUs must be a whole number.');
      case 'gpuCount':
        return trans.__('GPUs must be a whole number (0 for none).');
      default:
        return trans.__(
          'The start time-out must be a whole number of seconds.'
        );
    }
  }

  private _offerOrNull(): ILaunchOffer | null {
    return this._offer.status === 'loaded' ? this._offer.offer : null;
  }

  private _envList(): IEnvironmentList | null {
    return this._options.envs?.state(this._options.cluster).list ?? null;
  }

  private _clusterEnvironment(): string {
    return (
      this._options.settings.clusters.find(
        c => c.name === this._options.cluster
      )?.jupyterEnvironment ?? ''
    );
  }

  private _onEnvsChanged(_: unknown, target: string): void {
    if (target === this._options.cluster && !this.isDisposed) {
      this._changed();
    }
  }

  private _onSettingsChanged(): void {
    if (!this.isDisposed) {
      this.update();
    }
  }

  private _changed(): void {
    if (this.isDisposed) {
      return;
    }
    this.update();
    this._stateChanged.emit();
  }

  private _offer: OfferState = { status: 'loading' };
  private _draft: ILaunchDraft | null = null;
  private _serverProblems: ILaunchProblem[] = [];
  /** Values the cluster cannot check (no accounting): a note, not a problem. */
  private _unchecked: ILaunchProblem[] = [];
  private _refusal: { title: string; text: string } | null = null;
  private _submitting = false;
  private _launched: ISessionInfo | null = null;
  private _presets: PresetPicker;
  private _checks = new CheckLoop({
    check: () => this._check(),
    onAnswer: ({ problems, unchecked }) => {
      if (!this.isDisposed) {
        this._serverProblems = problems;
        this._unchecked = unchecked;
        this._changed();
      }
    },
    delay: this._options.checkDelay
  });
  private _stateChanged = new Signal<this, void>(this);
}

/**
 * "JupyterLab on <cluster>": resolves with the session launched, or null
 * when the form was closed without launching.
 */
export async function showLaunchDialog(
  options: ILaunchFormOptions
): Promise<ISessionInfo | null> {
  const { trans, cluster } = options;
  const form = new LaunchForm(options);
  const title = trans.__('JupyterLab on %1', cluster);
  const dialog = new SubmitDialog<ISessionInfo>({
    title,
    body: form,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Launch') })
    ]
  });
  dialog.addClass('jp-HpcLaunchDialog');
  dialog.node.setAttribute('aria-label', title);
  const result = await dialog.launch().catch(() => null);
  return result?.button.accept ? result.value : null;
}
