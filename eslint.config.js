// Lint: typescript-eslint's recommended rules plus the layer rules of the design
// (README "Design"): each folder may import only the folders below it, and only
// through their index.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Which in-project folders each folder may import (besides itself). */
const LAYERS = {
  shared: [],
  codec: ['shared'],
  params: ['codec', 'shared'],
  config: ['shared', 'codec', 'params'],
  observe: ['codec', 'params', 'shared'],
  transport: ['codec', 'shared'],
  bus: ['transport', 'codec', 'params', 'shared'],
  gateway: ['bus', 'transport', 'observe', 'codec', 'params', 'shared', 'config'],
  store: ['gateway', 'observe', 'codec', 'params', 'shared', 'config'],
  api: ['gateway', 'store', 'bus', 'observe', 'codec', 'params', 'shared', 'config'],
  metrics: ['gateway', 'store', 'bus', 'params', 'shared', 'config'],
  mqtt: ['gateway', 'params', 'shared', 'config'],
};
const FOLDERS = Object.keys(LAYERS);

/** An arrow or function with an empty body and no comment in it. */
const EMPTY_FN = (where) =>
  [`${where}[type="ArrowFunctionExpression"][body.type="BlockStatement"][body.body.length=0]`, `${where}[type="FunctionExpression"][body.body.length=0]`];
const SILENT_MESSAGE =
  'An empty rejection handler drops an error silently: log it at debug level (dropped(log, what) from shared), or handle it.';
/** `.catch(() => {})` and `.then(ok, () => {})`. */
const SILENT_DROPS = [
  ...EMPTY_FN('CallExpression[callee.property.name="catch"] > .arguments:first-child').map((selector) => ({ selector, message: SILENT_MESSAGE })),
  ...EMPTY_FN('CallExpression[callee.property.name="then"] > .arguments:nth-child(2)').map((selector) => ({ selector, message: SILENT_MESSAGE })),
];

function layerRule(folder, allowed, prefix, depth = 1) {
  const forbidden = FOLDERS.filter((f) => f !== folder && !allowed.includes(f));
  // depth 1: a file of the folder itself; 2: a file in a subfolder of it (e.g. gateway/bridge/).
  const up = '../'.repeat(depth);
  return {
    files: depth === 1 ? [`${prefix}/*.ts`] : [`${prefix}/*/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...forbidden.map((f) => ({
              group: [`**/${f}`, `**/${f}/*`, `**/${f}/**`],
              message: `${prefix} may not import ${f}: see the layer diagram in README.md (Design).`,
            })),
            {
              group: [`${up}*/*`, `!${up}*/index.js`, `${up}../*`],
              message: 'Import another folder only through its index.js.',
            },
            { group: ['**/simulator/**', '**/simulator'], message: 'Only the composition root and tests may use the simulator.' },
            { group: ['**/web/**'], message: 'Nothing imports the dashboard (web/): it is a client of the HTTP API.' },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.dist-*/**', 'coverage/**', 'data/**', 'openapi/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...Object.entries(LAYERS).flatMap(([folder, allowed]) => [layerRule(folder, allowed, `src/${folder}`), layerRule(folder, allowed, `src/${folder}`, 2)]),
  {
    // The dashboard (web/) sits above everything and talks to the gateway only over HTTP, as any
    // other client does: it imports nothing of src/ or simulator/, and nothing imports it.
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src/**', '**/simulator/**', '**/test/**'], message: 'The dashboard talks to the gateway over HTTP only (README "Design").' }] },
      ],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': ['error', ...SILENT_DROPS],
    },
  },
  {
    // No silent drops: a caught error is logged at debug level (shared's `dropped(log, what)`) or
    // the empty handler carries a comment saying why nothing can be said.
    files: ['src/**/*.ts', 'simulator/**/*.ts'],
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': ['error', ...SILENT_DROPS],
    },
  },
  {
    // The simulator stands apart from the gateway so that it cannot share a bug with it.
    files: ['simulator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: FOLDERS.filter((f) => !['codec', 'params', 'shared'].includes(f)).flatMap((f) => [`**/src/${f}`, `**/src/${f}/**`]),
              message: 'The simulator imports only codec, params and shared.',
            },
            { group: ['../src/*/*', '!../src/*/index.js'], message: 'Import another folder only through its index.js.' },
          ],
        },
      ],
    },
  },
);
