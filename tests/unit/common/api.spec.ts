import {
  API_VERSION,
  IHealth,
  isHealth,
  parseEvent
} from '../../../src/common/api';

const health: IHealth = {
  name: 'jupyterlab-hpc-sidecar',
  version: '0.1.0',
  apiVersion: API_VERSION,
  uptimeSeconds: 12,
  node: 'v20.11.1',
  pid: 4242
};

describe('parseEvent', () => {
  it.each([
    ['a hello', { type: 'hello', health }],
    ['a heartbeat', { type: 'heartbeat', time: 1_700_000_000_000 }],
    [
      'a session',
      {
        type: 'session',
        session: { id: 's1', phase: 'queued' },
        removed: false
      }
    ]
  ])('returns %s event as it came', (_case, data) => {
    expect(parseEvent(data)).toBe(data);
  });

  it.each([
    ['null', null],
    ['a string', 'hello'],
    ['a number', 1],
    ['an array', [{ type: 'hello' }]],
    ['an object without type', { health }],
    ['an unknown type', { type: 'job-finished', id: 12 }],
    ['a type in other case', { type: 'Hello', health }],
    ['a non-string type', { type: 1 }]
  ])('returns null for %s', (_case, data) => {
    expect(parseEvent(data)).toBeNull();
  });
});

describe('isHealth', () => {
  it('accepts a health answer of our sidecar', () => {
    expect(isHealth(health)).toBe(true);
  });

  it('accepts a health answer of another API version (the caller compares)', () => {
    expect(isHealth({ ...health, apiVersion: 99, version: '9.0.0' })).toBe(
      true
    );
  });

  it.each([
    ['null', null],
    ['a string', 'jupyterlab-hpc-sidecar'],
    ['an HTML error page', '<html>502 Bad Gateway</html>'],
    ['a Jupyter server answer', { version: '2.14.0' }],
    ['another sidecar name', { ...health, name: 'other-sidecar' }],
    ['a missing version', { ...health, version: undefined }],
    ['a numeric version', { ...health, version: 1 }],
    ['a string apiVersion', { ...health, apiVersion: '1' }],
    ['a missing apiVersion', { ...health, apiVersion: undefined }]
  ])('rejects %s', (_case, body) => {
    expect(isHealth(body)).toBe(false);
  });
});
