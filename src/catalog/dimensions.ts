/**
 * The app-event dimensions metrics break down by and filter on: one entry each, and everything else
 * (the GraphQL `Dimension` enum and filter fields, the store's closed column map, the REST pipes
 * `v2_<app>_<slug>` and their parameters, NDJSON aliases, the demo's values) is derived from here.
 * Adding a dimension is an entry here plus its column in a new numbered DDL file.
 */
export interface DimensionEntry {
  /** The GraphQL `Dimension` enum value. */
  readonly key: string
  /** The GraphQL field (filter, event input) and the store's dimension key. */
  readonly field: string
  /** The column of `app_events` and the app views. */
  readonly column: string
  /** The SQL expression grouped and filtered on (a closed map: the only dimension text reaching SQL). */
  readonly sql: string
  /** REST: the pipe name's suffix (`v2_<app>_<slug>`). */
  readonly slug: string
  /** REST: the original pipes' filter parameter, where it differs from the field and the column. */
  readonly seedParam?: string
  /** REST: further spellings of the filter parameter. */
  readonly aliases?: readonly string[]
  /** REST: what the filter parameter matches, for its description. */
  readonly describes: string
  /** REST: the filter parameter's whole description, where the usual one does not fit. */
  readonly filterDescription?: string
  /** How the demo and bench data draw values for it. */
  readonly demo: DemoValues
}

/**
 * Demo values: one of `pool`; the `place` part of a (country, region, city) triple; or an id
 * `<prefix><n>` (n < count) for a `share` of the rows (all of them when absent), only on `app`'s rows
 * or on rows from Meta ads when given; other rows get ''.
 */
export type DemoValues =
  | { readonly pool: readonly string[]; readonly metaPool?: readonly string[] }
  | { readonly place: 0 | 1 | 2 }
  | { readonly prefix: string; readonly count: number; readonly share?: number; readonly only?: 'meta' | { readonly app: string } }
  | { readonly metaChoice: readonly string[] }

export const DIMENSIONS = [
  { key: 'BROWSER', field: 'browser', column: 'browser', sql: 'browser', slug: 'browsers', describes: 'browser', demo: { pool: ['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'] } },
  { key: 'OS', field: 'os', column: 'os', sql: 'os', slug: 'os', describes: 'operating system', demo: { pool: ['iOS', 'Android', 'Windows', 'macOS', 'Linux'] } },
  { key: 'DEVICE', field: 'device', column: 'device', sql: 'device', slug: 'devices', describes: 'device', demo: { pool: ['mobile', 'desktop', 'tablet'] } },
  { key: 'COUNTRY', field: 'country', column: 'country', sql: 'country', slug: 'countries', describes: 'country', demo: { place: 0 } },
  { key: 'REGION', field: 'region', column: 'region', sql: 'region', slug: 'regions', describes: 'region', demo: { place: 1 } },
  { key: 'CITY', field: 'city', column: 'city', sql: 'city', slug: 'cities', describes: 'city', demo: { place: 2 } },
  {
    key: 'REFERER',
    field: 'referer',
    column: 'referer',
    // Grouped (and filtered) by registrable domain, so l.instagram.com and www.instagram.com meet.
    sql: 'cutToFirstSignificantSubdomain(referer)',
    slug: 'referers',
    describes: 'referer',
    filterDescription: "Only events whose referer's registrable domain is this one's (l.instagram.com matches instagram.com)",
    demo: {
      pool: ['', 'https://l.instagram.com/?u=x', 'https://www.instagram.com/', 'https://www.google.com/search?q=x', 'https://t.co/abc', 'https://www.facebook.com/', 'https://news.ycombinator.com/'],
      metaPool: ['https://l.instagram.com/?u=x', 'https://www.instagram.com/'],
    },
  },
  { key: 'PLATFORM', field: 'platform', column: 'platform', sql: 'platform', slug: 'platforms', describes: 'platform', demo: { pool: ['web', 'ios', 'android'] } },
  {
    key: 'EMAIL_BROADCAST',
    field: 'emailBroadcastId',
    column: 'email_broadcast_id',
    sql: 'email_broadcast_id',
    slug: 'emailBroadcasts',
    seedParam: 'sessionEmailBroadcastId',
    describes: "session's email broadcast (email_broadcast_id)",
    demo: { prefix: 'eb_', count: 4, share: 0.2 },
  },
  {
    key: 'EMAIL_TEMPLATE',
    field: 'emailTemplateId',
    column: 'email_template_id',
    sql: 'email_template_id',
    slug: 'emailTemplates',
    seedParam: 'sessionEmailTemplateId',
    describes: "session's email template (email_template_id)",
    demo: { prefix: 'et_', count: 3, share: 0.2 },
  },
  {
    key: 'FLOW_ACTION',
    field: 'flowActionId',
    column: 'flow_action_id',
    sql: 'flow_action_id',
    slug: 'flowActions',
    seedParam: 'sessionFlowActionId',
    describes: "session's flow action (flow_action_id)",
    demo: { prefix: 'fa_', count: 5, share: 0.1 },
  },
  {
    key: 'LANDING_PAGE',
    field: 'landingPageId',
    column: 'landing_page_id',
    sql: 'landing_page_id',
    slug: 'landingPages',
    seedParam: 'sessionLandingPageId',
    describes: "session's landing page (landing_page_id)",
    demo: { prefix: 'lp_', count: 6, only: { app: 'page' } },
  },
  {
    key: 'META_AD',
    field: 'metaAdId',
    column: 'meta_ad_id',
    sql: 'meta_ad_id',
    slug: 'metaAds',
    seedParam: 'sessionMetaAdId',
    describes: "session's Meta ad (meta_ad_id)",
    demo: { prefix: 'ad_', count: 8, only: 'meta' },
  },
  {
    key: 'META_AD_SET',
    field: 'metaAdSetId',
    column: 'meta_ad_set_id',
    sql: 'meta_ad_set_id',
    slug: 'metaAdSets',
    seedParam: 'sessionMetaAdSetId',
    describes: "session's Meta ad set (meta_ad_set_id)",
    demo: { prefix: 'adset_', count: 4, only: 'meta' },
  },
  {
    key: 'META_CAMPAIGN',
    field: 'metaCampaignId',
    column: 'meta_campaign_id',
    sql: 'meta_campaign_id',
    slug: 'metaCampaigns',
    seedParam: 'sessionMetaCampaignId',
    describes: "session's Meta campaign (meta_campaign_id)",
    demo: { prefix: 'camp_', count: 2, only: 'meta' },
  },
  {
    key: 'META_PLACEMENT',
    field: 'metaPlacementId',
    column: 'meta_placement_id',
    sql: 'meta_placement_id',
    slug: 'metaPlacements',
    // The original pipes spell it sessionMetaPlacement; the Id form is kept for earlier Sightline clients.
    seedParam: 'sessionMetaPlacement',
    aliases: ['sessionMetaPlacementId'],
    describes: "session's Meta placement (meta_placement_id)",
    demo: { metaChoice: ['feed', 'stories', 'reels'] },
  },
] as const satisfies readonly DimensionEntry[]

/** A dimension's field name. */
export type DimensionField = (typeof DIMENSIONS)[number]['field']

/**
 * The session's referer (Tinybird's `sessionReferer`): each event carries its session's attribution
 * (SPEC §2), so this filter matches the `sameAs` dimension's expression.
 */
export const SESSION_REFERER = { field: 'sessionReferer', column: 'session_referer', sameAs: 'referer' } as const

/** The asset an event is about: a filter like a dimension, but no breakdown. */
export const ASSET = { field: 'assetId', column: 'asset_id', sql: 'asset_id' } as const

const BY_FIELD: ReadonlyMap<string, DimensionEntry> = new Map(DIMENSIONS.map((d): [string, DimensionEntry] => [d.field, d]))
const BY_KEY: ReadonlyMap<string, DimensionEntry> = new Map(DIMENSIONS.map((d): [string, DimensionEntry] => [d.key, d]))

/** A dimension by its GraphQL field (the store's key). */
export function dimensionByField(field: string): DimensionEntry | undefined {
  return BY_FIELD.get(field)
}

/** A dimension by its enum value. */
export function dimensionByKey(key: string): DimensionEntry | undefined {
  return BY_KEY.get(key)
}

/** The REST parameters that filter on a dimension: the original pipes' name first, then the field, the column and aliases. */
export function dimensionParams(d: DimensionEntry): string[] {
  return [...new Set([...(d.seedParam ? [d.seedParam] : []), d.field, d.column, ...(d.aliases ?? [])])]
}
