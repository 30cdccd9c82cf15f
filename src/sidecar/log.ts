/**
 * The sidecar's only logger. It writes one line per event to stderr, which
 * jupyter-server-proxy passes into the Jupyter server's log.
 *
 * Never hand it request headers, tokens or URLs with query strings: use
 * `safePath` for anything that came from a request line.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3
};

export interface ILogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = line => process.stderr.write(line + '\n')
): ILogger {
  const emit = (at: LogLevel, message: string) => {
    if (ORDER[at] >= ORDER[level]) {
      write(`[jupyterlab-hpc sidecar] ${at.toUpperCase()} ${message}`);
    }
  };
  return {
    debug: m => emit('debug', m),
    info: m => emit('info', m),
    warn: m => emit('warn', m),
    error: m => emit('error', m)
  };
}

/**
 * The path of a request URL without its query string or fragment, cut to a
 * sane length: query strings can carry `?token=` (the proxy passes them on).
 */
export function safePath(url: string | undefined): string {
  if (!url) {
    return '/';
  }
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  return path.length > 200 ? path.slice(0, 200) + '…' : path;
}

export function parseLogLevel(value: string | undefined): LogLevel {
  return value === 'debug' || value === 'warn' || value === 'error'
    ? value
    : 'info';
}
