import { lexicographicSortSchema, printSchema } from 'graphql'
import { createSchema } from './index.js'

/** The SDL of the schema, sorted so that it diffs cleanly; committed as `schema.graphql`. */
export async function printSdl(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await createSchema()))}\n`
}
