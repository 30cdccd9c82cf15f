/**
 * schema/plugin.json's own rules, precompiled (scripts/build-validators.mjs):
 * the sidecar's PUT Routes.clusters and the "Add cluster" dialog check
 * entries with them instead of copies of its patterns and ranges.
 */
import {
  validateCluster as generated,
  validateSessionPreset as generatedPreset
} from './generated/settings-validators';

/** One complaint of the schema about a value, as ajv reports it. */
export interface ISchemaError {
  /** JSON pointer into the checked value: `/port`, or '' for the value itself. */
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

interface IValidator {
  (value: unknown): boolean;
  errors?: ISchemaError[] | null;
}

const clusterValidator = generated as unknown as IValidator;
const presetValidator = generatedPreset as unknown as IValidator;

/** Every way `entry` breaks the schema's `cluster` definition; [] if none. */
export function clusterSchemaErrors(entry: unknown): ISchemaError[] {
  return clusterValidator(entry) ? [] : [...(clusterValidator.errors ?? [])];
}

/** Every way `entry` breaks the schema's `sessionPreset` definition; [] if none. */
export function sessionPresetSchemaErrors(entry: unknown): ISchemaError[] {
  return presetValidator(entry) ? [] : [...(presetValidator.errors ?? [])];
}

/** The setting a schema error is about (`port`), or '' for the entry itself. */
export function fieldOf(error: ISchemaError): string {
  if (error.keyword === 'required') {
    return String(error.params.missingProperty);
  }
  return error.instancePath.split('/')[1] ?? '';
}

/**
 * One sentence per field, for people who read API answers and logs:
 * `port must be <= 65535`, `transport must be one of: ssh, local`.
 */
export function describeSchemaErrors(errors: readonly ISchemaError[]): string {
  const byField = new Map<string, ISchemaError[]>();
  for (const error of errors) {
    const field = fieldOf(error);
    byField.set(field, [...(byField.get(field) ?? []), error]);
  }
  return [...byField]
    .map(([field, list]) => describeField(field, list))
    .join('; ');
}

function describeField(field: string, errors: ISchemaError[]): string {
  const first = errors[0];
  switch (first.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${String(first.params.additionalProperty)} is not a cluster setting`;
    case 'type':
      if (field === '') {
        return 'an entry must be an object';
      }
      break;
    case 'const':
    case 'oneOf': {
      // oneOf of consts: name the choices instead of "must match exactly one schema".
      const choices = errors
        .filter(e => e.keyword === 'const')
        .map(e => String(e.params.allowedValue));
      if (choices.length > 0) {
        return `${field} must be one of: ${choices.join(', ')}`;
      }
    }
  }
  return `${field} ${first.message ?? 'is not valid'}`;
}
