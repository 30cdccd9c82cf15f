/**
 * The questions an OpenSSH master asks through askpass, shaped as the
 * built-in client asks them (auth.ts): "Passphrase for ~/.ssh/key" with one
 * "Passphrase" field, "attempt 2 of 3" when ssh asks the same thing again,
 * the host-key prompt with its SHA256 fingerprint. A passphrase that worked
 * is kept in memory for the cluster's later reconnects, as the built-in
 * client keeps the decrypted key (KeyCache): a reconnect asks no passphrase.
 */
import { homedir } from 'os';

import { displayPath } from '../../paths';
import type { IPrompter, PromptRequest } from '../prompter';

/** How ssh itself asks for a key's passphrase (sshconnect2.c). */
const OWN_PASSPHRASE_PROMPT = /^Enter passphrase for key '(.*)': ?$/;

/** ssh's NumberOfPasswordPrompts, which the master is started with. */
const MAX_ATTEMPTS = 3;

/** Passphrases that worked, per key file, for one cluster. */
export class PassphraseMemory {
  get(path: string): string | undefined {
    return this._known.get(path);
  }
  set(path: string, passphrase: string): void {
    this._known.set(path, passphrase);
  }
  forget(path: string): void {
    this._known.delete(path);
  }
  clear(): void {
    this._known.clear();
  }
  private _known = new Map<string, string>();
}

/**
 * A prompter for one connection attempt of a master. `request` is what
 * askpass.ts made of ssh's text; the text itself is in the field's label.
 */
export function masterPrompter(
  prompter: IPrompter,
  options: { label: string; home?: string; memory: PassphraseMemory }
): IPrompter & { succeeded(): void } {
  const home = options.home ?? homedir();
  const asked = new Map<string, number>();
  // Passphrases tried in this attempt: kept once the login succeeds.
  const tried = new Map<string, { value: string; origin: string }>();
  const answeredFromMemory = new Set<string>();
  const userAsks = new Map<string, number>();
  return {
    ask: async (request: PromptRequest, signal?: AbortSignal, origin = '') => {
      const text = request.fields[0]?.label ?? request.instructions;
      // Each hop's ssh counts its own questions: a jump host and the login
      // node may well ask for the same key.
      const key = `${origin}\0${text}`;
      const count = (asked.get(key) ?? 0) + 1;
      asked.set(key, count);
      // Only ssh's own question, never a server's keyboard-interactive text
      // that looks like it (those come as "(user@host) …").
      const own = OWN_PASSPHRASE_PROMPT.exec(text.trim());
      if (request.kind === 'passphrase' && own) {
        const path = own[1];
        const per = `${origin}\0${path}`;
        // Remembered from an earlier connection, or typed for another hop
        // of this one: offered once to each ssh.
        const typed = tried.get(path);
        const known =
          options.memory.get(path) ??
          (typed && typed.origin !== origin ? typed.value : undefined);
        if (known !== undefined && !answeredFromMemory.has(per)) {
          answeredFromMemory.add(per);
          tried.set(path, { value: known, origin });
          return [known];
        }
        if (answeredFromMemory.has(per)) {
          // This ssh asks again: what was offered no longer works.
          options.memory.forget(path);
        }
        const attempt = (userAsks.get(per) ?? 0) + 1;
        userAsks.set(per, attempt);
        const answers = await prompter.ask(
          {
            kind: 'passphrase',
            title: `Passphrase for ${displayPath(path, home)}`,
            instructions:
              attempt > 1
                ? `Wrong passphrase; attempt ${attempt} of ${MAX_ATTEMPTS}.`
                : `The key is encrypted. Its passphrase is used to connect to ${options.label}; it is kept in memory for reconnects while JupyterLab runs and never written anywhere.`,
            fields: [{ label: 'Passphrase', echo: false }]
          },
          signal
        );
        tried.set(path, { value: answers[0] ?? '', origin });
        return answers;
      }
      if (
        request.kind === 'password' ||
        request.kind === 'keyboard-interactive' ||
        request.kind === 'passphrase'
      ) {
        const retry =
          count > 1
            ? request.kind === 'password'
              ? `The password was refused; attempt ${count} of ${MAX_ATTEMPTS}.`
              : `The last answer was refused; attempt ${count} of ${MAX_ATTEMPTS}.`
            : '';
        return prompter.ask(
          {
            ...request,
            // A server's question that merely mentions a passphrase.
            kind:
              request.kind === 'passphrase'
                ? 'keyboard-interactive'
                : request.kind,
            title: `${options.label} asks`,
            instructions: [retry, request.instructions]
              .filter(Boolean)
              .join('\n'),
            fields: [
              {
                label: text.replace(/^\([^)]*\)\s*/, '').trim() || 'Answer',
                echo: false
              }
            ]
          },
          signal
        );
      }
      if (request.kind === 'host-key' && request.hostKey?.fingerprint) {
        return prompter.ask(
          {
            ...request,
            instructions:
              'Compare the fingerprint with the one your cluster publishes before you trust it. An accepted key is added to known_hosts.'
          },
          signal
        );
      }
      return prompter.ask(request, signal);
    },
    succeeded: () => {
      for (const [path, { value }] of tried) {
        options.memory.set(path, value);
      }
      tried.clear();
    }
  };
}
