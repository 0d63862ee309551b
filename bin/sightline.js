#!/usr/bin/env -S node --max-semi-space-size=4
// The node flags above are the server's: V8 sizes its young generation when it starts, never after, and
// 4 MB semi-spaces (instead of up to 16) keep the gateway's resident memory under its 400 MB target through
// the soak (README, Memory). `npm start`, `npm run demo` and the benchmarks start the server with them.
// Builds what is missing or older than its sources (nothing, on a second start), then runs the CLI.
import { buildIfStale } from './build.js'

buildIfStale()
// graphql-js skips its development-only checks when NODE_ENV is production, read when it loads.
process.env.NODE_ENV ??= 'production'
await import('../dist/main.js')
