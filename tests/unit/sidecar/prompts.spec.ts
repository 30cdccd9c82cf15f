import type { SidecarEvent } from '../../../src/common/api';
import { PromptBroker } from '../../../src/sidecar/clusters/prompts';
import { SidecarError } from '../../../src/sidecar/errors';

const request = {
  kind: 'keyboard-interactive' as const,
  title: 'hpc: code',
  instructions: '',
  fields: [{ label: 'Verification code:', echo: false }]
};

function broker(timeoutMs?: number) {
  const events: SidecarEvent[] = [];
  return { events, prompts: new PromptBroker(e => events.push(e), timeoutMs) };
}

describe('PromptBroker', () => {
  it('pushes a prompt, takes the first answer and tells every tab', async () => {
    const { events, prompts } = broker();
    const asked = prompts.for('hpc').ask(request);
    expect(events).toHaveLength(1);
    const event = events[0] as Extract<SidecarEvent, { type: 'prompt' }>;
    expect(event.prompt).toMatchObject({ cluster: 'hpc', title: 'hpc: code' });
    expect(event.prompt.id).toMatch(/^[0-9a-f]{24}$/);
    expect(prompts.pending()).toHaveLength(1);
    expect(prompts.answer(event.prompt.id, { answers: ['123456'] })).toBe(true);
    await expect(asked).resolves.toEqual(['123456']);
    expect(events[1]).toEqual({ type: 'prompt-closed', id: event.prompt.id });
    expect(prompts.answer(event.prompt.id, { answers: ['again'] })).toBe(false);
    expect(prompts.pending()).toEqual([]);
  });

  it('refuses answers that do not fit the fields, and keeps waiting', async () => {
    const { events, prompts } = broker();
    const asked = prompts.ask('hpc', request);
    const id = (events[0] as Extract<SidecarEvent, { type: 'prompt' }>).prompt
      .id;
    expect(() => prompts.answer(id, { answers: [] })).toThrow(SidecarError);
    expect(() => prompts.answer(id, { answers: ['x'.repeat(5000)] })).toThrow(
      /at most 4096/
    );
    prompts.answer(id, { cancel: true });
    await expect(asked).rejects.toMatchObject({ code: 'auth-cancelled' });
  });

  it('expires unanswered prompts', async () => {
    const { events, prompts } = broker(20);
    await expect(prompts.ask('hpc', request)).rejects.toThrow(
      /Nobody answered/
    );
    expect(events.map(e => e.type)).toEqual(['prompt', 'prompt-closed']);
  });

  it('withdraws a prompt when the asker gives up', async () => {
    const { events, prompts } = broker();
    const controller = new AbortController();
    const asked = prompts.ask('hpc', request, controller.signal);
    controller.abort();
    await expect(asked).rejects.toMatchObject({ code: 'auth-cancelled' });
    expect(events.map(e => e.type)).toEqual(['prompt', 'prompt-closed']);
    expect(prompts.pending()).toEqual([]);
  });

  it('cancels everything on shutdown', async () => {
    const { prompts } = broker();
    const a = prompts.ask('a', request);
    const b = prompts.ask('b', request);
    prompts.cancelAll();
    await expect(a).rejects.toThrow(/stopping/);
    await expect(b).rejects.toThrow(/stopping/);
  });
});
