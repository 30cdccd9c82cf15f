/*
 * scripts/summarize-tests.mjs, the closing line CI reads, run as test.sh
 * runs it on result files of the runners' shapes.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const SCRIPT = join(
  __dirname,
  '..',
  '..',
  '..',
  'scripts',
  'summarize-tests.mjs'
);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-summary-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function summarize(...suites: string[]) {
  const run = spawnSync(process.execPath, [SCRIPT, dir, ...suites], {
    encoding: 'utf8'
  });
  return { lines: run.stdout.trim().split('\n'), status: run.status };
}

describe('summarize-tests', () => {
  it('counts Playwright flaky tests apart from passed ones and shows them', () => {
    writeFileSync(
      join(dir, 'ui.json'),
      JSON.stringify({
        stats: { expected: 10, unexpected: 0, flaky: 2, skipped: 1 },
        errors: []
      })
    );
    writeFileSync(
      join(dir, 'unit.json'),
      JSON.stringify({
        numPassedTests: 5,
        numFailedTests: 0,
        numPendingTests: 0,
        numTodoTests: 0,
        testResults: []
      })
    );
    const { lines, status } = summarize('unit', 'ui');
    expect(lines).toEqual([
      'unit         5 passed, 0 failed, 0 skipped',
      'ui           10 passed, 0 failed, 1 skipped, 2 flaky (passed on a retry)',
      '15 passed, 0 failed, 1 skipped'
    ]);
    expect(status).toBe(0);
  });

  it('counts a UI run of only flaky tests as a run with results', () => {
    writeFileSync(
      join(dir, 'ui.json'),
      JSON.stringify({ stats: { expected: 0, flaky: 1 }, errors: [] })
    );
    expect(summarize('ui').lines.at(-1)).toBe('0 passed, 0 failed, 0 skipped');
  });

  it('counts a suite without results as one failure', () => {
    const { lines, status } = summarize('integration');
    expect(lines.at(-1)).toBe('0 passed, 1 failed, 0 skipped');
    expect(status).toBe(1);
  });
});
