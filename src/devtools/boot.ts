/**
 * A Tinybird project in a throw-away embedded store, for tools that need ClickHouse but no server:
 * `npm run schema -- --project DIR` describes the endpoints' output columns this way.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql'
import { DATASOURCES } from '../catalog/datasources.js'
import { ProjectService } from '../domain/project.js'
import { ProjectHost } from '../graphql-project/host.js'
import { PIPES } from '../rest/pipes.js'
import { ClickHouseStore } from '../store/clickhouse-store.js'

const DATABASE = 'project'

/** Runs `fn` with the project applied in a fresh embedded store that is deleted afterwards. */
export async function withThrowawayProject<T>(dir: string, fn: (host: ProjectHost) => Promise<T>): Promise<T> {
  const project = ProjectService.parse(dir, DATABASE)
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-project-'))
  const store = ClickHouseStore.open({ url: undefined, user: 'default', password: '', database: 'sightline', cluster: undefined, dataDir })
  try {
    const host = new ProjectHost(project, store.project(DATABASE), {
      // As the server names them: a project pipe that shadows a built-in one is `<database>.<pipe>` in scopes.
      builtinPipes: new Set(PIPES.keys()),
      builtinDatasources: new Set(DATASOURCES.flatMap((d) => [d.name, ...(d.aliases ?? [])])),
    })
    await host.apply()
    return await fn(host)
  } finally {
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The SDL of `base` plus the project's `pipes` namespace, sorted like `schema.graphql`. */
export function projectSdl(dir: string, base: GraphQLSchema): Promise<string> {
  return withThrowawayProject(dir, async (host) => `${printSchema(lexicographicSortSchema(host.schema(base)))}\n`)
}
