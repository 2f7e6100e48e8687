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
  {
    // The model both simulated clouds share is pure and sits below them (docs/architecture.md).
    files: ['src/simulated-cloud/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'child_process', 'net', 'http', 'https'], message: 'src/simulated-cloud/ is pure: no I/O.' },
          { regex: '^\\.\\./(?!core/|config/types\\.js$)', message: 'src/simulated-cloud/ may import only src/core/ and src/config/types.ts.' },
        ],
      }],
    },
  },
  {
    // The OpenStack simulator is a tool, not part of the daemons: it shares the simulated cloud's model and nothing else.
    files: ['src/tools/openstack-simulator/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^\\.\\./\\.\\./(?!core/|simulated-cloud/)', message: 'The OpenStack simulator may import only src/core/ and src/simulated-cloud/.' },
        ],
      }],
    },
  },
);
