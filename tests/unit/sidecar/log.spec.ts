import {
  createLogger,
  LogLevel,
  parseLogLevel,
  safePath
} from '../../../src/sidecar/log';

describe('safePath', () => {
  it.each([
    [undefined, '/'],
    ['', '/'],
    ['/', '/'],
    ['/api/v1/health', '/api/v1/health'],
    ['/api/v1/health?token=0123456789abcdef', '/api/v1/health'],
    ['/api/v1/events?token=abc&x=1', '/api/v1/events'],
    ['/api/v1/health#token=abc', '/api/v1/health'],
    ['/api/v1/health#frag?token=abc', '/api/v1/health'],
    ['/api/v1/health?a=1#frag', '/api/v1/health'],
    [
      'http://localhost:8888/api/v1/health?token=abc',
      'http://localhost:8888/api/v1/health'
    ],
    ['/files/a%20b.txt', '/files/a%20b.txt']
  ])('turns %p into %p', (url, path) => {
    expect(safePath(url)).toBe(path);
  });

  it('cuts paths longer than 200 characters and marks the cut', () => {
    const long = '/' + 'a'.repeat(300);
    const path = safePath(long + '?token=secret');
    expect(path).toBe(long.slice(0, 200) + '…');
    expect(path).toHaveLength(201);
  });

  it('keeps a path of exactly 200 characters whole', () => {
    const exact = '/' + 'b'.repeat(199);
    expect(safePath(exact)).toBe(exact);
  });
});

describe('parseLogLevel', () => {
  it.each([
    ['debug', 'debug'],
    ['info', 'info'],
    ['warn', 'warn'],
    ['error', 'error'],
    [undefined, 'info'],
    ['', 'info'],
    ['DEBUG', 'info'],
    ['verbose', 'info'],
    ['warning', 'info']
  ])('reads %p as %p', (value, level) => {
    expect(parseLogLevel(value)).toBe(level);
  });
});

describe('createLogger', () => {
  const logAll = (level: LogLevel): string[] => {
    const lines: string[] = [];
    const log = createLogger(level, line => lines.push(line));
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    return lines;
  };

  it('writes one prefixed line per message with the level in capitals', () => {
    expect(logAll('debug')).toEqual([
      '[jupyterlab-hpc sidecar] DEBUG d',
      '[jupyterlab-hpc sidecar] INFO i',
      '[jupyterlab-hpc sidecar] WARN w',
      '[jupyterlab-hpc sidecar] ERROR e'
    ]);
  });

  it.each([
    ['debug', ['d', 'i', 'w', 'e']],
    ['info', ['i', 'w', 'e']],
    ['warn', ['w', 'e']],
    ['error', ['e']]
  ] as [LogLevel, string[]][])(
    'at level %s writes only %p',
    (level, messages) => {
      expect(logAll(level).map(line => line.split(' ').pop())).toEqual(
        messages
      );
    }
  );

  it('defaults to level info', () => {
    const lines: string[] = [];
    const log = createLogger(undefined, line => lines.push(line));
    log.debug('hidden');
    log.info('shown');
    expect(lines).toEqual(['[jupyterlab-hpc sidecar] INFO shown']);
  });

  it('writes to stderr, one newline-terminated line, when given no writer', () => {
    const write = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation(() => true);
    try {
      createLogger('info').warn('disk almost full');
      expect(write).toHaveBeenCalledWith(
        '[jupyterlab-hpc sidecar] WARN disk almost full\n'
      );
    } finally {
      write.mockRestore();
    }
  });
});
