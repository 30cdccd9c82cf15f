// Unit tests: `lab` runs the frontend in JupyterLab's jsdom environment,
// `sidecar` runs the Node sidecar and the shared contract under plain Node.
const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyterlab/',
  '@microsoft',
  'exenv-es6',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

// Options jest reads only globally; inside a project they only warn.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
const { coverageReporters, reporters, testTimeout, ...labBase } =
  jestJupyterLab(__dirname);

// Keep jest away from build output and the virtual environments.
const roots = ['<rootDir>/src', '<rootDir>/tests'];

module.exports = {
  reporters: ['default'],
  // The schema validators are generated, not committed: make them first.
  globalSetup: '<rootDir>/tests/support/build-validators.js',
  // Global options: jest ignores these inside a project.
  testTimeout: 10000,
  projects: [
    {
      ...labBase,
      displayName: 'lab',
      roots,
      automock: false,
      testRegex: undefined,
      testMatch: ['<rootDir>/tests/unit/lab/**/*.spec.ts?(x)'],
      transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
    },
    {
      displayName: 'sidecar',
      roots,
      testEnvironment: 'node',
      testMatch: [
        '<rootDir>/tests/unit/sidecar/**/*.spec.ts',
        '<rootDir>/tests/unit/common/**/*.spec.ts'
      ],
      transform: {
        '^.+\\.tsx?$': ['ts-jest', { tsconfig: './tsconfig.test.json' }],
        '^.+\\.(sh|py|svg)$': '<rootDir>/tests/support/text-transform.js'
      }
    }
  ]
};
