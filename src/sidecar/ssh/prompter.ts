import type { IPrompt } from '../../common/api';

/** A question for the user, without the parts the broker fills in. */
export type PromptRequest = Omit<IPrompt, 'id' | 'expiresAt' | 'cluster'>;

/**
 * How a connection asks the user something (a host key, a passphrase, a 2FA
 * code). Resolves with one answer per field; rejects with a SidecarError
 * 'auth-cancelled' when the user cancels, the prompt expires or `signal`
 * aborts. Answers are used once and never kept.
 */
export interface IPrompter {
  ask(
    request: PromptRequest,
    signal?: AbortSignal,
    /**
     * Who asks, when several programs share one prompter (the ssh of each
     * hop through askpass: its process id). Questions repeated by the same
     * asker mean the last answer was wrong.
     */
    origin?: string
  ): Promise<string[]>;
}
