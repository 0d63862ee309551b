import { DATASOURCES, type DatasourceEntry } from './datasources.js'
import { PIPES, type PipeEntry } from './pipes.js'

/** Where an entry comes from: the built-in seeds, or a loaded project's database. */
const BUILTIN = ''
const originOf = (entry: { readonly database?: string; readonly source?: PipeEntry['source'] }): string =>
  entry.database ?? (entry.source?.kind === 'project' ? entry.source.project : BUILTIN)

/** The entries of one origin: names (datasource aliases included) are unique within it. */
class Origin {
  readonly datasourceMap = new Map<string, DatasourceEntry>()
  readonly pipeMap = new Map<string, PipeEntry>()

  addDatasource(entry: DatasourceEntry): void {
    for (const name of [entry.name, ...(entry.aliases ?? [])]) {
      if (this.datasourceMap.has(name)) throw new Error(`datasource "${name}" is already in the catalog`)
    }
    for (const name of [entry.name, ...(entry.aliases ?? [])]) this.datasourceMap.set(name, entry)
  }

  addPipe(entry: PipeEntry): void {
    if (this.pipeMap.has(entry.name)) throw new Error(`pipe "${entry.name}" is already in the catalog`)
    this.pipeMap.set(entry.name, entry)
  }
}

/**
 * What one Sightline process serves: the built-in seeds, then what a loaded Tinybird project adds (its
 * datasources and pipes, entered when the project is applied and replaced as a whole on every `sightline
 * dev` reload). Built-ins are entries like any other. Names are unique within an origin; a project entry
 * may share a name with a built-in one, and then it is what `/v0/*` serves under that name (the built-in
 * one stays reachable with `?builtin=true`, and scopes write the project's as `<database>.<name>`).
 * Every list (REST's pipe and datasource lists, OpenAPI, `/v0/sql`'s readable tables) reads this one.
 */
export class Catalog {
  private readonly origins = new Map<string, Origin>([[BUILTIN, new Origin()]])
  private readonly listeners = new Set<() => void>()

  constructor(seed: { readonly datasources?: readonly DatasourceEntry[]; readonly pipes?: readonly PipeEntry[] } = { datasources: DATASOURCES, pipes: PIPES }) {
    for (const d of seed.datasources ?? []) this.addDatasource(d)
    for (const p of seed.pipes ?? []) this.addPipe(p)
  }

  addDatasource(entry: DatasourceEntry): void {
    this.origin(originOf(entry)).addDatasource(entry)
  }

  addPipe(entry: PipeEntry): void {
    this.origin(originOf(entry)).addPipe(entry)
  }

  /**
   * Replaces every entry of a project's database with `entries` (all or nothing: a clash leaves the
   * previous entries in place). Each entry must name that database (`database`, or a `project` source).
   */
  replaceProject(database: string, entries: { readonly datasources: readonly DatasourceEntry[]; readonly pipes: readonly PipeEntry[] }): void {
    if (database === BUILTIN) throw new Error('a project needs a database name')
    const next = new Origin()
    for (const d of entries.datasources) {
      if (originOf(d) !== database) throw new Error(`datasource "${d.name}" is not of the project database "${database}"`)
      next.addDatasource(d)
    }
    for (const p of entries.pipes) {
      if (originOf(p) !== database) throw new Error(`pipe "${p.name}" is not of the project database "${database}"`)
      next.addPipe(p)
    }
    this.origins.set(database, next)
    for (const listener of this.listeners) listener()
  }

  /** Called after every `replaceProject`. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Whether a project's entries are in the catalog (then `/v0/*` lists them rather than the built-ins). */
  get hasProject(): boolean {
    return this.origins.size > 1
  }

  /**
   * A datasource by its name or alias: a project's first (the name `/v0/*` serves), else the built-in one;
   * with `builtin`, the built-in one only.
   */
  datasource(name: string, options: { readonly builtin?: boolean } = {}): DatasourceEntry | undefined {
    for (const origin of this.lookup(options.builtin === true)) {
      const found = origin.datasourceMap.get(name)
      if (found) return found
    }
    return undefined
  }

  /** A pipe by name: a project's first, else the built-in one; with `builtin`, the built-in one only. */
  pipe(name: string, options: { readonly builtin?: boolean } = {}): PipeEntry | undefined {
    for (const origin of this.lookup(options.builtin === true)) {
      const found = origin.pipeMap.get(name)
      if (found) return found
    }
    return undefined
  }

  /** Every datasource once (projects' after the built-ins), in the order added. */
  get datasources(): DatasourceEntry[] {
    return [...this.origins.values()].flatMap((o) => [...new Set(o.datasourceMap.values())])
  }

  get pipes(): PipeEntry[] {
    return [...this.origins.values()].flatMap((o) => [...o.pipeMap.values()])
  }

  /**
   * What `/v0/pipes`, OpenAPI and `/v0/datasources` list: a loaded project's entries while one is loaded
   * (its pipes and datasources are what `/v0/*` serves), else — or with `builtin` — the built-in ones.
   */
  listed(options: { readonly builtin?: boolean } = {}): { readonly datasources: DatasourceEntry[]; readonly pipes: PipeEntry[] } {
    const origins = options.builtin === true || !this.hasProject ? [this.origin(BUILTIN)] : [...this.origins].filter(([key]) => key !== BUILTIN).map(([, o]) => o)
    return { datasources: origins.flatMap((o) => [...new Set(o.datasourceMap.values())]), pipes: origins.flatMap((o) => [...o.pipeMap.values()]) }
  }

  private lookup(builtin: boolean): Origin[] {
    const all = [...this.origins].filter(([key]) => key !== BUILTIN).map(([, o]) => o)
    const base = this.origin(BUILTIN)
    return builtin ? [base] : [...all, base]
  }

  private origin(key: string): Origin {
    let origin = this.origins.get(key)
    if (!origin) this.origins.set(key, (origin = new Origin()))
    return origin
  }
}
