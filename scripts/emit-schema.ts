// Writes schema.graphql from the type-graphql classes (npm run schema); a test fails when it drifts.
import 'reflect-metadata'
import { writeFileSync } from 'node:fs'
import { printSdl } from '../src/schema/print.js'

writeFileSync(new URL('../schema.graphql', import.meta.url), await printSdl())
console.log('schema.graphql written')
