import { registerEnumType } from 'type-graphql'

export enum StockStatus {
  IN_STOCK = 'IN_STOCK',
  LOW_STOCK = 'LOW_STOCK',
  OUT_OF_STOCK = 'OUT_OF_STOCK',
}
export enum GridRanking {
  TRENDING = 'TRENDING',
  PRICE = 'PRICE',
}
export enum UiFilterKind {
  PRODUCT = 'PRODUCT',
  VALUE = 'VALUE',
}
/** GraphQL names in capitals; the values are what the store keeps. */
export enum EcommEventType {
  VIEW = 'view',
  CART = 'cart',
  SALE = 'sale',
}
export enum Granularity {
  MINUTE = 'MINUTE',
  HOUR = 'HOUR',
  DAY = 'DAY',
  WEEK = 'WEEK',
  MONTH = 'MONTH',
}
export enum App {
  CART = 'cart',
  FM = 'fm',
  LINK = 'link',
  PAGE = 'page',
}
/** Each dimension's value is its filter field (AnalyticsFilter) and the store's dimension key. */
export enum Dimension {
  BROWSER = 'browser',
  OS = 'os',
  DEVICE = 'device',
  COUNTRY = 'country',
  REGION = 'region',
  CITY = 'city',
  REFERER = 'referer',
  PLATFORM = 'platform',
  EMAIL_BROADCAST = 'emailBroadcastId',
  EMAIL_TEMPLATE = 'emailTemplateId',
  FLOW_ACTION = 'flowActionId',
  LANDING_PAGE = 'landingPageId',
  META_AD = 'metaAdId',
  META_AD_SET = 'metaAdSetId',
  META_CAMPAIGN = 'metaCampaignId',
  META_PLACEMENT = 'metaPlacementId',
}

registerEnumType(StockStatus, { name: 'StockStatus' })
registerEnumType(GridRanking, { name: 'GridRanking' })
registerEnumType(UiFilterKind, { name: 'UiFilterKind' })
registerEnumType(EcommEventType, { name: 'EcommEventType' })
registerEnumType(Granularity, { name: 'Granularity' })
registerEnumType(App, { name: 'App' })
registerEnumType(Dimension, { name: 'Dimension', description: 'An app-event dimension to break metrics down by' })
