import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * `npm run test:flood`: the slow load tests (a 2,000-socket connect storm, idle keep-alive), kept out
 * of `npm test` (their files end in `.flood.ts`, which its `*.test.ts` pattern does not match). One
 * file at a time: each floods the machine on purpose.
 */
export default defineConfig({
  resolve: {
    alias: { graphql: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) },
  },
  test: {
    include: ['tests/flood/**/*.flood.ts'],
    setupFiles: ['tests/setup.ts'],
    pool: 'forks',
    isolate: true,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
})
