/**
 * What to do when a project restarts with changed datafiles (issue 21 §2): additive changes become
 * ALTER statements; anything that would lose or silently reinterpret rows is refused with a message
 * that says what changed and what to do. Pure: it compares the datafile that was applied last time
 * (the server keeps its text) with the new one, so it never depends on how ClickHouse reformats DDL.
 *
 * Applied: new datasources (table and quarantine table), new columns (`ADD COLUMN … AFTER …`), a new,
 * changed or removed DEFAULT or CODEC, lossless type changes (integer widening, UIntN → wider IntM,
 * Float32 → Float64, T → Nullable(T), T ↔ LowCardinality(T)), new, changed or dropped data-skipping
 * indexes, ENGINE_SETTINGS other than the index granularity. Json paths, descriptions and tokens need
 * no DDL. A materialized view whose SQL changed is dropped and created again (it holds no rows).
 *
 * With a `FORWARD_QUERY` (Tinybird's way to make an incompatible change: a SELECT list, no FROM, run
 * over the existing rows), a change that would otherwise be refused is made by building the new table
 * under a new name, copying the rows through the query (matched by column name), and exchanging the two
 * tables; the previous rows stay in `<name>__before_<UTC timestamp>` (never dropped here). The same FORWARD_QUERY
 * left in the datafile does nothing on later starts, since nothing is refused then.
 *
 * Refused while the table has rows and there is no FORWARD_QUERY (allowed on an empty table, which is
 * recreated or altered): a
 * removed column, any other type change, any type change of a column used in a key (ClickHouse cannot
 * alter those in place), a different engine, sorting, partition or primary key, a changed TTL, a
 * changed index granularity. Nothing here ever drops a table that has rows.
 */
import { datasourceDdl, quarantineDdl, quoteIdentifier, sortingKey, type Column, type Datasource } from './datafile.js'

export interface DatasourcePlan {
  /** Statements to run in order (empty when nothing changed or everything was refused). */
  readonly statements: readonly string[]
  /**
   * True when the table was rebuilt under its name (a recreated empty table or a FORWARD_QUERY
   * migration): materialized views writing to it must be created again, since ClickHouse binds a
   * view's target to the table, not to its name.
   */
  readonly rebuilt?: boolean
  /** One line per change that was applied, for the start-up log. */
  readonly changes: readonly string[]
  /** One message per change that was refused; the datasource must not be touched when non-empty. */
  readonly refusals: readonly string[]
}

const norm = (s: string | undefined) => (s ?? '').replace(/\s+/g, ' ').replace(/\s*([(),=])\s*/g, '$1').trim()
const unparen = (s: string) => {
  const t = norm(s)
  return /^\(.*\)$/.test(t) ? t.slice(1, -1) : t
}

const INT = /^(U?)Int(8|16|32|64|128|256)$/

/** True when every value of type `from` is kept exactly by type `to`. */
export function losslessTypeChange(from: string, to: string): boolean {
  const a = norm(from)
  const b = norm(to)
  if (a === b) return true
  const inner = (t: string, w: string) => (t.startsWith(`${w}(`) && t.endsWith(')') ? t.slice(w.length + 1, -1) : undefined)
  const bNullable = inner(b, 'Nullable')
  if (bNullable !== undefined && losslessTypeChange(a, bNullable)) return true
  const aLc = inner(a, 'LowCardinality')
  const bLc = inner(b, 'LowCardinality')
  if (aLc !== undefined && losslessTypeChange(aLc, b)) return true
  if (bLc !== undefined && losslessTypeChange(a, bLc)) return true
  const ai = INT.exec(a)
  const bi = INT.exec(b)
  if (ai && bi) {
    const [aU, aBits, bU, bBits] = [ai[1] === 'U', Number(ai[2]), bi[1] === 'U', Number(bi[2])]
    return aU === bU ? bBits >= aBits : aU && !bU && bBits > aBits
  }
  return a === 'Float32' && b === 'Float64'
}

function columnDdl(c: Column): string {
  return `${quoteIdentifier(c.name)} ${c.type}${c.default !== undefined ? ` DEFAULT ${c.default}` : ''}${c.codec !== undefined ? ` CODEC(${c.codec})` : ''}`
}

/** Columns named in the sorting, partition, primary or engine keys and the TTL. */
function keyColumns(ds: Datasource): Set<string> {
  const e = ds.engine
  const text = [sortingKey(ds), e.partitionKey, e.primaryKey, e.ver, e.isDeleted, e.sign, e.version, e.summingColumns, e.ttl].filter((x) => x !== undefined).join(' ')
  const words = new Set(text.match(/`[^`]+`|[A-Za-z_][A-Za-z0-9_]*/g)?.map((w) => w.replace(/`/g, '')) ?? [])
  return new Set(ds.columns.map((c) => c.name).filter((name) => words.has(name)))
}

function settingsMap(ds: Datasource): Map<string, string> {
  return new Map(ds.engine.settings.map(([k, v]) => [k, norm(v)]))
}

/**
 * The plan to bring `database.<name>` from `previous` (the datafile applied last time, undefined for a
 * new datasource) to `next`. `rows` is the table's current row count (refusals only apply when > 0).
 */
export function planDatasource(previous: Datasource | undefined, next: Datasource, database: string, rows: number, now = new Date()): DatasourcePlan {
  const table = `${quoteIdentifier(database)}.${quoteIdentifier(next.name)}`
  const where = `datasource ${next.name} (${next.file})`
  if (!previous) return { statements: [datasourceDdl(next, database), quarantineDdl(next, database)], changes: [`${where}: created`], refusals: [] }
  const statements: string[] = []
  const changes: string[] = []
  const refusals: string[] = []
  const hasRows = rows > 0
  const refuse = (what: string, todo: string) => refusals.push(`${where}: ${what}; the table has ${rows} rows, so this would lose or reinterpret data. ${todo}`)

  // Table-level: engine and keys. On an empty table these are applied by recreating it.
  const tableLevel: string[] = []
  const family = (ds: Datasource) => norm(ds.engine.type)
  if (family(previous) !== family(next)) tableLevel.push(`ENGINE changes from ${previous.engine.type} to ${next.engine.type}`)
  for (const [label, get] of [
    ['ENGINE_VER', (d: Datasource) => d.engine.ver],
    ['ENGINE_IS_DELETED', (d: Datasource) => d.engine.isDeleted],
    ['ENGINE_SIGN', (d: Datasource) => d.engine.sign],
    ['ENGINE_VERSION', (d: Datasource) => d.engine.version],
    ['ENGINE_SUMMING_COLUMNS', (d: Datasource) => d.engine.summingColumns],
    ['ENGINE_PARTITION_KEY', (d: Datasource) => d.engine.partitionKey],
    ['ENGINE_PRIMARY_KEY', (d: Datasource) => d.engine.primaryKey],
    ['ENGINE_SORTING_KEY', (d: Datasource) => sortingKey(d)],
    ['ENGINE_TTL', (d: Datasource) => d.engine.ttl],
  ] as const) {
    const [a, b] = [get(previous), get(next)]
    if (unparen(a ?? '') !== unparen(b ?? '')) tableLevel.push(`${label} changes from ${JSON.stringify(a ?? '')} to ${JSON.stringify(b ?? '')}`)
  }
  const prevSettings = settingsMap(previous)
  const nextSettings = settingsMap(next)
  // ClickHouse's defaults, so that writing the default explicitly is no change.
  const granularity: Record<string, string> = { index_granularity: '8192', index_granularity_bytes: '10485760' }
  for (const key of Object.keys(granularity)) {
    const [a, b] = [prevSettings.get(key) ?? granularity[key]!, nextSettings.get(key) ?? granularity[key]!]
    if (a !== b) tableLevel.push(`ENGINE_SETTINGS ${key} changes from ${a} to ${b}`)
  }
  // ClickHouse cannot change the type of a column used in a key in place (not even widening it).
  const keys = keyColumns(previous)
  for (const c of next.columns) {
    const old = previous.columns.find((x) => x.name === c.name)
    if (old && keys.has(c.name) && norm(old.type) !== norm(c.type)) tableLevel.push(`column ${c.name}, which is part of the table's keys, changes type from ${old.type} to ${c.type}`)
  }
  if (tableLevel.length > 0) {
    if (hasRows && next.forwardQuery !== undefined) return forward(previous, next, database, [...tableLevel, ...columnDifferences(previous, next, keys)], now)
    if (hasRows) {
      for (const what of tableLevel) refuse(what, 'Keep the old value, add a FORWARD_QUERY that maps the old rows to the new schema, or create a new datasource and copy the rows with a copy pipe.')
      return { statements: [], changes: [], refusals }
    }
    return {
      statements: [`DROP TABLE IF EXISTS ${table}`, datasourceDdl(next, database), `DROP TABLE IF EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(`${next.name}_quarantine`)}`, quarantineDdl(next, database)],
      changes: tableLevel.map((what) => `${where}: ${what} (the table was empty and was recreated)`),
      refusals: [],
      rebuilt: true,
    }
  }

  // Columns.
  const before = new Map(previous.columns.map((c) => [c.name, c]))
  const after = new Map(next.columns.map((c) => [c.name, c]))
  for (const c of previous.columns) {
    if (after.has(c.name)) continue
    if (hasRows) refuse(`column ${c.name} was removed from the datafile`, `Put it back, or drop it yourself with ALTER TABLE ${table} DROP COLUMN ${quoteIdentifier(c.name)} if its data is not needed.`)
    else {
      statements.push(`ALTER TABLE ${table} DROP COLUMN IF EXISTS ${quoteIdentifier(c.name)}`)
      changes.push(`${where}: column ${c.name} dropped (the table was empty)`)
    }
  }
  next.columns.forEach((c, i) => {
    const old = before.get(c.name)
    if (!old) {
      const previousName = next.columns[i - 1]?.name
      statements.push(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${columnDdl(c)}${previousName !== undefined ? ` AFTER ${quoteIdentifier(previousName)}` : ' FIRST'}`)
      changes.push(`${where}: column ${c.name} ${c.type} added`)
      return
    }
    const typeChanged = norm(old.type) !== norm(c.type)
    if (typeChanged && hasRows && !losslessTypeChange(old.type, c.type)) {
      refuse(`column ${c.name} changes type from ${old.type} to ${c.type}`, `Keep ${old.type}, or add a new column with the new type (and a DEFAULT computed from ${c.name}) and stop using the old one.`)
      return
    }
    if (typeChanged) {
      statements.push(`ALTER TABLE ${table} MODIFY COLUMN ${columnDdl(c)}`)
      changes.push(`${where}: column ${c.name} type ${old.type} -> ${c.type}`)
      return
    }
    if (norm(old.default) !== norm(c.default)) {
      statements.push(c.default === undefined ? `ALTER TABLE ${table} MODIFY COLUMN ${quoteIdentifier(c.name)} REMOVE DEFAULT` : `ALTER TABLE ${table} MODIFY COLUMN ${quoteIdentifier(c.name)} DEFAULT ${c.default}`)
      changes.push(`${where}: column ${c.name} DEFAULT ${c.default === undefined ? 'removed' : `set to ${c.default}`}`)
    }
    if (norm(old.codec) !== norm(c.codec)) {
      statements.push(c.codec === undefined ? `ALTER TABLE ${table} MODIFY COLUMN ${quoteIdentifier(c.name)} REMOVE CODEC` : `ALTER TABLE ${table} MODIFY COLUMN ${quoteIdentifier(c.name)} ${c.type} CODEC(${c.codec})`)
      changes.push(`${where}: column ${c.name} CODEC ${c.codec === undefined ? 'removed' : `set to ${c.codec}`}`)
    }
    if (old.jsonPath !== c.jsonPath) changes.push(`${where}: column ${c.name} now reads ${c.jsonPath ?? `$.${c.name}`} (ingest only)`)
  })

  // Data-skipping indexes.
  const oldIdx = new Map(previous.indexes.map((x) => [x.name, x]))
  const newIdx = new Map(next.indexes.map((x) => [x.name, x]))
  for (const x of previous.indexes) {
    const y = newIdx.get(x.name)
    if (y && norm(x.expr) === norm(y.expr) && norm(x.type) === norm(y.type) && x.granularity === y.granularity) continue
    statements.push(`ALTER TABLE ${table} DROP INDEX IF EXISTS ${quoteIdentifier(x.name)}`)
    if (!y) changes.push(`${where}: index ${x.name} dropped`)
  }
  for (const y of next.indexes) {
    const x = oldIdx.get(y.name)
    if (x && norm(x.expr) === norm(y.expr) && norm(x.type) === norm(y.type) && x.granularity === y.granularity) continue
    statements.push(`ALTER TABLE ${table} ADD INDEX IF NOT EXISTS ${quoteIdentifier(y.name)} ${y.expr} TYPE ${y.type} GRANULARITY ${y.granularity}`)
    statements.push(`ALTER TABLE ${table} MATERIALIZE INDEX ${quoteIdentifier(y.name)}`)
    changes.push(`${where}: index ${y.name} ${x ? 'changed' : 'added'}`)
  }

  // Other settings.
  for (const [k, v] of nextSettings) {
    if (k === 'index_granularity' || k === 'index_granularity_bytes' || prevSettings.get(k) === v) continue
    statements.push(`ALTER TABLE ${table} MODIFY SETTING ${k} = ${next.engine.settings.find(([key]) => key === k)![1]}`)
    changes.push(`${where}: setting ${k} = ${v}`)
  }
  for (const k of prevSettings.keys()) {
    if (nextSettings.has(k) || k === 'index_granularity' || k === 'index_granularity_bytes') continue
    statements.push(`ALTER TABLE ${table} RESET SETTING ${k}`)
    changes.push(`${where}: setting ${k} reset`)
  }

  // Quarantine columns follow the datasource's columns (all Nullable(String), nothing to lose).
  const quarantine = `${quoteIdentifier(database)}.${quoteIdentifier(`${next.name}_quarantine`)}`
  for (const c of next.columns) if (!before.has(c.name)) statements.push(`ALTER TABLE ${quarantine} ADD COLUMN IF NOT EXISTS ${quoteIdentifier(c.name)} Nullable(String)`)

  if (refusals.length > 0 && next.forwardQuery !== undefined) return forward(previous, next, database, refusals.map((r) => r.slice(`${where}: `.length).split(';')[0]!), now)
  return refusals.length > 0 ? { statements: [], changes: [], refusals } : { statements, changes, refusals }
}

/** Removed columns and type changes (other than of key columns, reported with the keys). */
function columnDifferences(previous: Datasource, next: Datasource, keys: ReadonlySet<string>): string[] {
  const out = previous.columns.filter((c) => !next.columns.some((n) => n.name === c.name)).map((c) => `column ${c.name} was removed from the datafile`)
  for (const c of next.columns) {
    const old = previous.columns.find((o) => o.name === c.name)
    if (old && !keys.has(c.name) && norm(old.type) !== norm(c.type)) out.push(`column ${c.name} changes type from ${old.type} to ${c.type}`)
  }
  return out
}

/** The FORWARD_QUERY migration: new table, rows copied through the query, tables exchanged. */
function forward(previous: Datasource, next: Datasource, database: string, reasons: readonly string[], now: Date): DatasourcePlan {
  const where = `datasource ${next.name} (${next.file})`
  const query = next.forwardQuery!.trim().replace(/;\s*$/, '')
  if (!/^SELECT\b/i.test(query) || /\bFROM\b/i.test(query.replace(/'(?:[^'\\]|\\.)*'/g, "''"))) {
    return { statements: [], changes: [], refusals: [`${where}: FORWARD_QUERY must be a SELECT list without FROM (it runs over the existing rows), found ${JSON.stringify(query.slice(0, 80))}`] }
  }
  const db = quoteIdentifier(database)
  const table = `${db}.${quoteIdentifier(next.name)}`
  const staging = `${next.name}__before_${now.toISOString().slice(0, 19).replace(/\D/g, '')}`
  const stagingTable = `${db}.${quoteIdentifier(staging)}`
  const quarantine = `${db}.${quoteIdentifier(`${next.name}_quarantine`)}`
  const names = next.columns.map((c) => quoteIdentifier(c.name)).join(', ')
  const newQuarantineColumns = next.columns.filter((c) => !previous.columns.some((o) => o.name === c.name))
  return {
    statements: [
      datasourceDdl(next, database, staging),
      // By name: the FORWARD_QUERY's output columns go to the columns of the same name.
      `INSERT INTO ${stagingTable} (${names})\nSELECT ${names} FROM (\n${query}\nFROM ${table}\n)`,
      `EXCHANGE TABLES ${table} AND ${stagingTable}`,
      ...newQuarantineColumns.map((c) => `ALTER TABLE ${quarantine} ADD COLUMN IF NOT EXISTS ${quoteIdentifier(c.name)} Nullable(String)`),
    ],
    changes: reasons.map((r) => `${where}: ${r} (rows moved with FORWARD_QUERY; the previous rows are kept in ${staging})`),
    refusals: [],
    rebuilt: true,
  }
}

/**
 * A materialized view whose SQL changed is dropped and created again; a view writes TO its target and
 * holds no rows, so nothing is lost (rows arriving between the two statements are not materialized).
 */
export function planMaterializedView(previousSql: string | undefined, nextSql: string, name: string, database: string): string[] {
  if (previousSql !== undefined && norm(previousSql) === norm(nextSql)) return []
  return [...(previousSql !== undefined ? [`DROP VIEW IF EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(name)}`] : []), nextSql]
}
