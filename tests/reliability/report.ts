// The figures the reliability suites measure, kept in one committed file
// (tests/reliability/results.json) and published twice: RELIABILITY.md, made
// anew from that file after every record, and the `reliability.*` ids in
// bench/results/latest.json. A suite records only its own entries, so running
// one suite keeps the others' last figures.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync
} from 'fs';
import { hostname } from 'os';
import { dirname, join } from 'path';

const ROOT = join(__dirname, '..', '..');
export const RESULTS_FILE = join(__dirname, 'results.json');
export const REPORT_FILE = join(ROOT, 'RELIABILITY.md');
export const BENCH_FILE = join(ROOT, 'bench', 'results', 'latest.json');

/** One fault injected and what followed. */
export interface IFaultRecord {
  /** What was done, e.g. "sshd process serving the connection killed (SIGKILL) under an open forward". */
  fault: string;
  /** What the user sees meanwhile and after, in their words, e.g. "session row: 'Reconnecting…', then 'Running'". */
  userSees: string;
  /** Seconds from the end of the fault to full recovery (null when it did not recover). */
  recoveryS: number | null;
  /** What was lost: "nothing", or what was. */
  lost: string;
  /** Recovered within the target and lost nothing. */
  survived: boolean;
}

/** One family of generated hostile inputs. */
export interface IFuzzRecord {
  /** The field or surface, e.g. "kernel profile fields → sbatch script". */
  surface: string;
  /** Inputs tried (generated with a fixed seed). */
  inputs: number;
  /** Commands that ran though nobody asked for them (canary files found): must be 0. */
  injections: number;
  /** Inputs refused with a clear error (the rest were accepted and stored or run verbatim). */
  refused: number;
  /** Anything worth a reader's attention, e.g. the seed. */
  notes?: string;
}

/** One place searched for secrets. */
export interface ISecretsRecord {
  /** Where we looked, e.g. "ps -eo args on this computer and the cluster while a session runs". */
  place: string;
  /** Secrets looked for (token, kernel key, passphrase, …). */
  secrets: string[];
  /** Observations made (snapshots, files, lines). */
  checks: number;
  /** Secrets found: must be 0. */
  leaks: number;
  /** Where each leak was, if any. */
  where?: string[];
}

/** The long run under load. */
export interface ISoakRecord {
  minutes: number;
  trackedJobs: number;
  forwards: number;
  kernels: number;
  rssMbStart: number;
  rssMbEnd: number;
  leakedFds: number;
  leakedProcesses: number;
  leakedChannels: number;
  squeuePerMin: number;
  logErrors: number;
  notes?: string;
}

interface IResults {
  faults: Record<string, IFaultRecord & { date: string }>;
  fuzz: Record<string, IFuzzRecord & { date: string }>;
  secrets: Record<string, ISecretsRecord & { date: string }>;
  soak: (ISoakRecord & { date: string }) | null;
}

/** Recovery target: within this many seconds of the fault ending. */
export const RECOVERY_TARGET_S = 10;

function load(): IResults {
  const empty: IResults = { faults: {}, fuzz: {}, secrets: {}, soak: null };
  if (!existsSync(RESULTS_FILE)) {
    return empty;
  }
  return { ...empty, ...JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) };
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function sorted<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map(k => [k, o[k]])
  );
}

function update(change: (r: IResults) => void): void {
  const r = load();
  change(r);
  const out: IResults = {
    faults: sorted(r.faults),
    fuzz: sorted(r.fuzz),
    secrets: sorted(r.secrets),
    soak: r.soak
  };
  writeAtomic(RESULTS_FILE, JSON.stringify(out, null, 2) + '\n');
  writeAtomic(REPORT_FILE, renderReport(out));
  mergeBench(figures(out));
}

const now = (): string => new Date().toISOString();

export function recordFault(id: string, rec: IFaultRecord): void {
  update(r => {
    r.faults[id] = { ...rec, date: now() };
  });
}

export function recordFuzz(id: string, rec: IFuzzRecord): void {
  update(r => {
    r.fuzz[id] = { ...rec, date: now() };
  });
}

export function recordSecrets(id: string, rec: ISecretsRecord): void {
  update(r => {
    r.secrets[id] = { ...rec, date: now() };
  });
}

export function recordSoak(rec: ISoakRecord): void {
  update(r => {
    r.soak = { ...rec, date: now() };
  });
}

/** The `reliability.*` ids of issue 13. */
export function figures(r: IResults): Record<string, number> {
  const faults = Object.values(r.faults);
  const fuzz = Object.values(r.fuzz);
  const secrets = Object.values(r.secrets);
  const out: Record<string, number> = {};
  if (faults.length) {
    out['reliability.faults_total'] = faults.length;
    out['reliability.faults_survived'] = faults.filter(f => f.survived).length;
    const rec = faults.map(f => f.recoveryS);
    // A fault that never recovered has no finite recovery time: report -1.
    out['reliability.max_recovery_s'] = rec.some(s => s === null)
      ? -1
      : round(Math.max(...(rec as number[])));
  }
  if (fuzz.length) {
    out['reliability.fuzz_inputs'] = sum(fuzz.map(f => f.inputs));
    out['reliability.injections'] = sum(fuzz.map(f => f.injections));
  }
  if (secrets.length) {
    out['reliability.secret_leaks'] = sum(secrets.map(s => s.leaks));
  }
  if (r.soak) {
    out['reliability.soak_rss_mb.start'] = round(r.soak.rssMbStart);
    out['reliability.soak_rss_mb.end'] = round(r.soak.rssMbEnd);
    out['reliability.soak_leaked_fds'] = r.soak.leakedFds;
  }
  return out;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const round = (v: number): number => Number(v.toPrecision(3));

function mergeBench(ids: Record<string, number>): void {
  let old: {
    machine?: string;
    date?: string;
    results?: Record<string, number>;
  } = {};
  if (existsSync(BENCH_FILE)) {
    old = JSON.parse(readFileSync(BENCH_FILE, 'utf8'));
  }
  const merged = { ...(old.results ?? {}) };
  for (const k of Object.keys(merged)) {
    if (k.startsWith('reliability.')) {
      delete merged[k];
    }
  }
  Object.assign(merged, ids);
  const out = {
    machine: old.machine ?? hostname(),
    date: now(),
    results: sorted(merged)
  };
  writeAtomic(BENCH_FILE, JSON.stringify(out, null, 2) + '\n');
}

const cell = (s: string | number | null): string =>
  String(s ?? '—')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

/** RELIABILITY.md: the targets, then every record, as tables. */
export function renderReport(r: IResults): string {
  const ids = figures(r);
  const lines: string[] = [
    '# Reliability and security, measured',
    '',
    '<!-- Generated by the reliability suites (tests/reliability/report.ts) from',
    '     tests/reliability/results.json: edit those, not this file. -->',
    '',
    'Made by `bash scripts/test.sh reliability` (faults, hostile input, secrets; part of',
    "the README's test command) and `bash scripts/test.sh soak` (the long run under load),",
    'against the demo cluster, real sshd, real Slurm and a real JupyterLab.',
    '',
    '## Figures',
    '',
    '| id | figure | target |',
    '|---|---|---|'
  ];
  const targets: Record<string, string> = {
    'reliability.faults_total': '—',
    'reliability.faults_survived': '= faults_total',
    'reliability.max_recovery_s': `≤ ${RECOVERY_TARGET_S}`,
    'reliability.fuzz_inputs': '≥ 1,000',
    'reliability.injections': '0',
    'reliability.secret_leaks': '0',
    'reliability.soak_rss_mb.start': '—',
    'reliability.soak_rss_mb.end': '≤ 1.1 × start',
    'reliability.soak_leaked_fds': '0'
  };
  for (const [id, target] of Object.entries(targets)) {
    lines.push(`| \`${id}\` | ${cell(ids[id] ?? null)} | ${target} |`);
  }
  const faults = Object.entries(r.faults);
  if (faults.length) {
    lines.push(
      '',
      '## Faults',
      '',
      `Recovery is timed from the end of the fault; the target is ${RECOVERY_TARGET_S} s and nothing lost.`,
      '',
      '| fault | what the user sees | recovery (s) | lost | survived |',
      '|---|---|---|---|---|'
    );
    for (const [, f] of faults) {
      lines.push(
        `| ${cell(f.fault)} | ${cell(f.userSees)} | ${cell(f.recoveryS)} | ${cell(f.lost)} | ${f.survived ? 'yes' : '**no**'} |`
      );
    }
  }
  const fuzz = Object.entries(r.fuzz);
  if (fuzz.length) {
    lines.push(
      '',
      '## Hostile input',
      '',
      '| surface | inputs | refused | injections | notes |',
      '|---|---|---|---|---|'
    );
    for (const [, f] of fuzz) {
      lines.push(
        `| ${cell(f.surface)} | ${f.inputs} | ${f.refused} | ${f.injections} | ${cell(f.notes ?? '')} |`
      );
    }
  }
  const secrets = Object.entries(r.secrets);
  if (secrets.length) {
    lines.push(
      '',
      '## Secrets',
      '',
      '| where we looked | secrets | checks | leaks |',
      '|---|---|---|---|'
    );
    for (const [, s] of secrets) {
      const where = s.where?.length ? ` (${s.where.join('; ')})` : '';
      lines.push(
        `| ${cell(s.place)} | ${cell(s.secrets.join(', '))} | ${s.checks} | ${s.leaks}${cell(where)} |`
      );
    }
  }
  if (r.soak) {
    const s = r.soak;
    lines.push(
      '',
      '## Soak',
      '',
      `${s.minutes} minutes with ${s.trackedJobs} tracked jobs, ${s.forwards} sessions' forwards and ${s.kernels} cluster kernels carrying traffic (${s.date.slice(0, 10)}).`,
      '',
      '| measure | figure |',
      '|---|---|',
      `| sidecar RSS at start / end (MB) | ${s.rssMbStart} / ${s.rssMbEnd} |`,
      `| leaked file descriptors | ${s.leakedFds} |`,
      `| leaked processes (both machines) | ${s.leakedProcesses} |`,
      `| leaked SSH channels | ${s.leakedChannels} |`,
      `| squeue calls per minute | ${s.squeuePerMin} |`,
      `| errors in the logs | ${s.logErrors} |`
    );
    if (s.notes) {
      lines.push('', s.notes);
    }
  }
  lines.push('');
  return lines.join('\n');
}
