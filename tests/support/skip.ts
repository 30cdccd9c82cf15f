/**
 * Cases that cannot run here are reported as skipped, with the reason, rather
 * than left out of a `describe.each` without a trace.
 */
export function skipMissing(
  what: string,
  missing: readonly string[],
  reason = 'is not installed here'
): void {
  for (const name of missing) {
    describe(`${what} ${name}`, () => {
      it.skip(`${name} ${reason}`, () => undefined);
    });
  }
}
