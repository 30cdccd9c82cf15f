import type { ServerResponse } from 'http';

import type { ErrorCode, IErrorBody } from '../../common/api';

/** Largest request body the API accepts. */
export const MAX_BODY_BYTES = 1024 * 1024;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown
): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(data),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff'
  });
  res.end(data);
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string
): void {
  const body: IErrorBody = { error: { code, message } };
  sendJson(res, status, body);
}
