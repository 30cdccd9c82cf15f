import { SidecarError } from '../errors';

/** A request the sidecar refuses as malformed: 400 with code bad-request. */
export class BadRequest extends SidecarError {
  constructor(message: string) {
    super('bad-request', message);
  }
}

/**
 * A request body as a JSON object. `emptyIsObject` lets routes whose body is
 * optional take an empty one as `{}`.
 */
export function jsonObject(
  body: Buffer,
  { emptyIsObject = false } = {}
): Record<string, unknown> {
  if (emptyIsObject && body.length === 0) {
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequest('The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequest('The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
