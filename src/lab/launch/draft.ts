/**
 * The launch form's values as typed (text, so nothing the user types is
 * lost), and how they become a launch request, a preset and back. Pure.
 */
import { ICondaEnvironment, IEnvironmentList } from '../../common/api';
import {
  IJobResources,
  ILaunchOffer,
  ILaunchProblem,
  ILaunchRequest,
  IPartition,
  LaunchField
} from '../../common/sessions';
import { IJobDefaults, ISessionPreset } from '../../common/settings';

/** A job's resources as typed: what the launch form and kernel profiles share. */
export interface IResourceDraft {
  partition: string;
  account: string;
  qos: string;
  wallTime: string;
  cpus: string;
  memory: string;
  gpuCount: string;
  gpuType: string;
  constraint: string;
}

export type ResourceField = keyof IResourceDraft;

/** The resource fields in the order the forms show them. */
export const RESOURCE_FIELDS: readonly ResourceField[] = [
  'partition',
  'account',
  'qos',
  'wallTime',
  'cpus',
  'memory',
  'gpuCount',
  'gpuType',
  'constraint'
];

export interface ILaunchDraft extends IResourceDraft {
  environment: string;
  workingDirectory: string;
  startTimeout: string;
}

export type DraftField = keyof ILaunchDraft;

/** The request field a draft field becomes (what the checks name). */
export const FIELD_OF: Record<DraftField, LaunchField> = {
  partition: 'partition',
  account: 'account',
  qos: 'qos',
  wallTime: 'wallTime',
  cpus: 'cpus',
  memory: 'memory',
  gpuCount: 'gpus.count',
  gpuType: 'gpus.type',
  constraint: 'constraint',
  environment: 'environment',
  workingDirectory: 'workingDirectory',
  startTimeout: 'startTimeoutSeconds'
};

/** The draft field a problem is about (`gpus` counts as the GPU count). */
export function draftFieldOf(field: LaunchField | string): DraftField | null {
  if (field === 'gpus') {
    return 'gpuCount';
  }
  const found = (Object.keys(FIELD_OF) as DraftField[]).find(
    key => FIELD_OF[key] === field
  );
  return found ?? null;
}

/** The GPUs a partition's nodes have (GRES named `gpu`). */
export function gpusOf(partition: IPartition | null): IPartition['gres'] {
  return partition ? partition.gres.filter(g => g.name === 'gpu') : [];
}

export function partitionOf(
  offer: ILaunchOffer | null,
  name: string
): IPartition | null {
  if (!offer) {
    return null;
  }
  return (
    (name === ''
      ? offer.partitions.find(p => p.isDefault)
      : offer.partitions.find(p => p.name === name)) ?? null
  );
}

/** The QOS an account may use; every QOS of the user for no account. */
export function qosFor(offer: ILaunchOffer, account: string): string[] {
  const { accounting } = offer;
  const chosen = account || accounting.defaultAccount || '';
  if (chosen && accounting.qosByAccount[chosen]) {
    return accounting.qosByAccount[chosen];
  }
  return [...new Set(Object.values(accounting.qosByAccount).flat())];
}

/** A whole number typed in a field, or null. */
function wholeNumber(text: string): number | null {
  const trimmed = text.trim();
  return /^\d{1,9}$/.test(trimmed) ? Number(trimmed) : null;
}

export interface IDraftRequest {
  /** Null while a number field holds no number. */
  request: ILaunchRequest | null;
  /** What is wrong before the sidecar can even be asked. */
  problems: ILaunchProblem[];
}

export interface IDraftResources {
  /** Null while a number field holds no number. */
  resources: IJobResources | null;
  problems: ILaunchProblem[];
}

/** Read a whole number field; a problem when it holds none. */
function numberOf(
  draft: Record<string, string>,
  field: DraftField,
  problems: ILaunchProblem[],
  messages: { wholeNumber: (field: DraftField) => string },
  emptyAs: number | null = null
): number {
  const value =
    draft[field].trim() === '' && emptyAs !== null
      ? emptyAs
      : wholeNumber(draft[field]);
  if (value === null) {
    problems.push({
      field: FIELD_OF[field],
      message: messages.wholeNumber(field)
    });
  }
  return value ?? 0;
}

/**
 * The resources a draft stands for. Text goes as typed (the sidecar judges
 * it); only the number fields must hold numbers. GPUs are left out on a
 * partition without any.
 */
export function resourcesFromDraft(
  draft: IResourceDraft,
  offer: ILaunchOffer | null,
  messages: { wholeNumber: (field: DraftField) => string }
): IDraftResources {
  const problems: ILaunchProblem[] = [];
  const fields = draft as unknown as Record<string, string>;
  const hasGpus =
    offer === null || gpusOf(partitionOf(offer, draft.partition)).length > 0;
  const cpus = numberOf(fields, 'cpus', problems, messages);
  const gpuCount = hasGpus
    ? numberOf(fields, 'gpuCount', problems, messages, 0)
    : 0;
  const resources: IJobResources = {
    partition: draft.partition,
    account: draft.account,
    qos: draft.qos,
    wallTime: draft.wallTime,
    cpus,
    memory: draft.memory,
    gpus: {
      type: hasGpus && gpuCount > 0 ? draft.gpuType : '',
      count: gpuCount
    },
    constraint: draft.constraint
  };
  return { resources: problems.length === 0 ? resources : null, problems };
}

/** The launch request a draft stands for (see resourcesFromDraft). */
export function requestFromDraft(
  draft: ILaunchDraft,
  offer: ILaunchOffer | null,
  messages: { wholeNumber: (field: DraftField) => string }
): IDraftRequest {
  const { resources, problems } = resourcesFromDraft(draft, offer, messages);
  const startTimeoutSeconds = numberOf(
    draft as unknown as Record<string, string>,
    'startTimeout',
    problems,
    messages
  );
  if (!resources || problems.length > 0) {
    return { request: null, problems };
  }
  return {
    request: {
      ...resources,
      environment: draft.environment,
      workingDirectory: draft.workingDirectory,
      startTimeoutSeconds
    },
    problems
  };
}

/** The draft of a job's resources. */
export function draftFromResources(resources: IJobResources): IResourceDraft {
  return {
    partition: resources.partition,
    account: resources.account,
    qos: resources.qos,
    wallTime: resources.wallTime,
    cpus: String(resources.cpus),
    memory: resources.memory,
    gpuCount: String(resources.gpus.count),
    gpuType: resources.gpus.type,
    constraint: resources.constraint
  };
}

/** The settings' job defaults, resources only. */
export function resourceDraftFromJobDefaults(
  defaults: IJobDefaults
): IResourceDraft {
  return {
    partition: defaults.partition,
    account: defaults.account,
    qos: defaults.qos,
    wallTime: defaults.timeLimit,
    cpus: String(defaults.cpus),
    memory: defaults.memory,
    gpuCount: String(defaults.gpus),
    gpuType: defaults.gpuType,
    constraint: defaults.constraint
  };
}

/** A partition without the chosen GPU type or any GPUs drops them. */
export function partitionChange(
  offer: ILaunchOffer | null,
  draft: IResourceDraft,
  name: string
): Partial<IResourceDraft> {
  const gpus = gpusOf(partitionOf(offer, name));
  const change: Partial<IResourceDraft> = { partition: name };
  if (gpus.length === 0) {
    change.gpuCount = '0';
    change.gpuType = '';
  } else if (!gpus.some(g => g.type === draft.gpuType)) {
    change.gpuType = '';
  }
  return change;
}

/** The QOS follows the account: one it cannot use goes back to the default. */
export function accountChange(
  offer: ILaunchOffer | null,
  draft: IResourceDraft,
  account: string
): Partial<IResourceDraft> {
  const change: Partial<IResourceDraft> = { account };
  if (offer && draft.qos && !qosFor(offer, account).includes(draft.qos)) {
    change.qos = '';
  }
  return change;
}

export function draftFromRequest(request: ILaunchRequest): ILaunchDraft {
  return {
    ...draftFromResources(request),
    environment: request.environment,
    workingDirectory: request.workingDirectory,
    startTimeout: String(request.startTimeoutSeconds)
  };
}

/** The settings' job defaults; `environment` is still a name or a prefix. */
export function draftFromJobDefaults(
  defaults: IJobDefaults,
  clusterEnvironment: string
): ILaunchDraft {
  return {
    ...resourceDraftFromJobDefaults(defaults),
    environment: clusterEnvironment || defaults.jupyterEnvironment,
    workingDirectory: defaults.workingDirectory,
    startTimeout: String(defaults.startTimeout)
  };
}

/** The fields of a preset, over the draft. */
export function applyPreset(
  draft: ILaunchDraft,
  preset: ISessionPreset
): ILaunchDraft {
  const out = { ...draft };
  const text = (field: DraftField, value: string | number | undefined) => {
    if (value !== undefined) {
      out[field] = String(value);
    }
  };
  text('partition', preset.partition);
  text('account', preset.account);
  text('qos', preset.qos);
  text('wallTime', preset.timeLimit);
  text('cpus', preset.cpus);
  text('memory', preset.memory);
  text('gpuCount', preset.gpus);
  text('gpuType', preset.gpuType);
  text('constraint', preset.constraint);
  text('environment', preset.jupyterEnvironment);
  text('workingDirectory', preset.workingDirectory);
  text('startTimeout', preset.startTimeout);
  return out;
}

/**
 * A preset of the draft's values. Number fields that hold no number and
 * empty text are left out (they keep the form's defaults when applied).
 */
export function presetFromDraft(
  name: string,
  cluster: string,
  draft: ILaunchDraft
): ISessionPreset {
  const preset: ISessionPreset = { name, cluster };
  const text = <K extends keyof ISessionPreset>(key: K, value: string) => {
    if (value !== '') {
      (preset as unknown as Record<string, unknown>)[key] = value;
    }
  };
  const number = <K extends keyof ISessionPreset>(key: K, value: string) => {
    const n = wholeNumber(value);
    if (n !== null) {
      (preset as unknown as Record<string, unknown>)[key] = n;
    }
  };
  text('partition', draft.partition);
  text('account', draft.account);
  text('qos', draft.qos);
  text('timeLimit', draft.wallTime);
  number('cpus', draft.cpus);
  text('memory', draft.memory);
  number('gpus', draft.gpuCount);
  text('gpuType', draft.gpuType);
  text('constraint', draft.constraint);
  text('jupyterEnvironment', draft.environment);
  text('workingDirectory', draft.workingDirectory);
  number('startTimeout', draft.startTimeout);
  return preset;
}

/** The presets offered for a cluster: its own and those for every cluster. */
export function presetsFor(
  presets: readonly ISessionPreset[],
  cluster: string
): ISessionPreset[] {
  return presets.filter(p => !p.cluster || p.cluster === cluster);
}

/**
 * The prefix of an environment given by name or prefix, among the
 * cluster's environments; null when none matches.
 */
export function resolveEnvironment(
  list: IEnvironmentList | null,
  value: string
): string | null {
  if (!list || value === '') {
    return null;
  }
  const byPrefix = list.envs.find(e => e.prefix === value);
  if (byPrefix) {
    return byPrefix.prefix;
  }
  const byName = list.envs.filter(e => e.name === value);
  return byName.length === 1 ? byName[0].prefix : null;
}

/** Whether an environment can run JupyterLab. */
export function hasJupyterLab(env: ICondaEnvironment): boolean {
  return env.jupyterlabVersion !== null;
}

/**
 * Make a default draft fit what the cluster offers: a partition, account,
 * QOS or GPU type it does not have becomes its default, and an environment
 * given by name becomes its prefix (the JupyterLab env the cluster uses
 * when it cannot be resolved). Used for defaults only; a preset the user
 * picks is shown as it is, with the check's problems.
 */
export function fitDraft(
  draft: ILaunchDraft,
  offer: ILaunchOffer | null,
  envs: IEnvironmentList | null
): ILaunchDraft {
  const out = fitResources(draft, offer);
  if (envs) {
    out.environment =
      resolveEnvironment(envs, out.environment) ??
      (out.environment.startsWith('/')
        ? out.environment
        : (envs.jupyterlabPrefix ?? ''));
  }
  return out;
}

/**
 * Make default resources fit what the cluster offers: a partition,
 * account, QOS or GPU type it does not have becomes its default.
 */
export function fitResources<T extends IResourceDraft>(
  draft: T,
  offer: ILaunchOffer | null
): T {
  const out = { ...draft };
  if (offer) {
    const partition =
      partitionOf(offer, out.partition) ?? partitionOf(offer, '');
    out.partition = partition?.name ?? '';
    const { accounting } = offer;
    if (accounting.enabled) {
      if (out.account && !accounting.accounts.includes(out.account)) {
        out.account = '';
      }
      if (out.qos && !qosFor(offer, out.account).includes(out.qos)) {
        out.qos = '';
      }
    }
    const gpus = gpusOf(partition);
    if (out.gpuType && !gpus.some(g => g.type === out.gpuType)) {
      out.gpuType = '';
    }
    if (gpus.length === 0) {
      out.gpuCount = '0';
    }
  }
  return out;
}
