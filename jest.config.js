/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Creates the PostgreSQL test database when it is missing (nothing to prepare by hand).
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 60000,
};
