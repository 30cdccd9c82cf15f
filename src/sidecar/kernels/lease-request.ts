/**
 * The provisioner's lease messages (LeaseRequest), read from a text frame
 * and checked. What is wrong is said without repeating a value: one of
 * them is the kernel's key.
 */
import type { LeaseRequest } from '../../common/api';

const SIGNALS = new Set(['SIGINT', 'SIGTERM', 'SIGKILL']);
const MAX_TEXT = 4096;

function text(value: unknown, max = MAX_TEXT): value is string {
  return (
    typeof value === 'string' && value.length <= max && !value.includes('\0')
  );
}

/**
 * A LeaseRequest from a text frame, or what is wrong with it. Messages never
 * repeat a field's value: one of them is the key.
 */
export function parseLeaseRequest(raw: string): LeaseRequest | string {
  let m: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      Array.isArray(parsed)
    ) {
      return 'A lease message is a JSON object.';
    }
    m = parsed as Record<string, unknown>;
  } catch {
    return 'A lease message is a JSON object.';
  }
  switch (m.type) {
    case 'start': {
      if (typeof m.version !== 'number') {
        return 'start: version must be a number.';
      }
      if (!text(m.kernelId, 200) || !m.kernelId) {
        return 'start: kernelId must be a non-empty string.';
      }
      if (!text(m.profile, 200) || !m.profile) {
        return 'start: profile must be a non-empty string.';
      }
      if (!text(m.key) || !m.key) {
        return 'start: key must be a non-empty string.';
      }
      if (
        typeof m.signatureScheme !== 'string' ||
        !/^hmac-[a-z0-9]{1,20}$/.test(m.signatureScheme)
      ) {
        return 'start: signatureScheme must be hmac-<hash>.';
      }
      if (
        m.notebookPath !== null &&
        m.notebookPath !== undefined &&
        !text(m.notebookPath)
      ) {
        return 'start: notebookPath must be a string or null.';
      }
      if (typeof m.restart !== 'boolean') {
        return 'start: restart must be true or false.';
      }
      return {
        type: 'start',
        version: m.version,
        kernelId: m.kernelId,
        profile: m.profile,
        key: m.key,
        signatureScheme: m.signatureScheme,
        notebookPath: (m.notebookPath as string | null | undefined) ?? null,
        restart: m.restart
      };
    }
    case 'resume': {
      if (typeof m.version !== 'number') {
        return 'resume: version must be a number.';
      }
      if (!text(m.kernelId, 200) || !m.kernelId) {
        return 'resume: kernelId must be a non-empty string.';
      }
      if (!text(m.profile, 200) || !m.profile) {
        return 'resume: profile must be a non-empty string.';
      }
      if (
        m.notebookPath !== null &&
        m.notebookPath !== undefined &&
        !text(m.notebookPath)
      ) {
        return 'resume: notebookPath must be a string or null.';
      }
      if (typeof m.jobId !== 'string' || !/^\d+(_\d+)?$/.test(m.jobId)) {
        return 'resume: jobId must be a Slurm job id.';
      }
      const relay = m.relay as Record<string, unknown> | null;
      if (
        typeof relay !== 'object' ||
        relay === null ||
        !text(relay.dir, 1024) ||
        !/^\/[^\n]*\/r\.[A-Za-z0-9]+$/.test(relay.dir) ||
        !Number.isSafeInteger(relay.pid) ||
        (relay.pid as number) <= 1
      ) {
        return 'resume: relay must be {dir, pid} of a relay launcher.';
      }
      const c = m.connection as Record<string, unknown> | null;
      const ports = ['shell', 'iopub', 'stdin', 'control', 'hb'].map(
        name => c?.[`${name}_port`]
      );
      if (
        typeof c !== 'object' ||
        c === null ||
        !ports.every(
          p => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536
        ) ||
        typeof c.signature_scheme !== 'string' ||
        !/^hmac-[a-z0-9]{1,20}$/.test(c.signature_scheme)
      ) {
        return 'resume: connection must hold five ports and a signature scheme.';
      }
      const [shell, iopub, stdin, control, hb] = ports as number[];
      return {
        type: 'resume',
        version: m.version,
        kernelId: m.kernelId,
        profile: m.profile,
        notebookPath: (m.notebookPath as string | null | undefined) ?? null,
        jobId: m.jobId,
        relay: { dir: relay.dir as string, pid: relay.pid as number },
        connection: {
          transport: 'tcp',
          ip: '127.0.0.1',
          shell_port: shell,
          iopub_port: iopub,
          stdin_port: stdin,
          control_port: control,
          hb_port: hb,
          signature_scheme: c.signature_scheme
        }
      };
    }
    case 'signal':
      if (typeof m.signal !== 'string' || !SIGNALS.has(m.signal)) {
        return 'signal: signal must be SIGINT, SIGTERM or SIGKILL.';
      }
      return { type: 'signal', signal: m.signal as 'SIGINT' };
    case 'stop':
      return { type: 'stop' };
    case 'release':
      return { type: 'release' };
    default:
      return 'Unknown lease message type.';
  }
}
