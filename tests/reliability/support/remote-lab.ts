/**
 * A session's remote JupyterLab as its user reaches it: through the local
 * forward, with its token. Enough to tell whether it answers and whether a
 * kernel of it kept its state (a variable set before a fault).
 */
import { openKernelSocket, textOf } from '../../support/kernel-ws';

export interface IRemoteLab {
  /** `http://<host>:<port><base_url>` */
  base: string;
  token: string;
}

/** From the session's "Open" URL, optionally reached through another host:port. */
export function remoteLab(
  openUrl: string,
  via?: { host: string; port: number }
): IRemoteLab {
  const url = new URL(openUrl);
  const token = url.searchParams.get('token') ?? '';
  const path = url.pathname.replace(/lab$/, '');
  const origin = via ? `http://${via.host}:${via.port}` : url.origin;
  return { base: origin + path, token };
}

/** GET api/status through the forward: the HTTP status, or 0 when nothing answered in time. */
export async function labStatus(
  lab: IRemoteLab,
  timeoutMs = 2000
): Promise<number> {
  try {
    const r = await fetch(`${lab.base}api/status`, {
      headers: { Authorization: `token ${lab.token}` },
      signal: AbortSignal.timeout(timeoutMs)
    });
    return r.status;
  } catch {
    return 0;
  }
}

export async function startRemoteKernel(lab: IRemoteLab): Promise<string> {
  const r = await fetch(`${lab.base}api/kernels`, {
    method: 'POST',
    headers: {
      Authorization: `token ${lab.token}`,
      'Content-Type': 'application/json'
    },
    body: JSON.stringify({ name: 'python3' })
  });
  if (r.status !== 201) {
    throw new Error(`POST api/kernels: ${r.status} ${await r.text()}`);
  }
  return ((await r.json()) as { id: string }).id;
}

/** Run `code` in the kernel over a fresh WebSocket; what it printed. */
export async function runInKernel(
  lab: IRemoteLab,
  kernelId: string,
  code: string,
  timeoutMs = 20_000
): Promise<string> {
  const socket = await openKernelSocket(lab.base, lab.token, kernelId);
  try {
    return textOf(await socket.execute(code, { timeoutMs }));
  } finally {
    socket.close();
  }
}
