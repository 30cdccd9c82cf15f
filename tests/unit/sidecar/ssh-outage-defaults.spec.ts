/**
 * The keepalive and connect-timeout defaults (ssh_config setting neither)
 * against the outage the reliability suite measures: a login node
 * unreachable for 30 s must be noticed (so the connection is made again
 * rather than left to TCP's retransmission back-off, which took ~25 s after
 * the path came back), and a reconnect attempt made while packets vanish
 * must give up soon enough for the next one to land within 10 s of the path
 * coming back.
 */
import type { IResolvedHost } from '../../../src/sidecar/ssh/config';
import {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  DEFAULT_KEEPALIVE_SECONDS
} from '../../../src/sidecar/ssh/defaults';
import { masterArgs } from '../../../src/sidecar/ssh/openssh/args';

const OUTAGE_SECONDS = 30;
const RECOVERY_TARGET_SECONDS = 10;

const host: IResolvedHost = {
  alias: 'hpc',
  hostName: 'login.example.org',
  port: 22,
  user: 'alice',
  identityFiles: [],
  identityFilesExplicit: false,
  identitiesOnly: false,
  proxyJump: [],
  proxyCommand: null,
  proxyCommandText: null,
  serverAliveInterval: 0,
  serverAliveCountMax: 3,
  connectTimeout: null,
  strictHostKeyChecking: 'ask',
  userKnownHostsFiles: [],
  globalKnownHostsFiles: [],
  hostKeyAlias: null,
  opensshOptions: [],
  source: [],
  warnings: []
};

function option(args: string[], name: string): number {
  const hit = args.find(a => a.startsWith(`${name}=`));
  return Number(hit?.slice(name.length + 1));
}

describe('connection defaults against a 30 s outage', () => {
  const args = masterArgs([host], '/tmp/ctl', {
    ssh: 'ssh',
    exists: () => false
  });

  it('notice it: keepalives give up well within the outage', () => {
    const interval = option(args, 'ServerAliveInterval');
    const count = option(args, 'ServerAliveCountMax');
    expect(interval).toBe(DEFAULT_KEEPALIVE_SECONDS);
    // ssh gives up after count unanswered keepalives, one interval apart,
    // the first up to one interval after the last packet.
    expect(interval * (count + 1)).toBeLessThan(OUTAGE_SECONDS);
  });

  it('let a reconnect attempt made during it give up before the next is due', () => {
    expect(option(args, 'ConnectTimeout')).toBe(
      DEFAULT_CONNECT_TIMEOUT_SECONDS
    );
    expect(DEFAULT_CONNECT_TIMEOUT_SECONDS).toBeLessThanOrEqual(
      RECOVERY_TARGET_SECONDS
    );
  });

  it('a setting of the user wins', () => {
    const own = masterArgs(
      [{ ...host, serverAliveInterval: 60, connectTimeout: 45 }],
      '/tmp/ctl',
      { ssh: 'ssh', exists: () => false }
    );
    expect(option(own, 'ServerAliveInterval')).toBe(60);
    expect(option(own, 'ConnectTimeout')).toBe(45);
  });
});
