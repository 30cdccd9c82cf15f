import type { IncomingHttpHeaders } from 'http';

import { REQUEST_HEADER } from '../../common/api';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A state-changing request must show it came from script on our own page:
 * either our custom header or a JSON content type. Browsers let neither be
 * set cross-site without a CORS preflight, which the sidecar never grants.
 * jupyter-server-proxy checks Jupyter's auth but not XSRF, so this is ours.
 */
export function hasRequestProof(
  method: string | undefined,
  headers: IncomingHttpHeaders
): boolean {
  if (SAFE_METHODS.has((method ?? 'GET').toUpperCase())) {
    return true;
  }
  if (headers[REQUEST_HEADER.toLowerCase()] !== undefined) {
    return true;
  }
  const type = headers['content-type'];
  return (
    typeof type === 'string' &&
    type.split(';')[0].trim().toLowerCase() === 'application/json'
  );
}

/**
 * A browser always sends Origin on WebSocket handshakes and cross-site
 * requests. Accept it only when it names the host the request was sent to
 * (the proxy passes Host through unchanged); non-browser clients that send
 * no Origin are authenticated by Jupyter already.
 */
export function originAllowed(headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin === undefined) {
    return true;
  }
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return false;
  }
  // Behind a reverse proxy (JupyterHub, nginx) Host may be an inner name and
  // X-Forwarded-Host the one the browser used. A browser cannot set that
  // header on a WebSocket or a simple cross-site request, so it is safe here.
  const candidates = [headers.host, headers['x-forwarded-host']]
    .filter((h): h is string => typeof h === 'string')
    .flatMap(h => h.split(','))
    .map(h => h.trim().toLowerCase())
    .filter(h => h !== '');
  return candidates.includes(originHost);
}
