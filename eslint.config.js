import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Machines are pure: no I/O, no drivers, no database (docs/architecture.md).
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'child_process', 'net', 'http', 'https'], message: 'machines/ is pure: supply effects from src/ by name.' },
          { group: ['**/src/**', 'knex', 'mysql2', 'better-sqlite3', 'pino'], message: 'machines/ is pure: supply effects from src/ by name.' },
        ],
      }],
    },
  },
);
