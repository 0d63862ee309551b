import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// `npm run test:crash`: the deterministic crash tests (tests/crash), kept out of `npm test` for their
// length. One file; every store it drives runs in a child process of its own.
export default defineConfig({
  resolve: {
    alias: { graphql: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) },
  },
  test: {
    include: ['tests/crash/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
})
