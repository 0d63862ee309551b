import { registerEnumType } from 'type-graphql'
import {
  APPS,
  DIMENSIONS,
  ECOMM_EVENT_TYPES,
  GRANULARITIES,
  STOCK_STATUSES,
  type AppName,
  type DimensionField,
  type Granularity as GranularityName,
  type StockStatus as StockStatusName,
} from '../catalog/index.js'

// The GraphQL enums, generated from the catalog: an enum object maps each GraphQL name to the value
// resolvers and the store see.

const named = <T extends string>(values: readonly T[]): { readonly [K in T]: K } => Object.fromEntries(values.map((v) => [v, v])) as { readonly [K in T]: K }

export const StockStatus = named(STOCK_STATUSES)
export type StockStatus = StockStatusName
export const GridRanking = named(['TRENDING', 'PRICE'] as const)
export type GridRanking = keyof typeof GridRanking
export const UiFilterKind = named(['PRODUCT', 'VALUE'] as const)
export type UiFilterKind = keyof typeof UiFilterKind
export const Granularity = named(GRANULARITIES)
export type Granularity = GranularityName

/** GraphQL names in capitals; the values are what the store keeps. */
export const EcommEventType: Readonly<Record<string, (typeof ECOMM_EVENT_TYPES)[number]>> = Object.fromEntries(ECOMM_EVENT_TYPES.map((e) => [e.toUpperCase(), e]))
export type EcommEventType = (typeof ECOMM_EVENT_TYPES)[number]
/** GraphQL names (CART); the values are the apps' row names (cart). */
export const App: Readonly<Record<string, AppName>> = Object.fromEntries(APPS.map((a) => [a.key, a.name]))
export type App = AppName
/** Each dimension's value is its filter field (AnalyticsFilter) and the store's dimension key. */
export const Dimension: Readonly<Record<string, DimensionField>> = Object.fromEntries(DIMENSIONS.map((d) => [d.key, d.field]))
export type Dimension = DimensionField

registerEnumType(StockStatus, { name: 'StockStatus' })
registerEnumType(GridRanking, { name: 'GridRanking' })
registerEnumType(UiFilterKind, { name: 'UiFilterKind' })
registerEnumType(EcommEventType, { name: 'EcommEventType' })
registerEnumType(Granularity, { name: 'Granularity' })
registerEnumType(App, { name: 'App' })
registerEnumType(Dimension, { name: 'Dimension', description: 'An app-event dimension to break metrics down by' })
