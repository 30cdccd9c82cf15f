import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import globals from 'globals';
import jupyterPlugin from '@jupyter/eslint-plugin';

export default defineConfig([
  {
    ignores: [
      'node_modules',
      'lib',
      'coverage',
      '.venv',
      '.demo',
      '.test-work',
      'jupyterlab_hpc',
      'tests/ui/test-results',
      'tests/ui/playwright-report',
      '**/*.js',
      '**/*.d.ts'
    ]
  },
  { plugins: { jupyter: jupyterPlugin } },
  js.configs.recommended,
  {
    // Build scripts and benchmarks: plain Node ES modules.
    files: ['**/*.mjs'],
    languageOptions: { globals: { ...globals.node } }
  },
  tseslint.configs.recommended,
  jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: {
        ...globals.browser,
        ...globals.es2015,
        ...globals.node
      },
      parserOptions: {
        project: ['tsconfig.test.json'],
        sourceType: 'module'
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: {
            regex: '^I[A-Z]',
            match: true
          }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    // Every module these plugins import is needed in activate() at once (the
    // side panel, its commands and the sidecar watch are all visible at start).
    files: ['src/lab/plugins/*.ts'],
    rules: { 'jupyter/prefer-lazy-imports': 'off' }
  },
  {
    // The sidecar and the tests are not UI: their strings reach the user
    // only through the frontend, which shows the sidecar's messages as sent.
    files: ['src/sidecar/**', 'src/common/**', 'tests/**'],
    rules: { 'jupyter/no-untranslated-string': 'off' }
  },
  prettierRecommended
]);
