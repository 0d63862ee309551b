/** Time-bucket sizes of timeseries, smallest first. */
export const GRANULARITIES = ['MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH'] as const
export type Granularity = (typeof GRANULARITIES)[number]

/** The default bucket size of a timeseries. */
export const DEFAULT_GRANULARITY: Granularity = 'DAY'
