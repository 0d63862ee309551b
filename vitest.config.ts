import { fileURLToPath } from 'node:url'
import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // type-graphql requires graphql's CJS build; one copy of graphql avoids "another module or realm".
    alias: { graphql: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // tests/crash: npm run test:crash; tests/remote: npm run test:remote (they need their own setup);
    // the bench harness end to end: npm run test:bench (minutes).
    exclude: [...configDefaults.exclude, 'tests/crash/**', 'tests/remote/**', 'tests/bench/bench.test.ts'],
    setupFiles: ['tests/setup.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // chDB allows one data directory per process: every test file gets its own fork.
    pool: 'forks',
    isolate: true,
    // Generous: a loaded 2-core machine can be 5x slower than a quiet one; no test asserts a duration.
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
})
