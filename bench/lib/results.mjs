// bench/results/latest.json: the committed record of the last figures, one
// number per id. Each run replaces the ids of the sections it ran and keeps
// every other id.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync
} from 'node:fs';
import { dirname } from 'node:path';

/** Round to 3 significant digits (integers from 1000 up): run-to-run noise is larger. */
export function roundFigure(v) {
  if (!Number.isFinite(v)) {
    throw new Error(`not a finite number: ${v}`);
  }
  if (Math.abs(v) >= 1000) {
    return Math.round(v);
  }
  return Number(v.toPrecision(3));
}

/** The figures a list of rows records: each row's value, and its baseline's if the baseline has an id. */
export function figuresOf(rows) {
  const out = {};
  for (const row of rows) {
    out[row.id] = roundFigure(row.value);
    if (row.baseline?.id) {
      out[row.baseline.id] = roundFigure(row.baseline.value);
    }
  }
  return out;
}

/**
 * Merge `figures` into the file: ids under `<section>.` of every section in
 * `replacedSections` are dropped first (so an id a section no longer reports
 * does not linger with an old date), everything else is kept. Keys sorted,
 * two-space indent, trailing newline: stable diffs. Written to a .tmp file
 * beside it, then renamed over it.
 */
export function mergeResults(
  file,
  { machine, date, figures, replacedSections }
) {
  let old = { results: {} };
  if (existsSync(file)) {
    try {
      old = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(
        `${file} is not valid JSON (${err.message}); fix or delete it, then run again`
      );
    }
  }
  const merged = {};
  for (const [id, v] of Object.entries(old.results ?? {})) {
    if (!replacedSections.some(s => id.startsWith(`${s}.`))) {
      merged[id] = v;
    }
  }
  Object.assign(merged, figures);
  const results = {};
  for (const id of Object.keys(merged).sort()) {
    results[id] = merged[id];
  }
  const text = JSON.stringify({ machine, date, results }, null, 2) + '\n';
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return { machine, date, results };
}
