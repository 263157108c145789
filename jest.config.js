/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest'],
    // eld (the language identifier, src/sentiment/language.ts) ships ES modules only: compiled to CommonJS too.
    '/node_modules/eld/.+\\.js$': ['@swc/jest'],
  },
  transformIgnorePatterns: ['/node_modules/(?!eld/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Creates the PostgreSQL test database when it is missing (nothing to prepare by hand).
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 60000,
};
