import { classifyAskpass } from '../../../src/sidecar/ssh/askpass';
import {
  masterPrompter,
  PassphraseMemory
} from '../../../src/sidecar/ssh/openssh/questions';
import type {
  IPrompter,
  PromptRequest
} from '../../../src/sidecar/ssh/prompter';
import { SidecarError } from '../../../src/sidecar/errors';

const HOME = '/home/u';
const KEY = '/home/u/.ssh/id_ed25519';
const PASSPHRASE_PROMPT = `Enter passphrase for key '${KEY}': `;
const HOST_KEY_PROMPT =
  "The authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\n" +
  'ED25519 key fingerprint is SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ.\n' +
  'This key is not known by any other names.\n' +
  'Are you sure you want to continue connecting (yes/no/[fingerprint])? ';

/** Records every question and answers with the next of `answers`. */
class FakePrompter implements IPrompter {
  constructor(private readonly _answers: string[][] = []) {}

  readonly asked: { request: PromptRequest; signal?: AbortSignal }[] = [];

  async ask(request: PromptRequest, signal?: AbortSignal): Promise<string[]> {
    this.asked.push({ request, signal });
    return this._answers.shift() ?? ['answer'];
  }
}

function prompter(fake: IPrompter, memory = new PassphraseMemory()) {
  return masterPrompter(fake, { label: 'alice@hpc', home: HOME, memory });
}

function question(prompt: string, kind = ''): PromptRequest {
  return classifyAskpass(prompt, kind);
}

describe('masterPrompter: passphrases', () => {
  it('asks for the passphrase of the key by its path under ~', async () => {
    const fake = new FakePrompter([['secret']]);
    await expect(
      prompter(fake).ask(question(PASSPHRASE_PROMPT))
    ).resolves.toEqual(['secret']);
    expect(fake.asked.map(a => a.request)).toEqual([
      {
        kind: 'passphrase',
        title: 'Passphrase for ~/.ssh/id_ed25519',
        instructions:
          'The key is encrypted. Its passphrase is used to connect to alice@hpc; it is kept in memory for reconnects while JupyterLab runs and never written anywhere.',
        fields: [{ label: 'Passphrase', echo: false }]
      }
    ]);
  });

  it('keeps a key outside the home directory as an absolute path', async () => {
    const fake = new FakePrompter();
    const ask = prompter(fake).ask;
    await ask(question("Enter passphrase for key '/home/u2/.ssh/id_rsa': "));
    await ask(question("Enter passphrase for key '/etc/keys/id': "));
    expect(fake.asked.map(a => a.request.title)).toEqual([
      'Passphrase for /home/u2/.ssh/id_rsa',
      'Passphrase for /etc/keys/id'
    ]);
  });

  it('counts the attempts when ssh asks for the same key again', async () => {
    const fake = new FakePrompter();
    const ask = prompter(fake).ask;
    for (let i = 0; i < 3; i++) {
      await ask(question(PASSPHRASE_PROMPT));
    }
    expect(fake.asked.map(a => a.request.instructions)).toEqual([
      'The key is encrypted. Its passphrase is used to connect to alice@hpc; it is kept in memory for reconnects while JupyterLab runs and never written anywhere.',
      'Wrong passphrase; attempt 2 of 3.',
      'Wrong passphrase; attempt 3 of 3.'
    ]);
  });

  it('counts the attempts of each key apart', async () => {
    const fake = new FakePrompter();
    const ask = prompter(fake).ask;
    await ask(question(PASSPHRASE_PROMPT));
    await ask(question("Enter passphrase for key '/home/u/.ssh/id_rsa': "));
    expect(fake.asked[1].request.instructions).not.toMatch(/attempt/);
  });

  it('starts counting again in a new connection attempt', async () => {
    const fake = new FakePrompter();
    await prompter(fake).ask(question(PASSPHRASE_PROMPT));
    await prompter(fake).ask(question(PASSPHRASE_PROMPT));
    expect(fake.asked[1].request.instructions).not.toMatch(/attempt/);
  });
});

describe('masterPrompter: PassphraseMemory', () => {
  it('keeps the passphrase that worked once the login succeeded', async () => {
    const memory = new PassphraseMemory();
    const first = prompter(new FakePrompter([['secret']]), memory);
    await first.ask(question(PASSPHRASE_PROMPT));
    expect(memory.get(KEY)).toBeUndefined();
    first.succeeded();
    expect(memory.get(KEY)).toBe('secret');
  });

  it('keeps the last passphrase tried, not a wrong one before it', async () => {
    const memory = new PassphraseMemory();
    const first = prompter(new FakePrompter([['wrong'], ['right']]), memory);
    await first.ask(question(PASSPHRASE_PROMPT));
    await first.ask(question(PASSPHRASE_PROMPT));
    first.succeeded();
    expect(memory.get(KEY)).toBe('right');
  });

  it('answers the first question of a later attempt itself', async () => {
    const memory = new PassphraseMemory();
    memory.set(KEY, 'secret');
    const fake = new FakePrompter();
    await expect(
      prompter(fake, memory).ask(question(PASSPHRASE_PROMPT))
    ).resolves.toEqual(['secret']);
    expect(fake.asked).toEqual([]);
  });

  it('answers only for the key it knows', async () => {
    const memory = new PassphraseMemory();
    memory.set(KEY, 'secret');
    const fake = new FakePrompter([['other']]);
    await expect(
      prompter(fake, memory).ask(
        question("Enter passphrase for key '/home/u/.ssh/id_rsa': ")
      )
    ).resolves.toEqual(['other']);
    expect(fake.asked).toHaveLength(1);
  });

  it('forgets a remembered passphrase ssh asks again for and asks the user', async () => {
    const memory = new PassphraseMemory();
    const first = prompter(new FakePrompter([['old']]), memory);
    await first.ask(question(PASSPHRASE_PROMPT));
    first.succeeded();

    const fake = new FakePrompter([['new']]);
    const later = prompter(fake, memory);
    await expect(later.ask(question(PASSPHRASE_PROMPT))).resolves.toEqual([
      'old'
    ]);
    await expect(later.ask(question(PASSPHRASE_PROMPT))).resolves.toEqual([
      'new'
    ]);
    expect(memory.get(KEY)).toBeUndefined();
    expect(fake.asked.map(a => a.request)).toEqual([
      expect.objectContaining({
        kind: 'passphrase',
        title: 'Passphrase for ~/.ssh/id_ed25519',
        fields: [{ label: 'Passphrase', echo: false }]
      })
    ]);
    later.succeeded();
    expect(memory.get(KEY)).toBe('new');
  });

  it("counts the user's own attempts after a remembered passphrase failed", async () => {
    const memory = new PassphraseMemory();
    const first = prompter(new FakePrompter([['old']]), memory);
    await first.ask(question(PASSPHRASE_PROMPT));
    first.succeeded();

    const fake = new FakePrompter([['wrong'], ['right']]);
    const later = prompter(fake, memory);
    for (let i = 0; i < 3; i++) {
      await later.ask(question(PASSPHRASE_PROMPT));
    }
    expect(fake.asked.map(a => a.request.instructions)).toEqual([
      expect.stringMatching(/^The key is encrypted/),
      'Wrong passphrase; attempt 2 of 3.'
    ]);
  });

  it("never answers a server's keyboard-interactive question from memory, however it is worded", async () => {
    const memory = new PassphraseMemory();
    memory.set(KEY, 'secret');
    const fake = new FakePrompter([['typed']]);
    const lookalike = `(u@login1) Enter passphrase for key '${KEY}':`;
    await expect(
      prompter(fake, memory).ask(question(lookalike))
    ).resolves.toEqual(['typed']);
    expect(fake.asked).toHaveLength(1);
    expect(fake.asked[0].request.kind).toBe('keyboard-interactive');
  });

  it('asks once for a key that a jump host and the login node both use', async () => {
    const memory = new PassphraseMemory();
    const fake = new FakePrompter([['secret']]);
    const first = prompter(fake, memory);
    await first.ask(question(PASSPHRASE_PROMPT), undefined, 'ssh-of-jump');
    await expect(
      first.ask(question(PASSPHRASE_PROMPT), undefined, 'ssh-of-login')
    ).resolves.toEqual(['secret']);
    first.succeeded();
    expect(fake.asked).toHaveLength(1);

    const later = prompter(fake, memory);
    await later.ask(question(PASSPHRASE_PROMPT), undefined, 'new-jump');
    await later.ask(question(PASSPHRASE_PROMPT), undefined, 'new-login');
    expect(fake.asked).toHaveLength(1);
    expect(memory.get(KEY)).toBe('secret');
  });

  it('remembers nothing when the login did not succeed', async () => {
    const memory = new PassphraseMemory();
    await prompter(new FakePrompter([['secret']]), memory).ask(
      question(PASSPHRASE_PROMPT)
    );
    const fake = new FakePrompter([['again']]);
    await expect(
      prompter(fake, memory).ask(question(PASSPHRASE_PROMPT))
    ).resolves.toEqual(['again']);
    expect(fake.asked).toHaveLength(1);
    expect(memory.get(KEY)).toBeUndefined();
  });

  it('remembers nothing from a question the user cancelled', async () => {
    const memory = new PassphraseMemory();
    const p = masterPrompter(
      { ask: () => Promise.reject(new Error('cancelled')) },
      { label: 'alice@hpc', home: HOME, memory }
    );
    await expect(p.ask(question(PASSPHRASE_PROMPT))).rejects.toThrow(
      'cancelled'
    );
    p.succeeded();
    expect(memory.get(KEY)).toBeUndefined();
  });

  it('forgets everything on clear', () => {
    const memory = new PassphraseMemory();
    memory.set(KEY, 'a');
    memory.set('/other', 'b');
    memory.clear();
    expect([memory.get(KEY), memory.get('/other')]).toEqual([
      undefined,
      undefined
    ]);
  });
});

describe('masterPrompter: passwords and keyboard-interactive', () => {
  it('drops the (user@host) prefix from a keyboard-interactive label', async () => {
    const fake = new FakePrompter([['123456']]);
    await expect(
      prompter(fake).ask(
        question('(alice@login.example.org) Verification code: ')
      )
    ).resolves.toEqual(['123456']);
    expect(fake.asked.map(a => a.request)).toEqual([
      {
        kind: 'keyboard-interactive',
        title: 'alice@hpc asks',
        instructions: '',
        fields: [{ label: 'Verification code:', echo: false }]
      }
    ]);
  });

  it('says the last answer was refused when ssh asks again', async () => {
    const fake = new FakePrompter();
    const ask = prompter(fake).ask;
    for (let i = 0; i < 3; i++) {
      await ask(question('(alice@login.example.org) Verification code: '));
    }
    expect(fake.asked.map(a => a.request.instructions)).toEqual([
      '',
      'The last answer was refused; attempt 2 of 3.',
      'The last answer was refused; attempt 3 of 3.'
    ]);
  });

  it('puts the attempt before the instructions of a multi-line question', async () => {
    const fake = new FakePrompter();
    const ask = prompter(fake).ask;
    const text = 'Duo two-factor login for alice\n\nPasscode or option (1-2): ';
    await ask(question(text));
    await ask(question(text));
    expect(fake.asked.map(a => a.request.instructions)).toEqual([
      text.trim(),
      `The last answer was refused; attempt 2 of 3.\n${text.trim()}`
    ]);
    expect(fake.asked[1].request.fields).toEqual([
      { label: 'Passcode or option (1-2):', echo: false }
    ]);
  });

  it('asks for a password with the prompt ssh printed', async () => {
    const fake = new FakePrompter([['pw']]);
    await prompter(fake).ask(question("alice@login.example.org's password: "));
    expect(fake.asked[0].request).toEqual({
      kind: 'password',
      title: 'alice@hpc asks',
      instructions: '',
      fields: [{ label: "alice@login.example.org's password:", echo: false }]
    });
  });

  it('says the password was refused when ssh asks again', async () => {
    const fake = new FakePrompter();
    const ask = prompter(fake).ask;
    await ask(question("alice@login.example.org's password: "));
    await ask(question("alice@login.example.org's password: "));
    expect(fake.asked[1].request.instructions).toBe(
      'The password was refused; attempt 2 of 3.'
    );
  });

  it('drops the (user@host) prefix of a keyboard-interactive password', async () => {
    const fake = new FakePrompter();
    await prompter(fake).ask(question('(alice@login.example.org) Password: '));
    expect(fake.asked[0].request).toMatchObject({
      kind: 'password',
      fields: [{ label: 'Password:', echo: false }]
    });
  });
});

describe('masterPrompter: host keys', () => {
  it('keeps the fingerprint and says where an accepted key goes', async () => {
    const fake = new FakePrompter([['yes']]);
    const request = question(HOST_KEY_PROMPT);
    await expect(prompter(fake).ask(request)).resolves.toEqual(['yes']);
    const asked = fake.asked[0].request;
    expect(asked.kind).toBe('host-key');
    expect(asked.title).toBe(request.title);
    expect(asked.fields).toEqual([]);
    expect(asked.hostKey).toEqual({
      host: '[127.0.0.1]:2222 ([127.0.0.1]:2222)',
      keyType: 'ED25519',
      fingerprint: 'SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ',
      message: HOST_KEY_PROMPT.trim()
    });
    expect(asked.instructions).toMatch(/fingerprint/);
    expect(asked.instructions).toMatch(/added to known_hosts/);
    expect(asked.instructions).not.toMatch(/ProxyCommand/);
  });

  it('passes a confirmation without a fingerprint on as it is', async () => {
    const fake = new FakePrompter();
    const request = question('Allow use of key /home/u/.ssh/id_sk?', 'confirm');
    await prompter(fake).ask(request);
    expect(fake.asked[0].request).toBe(request);
  });
});

describe('masterPrompter: the prompter below', () => {
  it('gets the abort signal of the question', async () => {
    const fake = new FakePrompter();
    const signal = new AbortController().signal;
    const ask = prompter(fake).ask;
    await ask(question(PASSPHRASE_PROMPT), signal);
    await ask(question("alice@login.example.org's password: "), signal);
    await ask(question(HOST_KEY_PROMPT), signal);
    expect(fake.asked.map(a => a.signal)).toEqual([signal, signal, signal]);
  });

  it.each([
    ['a passphrase', PASSPHRASE_PROMPT],
    ['a password', "alice@login.example.org's password: "],
    ['a host key', HOST_KEY_PROMPT]
  ])('passes on a cancelled question for %s', async (_what, prompt) => {
    const cancelled = new SidecarError('auth-cancelled', 'Cancelled.');
    const p = prompter({ ask: () => Promise.reject(cancelled) });
    await expect(p.ask(question(prompt))).rejects.toBe(cancelled);
  });
});
