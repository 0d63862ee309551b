import { describe, expect, it } from 'vitest'
import { Catalog, DATASOURCES, PIPES, type DatasourceEntry, type PipeEntry } from '../../src/catalog/index.js'

const projectPipe = (name: string, database = 'project'): PipeEntry => ({
  name,
  description: '',
  scope: `read:pipe:${name}`,
  parameters: [],
  dependencies: [],
  output: [],
  source: { kind: 'project', project: database, type: 'endpoint', scopeName: name },
})
const projectDatasource = (name: string, database = 'project'): DatasourceEntry => ({ name, database, kind: 'landing', description: '', columns: [] })

describe('Catalog', () => {
  it('holds the built-in seeds as entries, and lists them while no project is loaded', () => {
    const catalog = new Catalog()
    expect(catalog.pipes.map((p) => p.name)).toEqual(PIPES.map((p) => p.name))
    expect(catalog.datasources.map((d) => d.name)).toEqual(DATASOURCES.map((d) => d.name))
    expect(catalog.listed().pipes).toEqual(catalog.pipes)
    expect(catalog.datasource('barely_events')?.name).toBe('app_events')
  })

  it('serves a project entry under a name a built-in one has, keeps the built-in one reachable, and replaces a project as a whole', () => {
    const catalog = new Catalog()
    let changes = 0
    catalog.onChange(() => changes++)
    catalog.replaceProject('project', { datasources: [projectDatasource('products'), projectDatasource('clicks')], pipes: [projectPipe('api_product_grid'), projectPipe('top')] })
    expect(changes).toBe(1)
    expect(catalog.pipe('api_product_grid')?.source.kind).toBe('project')
    expect(catalog.pipe('api_product_grid', { builtin: true })?.source.kind).toBe('productGrid')
    expect(catalog.pipe('v2_cart_os')?.source.kind).toBe('breakdown') // not shadowed: the built-in one
    expect(catalog.datasource('products')?.database).toBe('project')
    expect(catalog.datasource('products', { builtin: true })?.database).toBeUndefined()
    expect(catalog.listed().pipes.map((p) => p.name)).toEqual(['api_product_grid', 'top'])
    expect(catalog.listed({ builtin: true }).pipes).toHaveLength(PIPES.length)

    catalog.replaceProject('project', { datasources: [projectDatasource('clicks')], pipes: [projectPipe('top2')] })
    expect(catalog.pipe('top')).toBeUndefined()
    expect(catalog.pipe('api_product_grid')?.source.kind).toBe('productGrid')
    expect(catalog.datasource('products')?.database).toBeUndefined()
    expect(catalog.listed().datasources.map((d) => d.name)).toEqual(['clicks'])
  })

  it('refuses duplicate names within a project and entries of another database, leaving the previous entries', () => {
    const catalog = new Catalog()
    catalog.replaceProject('project', { datasources: [], pipes: [projectPipe('top')] })
    expect(() => catalog.replaceProject('project', { datasources: [], pipes: [projectPipe('a'), projectPipe('a')] })).toThrow('pipe "a" is already in the catalog')
    expect(() => catalog.replaceProject('project', { datasources: [projectDatasource('x', 'other')], pipes: [] })).toThrow('not of the project database')
    expect(catalog.pipe('top')?.source.kind).toBe('project')
    expect(() => catalog.addPipe(PIPES[0]!)).toThrow('already in the catalog')
  })
})
