import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * `npm run test:bench`: the benchmark harness run end to end at its quick sizes (both scales, two passes,
 * a short soak), which takes minutes; kept out of `npm test` and run by CI after it. No timing asserts.
 */
export default defineConfig({
  resolve: {
    alias: { graphql: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) },
  },
  test: {
    include: ['tests/bench/bench.test.ts'],
    setupFiles: ['tests/setup.ts'],
    pool: 'forks',
    isolate: true,
    testTimeout: 1_800_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
})
