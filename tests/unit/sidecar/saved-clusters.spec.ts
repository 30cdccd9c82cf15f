/**
 * The last cluster list kept for a sidecar started with no page open:
 * checked as a PUT of the list is (all or nothing), written owner-only,
 * and a damaged file gives no clusters rather than half of them.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import {
  parseSavedClusters,
  savedClustersFile
} from '../../../src/sidecar/clusters/saved-clusters';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jlhpc-saved-clusters-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry = { name: 'hpc', host: 'login.example.org', user: 'ada' };

describe('parseSavedClusters', () => {
  it('takes a list as the settings check it', () => {
    expect(
      parseSavedClusters({
        version: 1,
        clusters: [entry],
        allocationGraceMinutes: 5
      })
    ).toEqual({
      version: 1,
      clusters: [expect.objectContaining(entry)],
      allocationGraceMinutes: 5
    });
    expect(
      parseSavedClusters({ version: 1, clusters: [] }).allocationGraceMinutes
    ).toBeNull();
  });

  it.each([
    ['no version', { clusters: [] }],
    ['another version', { version: 2, clusters: [] }],
    ['clusters not a list', { version: 1, clusters: {} }],
    [
      'an entry the schema refuses',
      { version: 1, clusters: [entry, { name: 'bad name', host: 'x' }] }
    ],
    [
      'a grace period out of range',
      { version: 1, clusters: [], allocationGraceMinutes: 1441 }
    ],
    [
      'a grace period of another type',
      { version: 1, clusters: [], allocationGraceMinutes: '5' }
    ],
    ['not an object', null]
  ])('refuses %s', (_what, raw) => {
    expect(() => parseSavedClusters(raw)).toThrow();
  });
});

describe('the clusters file', () => {
  it('keeps the list owner-only and gives it back', async () => {
    const path = join(dir, 'jupyterlab_hpc', 'clusters.json');
    const state = {
      version: 1 as const,
      clusters: parseSavedClusters({ version: 1, clusters: [entry] }).clusters,
      allocationGraceMinutes: 2
    };
    await savedClustersFile(path).save(state);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const { state: back, report } = await savedClustersFile(path).load();
    expect(back).toEqual(state);
    expect(report.source).toBe('file');
  });

  it('gives no clusters for a file changed by hand into something else, and sets it aside', async () => {
    const path = join(dir, 'clusters.json');
    writeFileSync(
      path,
      JSON.stringify({ version: 1, clusters: [{ name: 'x', host: '' }] })
    );
    const { state, report } = await savedClustersFile(path).load();
    expect(state.clusters).toEqual([]);
    expect(report.problem).toMatch(/not valid/);
    expect(readdirSync(dir).some(f => f.startsWith('clusters.json.bad-'))).toBe(
      true
    );
  });
});
