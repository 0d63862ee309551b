// The catalog: what Sightline serves, as data. Imports nothing outside src/catalog.
export * from './apps.js'
export * from './datasources.js'
export * from './dimensions.js'
export * from './granularity.js'
export * from './pipes.js'
export * from './registry.js'
export * from './rollups.js'
export * from './stock.js'
