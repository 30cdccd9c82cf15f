// Sums the results of every suite scripts/test.sh ran and prints the line CI
// reads: "N passed, N failed, N skipped". Exits non-zero if anything failed
// or a suite left no results (a crashed runner counts as one failure).
// Playwright's "flaky" tests (failed, then passed on a retry) are counted
// apart, not as passed, and shown on their suite's line.
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

const [dir, ...suites] = process.argv.slice(2);

function readJest(file) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  // A suite that failed to load or run (an error outside its tests: its
  // tests are then listed but none failed) counts as one failure.
  const broken = (r.testResults ?? []).filter(
    t =>
      t.status === 'failed' &&
      !(t.assertionResults ?? []).some(a => a.status === 'failed')
  ).length;
  return {
    passed: r.numPassedTests,
    failed: r.numFailedTests + broken,
    skipped: r.numPendingTests + r.numTodoTests
  };
}

function readPlaywright(file) {
  const s = JSON.parse(readFileSync(file, 'utf8')).stats ?? {};
  const errors = JSON.parse(readFileSync(file, 'utf8')).errors ?? [];
  return {
    passed: s.expected ?? 0,
    failed: (s.unexpected ?? 0) + errors.length,
    skipped: s.skipped ?? 0,
    flaky: s.flaky ?? 0
  };
}

// pytest's --junitxml: one <testsuite> with the counts as attributes.
function readJunit(file) {
  const xml = readFileSync(file, 'utf8');
  const suite = /<testsuite\b([^>]*)>/.exec(xml);
  if (!suite) {
    return null;
  }
  const count = name =>
    Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite[1])?.[1] ?? 0);
  const failed = count('failures') + count('errors');
  const skipped = count('skipped');
  return { passed: count('tests') - failed - skipped, failed, skipped };
}

function readLint(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  const checks = lines.map(l => JSON.parse(l));
  return {
    passed: checks.filter(c => c.ok).length,
    failed: checks.filter(c => !c.ok).length,
    skipped: 0
  };
}

const readers = {
  lint: ['lint.jsonl', readLint],
  unit: ['unit.json', readJest],
  python: ['python.xml', readJunit],
  integration: ['integration.json', readJest],
  ui: ['ui.json', readPlaywright],
  reliability: ['reliability.json', readJest],
  soak: ['soak.json', readJest]
};

let passed = 0;
let failed = 0;
let skipped = 0;
for (const suite of suites) {
  const [name, read] = readers[suite];
  const file = join(dir, name);
  let r;
  try {
    r = existsSync(file) ? read(file) : null;
  } catch {
    r = null;
  }
  if (!r || r.passed + r.failed + (r.flaky ?? 0) === 0) {
    r = { passed: r?.passed ?? 0, failed: (r?.failed ?? 0) + 1, skipped: 0 };
    console.log(`${suite.padEnd(12)} left no results: counted as 1 failed`);
  } else {
    const flaky = r.flaky ? `, ${r.flaky} flaky (passed on a retry)` : '';
    console.log(
      `${suite.padEnd(12)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${flaky}`
    );
  }
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 ? 0 : 1);
