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
    // Room for a 2-core CI machine shared with every server the suite starts; tests wait on conditions.
    testTimeout: 90_000,
    ...overrides,
  };
}
