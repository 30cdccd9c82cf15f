import type { IncomingHttpHeaders } from 'http';

import {
  hasRequestProof,
  originAllowed
} from '../../../src/sidecar/api/guards';

describe('hasRequestProof', () => {
  it.each([
    ['GET', {}],
    ['HEAD', {}],
    ['OPTIONS', {}],
    ['get', {}],
    [undefined, {}]
  ] as [string | undefined, IncomingHttpHeaders][])(
    'lets the safe method %p through without proof',
    (method, headers) => {
      expect(hasRequestProof(method, headers)).toBe(true);
    }
  );

  const stateChanging = ['POST', 'PUT', 'DELETE', 'PATCH', 'post'];

  it.each(stateChanging)(
    'refuses %s with no header and no body type',
    method => {
      expect(hasRequestProof(method, {})).toBe(false);
    }
  );

  it.each(stateChanging)(
    'accepts %s with the X-Jupyterlab-Hpc header',
    method => {
      // Node lower-cases incoming header names.
      expect(hasRequestProof(method, { 'x-jupyterlab-hpc': '1' })).toBe(true);
    }
  );

  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON;charset=UTF-8', true],
    [' application/json ', true],
    ['text/plain', false],
    ['text/plain; charset=utf-8', false],
    ['application/x-www-form-urlencoded', false],
    ['multipart/form-data; boundary=----x', false],
    ['application/json-patch+json', false],
    ['text/plain; application/json', false],
    ['', false]
  ])('POST with Content-Type %p has proof: %p', (type, expected) => {
    expect(hasRequestProof('POST', { 'content-type': type })).toBe(expected);
  });

  it('accepts a form content type when the header is there too', () => {
    expect(
      hasRequestProof('POST', {
        'content-type': 'application/x-www-form-urlencoded',
        'x-jupyterlab-hpc': '1'
      })
    ).toBe(true);
  });
});

describe('originAllowed', () => {
  it.each([
    ['no Origin (curl, the proxy itself)', { host: 'localhost:8888' }, true],
    [
      'the same host and port',
      { host: 'localhost:8888', origin: 'http://localhost:8888' },
      true
    ],
    [
      'the same host in other letter case',
      { host: 'LocalHost:8888', origin: 'http://LOCALHOST:8888' },
      true
    ],
    [
      'an https origin on its default port',
      { host: 'hub.example.org', origin: 'https://hub.example.org' },
      true
    ],
    [
      'an IPv6 loopback origin',
      { host: '[::1]:8888', origin: 'http://[::1]:8888' },
      true
    ],
    [
      'another host',
      { host: 'localhost:8888', origin: 'http://evil.example' },
      false
    ],
    [
      'another port on the same host',
      { host: 'localhost:8888', origin: 'http://localhost:9999' },
      false
    ],
    [
      'the same host name on another scheme and so another port',
      { host: 'localhost:8888', origin: 'https://localhost' },
      false
    ],
    [
      'a host that only starts like ours',
      { host: 'localhost:8888', origin: 'http://localhost:8888.evil.example' },
      false
    ],
    [
      'a look-alike 127.0.0.1 for localhost',
      { host: 'localhost:8888', origin: 'http://127.0.0.1:8888' },
      false
    ],
    [
      'the opaque origin "null"',
      { host: 'localhost:8888', origin: 'null' },
      false
    ],
    [
      'a malformed Origin',
      { host: 'localhost:8888', origin: 'http://' },
      false
    ],
    [
      'an Origin without scheme',
      { host: 'localhost:8888', origin: 'localhost:8888' },
      false
    ],
    ['an Origin but no Host', { origin: 'http://localhost:8888' }, false],
    [
      'X-Forwarded-Host naming the origin behind a proxy',
      {
        host: 'jupyter-ana:8888',
        'x-forwarded-host': 'hub.example.org',
        origin: 'https://hub.example.org'
      },
      true
    ],
    [
      'X-Forwarded-Host naming another host',
      {
        host: 'jupyter-ana:8888',
        'x-forwarded-host': 'hub.example.org',
        origin: 'https://evil.example'
      },
      false
    ],
    [
      'the first entry of a comma-separated X-Forwarded-Host',
      {
        host: 'jupyter-ana:8888',
        'x-forwarded-host': 'hub.example.org, proxy.internal:8000',
        origin: 'https://hub.example.org'
      },
      true
    ],
    [
      'a later entry of a comma-separated X-Forwarded-Host',
      {
        host: 'jupyter-ana:8888',
        'x-forwarded-host': 'proxy.internal:8000,Hub.Example.org',
        origin: 'https://hub.example.org'
      },
      true
    ],
    [
      'an empty X-Forwarded-Host list entry',
      {
        host: 'jupyter-ana:8888',
        'x-forwarded-host': ' , ',
        origin: 'https://hub.example.org'
      },
      false
    ]
  ] as [string, IncomingHttpHeaders, boolean][])(
    'for %s: %j -> %p',
    (_case, headers, expected) => {
      expect(originAllowed(headers)).toBe(expected);
    }
  );
});
