#!/usr/bin/env node
// The benchmark runner. `node bench/run.mjs --help` for usage; bench/README.md
// for what the figures mean and how to add a section.
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { BenchError, createContext } from './lib/context.mjs';
import { figuresOf, mergeResults } from './lib/results.mjs';
import { renderTable } from './lib/table.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const RESULTS = join(BENCH, 'results', 'latest.json');

const USAGE = `usage: node bench/run.mjs [section ...] [options]

Runs the named sections (all of them if none is named), prints a table with
side-by-side ratios, and merges the figures into bench/results/latest.json.

options:
  --list          list the sections and exit
  --repeat N      repetitions per measurement, instead of each section's default
  --no-save       do not touch bench/results/latest.json
  --json FILE     also write every row of this run (n, min, baselines) to FILE
  -h, --help      this text`;

function parseCli(argv) {
  const opts = {
    sections: [],
    repeat: undefined,
    list: false,
    save: true,
    json: undefined
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) {
        throw new BenchError(`${a} needs a value`);
      }
      return v;
    };
    if (a === '-h' || a === '--help') {
      opts.help = true;
    } else if (a === '--list') {
      opts.list = true;
    } else if (a === '--no-save') {
      opts.save = false;
    } else if (a === '--repeat' || a.startsWith('--repeat=')) {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) {
        throw new BenchError('--repeat needs a whole number >= 1');
      }
      opts.repeat = n;
    } else if (a === '--json' || a.startsWith('--json=')) {
      opts.json = value();
    } else if (a.startsWith('-')) {
      throw new BenchError(`unknown option ${a}\n\n${USAGE}`);
    } else {
      opts.sections.push(a);
    }
  }
  return opts;
}

async function loadSections() {
  const dir = join(BENCH, 'sections');
  const files = readdirSync(dir)
    .filter(f => f.endsWith('.mjs'))
    .sort();
  const sections = [];
  for (const f of files) {
    const mod = await import(pathToFileURL(join(dir, f)).href);
    const s = mod.default ?? mod;
    if (typeof s.run !== 'function' || typeof s.name !== 'string') {
      throw new Error(
        `bench/sections/${f} must export name, description and run(ctx)`
      );
    }
    if (s.name !== basename(f, '.mjs')) {
      throw new Error(
        `bench/sections/${f} exports name '${s.name}'; it must match the file name`
      );
    }
    sections.push(s);
  }
  return sections;
}

function checkRows(section, rows) {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new Error(`section ${section.name} returned no rows`);
  }
  for (const r of rows) {
    if (typeof r.id !== 'string' || !r.id.startsWith(`${section.name}.`)) {
      throw new Error(
        `section ${section.name}: row id '${r.id}' must start with '${section.name}.'`
      );
    }
    if (!Number.isFinite(r.value)) {
      throw new Error(
        `section ${section.name}: row ${r.id} has no finite value`
      );
    }
    if (r.baseline && !Number.isFinite(r.baseline.value)) {
      throw new Error(
        `section ${section.name}: row ${r.id} has a baseline without a finite value`
      );
    }
    if (r.baseline?.id && !r.baseline.id.startsWith(`${section.name}.`)) {
      throw new Error(
        `section ${section.name}: baseline id '${r.baseline.id}' must start with '${section.name}.'`
      );
    }
  }
}

async function main() {
  const opts = parseCli(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const all = await loadSections();
  if (opts.list) {
    const w = Math.max(...all.map(s => s.name.length));
    for (const s of all) {
      console.log(`${s.name.padEnd(w)}  ${s.description ?? ''}`);
    }
    return 0;
  }
  const unknown = opts.sections.filter(n => !all.some(s => s.name === n));
  if (unknown.length) {
    throw new BenchError(
      `no such section: ${unknown.join(', ')} (there are: ${all.map(s => s.name).join(', ')})`
    );
  }
  const selected = opts.sections.length
    ? all.filter(s => opts.sections.includes(s.name))
    : all;

  const ctx = createContext({ root: ROOT, repeat: opts.repeat });
  const interrupted = signal => {
    process.stderr.write(
      `\ninterrupted (${signal}); stopping the processes this run started\n`
    );
    ctx._killNow();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const cpu = cpus();
  const machine = `${hostname()} ${cpu.length}x ${cpu[0]?.model ?? 'unknown cpu'}`;
  const date = new Date().toISOString();
  process.stderr.write(`bench: ${machine}, runner ${process.version}\n`);

  const done = [];
  const failed = [];
  const started = performance.now();
  for (const section of selected) {
    ctx._enter(section.name);
    process.stderr.write(`== ${section.name}: ${section.description ?? ''}\n`);
    const t0 = performance.now();
    try {
      const rows = await section.run(ctx);
      checkRows(section, rows);
      done.push({ section, rows, seconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      failed.push(section.name);
      const msg =
        err instanceof BenchError ? err.message : (err?.stack ?? String(err));
      process.stderr.write(`  [${section.name}] FAILED: ${msg}\n`);
    } finally {
      await ctx._cleanup();
    }
  }
  const seconds = (performance.now() - started) / 1000;

  for (const { section, rows, seconds: s } of done) {
    console.log(`\n### ${section.name} (${s.toFixed(1)} s)\n`);
    console.log(renderTable(rows));
  }
  console.log(
    `\n${machine}; ${date}; ${seconds.toFixed(1)} s. ` +
      'Ratios compare approaches measured side by side in this run; ' +
      'absolute figures are comparable only within one run on one machine.'
  );

  const allRows = done.flatMap(d => d.rows);
  if (opts.json) {
    writeFileSync(
      opts.json,
      JSON.stringify(
        {
          machine,
          date,
          sections: done.map(d => ({
            name: d.section.name,
            seconds: d.seconds,
            rows: d.rows
          }))
        },
        null,
        2
      ) + '\n'
    );
  }
  if (opts.save && done.length) {
    mergeResults(RESULTS, {
      machine,
      date,
      figures: figuresOf(allRows),
      replacedSections: done.map(d => d.section.name)
    });
    console.log(
      `figures merged into ${relative(process.cwd(), RESULTS) || RESULTS}`
    );
  }
  if (failed.length) {
    process.stderr.write(`failed sections: ${failed.join(', ')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  code => {
    process.exitCode = code;
  },
  err => {
    process.stderr.write(
      `bench: ${err instanceof BenchError ? err.message : err.stack}\n`
    );
    process.exitCode = 2;
  }
);
