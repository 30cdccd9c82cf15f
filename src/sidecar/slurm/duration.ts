/**
 * Slurm's time texts, both ways. Pure.
 *
 * Slurm writes durations as `[days-]hours:minutes:seconds` (`1-02:03:04`,
 * `02:03:04`), drops the hours under one hour (`3:04`), and uses words for
 * the special cases: `UNLIMITED` / `infinite` (no limit), `NOT_SET`,
 * `INVALID` and `N/A` (nothing known). sbatch's `--time` takes more forms:
 * `minutes`, `minutes:seconds`, `hours:minutes:seconds`, `days-hours`,
 * `days-hours:minutes` and `days-hours:minutes:seconds`.
 */

import type { SlurmDuration } from '../../common/sessions';

export type { SlurmDuration };

const UNLIMITED_WORDS = new Set(['unlimited', 'infinite']);
const UNKNOWN_WORDS = new Set(['not_set', 'invalid', 'n/a', 'none', '']);

/** The forms sbatch's --time takes; the groups are the numbers in order. */
const WALL_TIME_FORMS: readonly [RegExp, (n: number[]) => number][] = [
  [/^(\d+)$/, ([m]) => m * 60],
  [/^(\d+):(\d+)$/, ([m, s]) => m * 60 + s],
  [/^(\d+):(\d+):(\d+)$/, ([h, m, s]) => h * 3600 + m * 60 + s],
  [/^(\d+)-(\d+)$/, ([d, h]) => d * 86400 + h * 3600],
  [/^(\d+)-(\d+):(\d+)$/, ([d, h, m]) => d * 86400 + h * 3600 + m * 60],
  [
    /^(\d+)-(\d+):(\d+):(\d+)$/,
    ([d, h, m, s]) => d * 86400 + h * 3600 + m * 60 + s
  ]
];

/**
 * A duration as squeue (`%L`, `%M`, `%l`), sinfo (`%l`) or scontrol
 * (`TimeLimit=`, `MaxTime=`) print it. Throws on text no Slurm prints.
 */
export function parseSlurmDuration(text: string): SlurmDuration {
  const t = text.trim();
  const lower = t.toLowerCase();
  if (UNLIMITED_WORDS.has(lower)) {
    return 'unlimited';
  }
  if (UNKNOWN_WORDS.has(lower)) {
    return null;
  }
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(t);
  if (!m) {
    throw new Error(`Not a Slurm duration: ${JSON.stringify(text)}`);
  }
  const [days, hours, minutes, seconds] = m
    .slice(1)
    .map(g => (g === undefined ? 0 : Number(g)));
  return days * 86400 + hours * 3600 + minutes * 60 + seconds;
}

/**
 * A wall time as a user types it for sbatch's `--time`, in seconds; throws
 * an Error whose message says which forms are accepted. Zero and values
 * past a year are refused: Slurm would take 0 as "no limit".
 */
export function parseWallTime(text: string): number {
  const t = text.trim();
  for (const [form, toSeconds] of WALL_TIME_FORMS) {
    const m = form.exec(t);
    if (m) {
      const seconds = toSeconds(m.slice(1).map(Number));
      if (seconds <= 0) {
        throw new Error('A wall time must be longer than zero.');
      }
      if (seconds > 366 * 86400) {
        throw new Error('A wall time must be at most 366 days.');
      }
      return seconds;
    }
  }
  throw new Error(
    `${JSON.stringify(t.slice(0, 40))} is not a wall time: use minutes ` +
      '(90), hours:minutes:seconds (1:30:00) or days-hours:minutes:seconds ' +
      '(1-12:00:00).'
  );
}

/** Seconds as sbatch and squeue write them: `[D-]HH:MM:SS`. */
export function formatSlurmDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(s / 86400);
  const hms = [
    Math.floor((s % 86400) / 3600),
    Math.floor((s % 3600) / 60),
    s % 60
  ]
    .map(n => String(n).padStart(2, '0'))
    .join(':');
  return days > 0 ? `${days}-${hms}` : hms;
}

/**
 * A Slurm timestamp (`2026-12-06T07:06:38`, the controller's local time) as
 * milliseconds since the epoch, or null for `N/A`, `Unknown`, `None`.
 * Slurm prints no zone: the caller passes the cluster's offset from UTC in
 * minutes (as `date +%z` on the cluster tells), so a laptop in another zone
 * still shows the right start time.
 */
export function parseSlurmTimestamp(
  text: string,
  utcOffsetMinutes: number
): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(
    text.trim()
  );
  if (!m) {
    if (/^(n\/a|unknown|none|)$/i.test(text.trim())) {
      return null;
    }
    throw new Error(`Not a Slurm timestamp: ${JSON.stringify(text)}`);
  }
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s) - utcOffsetMinutes * 60_000;
}

/** `date +%z` output (`+0100`, `-0530`) as minutes east of UTC. */
export function parseUtcOffset(text: string): number {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(text.trim());
  if (!m) {
    throw new Error(`Not a UTC offset: ${JSON.stringify(text)}`);
  }
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}
