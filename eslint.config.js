// Flat ESLint config: typescript-eslint's recommended rules, not type-aware (fast; `tsc --noEmit` does the typing).
const { defineConfig, globalIgnores } = require('eslint/config');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

/** Entry points: they wire everything, so they may import anything (the training CLIs live in src/train/). */
const ENTRY_POINTS = [
  'src/main.ts',
  'adapters/console/replay-cli.ts',
  'src/registry/cli.ts',
  'src/registry/promote-cli.ts',
  'src/registry/bench-registry.ts',
];
const NO_ADAPTERS = {
  regex: '^(\\.\\./)+adapters(/|$)',
  message: 'The core (src/) does not import adapters: define a port in the core and let the composition root wire it.',
};
const NO_ENTRY_POINTS = {
  regex: '^(\\.\\.?/)+(src/)?(main|replay-cli|registry/cli|registry/bench-registry|registry/promote-cli)$',
  message: 'Entry points (src/main.ts, the CLIs) are the top layer: nothing imports them.',
};
const NO_TRAINING = {
  regex: '^(\\.\\./)+(src/)?train(/|$)',
  message:
    'The core does not import the training code (src/train/): what the model needs lives in src/sentiment/ (e.g. labels.ts), and training imports it from there.',
};

module.exports = defineConfig(
  globalIgnores(['node_modules/', 'models/', 'data/', 'coverage/', 'dist/', 'tmp/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      globals: { ...globals.node },
    },
    rules: {
      // `_`-prefixed names mark arguments and bindings that are unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  // Layers (docs: /work/shared/design.md, "Imports point down"): entry points (src/main.ts, the CLIs) →
  // adapters/ → the core modules in src/ → store/sentiment. Nothing in the core imports an adapter, an entry
  // point or the training code; adapters import no entry point. (Specifiers are matched as written: the
  // repository imports by relative path.)
  {
    files: ['src/**/*.ts'],
    ignores: [...ENTRY_POINTS, 'src/train/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_ADAPTERS, NO_ENTRY_POINTS, NO_TRAINING] }] },
  },
  // The dashboard's front end runs in the browser (bundled by src/http/dashboard/build.ts).
  {
    files: ['src/http/dashboard/client/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['adapters/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_ENTRY_POINTS] }] },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    // Plain JavaScript config files at the root are CommonJS.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
