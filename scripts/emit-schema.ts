// Writes schema.graphql from the type-graphql classes (npm run schema); a test fails when it drifts.
// `npm run schema -- --project DIR [--out FILE]` writes the schema with that Tinybird project's `pipes`
// (its endpoints described by a throw-away embedded store) to FILE (default: DIR/schema.graphql).
import 'reflect-metadata'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { printSdl } from '../src/schema/print.js'

const { values } = parseArgs({ options: { project: { type: 'string' }, out: { type: 'string' } }, strict: true })
if (values.project === undefined) {
  writeFileSync(new URL('../schema.graphql', import.meta.url), await printSdl())
  console.log('schema.graphql written')
} else {
  const { createSchema } = await import('../src/schema/index.js')
  const { projectSdl } = await import('../src/devtools/boot.js')
  const out = values.out ?? join(values.project, 'schema.graphql')
  writeFileSync(out, await projectSdl(values.project, await createSchema()))
  console.log(`${out} written (the built-in schema and the pipes of ${values.project})`)
}
