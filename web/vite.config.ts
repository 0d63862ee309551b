import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

/**
 * The web page (index.html) and the GraphiQL playground (graphiql.html), built into web/dist, which
 * the gateway serves at / and /graphiql. `npm run web:dev` serves them with reload and proxies
 * /graphql (HTTP and WebSocket) and /v0 to a gateway on :4000.
 */
export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Monaco (GraphiQL's editor) is large; it loads only on /graphiql.
    chunkSizeWarningLimit: 5000,
    rolldownOptions: {
      input: { main: `${root}index.html`, graphiql: `${root}graphiql.html` },
      // GraphiQL's dependencies mark React server-component boundaries ("use client"): meaningless here.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning)
      },
    },
  },
  worker: { format: 'es' },
  // The dev server's pre-bundling cannot follow Monaco's `?worker` imports: leave those modules to Vite itself.
  optimizeDeps: { exclude: ['graphiql/setup-workers/vite', '@graphiql/react/setup-workers/vite'] },
  server: {
    fs: { allow: [`${root}..`] },
    // The console reads the REST API (/v0/…) too.
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true }, '/v0': { target: 'http://127.0.0.1:4000' } },
  },
})
