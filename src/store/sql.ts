import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { shardStatement, tablesOf } from './cluster.js'

/** The repository's `sql/` folder, the same from `src/store` and from `dist/store`. */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url))

export interface RenderOptions {
  readonly database: string
  readonly cluster?: string | undefined
  /**
   * On a cluster: `replicated` (every host a full replica, Replicated engines ON CLUSTER) or `sharded`
   * (local replicated tables plus Distributed tables, see cluster.ts). @default "replicated"
   */
  readonly clusterMode?: 'replicated' | 'sharded' | undefined
}

const CREATE = /\bCREATE\s+(TABLE|MATERIALIZED VIEW|VIEW|DATABASE)\s+IF NOT EXISTS\s+([\w.{}]+)/g
const ALTER = /\bALTER\s+TABLE\s+([\w.{}]+)/g
const ENGINE = /\bENGINE\s*=\s*(\w*)MergeTree\b/g

/**
 * Fills `{{db}}` and, for a cluster, renders DDL `ON CLUSTER` with Replicated engines.
 * The database and cluster names come from validated config, never from requests.
 */
export function renderSql(text: string, { database, cluster }: RenderOptions): string {
  let out = text.replaceAll('{{db}}', database)
  if (cluster) {
    out = out
      .replace(CREATE, (_m, kind: string, name: string) => `CREATE ${kind} IF NOT EXISTS ${name} ON CLUSTER ${cluster}`)
      .replace(ALTER, (_m, name: string) => `ALTER TABLE ${name} ON CLUSTER ${cluster}`)
      .replace(ENGINE, (_m, flavour: string) => `ENGINE = Replicated${flavour}MergeTree`)
      .replaceAll('non_replicated_deduplication_window', 'replicated_deduplication_window')
  }
  return out
}

function stripComments(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
}

/** Splits a DDL file into statements: on `;` at a line end, with `--` comment lines removed. */
export function splitStatements(text: string): string[] {
  return stripComments(text)
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

export interface Migration {
  readonly version: number
  readonly name: string
  readonly statements: readonly string[]
}

/** Reads `sql/NNNN_name.sql` in version order, rendered for this store. */
export function loadMigrations(options: RenderOptions, dir = SQL_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({ file, text: readFileSync(dir + file, 'utf8') }))
  const sharded = options.cluster !== undefined && options.clusterMode === 'sharded'
  const db = (text: string) => text.replaceAll('{{db}}', options.database)
  const tables = sharded ? tablesOf([SCHEMA_MIGRATIONS, ...files.flatMap((f) => splitStatements(db(f.text)))].map(db)) : new Set<string>()
  return files.map(({ file, text }) => ({
    version: Number(file.slice(0, 4)),
    name: file.replace(/\.sql$/, ''),
    statements: sharded
      ? splitStatements(db(text)).flatMap((s) => shardStatement(s, options.database, options.cluster!, tables))
      : splitStatements(renderSql(text, options)),
  }))
}

/** The migrations ledger, created before any migration runs. */
export const SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS {{db}}.schema_migrations
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplacingMergeTree ORDER BY version`

/** The statements that create the database and the migrations ledger, rendered for this store. */
export function bootstrapStatements(options: RenderOptions): string[] {
  const statements = ['CREATE DATABASE IF NOT EXISTS {{db}}', SCHEMA_MIGRATIONS]
  if (options.cluster === undefined || options.clusterMode !== 'sharded') return statements.map((s) => renderSql(s, options))
  const tables = new Set(['schema_migrations'])
  return statements.map((s) => s.replaceAll('{{db}}', options.database)).flatMap((s) => shardStatement(s, options.database, options.cluster!, tables))
}

/**
 * Loads `sql/queries/<name>.sql`, rendered once and cached. `{{other}}` includes `queries/other.sql`
 * as a subquery; the caller fills any other `{{slot}}` from a closed map.
 */
export class QueryFiles {
  private readonly cache = new Map<string, string>()
  constructor(private readonly options: RenderOptions) {}

  get(name: string): string {
    let text = this.cache.get(name)
    if (text === undefined) {
      text = renderSql(stripComments(readFileSync(`${SQL_DIR}queries/${name}.sql`, 'utf8')), this.options)
        .trim()
        .replace(/;$/, '')
        .replace(/\{\{(\w+)\}\}/g, (slot, include: string) =>
          existsSync(`${SQL_DIR}queries/${include}.sql`) ? this.get(include) : slot,
        )
      this.cache.set(name, text)
    }
    return text
  }
}
