/**
 * The questions an OpenSSH master asks through askpass, shaped as the
 * built-in client asks them (auth.ts): "Passphrase for ~/.ssh/key" with one
 * "Passphrase" field, "attempt 2 of 3" when ssh asks the same thing again,
 * the host-key prompt with its SHA256 fingerprint. A passphrase that worked
 * is kept in memory for the cluster's later reconnects, as the built-in
 * client keeps the decrypted key (KeyCache): a reconnect asks no passphrase.
 */
import { homedir } from 'os';

import type { IPrompter, PromptRequest } from '../prompter';

/** ssh's NumberOfPasswordPrompts, which the master is started with. */
const MAX_ATTEMPTS = 3;

function tilde(path: string, home: string): string {
  return path.startsWith(home + '/') ? `~${path.slice(home.length)}` : path;
}

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
  const tried = new Map<string, string>();
  const answeredFromMemory = new Set<string>();
  const userAsks = new Map<string, number>();
  return {
    ask: async (request: PromptRequest, signal?: AbortSignal) => {
      const text = request.fields[0]?.label ?? request.instructions;
      const count = (asked.get(text) ?? 0) + 1;
      asked.set(text, count);
      if (request.kind === 'passphrase') {
        const path = /passphrase for key '(.*)'/i.exec(text)?.[1] ?? '';
        const known = options.memory.get(path);
        if (known !== undefined && !answeredFromMemory.has(path)) {
          answeredFromMemory.add(path);
          tried.set(path, known);
          return [known];
        }
        // Asked again: the remembered one no longer works (re-encrypted key).
        options.memory.forget(path);
        const attempt = (userAsks.get(path) ?? 0) + 1;
        userAsks.set(path, attempt);
        const answers = await prompter.ask(
          {
            kind: 'passphrase',
            title: `Passphrase for ${tilde(path, home)}`,
            instructions:
              attempt > 1
                ? `Wrong passphrase; attempt ${attempt} of ${MAX_ATTEMPTS}.`
                : `The key is encrypted. Its passphrase is used to connect to ${options.label}; it is kept in memory for reconnects while JupyterLab runs and never written anywhere.`,
            fields: [{ label: 'Passphrase', echo: false }]
          },
          signal
        );
        tried.set(path, answers[0] ?? '');
        return answers;
      }
      if (
        request.kind === 'password' ||
        request.kind === 'keyboard-interactive'
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
      for (const [path, passphrase] of tried) {
        options.memory.set(path, passphrase);
      }
      tried.clear();
    }
  };
}
