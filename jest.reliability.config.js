// The reliability suite (docs/reliability.md): kill -9 and restart, injected faults, replays,
// two instances, fuzz. Run by `npm run test:reliability` (which builds dist/ first) and by
// .ci/run after `npm test`; kept apart so `npm test` stays fast.
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // One file at a time: the kill -9 run starts real processes and wants the two cores.
  maxWorkers: 1,
  testTimeout: 300_000,
};
