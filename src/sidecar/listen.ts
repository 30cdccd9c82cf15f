import { promises as fs } from 'fs';
import { connect } from 'net';
import { dirname } from 'path';
import type { Server } from 'http';

export class UnsafeSocketDirError extends Error {}

/**
 * Refuse a socket directory that anyone but us could enter: the socket is the
 * door past Jupyter's authentication. jupyter-server-proxy makes it with
 * mkdtemp (0700); a directory given by hand must be just as private.
 */
export async function checkSocketDir(
  socketPath: string,
  uid: number | undefined = process.getuid?.()
): Promise<void> {
  const dir = dirname(socketPath);
  const st = await fs.stat(dir);
  if (!st.isDirectory()) {
    throw new UnsafeSocketDirError(`${dir} is not a directory`);
  }
  if (uid !== undefined && st.uid !== uid) {
    throw new UnsafeSocketDirError(
      `${dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new UnsafeSocketDirError(
      `${dir} can be opened by other users (mode ${(st.mode & 0o777).toString(8)}); use a directory with mode 700`
    );
  }
}

/** Remove a socket file left by a previous sidecar that is no longer there. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new UnsafeSocketDirError(`${socketPath} exists and is not a socket`);
  }
  const alive = await new Promise<boolean>(resolve => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) {
    throw new UnsafeSocketDirError(
      `another process already listens on ${socketPath}`
    );
  }
  await fs.unlink(socketPath);
}

export async function listenOnSocket(
  server: Server,
  socketPath: string
): Promise<void> {
  await checkSocketDir(socketPath);
  await removeStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fs.chmod(socketPath, 0o600);
}
