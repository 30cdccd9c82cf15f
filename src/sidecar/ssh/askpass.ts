/**
 * Questions from an `ssh` that a ProxyCommand spawns (`ProxyCommand ssh gw
 * -W %h:%p`): that ssh has no terminal, so its password, passphrase and 2FA
 * prompts, and its "continue connecting?" question for an unknown gateway,
 * would fail. Started with SSH_ASKPASS pointing at a tiny program of ours
 * and SSH_ASKPASS_REQUIRE=force, it asks that program instead, which asks
 * the sidecar over a private unix socket, which asks the user in JupyterLab.
 *
 * The socket and the program live in a directory only this user can open;
 * every spawned command gets its own random token, so a question is always
 * shown for the cluster it belongs to. Answers pass through and are not kept.
 */
import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer, Server, Socket } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

import type { IPrompter, PromptRequest } from './prompter';

/** Longest question or answer passed through, in bytes. */
const MAX_MESSAGE_BYTES = 8192;

// Runs under the same node as the sidecar; reads nothing but its env.
const PROGRAM = `'use strict';
const net = require('net');
const sock = net.connect(process.env.JLHPC_ASKPASS_SOCKET);
let data = '';
sock.setEncoding('utf8');
sock.on('connect', () => sock.end(JSON.stringify({
  token: process.env.JLHPC_ASKPASS_TOKEN || '',
  asker: process.ppid,
  prompt: process.argv[2] || '',
  kind: process.env.SSH_ASKPASS_PROMPT || ''
})));
sock.on('data', d => { data += d; });
sock.on('end', () => {
  let answer = null;
  try { answer = JSON.parse(data).answer; } catch (e) { answer = null; }
  if (typeof answer !== 'string') { process.exit(1); }
  process.stdout.write(answer + '\\n');
});
sock.on('error', () => process.exit(1));
`;

/** What kind of question ssh asks, from its wording. */
export function classifyAskpass(prompt: string, kind: string): PromptRequest {
  const text = prompt.trim();
  if (/continue connecting/i.test(text)) {
    const fingerprint = /(SHA256:[A-Za-z0-9+/=]+)/.exec(text)?.[1] ?? '';
    const keyType = /\b([A-Z0-9-]+) key fingerprint/.exec(text)?.[1] ?? '';
    const host = /authenticity of host '([^']+)'/.exec(text)?.[1] ?? '';
    return {
      kind: 'host-key',
      title: `Unknown host key for ${host || 'the gateway'}`,
      instructions:
        'Asked by the ssh of your ProxyCommand. Compare the fingerprint with the one your cluster publishes before you trust it.',
      fields: [],
      hostKey: { host, keyType, fingerprint, message: text }
    };
  }
  if (kind === 'confirm') {
    return {
      kind: 'host-key',
      title: 'ssh asks for confirmation',
      instructions: text,
      fields: [],
      hostKey: { host: '', keyType: '', fingerprint: '', message: text }
    };
  }
  const label = text.split('\n').pop() || 'Answer';
  return {
    kind: /passphrase/i.test(text)
      ? 'passphrase'
      : /password/i.test(text)
        ? 'password'
        : 'keyboard-interactive',
    title: 'The ProxyCommand asks',
    instructions: text.includes('\n') ? text : '',
    fields: [{ label, echo: false }]
  };
}

export class AskpassBridge {
  /** The environment for a spawned command whose questions go to `prompter`. */
  async envFor(prompter: IPrompter): Promise<Record<string, string>> {
    const { dir, socket } = await this._ready();
    const token = randomBytes(16).toString('hex');
    this._prompters.set(token, { prompter, done: new AbortController() });
    return {
      SSH_ASKPASS: join(dir, 'askpass'),
      SSH_ASKPASS_REQUIRE: 'force',
      JLHPC_ASKPASS_SOCKET: socket,
      JLHPC_ASKPASS_TOKEN: token
    };
  }

  /**
   * Forget a command's token once it has exited; a question of it still
   * shown is withdrawn.
   */
  release(env: Record<string, string>): void {
    this._prompters.get(env.JLHPC_ASKPASS_TOKEN)?.done.abort();
    this._prompters.delete(env.JLHPC_ASKPASS_TOKEN);
  }

  close(): void {
    this._server?.close();
    this._server = null;
    if (this._dir) {
      rmSync(this._dir, { recursive: true, force: true });
      this._dir = null;
    }
    this._starting = null;
  }

  private _ready(): Promise<{ dir: string; socket: string }> {
    return (this._starting ??= new Promise((resolve, reject) => {
      const dir = mkdtempSync(join(tmpdir(), 'jlhpc-askpass-'));
      this._dir = dir;
      writeFileSync(join(dir, 'askpass.js'), PROGRAM, { mode: 0o600 });
      writeFileSync(
        join(dir, 'askpass'),
        `#!/bin/sh\nexec '${process.execPath.replace(/'/g, "'\\''")}' '${join(dir, 'askpass.js').replace(/'/g, "'\\''")}' "$@"\n`,
        { mode: 0o700 }
      );
      const socket = join(dir, 'askpass.sock');
      // The program half-closes after its question; the answer goes back after.
      const server = createServer({ allowHalfOpen: true }, conn =>
        this._serve(conn)
      );
      server.once('error', reject);
      server.listen(socket, () => resolve({ dir, socket }));
      server.unref();
      this._server = server;
    }));
  }

  private _serve(conn: Socket): void {
    let data = '';
    conn.setEncoding('utf8');
    conn.on('error', () => conn.destroy());
    conn.on('data', chunk => {
      data += chunk;
      if (data.length > MAX_MESSAGE_BYTES) {
        conn.destroy();
      }
    });
    conn.on('end', () => {
      let request: {
        token?: unknown;
        prompt?: unknown;
        kind?: unknown;
        asker?: unknown;
      };
      try {
        request = JSON.parse(data);
      } catch {
        conn.destroy();
        return;
      }
      const asking =
        typeof request.token === 'string'
          ? this._prompters.get(request.token)
          : undefined;
      if (!asking || typeof request.prompt !== 'string') {
        conn.destroy();
        return;
      }
      const question = classifyAskpass(
        request.prompt,
        typeof request.kind === 'string' ? request.kind : ''
      );
      // Withdrawn when the command exits, or when its askpass gives up.
      const withdrawn = new AbortController();
      const withdraw = () => withdrawn.abort();
      asking.done.signal.addEventListener('abort', withdraw, { once: true });
      conn.once('close', withdraw);
      const asker =
        typeof request.asker === 'number' ? String(request.asker) : undefined;
      asking.prompter
        .ask(question, withdrawn.signal, asker)
        .finally(() => {
          asking.done.signal.removeEventListener('abort', withdraw);
          conn.off('close', withdraw);
        })
        .then(
          answers => conn.end(JSON.stringify({ answer: answers[0] ?? '' })),
          () => conn.end(JSON.stringify({ answer: null }))
        );
    });
  }

  private _dir: string | null = null;
  private _server: Server | null = null;
  private _starting: Promise<{ dir: string; socket: string }> | null = null;
  private _prompters = new Map<
    string,
    { prompter: IPrompter; done: AbortController }
  >();
}
