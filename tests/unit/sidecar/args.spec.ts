import { parseArgs, UsageError } from '../../../src/sidecar/args';

describe('parseArgs', () => {
  it.each([
    [
      '--socket <path>',
      ['--socket', '/tmp/jp-abc/hpc.sock'],
      '/tmp/jp-abc/hpc.sock'
    ],
    [
      '--socket=<path>',
      ['--socket=/tmp/jp-abc/hpc.sock'],
      '/tmp/jp-abc/hpc.sock'
    ],
    [
      'a path with spaces (as one argv entry)',
      ['--socket', '/home/ana lee/.cache/hpc.sock'],
      '/home/ana lee/.cache/hpc.sock'
    ],
    [
      'the last of two --socket options',
      ['--socket', '/tmp/a.sock', '--socket=/tmp/b.sock'],
      '/tmp/b.sock'
    ]
  ])('accepts %s', (_form, argv, socket) => {
    expect(parseArgs(argv)).toEqual({ socket });
  });

  it.each([
    ['no arguments at all', [], /^usage: sidecar --socket <path>/],
    ['--socket= with an empty value', ['--socket='], /^usage: sidecar/],
    ['--socket without a value', ['--socket'], /^--socket needs a path$/],
    [
      'a relative path',
      ['--socket', 'run/hpc.sock'],
      /^--socket must be an absolute path, got: run\/hpc\.sock$/
    ],
    [
      'a relative path in the = form',
      ['--socket=./hpc.sock'],
      /^--socket must be an absolute path, got: \.\/hpc\.sock$/
    ],
    ['a TCP port flag', ['--port', '8765'], /^unknown argument: --port$/],
    [
      'a stray positional argument',
      ['--socket', '/tmp/a.sock', 'extra'],
      /^unknown argument: extra$/
    ]
  ])('refuses %s with a UsageError', (_case, argv, message) => {
    let error: unknown;
    try {
      parseArgs(argv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });
});
