// Shared jest setup: real ESM (run with --experimental-vm-modules), TypeScript transpiled by ts-jest.
export function jestConfig(rootDir, overrides = {}) {
  return {
    rootDir,
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    transform: {
      '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: `${rootDir}/tsconfig.json`, diagnostics: false }],
    },
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    testTimeout: 30_000,
    ...overrides,
  };
}
