import { randomBytes } from 'crypto';

import type { IPrompt, SidecarEvent } from '../../common/api';
import { SidecarError } from '../errors';
import type { IPrompter, PromptRequest } from '../ssh/prompter';

/**
 * How long a question waits for the user. sshd drops a login that takes
 * longer than its LoginGraceTime (120 s by default) anyway.
 */
export const PROMPT_TIMEOUT_MS = 120_000;

interface IPending {
  prompt: IPrompt;
  resolve: (answers: string[]) => void;
  reject: (err: Error) => void;
}

/**
 * The questions connections ask the user, while they wait for an answer.
 * Each is pushed to every open JupyterLab tab as a `prompt` event; the first
 * answer wins and every tab is told with `prompt-closed`. Answers go straight
 * to the connection that asked and are not kept here.
 */
export class PromptBroker {
  constructor(
    private readonly _broadcast: (event: SidecarEvent) => void,
    private readonly _timeoutMs = PROMPT_TIMEOUT_MS
  ) {}

  /** A prompter whose questions are labelled with `cluster`. */
  for(cluster: string): IPrompter {
    return {
      ask: (request, signal) => this.ask(cluster, request, signal)
    };
  }

  ask(
    cluster: string,
    request: PromptRequest,
    signal?: AbortSignal
  ): Promise<string[]> {
    const prompt: IPrompt = {
      ...request,
      id: randomBytes(12).toString('hex'),
      cluster,
      expiresAt: Date.now() + this._timeoutMs
    };
    return new Promise<string[]>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (this._pending.delete(prompt.id)) {
          this._broadcast({ type: 'prompt-closed', id: prompt.id });
        }
      };
      const cancelled = (why: string) =>
        new SidecarError('auth-cancelled', why);
      const timer = setTimeout(() => {
        done();
        reject(
          cancelled(
            `Nobody answered "${prompt.title}" within ${Math.round(this._timeoutMs / 1000)} s.`
          )
        );
      }, this._timeoutMs);
      const onAbort = () => {
        done();
        reject(cancelled(`"${prompt.title}" is no longer needed.`));
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this._pending.set(prompt.id, {
        prompt,
        resolve: answers => {
          done();
          resolve(answers);
        },
        reject: err => {
          done();
          reject(err);
        }
      });
      this._broadcast({ type: 'prompt', prompt });
    });
  }

  pending(): IPrompt[] {
    return [...this._pending.values()].map(p => p.prompt);
  }

  /**
   * Answer or cancel a prompt. Returns false for an unknown (already
   * answered, expired) prompt; throws for answers that do not fit it.
   */
  answer(
    id: string,
    answer: { answers?: string[]; cancel?: boolean }
  ): boolean {
    const pending = this._pending.get(id);
    if (!pending) {
      return false;
    }
    if (answer.cancel) {
      pending.reject(
        new SidecarError(
          'auth-cancelled',
          `"${pending.prompt.title}" was cancelled.`
        )
      );
      return true;
    }
    const answers = answer.answers ?? [];
    const expected =
      pending.prompt.kind === 'host-key' ? 1 : pending.prompt.fields.length;
    if (
      answers.length !== expected ||
      answers.some(a => typeof a !== 'string' || a.length > 4096)
    ) {
      throw new SidecarError(
        'bad-request',
        `This prompt wants ${expected} answer(s), each a string of at most 4096 characters.`
      );
    }
    pending.resolve(answers);
    return true;
  }

  /** Cancel everything (shutdown). */
  cancelAll(): void {
    for (const p of [...this._pending.values()]) {
      p.reject(new SidecarError('auth-cancelled', 'The sidecar is stopping.'));
    }
  }

  private _pending = new Map<string, IPending>();
}
