// Integration tests: real JupyterLab, real sidecar, real demo cluster.
// They start what they need (tests/support) and run one at a time.
module.exports = {
  displayName: 'integration',
  reporters: ['default'],
  roots: ['<rootDir>/tests/integration'],
  testEnvironment: 'node',
  // The schema validators are generated, not committed: make them first.
  globalSetup: '<rootDir>/tests/support/build-validators.js',
  testMatch: ['**/*.test.ts'],
  testTimeout: 180_000,
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: './tsconfig.test.json' }],
    '^.+\\.(sh|py|svg)$': '<rootDir>/tests/support/text-transform.js'
  }
};
