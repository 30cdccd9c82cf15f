// Reliability suites (issue 13): faults, hostile input, secrets — against the
// real demo cluster and a real JupyterLab, one file at a time. Each records its
// figures with tests/reliability/report.ts, which regenerates RELIABILITY.md.
// The long soak runs apart: `bash scripts/test.sh soak`.
const integration = require('./jest.integration.config.js');

module.exports = {
  ...integration,
  displayName: 'reliability',
  roots: ['<rootDir>/tests/reliability'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: process.env.JLHPC_SOAK ? [] : ['/soak/'],
  testTimeout: 600_000
};
