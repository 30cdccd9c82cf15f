/**
 * The sidecar's route table: method + path pattern -> handler. Patterns are
 * made with the path builders of `Routes` (src/common/api.ts), called with a
 * placeholder (`Routes.connect(CLUSTER)`), so both sides share one spelling
 * of every path and a new route is one line.
 */
import type { IncomingMessage } from 'http';

import { LOCAL_TARGET } from '../../common/api';
import { BadRequest } from './validate';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** The names a path parameter can have; each is checked the same way. */
export type ParamName =
  | 'cluster'
  | 'forward'
  | 'prompt'
  | 'task'
  | 'kernel'
  | 'session'
  | 'allocation';

/** Placeholders to pass to the `Routes` builders. */
export const CLUSTER = placeholder('cluster');
export const FORWARD = placeholder('forward');
export const PROMPT = placeholder('prompt');
export const TASK = placeholder('task');
export const KERNEL = placeholder('kernel');
export const SESSION = placeholder('session');
export const ALLOCATION = placeholder('allocation');

function placeholder(name: ParamName): string {
  return `{${name}}`;
}

export interface IRequest {
  req: IncomingMessage;
  body: Buffer;
  /** Decoded and checked: non-empty, no `/`, no NUL, not `.` or `..`. */
  params: Readonly<Record<ParamName, string>>;
  query: URLSearchParams;
}

export interface IReply {
  status: number;
  body: unknown;
}

export type Handler = (request: IRequest) => IReply | Promise<IReply>;

export interface IRoute {
  method: Method;
  path: string;
  handler: Handler;
}

export const ok = (body: unknown): IReply => ({ status: 200, body });
export const created = (body: unknown): IReply => ({ status: 201, body });
export const accepted = (body: unknown): IReply => ({ status: 202, body });

const route =
  (method: Method) =>
  (path: string, handler: Handler): IRoute => ({ method, path, handler });
export const get = route('GET');
export const put = route('PUT');
export const post = route('POST');
export const del = route('DELETE');

type Segment = { literal: string } | { param: ParamName };

interface IResource {
  segments: Segment[];
  /** Literal segments first: `/a/b` wins over `/a/{x}`. */
  rank: number;
  handlers: Map<Method, Handler>;
}

export type Match =
  | { kind: 'found'; handler: Handler; params: Record<ParamName, string> }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allowed: string[] };

const PARAM = /^\{(cluster|forward|prompt|task|kernel|session|allocation)\}$/;

function parsePattern(path: string): Segment[] {
  return path.split('/').map(raw => {
    const param = PARAM.exec(decodeURIComponent(raw));
    return param ? { param: param[1] as ParamName } : { literal: raw };
  });
}

/** A path parameter as the handler gets it, or why it is refused. */
function decodeParam(name: ParamName, raw: string): string | null {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`The ${name} in the path is not valid URL encoding.`);
  }
  if (
    value === '' ||
    value === '.' ||
    value === '..' ||
    value.includes('/') ||
    value.includes('\0')
  ) {
    throw new BadRequest(
      `The ${name} in the path must be a non-empty name without "/" or NUL, and not "." or "..".`
    );
  }
  // `/api/v1/local/...` is this computer; a cluster path naming it would be
  // a second spelling of the same thing, so it does not exist.
  if (name === 'cluster' && value === LOCAL_TARGET) {
    return null;
  }
  return value;
}

/** Compile routes into a table; a repeated method + path is a mistake. */
export class RouteTable {
  constructor(routes: readonly IRoute[]) {
    const byPattern = new Map<string, IResource>();
    for (const { method, path, handler } of routes) {
      let resource = byPattern.get(path);
      if (!resource) {
        const segments = parsePattern(path);
        resource = {
          segments,
          rank: segments.filter(s => 'literal' in s).length,
          handlers: new Map()
        };
        byPattern.set(path, resource);
      }
      if (resource.handlers.has(method)) {
        throw new Error(`route ${method} ${path} is defined twice`);
      }
      resource.handlers.set(method, handler);
    }
    this._resources = [...byPattern.values()].sort((a, b) => b.rank - a.rank);
  }

  /**
   * Find the handler of `method` on `path` (no query string). HEAD is
   * answered by GET. Throws BadRequest for a malformed path parameter.
   */
  match(method: string, path: string): Match {
    const parts = path.split('/');
    const resource = this._resources.find(
      r =>
        r.segments.length === parts.length &&
        r.segments.every((s, i) => !('literal' in s) || s.literal === parts[i])
    );
    if (!resource) {
      return { kind: 'not-found' };
    }
    const handler = resource.handlers.get(
      (method === 'HEAD' ? 'GET' : method) as Method
    );
    if (!handler) {
      const allowed: string[] = [...resource.handlers.keys()];
      if (resource.handlers.has('GET')) {
        allowed.push('HEAD');
      }
      return { kind: 'method-not-allowed', allowed };
    }
    const params = {} as Record<ParamName, string>;
    for (const [i, s] of resource.segments.entries()) {
      if ('param' in s) {
        const value = decodeParam(s.param, parts[i]);
        if (value === null) {
          return { kind: 'not-found' };
        }
        params[s.param] = value;
      }
    }
    return { kind: 'found', handler, params };
  }

  private _resources: IResource[];
}
