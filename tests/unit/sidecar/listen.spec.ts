import { promises as fs } from 'fs';
import { createServer as createHttpServer, get } from 'http';
import { createServer as createNetServer, Server as NetServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  checkSocketDir,
  listenOnSocket,
  removeStaleSocket,
  UnsafeSocketDirError
} from '../../../src/sidecar/listen';

const uid = process.getuid!();

let dir: string;
let socketPath: string;
/** Every server a test starts, closed after it even when it fails. */
let servers: NetServer[];

beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'hpc-listen-'));
  socketPath = join(dir, 'sidecar.sock');
  servers = [];
});

afterEach(async () => {
  await Promise.all(servers.filter(s => s.listening).map(close));
  await fs.rm(dir, { recursive: true, force: true });
});

function close(server: NetServer): Promise<void> {
  return new Promise(resolve => server.close(() => resolve()));
}

/** Another process's server on `path` (a live sidecar, say). */
function listenNet(path: string): Promise<NetServer> {
  const server = createNetServer(socket => socket.end());
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** The sidecar's HTTP server, not listening yet. */
function httpServer() {
  const server = createHttpServer((_req, res) =>
    res.end('hello from the sidecar')
  );
  servers.push(server);
  return server;
}

/**
 * A socket file nobody listens on, as a killed sidecar leaves it: Node
 * unlinks a socket it closes, so listen, move the file away, then close.
 */
async function makeDeadSocket(path: string): Promise<void> {
  const live = join(dir, 'live.sock');
  const server = await listenNet(live);
  await fs.rename(live, path);
  await close(server);
}

/** GET / over the socket, as `<status> <body>`. */
function answer(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ socketPath: path, path: '/', agent: false }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', chunk => (body += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', reject);
  });
}

/** The UnsafeSocketDirError `promise` rejects with, checked for its message. */
async function expectUnsafe(
  promise: Promise<unknown>,
  message: string
): Promise<void> {
  const error = await promise.then(
    () => new Error('it did not refuse'),
    (err: unknown) => err
  );
  expect(error).toBeInstanceOf(UnsafeSocketDirError);
  expect((error as Error).message).toBe(message);
}

describe('checkSocketDir', () => {
  it('accepts a private 0700 directory owned by this user', async () => {
    await fs.chmod(dir, 0o700);
    await expect(checkSocketDir(socketPath, uid)).resolves.toBeUndefined();
  });

  it.each([
    [0o755, '755'],
    [0o770, '770'],
    [0o750, '750'],
    [0o701, '701'],
    [0o710, '710']
  ])('refuses a directory with mode %o', async (mode, shown) => {
    await fs.chmod(dir, mode);
    await expectUnsafe(
      checkSocketDir(socketPath, uid),
      `${dir} can be opened by other users (mode ${shown}); use a directory with mode 700`
    );
  });

  it('refuses a directory owned by another user', async () => {
    await fs.chmod(dir, 0o700);
    const other = uid + 1000;
    await expectUnsafe(
      checkSocketDir(socketPath, other),
      `${dir} belongs to uid ${uid}, not to this user (uid ${other})`
    );
  });

  it('checks the owner of the real process by default', async () => {
    await fs.chmod(dir, 0o700);
    await expect(checkSocketDir(socketPath)).resolves.toBeUndefined();
  });

  it('skips the owner check where there are no uids', async () => {
    await fs.chmod(dir, 0o700);
    await expect(
      checkSocketDir(socketPath, undefined)
    ).resolves.toBeUndefined();
  });

  it('refuses a "directory" that is a file', async () => {
    const file = join(dir, 'file');
    await fs.writeFile(file, '');
    await expectUnsafe(
      checkSocketDir(join(file, 's.sock'), uid),
      `${file} is not a directory`
    );
  });

  it('fails on a directory that does not exist', async () => {
    await expect(
      checkSocketDir(join(dir, 'missing', 's.sock'), uid)
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('removeStaleSocket', () => {
  it('does nothing when there is no file', async () => {
    await expect(removeStaleSocket(socketPath)).resolves.toBeUndefined();
  });

  it('removes a socket file nobody listens on', async () => {
    await makeDeadSocket(socketPath);
    expect((await fs.lstat(socketPath)).isSocket()).toBe(true);

    await removeStaleSocket(socketPath);

    await expect(fs.lstat(socketPath)).rejects.toMatchObject({
      code: 'ENOENT'
    });
  });

  it('refuses to remove a socket another process listens on', async () => {
    await listenNet(socketPath);
    await expectUnsafe(
      removeStaleSocket(socketPath),
      `another process already listens on ${socketPath}`
    );
    expect((await fs.lstat(socketPath)).isSocket()).toBe(true);
  });

  it('refuses to remove a regular file', async () => {
    await fs.writeFile(socketPath, 'not a socket');
    await expectUnsafe(
      removeStaleSocket(socketPath),
      `${socketPath} exists and is not a socket`
    );
    expect(await fs.readFile(socketPath, 'utf8')).toBe('not a socket');
  });

  it('refuses to follow a symlink, even to a live socket', async () => {
    const target = join(dir, 'target.sock');
    await listenNet(target);
    await fs.symlink(target, socketPath);
    await expectUnsafe(
      removeStaleSocket(socketPath),
      `${socketPath} exists and is not a socket`
    );
    expect((await fs.lstat(socketPath)).isSymbolicLink()).toBe(true);
  });
});

describe('listenOnSocket', () => {
  it('listens on a 0600 socket that answers', async () => {
    await fs.chmod(dir, 0o700);
    await listenOnSocket(httpServer(), socketPath);

    const st = await fs.lstat(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(await answer(socketPath)).toBe('200 hello from the sidecar');
  });

  it('replaces the socket file a dead sidecar left behind', async () => {
    await fs.chmod(dir, 0o700);
    await makeDeadSocket(socketPath);

    await listenOnSocket(httpServer(), socketPath);

    expect(await answer(socketPath)).toBe('200 hello from the sidecar');
  });

  it('does not listen in a directory others can open', async () => {
    await fs.chmod(dir, 0o755);
    const server = httpServer();
    await expect(listenOnSocket(server, socketPath)).rejects.toThrow(
      UnsafeSocketDirError
    );
    expect(server.listening).toBe(false);
    await expect(fs.lstat(socketPath)).rejects.toMatchObject({
      code: 'ENOENT'
    });
  });

  it('does not take over a socket a live sidecar listens on', async () => {
    await fs.chmod(dir, 0o700);
    await listenNet(socketPath);
    const server = httpServer();
    await expectUnsafe(
      listenOnSocket(server, socketPath),
      `another process already listens on ${socketPath}`
    );
    expect(server.listening).toBe(false);
  });
});
