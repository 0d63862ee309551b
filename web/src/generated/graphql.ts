/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type App =
  | 'CART'
  | 'FM'
  | 'LINK'
  | 'PAGE';

export type Granularity =
  | 'DAY'
  | 'HOUR'
  | 'MINUTE'
  | 'MONTH'
  | 'WEEK';

export type GridRanking =
  | 'PRICE'
  | 'TRENDING';

export type StockStatus =
  | 'IN_STOCK'
  | 'LOW_STOCK'
  | 'OUT_OF_STOCK';

export type TokenInput = {
  expiresAt?: string | null | undefined;
  name: string;
  /** e.g. read:ecommerce, append:ecomm_events, read:analytics:cart, admin */
  scopes: Array<string>;
  /** Confine analytics and app-event ingest to this workspace */
  workspaceId?: string | null | undefined;
};

export type DashboardQueryVariables = Exact<{
  app: App;
  workspaceId: string;
  from?: string | null | undefined;
  to?: string | null | undefined;
  granularity?: Granularity | null | undefined;
  timezone?: string | null | undefined;
}>;


export type DashboardQuery = { analytics: { app: App, workspaceId: string, from: string, to: string, totals:
      | { __typename: 'CartMetrics', views: number, addToCarts: number, purchases: number, revenue: number, events: number, sessions: number, visitors: number }
      | { __typename: 'FmMetrics', plays: number, pauses: number, shares: number, events: number, sessions: number, visitors: number }
      | { __typename: 'LinkMetrics', clicks: number, redirects: number, events: number, sessions: number, visitors: number }
      | { __typename: 'PageMetrics', views: number, interactions: number, events: number, sessions: number, visitors: number }
    , countries: Array<{ value: string, metrics:
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
       }>, browsers: Array<{ value: string, metrics:
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
       }>, devices: Array<{ value: string, metrics:
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
       }>, referers: Array<{ value: string, metrics:
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
        | { sessions: number, events: number }
       }>, series: Array<{ start: string, metrics:
        | { events: number, sessions: number, visitors: number }
        | { events: number, sessions: number, visitors: number }
        | { events: number, sessions: number, visitors: number }
        | { events: number, sessions: number, visitors: number }
       }> } };

export type SliceFragment = { value: string, metrics:
    | { sessions: number, events: number }
    | { sessions: number, events: number }
    | { sessions: number, events: number }
    | { sessions: number, events: number }
   };

type DashboardMetrics_CartMetrics_Fragment = { __typename: 'CartMetrics', views: number, addToCarts: number, purchases: number, revenue: number, events: number, sessions: number, visitors: number };

type DashboardMetrics_FmMetrics_Fragment = { __typename: 'FmMetrics', plays: number, pauses: number, shares: number, events: number, sessions: number, visitors: number };

type DashboardMetrics_LinkMetrics_Fragment = { __typename: 'LinkMetrics', clicks: number, redirects: number, events: number, sessions: number, visitors: number };

type DashboardMetrics_PageMetrics_Fragment = { __typename: 'PageMetrics', views: number, interactions: number, events: number, sessions: number, visitors: number };

export type DashboardMetricsFragment =
  | DashboardMetrics_CartMetrics_Fragment
  | DashboardMetrics_FmMetrics_Fragment
  | DashboardMetrics_LinkMetrics_Fragment
  | DashboardMetrics_PageMetrics_Fragment
;

export type ConsoleTokensQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleTokensQuery = { tokens: Array<{ name: string, scopes: Array<string>, workspaceId: string | null, createdAt: string, expiresAt: string | null, expired: boolean }> };

export type ConsoleCreateTokenMutationVariables = Exact<{
  input: TokenInput;
}>;


export type ConsoleCreateTokenMutation = { createToken: { name: string, token: string, scopes: Array<string>, workspaceId: string | null } };

export type ConsoleRevokeTokenMutationVariables = Exact<{
  name: string;
}>;


export type ConsoleRevokeTokenMutation = { revokeToken: boolean };

export type ConsoleQuarantineQueryVariables = Exact<{
  table: string;
  limit?: number | null | undefined;
}>;


export type ConsoleQuarantineQuery = { quarantine: Array<{ table: string, row: string, reason: string, at: string }> };

export type ConsoleErrorsQueryVariables = Exact<{
  limit?: number | null | undefined;
}>;


export type ConsoleErrorsQuery = { errorLog: Array<{ operation: string | null, code: string, message: string, requestId: string, at: string }> };

export type ConsoleStatFragment = { operation: string, calls: number, errors: number, p50Ms: number, p95Ms: number, rowsRead: number };

export type GridQueryVariables = Exact<{
  category?: string | null | undefined;
  showOutOfStock?: boolean | null | undefined;
  ranking?: GridRanking | null | undefined;
}>;


export type GridQuery = { productGrid: Array<{ id: string, name: string, category: string, photo: string, price: number, stock: number, stockStatus: StockStatus, hits: number, trending: boolean, rankStatus: string | null }> };

export type CategoriesQueryVariables = Exact<{ [key: string]: never; }>;


export type CategoriesQuery = { productGrid: Array<{ id: string, category: string }> };

export type FiltersQueryVariables = Exact<{
  category?: string | null | undefined;
}>;


export type FiltersQuery = { products: Array<{ id: string | null, value: string }>, kpis: Array<{ value: string }> };

export type TrendQueryVariables = Exact<{
  product?: string | null | undefined;
  category?: string | null | undefined;
  granularity?: Granularity | null | undefined;
  timezone?: string | null | undefined;
}>;


export type TrendQuery = { ecommTrend: Array<{ start: string, views: number, carts: number, sales: number, revenue: number }> };

export type SellOneMutationVariables = Exact<{
  product: string;
}>;


export type SellOneMutation = { ingestEcommEvents: { accepted: number, quarantined: number, errors: Array<{ index: number, message: string }> } };

export type LiveStockSubscriptionVariables = Exact<{
  category?: string | null | undefined;
}>;


export type LiveStockSubscription = { stockChanged: { product: string, available: number, status: StockStatus, delta: number, at: string } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const SliceFragmentDoc = new TypedDocumentString(`
    fragment Slice on DimensionBucket {
  value
  metrics {
    sessions
    events
  }
}
    `, {"fragmentName":"Slice"}) as unknown as TypedDocumentString<SliceFragment, unknown>;
export const DashboardMetricsFragmentDoc = new TypedDocumentString(`
    fragment DashboardMetrics on AppMetrics {
  __typename
  events
  sessions
  visitors
  ... on CartMetrics {
    views
    addToCarts
    purchases
    revenue
  }
  ... on FmMetrics {
    plays
    pauses
    shares
  }
  ... on LinkMetrics {
    clicks
    redirects
  }
  ... on PageMetrics {
    views
    interactions
  }
}
    `, {"fragmentName":"DashboardMetrics"}) as unknown as TypedDocumentString<DashboardMetricsFragment, unknown>;
export const ConsoleStatFragmentDoc = new TypedDocumentString(`
    fragment ConsoleStat on OperationStat {
  operation
  calls
  errors
  p50Ms
  p95Ms
  rowsRead
}
    `, {"fragmentName":"ConsoleStat"}) as unknown as TypedDocumentString<ConsoleStatFragment, unknown>;
export const DashboardDocument = new TypedDocumentString(`
    query Dashboard($app: App!, $workspaceId: ID!, $from: DateTime, $to: DateTime, $granularity: Granularity, $timezone: String) {
  analytics(app: $app, workspaceId: $workspaceId, from: $from, to: $to) {
    app
    workspaceId
    from
    to
    totals {
      ...DashboardMetrics
    }
    countries: breakdown(by: COUNTRY, limit: 6) {
      ...Slice
    }
    browsers: breakdown(by: BROWSER, limit: 6) {
      ...Slice
    }
    devices: breakdown(by: DEVICE, limit: 6) {
      ...Slice
    }
    referers: breakdown(by: REFERER, limit: 6) {
      ...Slice
    }
    series: timeseries(granularity: $granularity, timezone: $timezone) {
      start
      metrics {
        events
        sessions
        visitors
      }
    }
  }
}
    fragment Slice on DimensionBucket {
  value
  metrics {
    sessions
    events
  }
}
fragment DashboardMetrics on AppMetrics {
  __typename
  events
  sessions
  visitors
  ... on CartMetrics {
    views
    addToCarts
    purchases
    revenue
  }
  ... on FmMetrics {
    plays
    pauses
    shares
  }
  ... on LinkMetrics {
    clicks
    redirects
  }
  ... on PageMetrics {
    views
    interactions
  }
}`) as unknown as TypedDocumentString<DashboardQuery, DashboardQueryVariables>;
export const ConsoleTokensDocument = new TypedDocumentString(`
    query ConsoleTokens {
  tokens {
    name
    scopes
    workspaceId
    createdAt
    expiresAt
    expired
  }
}
    `) as unknown as TypedDocumentString<ConsoleTokensQuery, ConsoleTokensQueryVariables>;
export const ConsoleCreateTokenDocument = new TypedDocumentString(`
    mutation ConsoleCreateToken($input: TokenInput!) {
  createToken(input: $input) {
    name
    token
    scopes
    workspaceId
  }
}
    `) as unknown as TypedDocumentString<ConsoleCreateTokenMutation, ConsoleCreateTokenMutationVariables>;
export const ConsoleRevokeTokenDocument = new TypedDocumentString(`
    mutation ConsoleRevokeToken($name: String!) {
  revokeToken(name: $name)
}
    `) as unknown as TypedDocumentString<ConsoleRevokeTokenMutation, ConsoleRevokeTokenMutationVariables>;
export const ConsoleQuarantineDocument = new TypedDocumentString(`
    query ConsoleQuarantine($table: String!, $limit: Int) {
  quarantine(table: $table, limit: $limit) {
    table
    row
    reason
    at
  }
}
    `) as unknown as TypedDocumentString<ConsoleQuarantineQuery, ConsoleQuarantineQueryVariables>;
export const ConsoleErrorsDocument = new TypedDocumentString(`
    query ConsoleErrors($limit: Int) {
  errorLog(limit: $limit) {
    operation
    code
    message
    requestId
    at
  }
}
    `) as unknown as TypedDocumentString<ConsoleErrorsQuery, ConsoleErrorsQueryVariables>;
export const GridDocument = new TypedDocumentString(`
    query Grid($category: String, $showOutOfStock: Boolean, $ranking: GridRanking) {
  productGrid(
    category: $category
    showOutOfStock: $showOutOfStock
    ranking: $ranking
  ) {
    id
    name
    category
    photo
    price
    stock
    stockStatus
    hits
    trending
    rankStatus
  }
}
    `) as unknown as TypedDocumentString<GridQuery, GridQueryVariables>;
export const CategoriesDocument = new TypedDocumentString(`
    query Categories {
  productGrid(category: "all", showOutOfStock: true) {
    id
    category
  }
}
    `) as unknown as TypedDocumentString<CategoriesQuery, CategoriesQueryVariables>;
export const FiltersDocument = new TypedDocumentString(`
    query Filters($category: String) {
  products: uiFilters(filter: PRODUCT, category: $category) {
    id
    value
  }
  kpis: uiFilters(filter: VALUE) {
    value
  }
}
    `) as unknown as TypedDocumentString<FiltersQuery, FiltersQueryVariables>;
export const TrendDocument = new TypedDocumentString(`
    query Trend($product: ID, $category: String, $granularity: Granularity, $timezone: String) {
  ecommTrend(
    product: $product
    category: $category
    granularity: $granularity
    timezone: $timezone
  ) {
    start
    views
    carts
    sales
    revenue
  }
}
    `) as unknown as TypedDocumentString<TrendQuery, TrendQueryVariables>;
export const SellOneDocument = new TypedDocumentString(`
    mutation SellOne($product: ID!) {
  ingestEcommEvents(events: [{event: SALE, product: $product}]) {
    accepted
    quarantined
    errors {
      index
      message
    }
  }
}
    `) as unknown as TypedDocumentString<SellOneMutation, SellOneMutationVariables>;
export const LiveStockDocument = new TypedDocumentString(`
    subscription LiveStock($category: String) {
  stockChanged(category: $category) {
    product
    available
    status
    delta
    at
  }
}
    `) as unknown as TypedDocumentString<LiveStockSubscription, LiveStockSubscriptionVariables>;