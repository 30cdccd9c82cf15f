/**
 * Small helpers the hostile-input suite shares between its surfaces: a
 * bounded pool of concurrent requests, a tally of what each surface did
 * with its inputs, and the check that a refusal is a clear one.
 */

/** Run `fn` over `items`, at most `n` at a time, in order of start. */
export async function pool<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** What a surface did with its inputs. */
export class Tally {
  inputs = 0;
  refused = 0;
  accepted = 0;
  /** Answers that were not a clear refusal: status, code and what was sent. */
  unclear: string[] = [];
  /** Refusals by error code, for the notes. */
  codes = new Map<string, number>();

  refuse(code: string): void {
    this.refused++;
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }

  codeSummary(): string {
    return [...this.codes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
  }
}

/** The error body of the sidecar's contract, if `body` is one. */
export function errorOf(
  body: unknown
): { code: string; message: string } | null {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)
    ?.error;
  if (
    e &&
    typeof e.code === 'string' &&
    e.code !== '' &&
    typeof e.message === 'string' &&
    e.message.trim().length > 10
  ) {
    return { code: e.code, message: e.message };
  }
  return null;
}

/** A short, printable picture of a hostile value for failure messages. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const s = JSON.stringify(text ?? String(value));
  return s.length > 120 ? `${s.slice(0, 100)}…(${s.length} chars)` : s;
}
