/**
 * Jest runs the TypeScript tests through ts-jest, transpiling each file alone (tsconfig's
 * isolatedModules) without type checking: `npm test` runs `tsc --noEmit` beside it (test/run.sh). The workers
 * share the plans they make through a directory made per run (test/global-setup.ts).
 */
const os = require("os");

module.exports = {
    testEnvironment: "node",
    roots: ["<rootDir>/test"],
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
    // Loaded on first use (test/lazy/typescript.js says why).
    moduleNameMapper: {
        "^typescript$": "<rootDir>/test/lazy/typescript.js",
        "^@npmcli/arborist$": "<rootDir>/test/lazy/arborist.js",
    },
    globalSetup: "<rootDir>/test/global-setup.ts",
    globalTeardown: "<rootDir>/test/global-teardown.ts",
    // Jest's default leaves a core to its parent process, which only waits here: one worker on two cores.
    maxWorkers: Math.max(2, os.availableParallelism()),
    testTimeout: 60000,
};
