import { link, lstat, mkdtemp, rmdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { DistCacheError, ErrorCode } from '../errors.js';
import { listenOrFail, type ListenLabel } from './stream-server.js';

/** Longest path Linux binds a UNIX socket to (sun_path less its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long the probe of an existing socket waits for a server to accept. */
const PROBE_TIMEOUT_MS = 2_000;

/** What a connection attempt says about an existing socket file. */
type Probe = 'accepts' | 'stale' | 'gone' | { unknown: string };

/**
 * A UNIX socket this process created at `path`. It is bound in a private
 * directory (mode 0700, made next to `path`), given its owner and mode there,
 * then hard-linked to `path`, which fails rather than replaces whatever
 * appeared there meanwhile; the private directory is removed at once. So no
 * one can connect before the socket has its mode, and binding `path` itself
 * is avoided: libuv unlinks the path a server was bound to when it closes,
 * even after another process put its own socket there.
 *
 * Rules: a path that exists and is not a socket is refused; a socket that
 * accepts connections is refused (EADDRINUSE); only a stale socket (one that
 * refuses connections) is replaced. {@link release} removes the socket only
 * while `path` still names the inode created here.
 */
export class UnixSocketPath {
  private constructor(
    readonly path: string,
    readonly dev: number,
    readonly ino: number,
  ) {}

  /**
   * Starts `server` listening on the UNIX socket `socketPath`. `prepare` runs
   * on the socket before it appears at `socketPath` (to set its owner and
   * mode). Every refusal is ERR_INVALID_CONFIG naming the path.
   */
  static async listen(
    server: net.Server,
    socketPath: string,
    label: ListenLabel,
    prepare: (boundPath: string) => Promise<void> = async () => undefined,
  ): Promise<UnixSocketPath> {
    const where = label.where ?? socketPath;
    const fail = (why: string, cause?: unknown) =>
      new DistCacheError(ErrorCode.INVALID_CONFIG, `${label.what}: cannot listen on ${where} (${why})`, { cause });
    // mkdtemp's six characters, a separator and the socket's one-letter name.
    const privateLength = Buffer.byteLength(path.join(path.dirname(socketPath), '.dc-XXXXXX', 's'));
    if (privateLength > MAX_SOCKET_PATH_BYTES)
      throw fail(
        `its directory's path is too long: the socket is first bound ${privateLength - Buffer.byteLength(socketPath)} bytes deeper, within ${MAX_SOCKET_PATH_BYTES} bytes`,
      );
    await removeStaleSocket(socketPath, fail);
    const directory = await mkdtemp(path.join(path.dirname(socketPath), '.dc-')).catch(
      (error: NodeJS.ErrnoException) => {
        throw fail(error.code ?? error.message, error);
      },
    );
    const bound = path.join(directory, 's');
    try {
      await listenOrFail(server, { path: bound }, { ...label, where });
      try {
        const created = await lstat(bound);
        await prepare(bound);
        await link(bound, socketPath);
        return new UnixSocketPath(socketPath, created.dev, created.ino);
      } catch (error) {
        await new Promise((resolve) => server.close(resolve));
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw fail('EADDRINUSE: another process created it meanwhile', error);
        throw fail(code ?? (error as Error).message, error);
      }
    } finally {
      await unlink(bound).catch(() => undefined);
      await rmdir(directory).catch(() => undefined);
    }
  }

  /** Removes the socket file if it is still the one created here (same device and inode); else leaves it. */
  async release(): Promise<void> {
    const now = await lstat(this.path).catch(() => undefined);
    if (now === undefined || now.dev !== this.dev || now.ino !== this.ino) return;
    await unlink(this.path).catch(() => undefined);
  }
}

/** Unlinks `socketPath` when it is a stale socket; throws `fail(...)` when it is anything else that exists. */
async function removeStaleSocket(socketPath: string, fail: (why: string) => DistCacheError): Promise<void> {
  const found = await lstat(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw fail(`${error.code ?? error.message}: cannot inspect the path`);
  });
  if (found === undefined) return;
  if (!found.isSocket())
    throw fail(
      'the path exists and is not a socket; only a stale socket is replaced: remove it or choose another path',
    );
  const probe = await probeSocket(socketPath);
  if (probe === 'gone') return;
  if (probe === 'accepts') throw fail('EADDRINUSE: a running server accepts connections on this socket');
  if (probe !== 'stale') throw fail(`${probe.unknown}: cannot tell whether a server uses this socket`);
  const again = await lstat(socketPath).catch(() => undefined);
  if (again === undefined) return;
  if (again.dev !== found.dev || again.ino !== found.ino)
    throw fail('EADDRINUSE: the socket was replaced while it was checked');
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw fail(`${error.code ?? error.message}: cannot remove the stale socket`);
  });
}

/** Connects to an existing socket file: a server that accepts means it is in use; a refusal means it is stale. */
function probeSocket(socketPath: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath });
    const settle = (probe: Probe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(probe);
    };
    const timer = setTimeout(() => settle('accepts'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => settle('accepts'));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') settle('stale');
      else if (error.code === 'ENOENT') settle('gone');
      else if (error.code === 'EAGAIN')
        settle('accepts'); // a live server whose backlog is full
      else settle({ unknown: error.code ?? error.message });
    });
  });
}
