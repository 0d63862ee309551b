#!/usr/bin/env node
// Builds what is missing or older than its sources (nothing, on a second start), then runs the CLI.
import { buildIfStale } from './build.js'

buildIfStale()
// graphql-js skips its development-only checks when NODE_ENV is production, read when it loads.
process.env.NODE_ENV ??= 'production'
await import('../dist/main.js')
