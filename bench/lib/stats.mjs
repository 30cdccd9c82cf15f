// Order statistics for benchmark samples. Medians, not means: one slow
// outlier (a page fault, a scheduler hiccup) must not move the figure.

export function sorted(samples) {
  return [...samples].sort((a, b) => a - b);
}

/** Quantile q in [0, 1] by linear interpolation between closest ranks. */
export function quantile(samples, q) {
  if (samples.length === 0) {
    throw new Error('no samples');
  }
  const s = sorted(samples);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = samples => quantile(samples, 0.5);

/**
 * The fields a row takes from a list of samples: value (p50), min, n.
 * Spread it into a row: `{ id, unit, ...summary(samples) }`.
 */
export function summary(samples) {
  return {
    value: median(samples),
    min: Math.min(...samples),
    n: samples.length,
    // Not printed; kept for --json.
    samples
  };
}
