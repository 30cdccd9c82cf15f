/**
 * The session's login-node commands as argv, and watch.sh's lines read back
 * (the lines as watch.sh printed them on the demo cluster).
 */
import {
  cancelCommand,
  parseWatchLine,
  submitCommand,
  watchCommand
} from '../../../src/sidecar/sessions/remote';

const ID = 'abcdef0123456789';

describe('commands', () => {
  it('passes every value as its own positional parameter', () => {
    const c = submitCommand(ID, '#!/bin/bash\n', '{"a":1}', [
      'sbatch',
      '--parsable',
      'job.sh'
    ]);
    expect(c.argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(c.argv.slice(3)).toEqual([
      'jlhpc-submit',
      ID,
      '#!/bin/bash\n',
      '{"a":1}',
      'sbatch',
      '--parsable',
      'job.sh'
    ]);
    expect(c.argv[2]).toMatch(/^# shellcheck shell=sh/);
  });

  it('runs sbatch and nothing else', () => {
    expect(() => submitCommand(ID, '', '', ['rm', '-rf', '~'])).toThrow(
      /submitted with sbatch/
    );
  });

  it.each(['', '../x', 'ABCDEFGH', 'a b', '-rf'])('refuses id %j', id => {
    expect(() => submitCommand(id, '', '', ['sbatch'])).toThrow(/session id/);
    expect(() => watchCommand([ID, id], 10)).toThrow(/session id/);
  });

  it('watches for a whole number of seconds, at least one', () => {
    expect(watchCommand([ID], 0.2).argv.slice(3)).toEqual([
      'jlhpc-watch',
      '1',
      ID
    ]);
  });

  it('cancels only job ids', () => {
    expect(cancelCommand(['12', '13']).argv).toEqual(['scancel', '12', '13']);
    expect(() => cancelCommand(['12', '-u'])).toThrow(/job id/);
  });
});

describe('parseWatchLine', () => {
  it.each([
    ['watching', { kind: 'watching' }],
    [
      `started ${ID} 1796542699 vm 15`,
      { kind: 'started', id: ID, at: 1796542699000, node: 'vm', jobId: '15' }
    ],
    [
      `exit ${ID} 2 1796542701 no working directory`,
      {
        kind: 'exit',
        id: ID,
        status: 2,
        at: 1796542701000,
        why: 'no working directory'
      }
    ],
    [
      `ready ${ID} {  "base_url": "/",  "hostname": "0.0.0.0",  "password": false,  "pid": 4242,  "port": 57459,  "root_dir": "/home/hpcdemo",  "secure": false,  "sock": "",  "token": "3b9f9f45d2d38316e866001a2251da31d0c9ecaabcf151fb",  "url": "http://vm:57459/",  "version": "2.21.1"}`,
      {
        kind: 'ready',
        id: ID,
        server: {
          port: 57459,
          token: '3b9f9f45d2d38316e866001a2251da31d0c9ecaabcf151fb',
          base_url: '/',
          pid: 4242,
          version: '2.21.1'
        }
      }
    ]
  ])('%s', (line, event) => {
    expect(parseWatchLine(line)).toEqual(event);
  });

  it.each([
    '',
    'Welcome to the cluster!',
    `ready ${ID} {"port": 0, "token": "x"}`,
    `ready ${ID} {"port": 80}`,
    `ready ${ID} {"port": 8888, "tok`,
    `started ${ID} soon`,
    `exit ${ID} -1 0 x`,
    `ready ../x {"port": 8888, "token": "x"}`
  ])('ignores %j', line => {
    expect(parseWatchLine(line)).toBeNull();
  });
});
