import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'reports/', '.stryker-tmp/', 'data/', 'coverage/', 'test-results/', 'bench/results/', 'bench/side-by-side/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A promise nobody awaits must say so (`void`) and handle its own failure.
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify hooks, Apollo plugins and MikroORM migrations must be async whether or not they await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read response bodies, which are untyped JSON; the assertions are what check their shape.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests swap a service method for a fake and put the original back.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Configuration and plain JavaScript files are outside the TypeScript project.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs', '**/*.mts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js', 'test/fixtures/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
