/**
 * A Jupyter client speaking to a kernel through a real Jupyter server's
 * kernel WebSocket (`/api/kernels/<id>/channels`), as JupyterLab does:
 * the messages are the JSON form of the Jupyter protocol, the server signs
 * and relays them to the kernel's ZMQ channels.
 */
import { randomUUID } from 'crypto';

import WebSocket from 'ws';

export interface IKernelMessage {
  header: { msg_id: string; msg_type: string; session: string; date?: string };
  parent_header: { msg_id?: string; msg_type?: string };
  metadata: Record<string, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  content: any;
  channel: 'shell' | 'iopub' | 'stdin' | 'control';
  buffers?: unknown[];
}

export interface IExecution {
  reply: IKernelMessage;
  /** iopub messages of this request, in order (status excluded). */
  outputs: IKernelMessage[];
}

export interface IKernelSocket {
  socket: WebSocket;
  /** Every message received so far, in order. */
  received: IKernelMessage[];
  /** Statuses (`execution_state`) seen on iopub, with or without a parent. */
  statuses: string[];
  send(
    channel: IKernelMessage['channel'],
    msgType: string,
    content: unknown,
    parent?: IKernelMessage['header']
  ): string;
  /** The first message (past or future) that matches. */
  next(
    match: (m: IKernelMessage) => boolean,
    timeoutMs?: number
  ): Promise<IKernelMessage>;
  kernelInfo(timeoutMs?: number): Promise<IKernelMessage>;
  /**
   * Runs `code`; `answer` replies to each input request. Resolves once the
   * execute_reply and the idle status of the request have both arrived.
   */
  execute(
    code: string,
    options?: { answer?: (prompt: string) => string; timeoutMs?: number }
  ): Promise<IExecution>;
  close(): void;
}

export async function openKernelSocket(
  baseUrl: string,
  token: string,
  kernelId: string
): Promise<IKernelSocket> {
  const session = randomUUID();
  const url =
    baseUrl.replace(/^http/, 'ws') +
    `api/kernels/${kernelId}/channels?session_id=${session}`;
  const socket = new WebSocket(url, {
    headers: { Authorization: `token ${token}` }
  });
  const received: IKernelMessage[] = [];
  const statuses: string[] = [];
  const waiters = new Set<{
    match: (m: IKernelMessage) => boolean;
    resolve: (m: IKernelMessage) => void;
  }>();
  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      return; // binary buffers: not used by these tests
    }
    const msg = JSON.parse(String(data)) as IKernelMessage;
    received.push(msg);
    if (msg.header.msg_type === 'status') {
      statuses.push(msg.content.execution_state);
    }
    for (const w of [...waiters]) {
      if (w.match(msg)) {
        waiters.delete(w);
        w.resolve(msg);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`kernel WebSocket: HTTP ${res.statusCode}`))
    );
  });

  const next = (
    match: (m: IKernelMessage) => boolean,
    timeoutMs = 30_000
  ): Promise<IKernelMessage> => {
    const seen = received.find(match);
    if (seen) {
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no matching kernel message in ${timeoutMs} ms`));
      }, timeoutMs);
      waiter.resolve = m => {
        clearTimeout(timer);
        resolve(m);
      };
      waiters.add(waiter);
    });
  };

  const send: IKernelSocket['send'] = (channel, msgType, content, parent) => {
    const msgId = randomUUID();
    socket.send(
      JSON.stringify({
        header: {
          msg_id: msgId,
          msg_type: msgType,
          session,
          username: 'test',
          date: new Date().toISOString(),
          version: '5.3'
        },
        parent_header: parent ?? {},
        metadata: {},
        content,
        channel,
        buffers: []
      })
    );
    return msgId;
  };

  const childOf = (id: string, type: string) => (m: IKernelMessage) =>
    m.parent_header.msg_id === id && m.header.msg_type === type;

  return {
    socket,
    received,
    statuses,
    send,
    next,
    kernelInfo: timeoutMs => {
      const id = send('shell', 'kernel_info_request', {});
      return next(childOf(id, 'kernel_info_reply'), timeoutMs);
    },
    execute: async (code, options = {}) => {
      const timeoutMs = options.timeoutMs ?? 60_000;
      const id = send('shell', 'execute_request', {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: options.answer !== undefined,
        stop_on_error: true
      });
      const answered = new Set<string>();
      const answerInputs = (m: IKernelMessage): boolean => {
        if (
          options.answer &&
          m.header.msg_type === 'input_request' &&
          m.parent_header.msg_id === id &&
          !answered.has(m.header.msg_id)
        ) {
          answered.add(m.header.msg_id);
          send(
            'stdin',
            'input_reply',
            { value: options.answer(m.content.prompt) },
            m.header
          );
        }
        return false;
      };
      received.forEach(answerInputs);
      const watcher = { match: answerInputs, resolve: () => undefined };
      waiters.add(watcher);
      try {
        const [reply] = await Promise.all([
          next(childOf(id, 'execute_reply'), timeoutMs),
          next(
            m =>
              m.parent_header.msg_id === id &&
              m.header.msg_type === 'status' &&
              m.content.execution_state === 'idle',
            timeoutMs
          )
        ]);
        const outputs = received.filter(
          m =>
            m.channel === 'iopub' &&
            m.parent_header.msg_id === id &&
            m.header.msg_type !== 'status'
        );
        return { reply, outputs };
      } finally {
        waiters.delete(watcher);
      }
    },
    close: () => socket.close()
  };
}

/** Text a cell printed (stream) and returned (execute_result text/plain). */
export function textOf(execution: IExecution): string {
  return execution.outputs
    .map(m =>
      m.header.msg_type === 'stream'
        ? m.content.text
        : m.header.msg_type === 'execute_result'
          ? m.content.data['text/plain']
          : ''
    )
    .join('');
}
