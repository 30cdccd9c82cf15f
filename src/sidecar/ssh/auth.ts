/**
 * Client authentication as OpenSSH does it, for ssh2's `authHandler`:
 * `none` first (to learn the server's methods), then the ssh-agent, then the
 * identity files, then keyboard-interactive, then password — each only while
 * the server still lists it. A server that wants two methods
 * (`AuthenticationMethods publickey,keyboard-interactive`) answers the first
 * with partial success and the sequence goes on to the second.
 *
 * Everything the user must type (a key's passphrase, a password, a 2FA code)
 * is asked through an IPrompter, at the moment the server needs it, and used
 * once. Keys decrypted with a passphrase stay in memory (KeyCache) for the
 * sidecar's life, as ssh-agent would hold them, so a reconnect does not ask
 * again; nothing is written anywhere.
 */
import { readFile, stat } from 'fs/promises';

import type {
  AnyAuthMethod,
  AuthenticationType,
  KeyboardInteractiveCallback,
  ParsedKey,
  Prompt
} from 'ssh2';
import { utils } from 'ssh2';

import { SidecarError } from '../errors';
import { displayPath } from '../paths';
import type { IPrompter } from './prompter';

/** OpenSSH's NumberOfPasswordPrompts default. */
export const MAX_ATTEMPTS = 3;

/** Decrypted private keys by file, valid while the file is unchanged. */
export class KeyCache {
  get(path: string, mtimeMs: number): ParsedKey | undefined {
    const hit = this._keys.get(path);
    return hit && hit.mtimeMs === mtimeMs ? hit.key : undefined;
  }

  set(path: string, mtimeMs: number, key: ParsedKey): void {
    this._keys.set(path, { mtimeMs, key });
  }

  clear(): void {
    this._keys.clear();
  }

  private _keys = new Map<string, { mtimeMs: number; key: ParsedKey }>();
}

export interface IAuthOptions {
  /** The remote user. */
  user: string;
  /** `user@host` for prompts and messages. */
  label: string;
  identityFiles: readonly string[];
  identitiesOnly: boolean;
  /** SSH_AUTH_SOCK, or undefined for no agent. */
  agent?: string;
  /** Whether the user may be asked (false: keys and agent only). */
  interactive: boolean;
  prompter: IPrompter;
  keys: KeyCache;
  /** Shown in messages instead of the home directory. */
  home: string;
  signal?: AbortSignal;
}

type Step =
  | { type: 'none' }
  | { type: 'agent' }
  | { type: 'key'; path: string }
  | { type: 'keyboard-interactive' }
  | { type: 'password' };

/** What happened, for the error message when everything failed. */
export interface IAuthReport {
  tried: string[];
  /** The methods the server offered last. */
  offered: string[];
  /** Set when the user cancelled a prompt: the connection must not go on. */
  cancelled: SidecarError | null;
  /** Key files that could not be read, with why. */
  unreadable: string[];
}

/**
 * An ssh2 `authHandler` plus the report of what it did. One per connection
 * attempt to one host.
 */
export function createAuthHandler(options: IAuthOptions): {
  handler: (
    methodsLeft: AuthenticationType[] | null,
    partialSuccess: boolean | null,
    next: (method: AnyAuthMethod | false) => void
  ) => void;
  report: IAuthReport;
} {
  const report: IAuthReport = {
    tried: [],
    offered: [],
    cancelled: null,
    unreadable: []
  };
  const steps: Step[] = [{ type: 'none' }];
  if (options.agent && !options.identitiesOnly) {
    steps.push({ type: 'agent' });
  }
  for (const path of options.identityFiles) {
    steps.push({ type: 'key', path });
  }
  steps.push({ type: 'keyboard-interactive' }, { type: 'password' });
  let kbdAttempts = 0;
  let passwordAttempts = 0;
  const { user, label } = options;

  const allows = (left: string[] | null, method: string) =>
    left === null || left.includes(method);

  const nextStep = async (
    left: string[] | null
  ): Promise<AnyAuthMethod | false> => {
    while (steps.length > 0) {
      if (report.cancelled) {
        return false;
      }
      const step = steps[0];
      switch (step.type) {
        case 'none':
          steps.shift();
          return { type: 'none', username: user };
        case 'agent':
          steps.shift();
          if (allows(left, 'publickey')) {
            report.tried.push('ssh-agent');
            return { type: 'agent', username: user, agent: options.agent! };
          }
          continue;
        case 'key': {
          steps.shift();
          if (!allows(left, 'publickey')) {
            continue;
          }
          const key = await loadKey(step.path);
          if (key) {
            report.tried.push(displayPath(step.path, options.home));
            return { type: 'publickey', username: user, key };
          }
          continue;
        }
        case 'keyboard-interactive':
          if (
            !options.interactive ||
            !allows(left, 'keyboard-interactive') ||
            kbdAttempts >= MAX_ATTEMPTS
          ) {
            steps.shift();
            continue;
          }
          kbdAttempts++;
          if (!report.tried.includes('keyboard-interactive')) {
            report.tried.push('keyboard-interactive');
          }
          return {
            type: 'keyboard-interactive',
            username: user,
            prompt: keyboardInteractive(kbdAttempts)
          };
        case 'password': {
          if (
            !options.interactive ||
            !allows(left, 'password') ||
            passwordAttempts >= MAX_ATTEMPTS
          ) {
            steps.shift();
            continue;
          }
          passwordAttempts++;
          const answer = await ask({
            kind: 'password',
            title: `Password for ${label}`,
            instructions:
              passwordAttempts > 1
                ? `The password was refused; attempt ${passwordAttempts} of ${MAX_ATTEMPTS}.`
                : '',
            fields: [{ label: 'Password', echo: false }]
          });
          if (answer === null) {
            return false;
          }
          if (!report.tried.includes('password')) {
            report.tried.push('password');
          }
          return { type: 'password', username: user, password: answer[0] };
        }
      }
    }
    return false;
  };

  const ask = async (
    request: Parameters<IPrompter['ask']>[0]
  ): Promise<string[] | null> => {
    try {
      return await options.prompter.ask(request, options.signal);
    } catch (err) {
      report.cancelled =
        err instanceof SidecarError
          ? err
          : new SidecarError(
              'auth-cancelled',
              `Connecting to ${label} was cancelled.`
            );
      return null;
    }
  };

  const keyboardInteractive =
    (attempt: number) =>
    (
      name: string,
      instructions: string,
      _lang: string,
      prompts: Prompt[],
      finish: KeyboardInteractiveCallback
    ) => {
      // PAM sends rounds without questions (messages only): answer at once.
      if (prompts.length === 0) {
        finish([]);
        return;
      }
      const retry =
        attempt > 1
          ? `The last answer was refused; attempt ${attempt} of ${MAX_ATTEMPTS}.`
          : '';
      void ask({
        kind: 'keyboard-interactive',
        title: name ? `${label}: ${name}` : `${label} asks`,
        instructions: [retry, instructions].filter(Boolean).join('\n'),
        fields: prompts.map(p => ({
          label: p.prompt.trim(),
          echo: p.echo === true
        }))
      }).then(answers => finish(answers ?? prompts.map(() => '')));
    };

  const loadKey = async (path: string): Promise<ParsedKey | null> => {
    let text: Buffer;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(path)).mtimeMs;
      const cached = options.keys.get(path, mtimeMs);
      if (cached) {
        return cached;
      }
      text = await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') {
        report.unreadable.push(`${displayPath(path, options.home)} (${code})`);
      }
      return null;
    }
    let parsed = utils.parseKey(text);
    if (!(parsed instanceof Error)) {
      const key = Array.isArray(parsed) ? parsed[0] : parsed;
      return key.isPrivateKey() ? key : null;
    }
    if (!/no passphrase given/.test(parsed.message)) {
      report.unreadable.push(
        `${displayPath(path, options.home)} (${parsed.message})`
      );
      return null;
    }
    if (!options.interactive) {
      return null;
    }
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const answer = await ask({
        kind: 'passphrase',
        title: `Passphrase for ${displayPath(path, options.home)}`,
        instructions:
          attempt > 1
            ? `Wrong passphrase; attempt ${attempt} of ${MAX_ATTEMPTS}.`
            : `The key is encrypted. Its passphrase is used to connect to ${label} and is not stored.`,
        fields: [{ label: 'Passphrase', echo: false }]
      });
      if (answer === null) {
        return null;
      }
      parsed = utils.parseKey(text, answer[0]);
      if (!(parsed instanceof Error)) {
        const key = Array.isArray(parsed) ? parsed[0] : parsed;
        options.keys.set(path, mtimeMs, key);
        return key;
      }
    }
    report.unreadable.push(
      `${displayPath(path, options.home)} (wrong passphrase ${MAX_ATTEMPTS} times)`
    );
    return null;
  };

  const handler = (
    methodsLeft: AuthenticationType[] | null,
    partialSuccess: boolean | null,
    next: (method: AnyAuthMethod | false) => void
  ) => {
    if (methodsLeft) {
      report.offered = [...methodsLeft];
    }
    if (partialSuccess) {
      // The first factor was accepted: the second starts afresh.
      kbdAttempts = 0;
      passwordAttempts = 0;
      if (!steps.some(s => s.type === 'keyboard-interactive')) {
        steps.push({ type: 'keyboard-interactive' }, { type: 'password' });
      }
    }
    void nextStep(methodsLeft).then(next, () => next(false));
  };

  return { handler, report };
}

/** The sentence for a connection that every method failed on. */
export function authFailureMessage(label: string, report: IAuthReport): string {
  const tried = report.tried.length
    ? report.tried.join(', ')
    : 'no key (none of the identity files exists and no ssh-agent is running)';
  const offered = report.offered.length
    ? ` The server accepts: ${report.offered.join(', ')}.`
    : '';
  const unreadable = report.unreadable.length
    ? ` Could not use: ${report.unreadable.join('; ')}.`
    : '';
  return (
    `${label} refused the login. Tried: ${tried}.${offered}${unreadable} ` +
    'Check the user name and the key (Set up SSH key installs one), or that the code or password was right.'
  );
}
