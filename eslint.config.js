import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'bench/results/**', '.tap/**', 'coverage/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': 'off',
    },
  },
  {
    // The pure core must not read the clock or do I/O: time and randomness are passed in.
    files: ['trading-core/src/**/*.ts', 'protocol/src/canonical.ts', 'protocol/src/schemas.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Pass `now` in; the pure core has no clock.' },
        {
          object: 'Math',
          property: 'random',
          message: 'Pass randomness in; the pure core is deterministic.',
        },
      ],
      'no-restricted-imports': [
        'error',
        { patterns: ['node:fs*', 'node:net', 'node:http*', 'fs', 'net', 'http'] },
      ],
    },
  },
);
