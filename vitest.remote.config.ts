import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// `npm run test:remote`: the integration and end-to-end suites against Sightline's remote store path,
// through a ClickHouse HTTP interface over chDB (tests/remote/). It proves the wire protocol, not a
// cluster. Suites that need the embedded store itself (killing and restarting a server on its data
// directory, the demo through the CLI) stay in `npm test` and `npm run test:crash`.
export default defineConfig({
  resolve: {
    alias: { graphql: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) },
  },
  test: {
    include: ['tests/integration/**/*.test.ts', 'tests/e2e/**/*.test.ts', 'tests/remote/**/*.test.ts'],
    exclude: ['tests/e2e/durability.test.ts', 'tests/e2e/demo.test.ts', 'tests/integration/workload.test.ts', 'tests/integration/migrate-interrupted.test.ts'],
    setupFiles: ['tests/setup.ts'],
    globalSetup: ['tests/global-setup.ts', 'tests/remote/global-setup.ts'],
    pool: 'forks',
    isolate: true,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
})
