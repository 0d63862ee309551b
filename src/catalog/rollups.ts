import type { ColumnEntry } from './datasources.js'

/**
 * Pre-aggregations the store keeps for reads that must stay flat as data grows (issue 20). They are no
 * datasources (not listed, appended to, truncated or queried through the REST API): materialized views
 * derive them from a landing datasource, and `sql/0080_*`/`sql/0081_*` create and backfill them. A test
 * checks the live tables' columns (`system.columns`) against the columns listed here.
 */
export interface RollupEntry {
  /** The table in the Sightline database. */
  readonly name: string
  /** The landing datasource its materialized view reads. */
  readonly source: string
  readonly description: string
  readonly columns: readonly ColumnEntry[]
  /**
   * The filter fields (dimensions and the asset) the pre-aggregation keeps a row per value of, as its view
   * names them. A dimension added to the catalog later is not among them until a migration adds it to the
   * view, and reads by it use the raw tables meanwhile.
   */
  readonly keeps?: readonly string[]
}

export const ROLLUPS: readonly RollupEntry[] = [
  {
    name: 'ecomm_sales_second',
    source: 'ecomm_events',
    description: "Sales per product and second, ordered by time: the grid's last-hour hits",
    columns: [
      { name: 'second', type: "DateTime('UTC')" },
      { name: 'product', type: 'String' },
      { name: 'sales', type: 'SimpleAggregateFunction(sum, UInt64)' },
      { name: 'marked_at', type: 'DateTime' },
    ],
  },
  {
    name: 'app_events_hourly',
    source: 'app_events',
    description:
      'App events per app, workspace, hour and action, for the whole app and per value of each dimension and the asset: ' +
      'event count, revenue and exact distinct-count states of sessions and visitors',
    columns: [
      { name: 'event_type', type: 'LowCardinality(String)' },
      { name: 'workspace_id', type: 'String' },
      { name: 'dimension', type: 'LowCardinality(String)' },
      { name: 'value', type: 'String' },
      { name: 'bucket', type: "DateTime('UTC')" },
      { name: 'action', type: 'LowCardinality(String)' },
      { name: 'events', type: 'SimpleAggregateFunction(sum, UInt64)' },
      { name: 'revenue', type: 'SimpleAggregateFunction(sum, Float64)' },
      { name: 'sessions', type: 'AggregateFunction(uniqExact, String)' },
      { name: 'visitors', type: 'AggregateFunction(uniqExact, String)' },
      // ALIAS value: the name the ingest's batch-marker lookup reads (store/batches.ts).
      { name: 'product', type: 'String' },
      { name: 'marked_at', type: 'DateTime' },
    ],
    keeps: [
      'assetId', 'browser', 'os', 'device', 'country', 'region', 'city', 'referer', 'platform', 'emailBroadcastId',
      'emailTemplateId', 'flowActionId', 'landingPageId', 'metaAdId', 'metaAdSetId', 'metaCampaignId', 'metaPlacementId',
    ],
  },
]
