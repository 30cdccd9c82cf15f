import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  IKernelProfile,
  IKernelProfileRequest,
  ILaunchOffer,
  ILaunchProblem
} from '../../common/api';
import { newFormId, TextField } from '../clusters/form-field';
import { toFailure } from '../clusters/model';
import { CheckLoop, ICheckAnswer } from '../launch/check-loop';
import {
  DraftField,
  draftFieldOf,
  draftFromResources,
  fitResources,
  IResourceDraft,
  RESOURCE_FIELDS,
  resourceDraftFromJobDefaults,
  resourcesFromDraft,
  ResourceField
} from '../launch/draft';
import { resolveChange, ResourceFields } from '../launch/resource-fields';
import { SubmitDialog } from '../launch/submit-dialog';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { SidecarRequestError } from '../sidecar/request';
import { clusterPath } from './messages';
import { IKernelsModel } from './model';

/** The profile dialog's values as typed. */
export interface IProfileDraft extends IResourceDraft {
  workingDirectory: string;
  displayName: string;
}

export type ProfileField = keyof IProfileDraft;

const FIELD_ORDER: readonly ProfileField[] = [
  'displayName',
  ...RESOURCE_FIELDS,
  'workingDirectory'
];

/** The start time-out the launch check wants; profiles have none. */
const CHECK_START_TIMEOUT = 300;

export interface IProfileFormOptions {
  trans: TranslationBundle;
  cluster: string;
  /** The environment's prefix on the cluster. */
  environment: string;
  /** The environment's name, for the title and the hints. */
  envName: string;
  /** The profile to edit; null to add one. */
  profile: IKernelProfile | null;
  kernels: Pick<IKernelsModel, 'addProfile' | 'updateProfile'>;
  /** The launch form's offer and checks (the same routes). */
  sessions: Pick<ISessionsModel, 'offer' | 'check'>;
  settings: IClusterSettings;
  /** Milliseconds from the last edit to the check; 400 by default. */
  checkDelay?: number;
}

type OfferState =
  | { status: 'loading' }
  | { status: 'loaded'; offer: ILaunchOffer }
  | { status: 'failed'; message: string };

/** A problem's field in this form; null for one the form has no field for. */
function profileFieldOf(field: string): ProfileField | null {
  if (field === 'displayName' || field === 'workingDirectory') {
    return field;
  }
  const draftField = draftFieldOf(field);
  return draftField && (RESOURCE_FIELDS as string[]).includes(draftField)
    ? (draftField as ResourceField)
    : null;
}

/**
 * "Cluster kernel for <env> on <cluster>": the job's resources (the launch
 * form's fields, offer and checks), the working directory on the cluster
 * and the picker's name. Defaults are the cluster's job defaults from the
 * settings; the sidecar's problems appear next to their fields.
 */
export class ProfileForm extends ReactWidget {
  constructor(private readonly _o: IProfileFormOptions) {
    super();
    this.addClass('jp-HpcLaunchForm');
    this.addClass('jp-HpcProfileForm');
    this.ids = Object.fromEntries(
      FIELD_ORDER.map(f => [f, newFormId(`profile-${f}`)])
    ) as Record<ProfileField, string>;
    void this._load(false);
  }

  readonly ids: Record<ProfileField, string>;

  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  get draft(): IProfileDraft | null {
    return this._draft;
  }

  /** Every problem known now, local ones first. */
  get problems(): ILaunchProblem[] {
    return [...this._localProblems(), ...this._serverProblems];
  }

  get canSubmit(): boolean {
    return (
      this._draft !== null &&
      this._offer.status === 'loaded' &&
      !this._submitting &&
      this.problems.length === 0
    );
  }

  getValue(): IKernelProfile | null {
    return this._saved;
  }

  /** Add or save the profile; null when refused (the form says why). */
  async submit(): Promise<IKernelProfile | null> {
    const request = this._request();
    if (!request || !this.canSubmit) {
      this._focusFirstProblem();
      return null;
    }
    this._checks.cancel();
    this._submitting = true;
    this._refusal = null;
    this._changed();
    const { kernels, profile } = this._o;
    try {
      this._saved = profile
        ? await kernels.updateProfile(profile.id, request)
        : await kernels.addProfile(request);
      return this._saved;
    } catch (err) {
      if (
        err instanceof SidecarRequestError &&
        (err.code === 'profile-invalid' || err.code === 'launch-invalid') &&
        err.problems.length > 0
      ) {
        this._serverProblems = [...err.problems];
      } else {
        this._refusal = this._o.trans.__(
          'The kernel could not be saved: %1',
          toFailure(err).message
        );
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
    const { trans, cluster, environment } = this._o;
    const state = this._offer;
    const problem = this._problemsByField();
    const draft = this._draft;
    const others = this._unplacedProblems();
    return (
      <div className="jp-HpcForm jp-HpcLaunchForm-body">
        <p className="jp-HpcProfileForm-env">
          {trans.__(
            'The kernel runs the environment %1 in a SLURM job on %2:',
            this._o.envName,
            cluster
          )}{' '}
          <code className="jp-HpcProfileForm-prefix">
            {clusterPath(cluster, environment)}
          </code>
        </p>
        {draft && (
          <TextField
            id={this.ids.displayName}
            label={trans.__('Name in the kernel picker')}
            value={draft.displayName}
            placeholder={trans.__(
              'Python [conda env:%1] on %2',
              this._o.envName,
              cluster
            )}
            hint={trans.__('Empty for the generated name.')}
            problem={problem('displayName')}
            onChange={value => this._change({ displayName: value })}
          />
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
        {state.status === 'loaded' && draft && (
          <>
            <ResourceFields
              trans={trans}
              offer={state.offer}
              draft={draft}
              ids={this.ids}
              problem={problem}
              unchecked={this._unchecked}
              onChange={change =>
                this._draft && this._change(resolveChange(change, this._draft))
              }
              onReload={() => void this._load(true)}
            />
            <TextField
              id={this.ids.workingDirectory}
              label={trans.__('Working directory on %1', cluster)}
              value={draft.workingDirectory}
              placeholder="~"
              hint={trans.__(
                'Where the kernel runs, on the cluster (not this computer): an absolute path or ~/…; empty for your home directory. Shown as %1.',
                clusterPath(cluster, draft.workingDirectory.trim())
              )}
              problem={problem('workingDirectory')}
              onChange={value => this._change({ workingDirectory: value })}
            />
          </>
        )}
        {others.length > 0 && (
          <div className="jp-HpcLaunchForm-refusal" role="alert">
            {others.map(p => (
              <p key={p} className="jp-HpcLaunchForm-message">
                {p}
              </p>
            ))}
          </div>
        )}
        {this._refusal && (
          <div className="jp-HpcLaunchForm-refusal" role="alert">
            <p className="jp-HpcLaunchForm-message">{this._refusal}</p>
          </div>
        )}
      </div>
    );
  }

  private async _load(refresh: boolean): Promise<void> {
    const { sessions, cluster, profile, settings } = this._o;
    this._offer = { status: 'loading' };
    this._changed();
    try {
      const offer = await sessions.offer(cluster, refresh);
      if (this.isDisposed) {
        return;
      }
      this._offer = { status: 'loaded', offer };
      if (!this._draft) {
        const defaults = settings.jobDefaults;
        this._draft = profile
          ? {
              ...draftFromResources(profile.resources),
              workingDirectory: profile.workingDirectory,
              displayName: profile.displayName
            }
          : fitResources(
              {
                ...resourceDraftFromJobDefaults(defaults),
                workingDirectory: defaults.workingDirectory,
                displayName: ''
              },
              offer
            );
      }
      this._changed();
      this._checks.run();
    } catch (err) {
      if (!this.isDisposed) {
        this._offer = { status: 'failed', message: toFailure(err).message };
        this._changed();
      }
    }
  }

  private _change(change: Partial<IProfileDraft>): void {
    if (!this._draft) {
      return;
    }
    this._draft = { ...this._draft, ...change };
    this._refusal = null;
    // The sidecar's answer was about the values before this edit.
    this._serverProblems = this._serverProblems.filter(
      p => !Object.keys(change).includes(profileFieldOf(p.field) ?? '')
    );
    this._changed();
    this._checks.schedule();
  }

  private _request(): IKernelProfileRequest | null {
    const draft = this._draft;
    if (!draft) {
      return null;
    }
    const { resources } = resourcesFromDraft(draft, this._offerOrNull(), {
      wholeNumber: f => this._numberMessage(f)
    });
    if (!resources) {
      return null;
    }
    return {
      cluster: this._o.cluster,
      environment: this._o.environment,
      resources,
      workingDirectory: draft.workingDirectory.trim(),
      displayName: draft.displayName.trim()
    };
  }

  /** The launch check, for the fields a profile has. */
  private _check(): Promise<ICheckAnswer> | null {
    const request = this._request();
    if (!request || this.isDisposed) {
      return null;
    }
    const ours = (p: ILaunchProblem) => profileFieldOf(p.field) !== null;
    return this._o.sessions
      .check(this._o.cluster, {
        ...request.resources,
        environment: request.environment,
        workingDirectory: request.workingDirectory,
        startTimeoutSeconds: CHECK_START_TIMEOUT
      })
      .then(({ problems, unchecked }) => ({
        problems: problems.filter(ours),
        unchecked: unchecked.filter(ours)
      }));
  }

  private _localProblems(): ILaunchProblem[] {
    const draft = this._draft;
    if (!draft) {
      return [];
    }
    return resourcesFromDraft(draft, this._offerOrNull(), {
      wholeNumber: f => this._numberMessage(f)
    }).problems;
  }

  private _problemsByField(): (field: ProfileField) => string | null {
    const by = new Map<ProfileField, string[]>();
    for (const p of this.problems) {
      const field = profileFieldOf(p.field);
      if (!field) {
        continue;
      }
      const list = by.get(field) ?? [];
      if (!list.includes(p.message)) {
        list.push(p.message);
      }
      by.set(field, list);
    }
    return field => by.get(field)?.join(' ') ?? null;
  }

  /** Problems of fields this form does not have (the environment). */
  private _unplacedProblems(): string[] {
    return [
      ...new Set(
        this.problems
          .filter(p => profileFieldOf(p.field) === null)
          .map(p => p.message)
      )
    ];
  }

  private _focusFirstProblem(): void {
    const by = this._problemsByField();
    const first = FIELD_ORDER.find(f => by(f) !== null);
    if (first) {
      requestAnimationFrame(() =>
        this.node
          .querySelector<HTMLElement>(`#${CSS.escape(this.ids[first])}`)
          ?.focus()
      );
    }
  }

  private _numberMessage(field: DraftField): string {
    const { trans } = this._o;
    return field === 'gpuCount'
      ? trans.__('GPUs must be a whole number (0 for none).')
      : trans.__('CPUs must be a whole number.');
  }

  private _offerOrNull(): ILaunchOffer | null {
    return this._offer.status === 'loaded' ? this._offer.offer : null;
  }

  private _changed(): void {
    if (this.isDisposed) {
      return;
    }
    this.update();
    this._stateChanged.emit();
  }

  private _offer: OfferState = { status: 'loading' };
  private _draft: IProfileDraft | null = null;
  private _serverProblems: ILaunchProblem[] = [];
  private _unchecked: ILaunchProblem[] = [];
  private _refusal: string | null = null;
  private _submitting = false;
  private _saved: IKernelProfile | null = null;
  private _checks = new CheckLoop({
    check: () => this._check(),
    onAnswer: ({ problems, unchecked }) => {
      if (!this.isDisposed) {
        this._serverProblems = problems;
        this._unchecked = unchecked;
        this._changed();
      }
    },
    delay: this._o.checkDelay
  });
  private _stateChanged = new Signal<this, void>(this);
}

/**
 * "Add as cluster kernel" / "Edit cluster kernel": resolves with the
 * profile saved, or null when the dialog was closed without saving.
 */
export async function showProfileDialog(
  options: IProfileFormOptions
): Promise<IKernelProfile | null> {
  const { trans, cluster, envName, profile } = options;
  const form = new ProfileForm(options);
  const title = profile
    ? trans.__('Cluster kernel "%1"', profile.displayName)
    : trans.__('Cluster kernel for %1 on %2', envName, cluster);
  const dialog = new SubmitDialog<IKernelProfile>({
    title,
    body: form,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({
        label: profile ? trans.__('Save') : trans.__('Add kernel')
      })
    ]
  });
  dialog.addClass('jp-HpcProfileDialog');
  dialog.node.setAttribute('aria-label', title);
  const result = await dialog.launch().catch(() => null);
  return result?.button.accept ? result.value : null;
}
