import { DATASOURCES, type DatasourceEntry } from './datasources.js'
import { PIPES, type PipeEntry } from './pipes.js'

/**
 * What one Sightline process serves: the built-in seeds, then whatever is added at start-up (a loaded
 * Tinybird project's datasources and endpoint pipes). Built-ins are entries like any other; names are
 * unique across both (a datasource's aliases included).
 */
export class Catalog {
  private readonly datasourceMap = new Map<string, DatasourceEntry>()
  private readonly pipeMap = new Map<string, PipeEntry>()

  constructor(seed: { readonly datasources?: readonly DatasourceEntry[]; readonly pipes?: readonly PipeEntry[] } = { datasources: DATASOURCES, pipes: PIPES }) {
    for (const d of seed.datasources ?? []) this.addDatasource(d)
    for (const p of seed.pipes ?? []) this.addPipe(p)
  }

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

  /** A datasource by its name or alias. */
  datasource(name: string): DatasourceEntry | undefined {
    return this.datasourceMap.get(name)
  }

  pipe(name: string): PipeEntry | undefined {
    return this.pipeMap.get(name)
  }

  /** Every datasource once, in the order added. */
  get datasources(): DatasourceEntry[] {
    return [...new Set(this.datasourceMap.values())]
  }

  get pipes(): PipeEntry[] {
    return [...this.pipeMap.values()]
  }
}
