import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'jest.config.js', 'demo/page/**', 'deploy/cdk.out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration through src/config only' }],
    },
  },
  {
    files: ['src/config/**', 'src/main.ts', 'src/preview.ts', 'src/doctor/cli.ts', 'test/**', 'benchmarks/**', 'demo/**', 'deploy/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
