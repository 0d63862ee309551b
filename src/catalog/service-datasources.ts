/**
 * Tinybird's service datasources Sightline serves from its own logs: `/v0/sql` and a loaded project's
 * pipes read `tinybird.<name>` as the view `tinybird_<name>` in Sightline's database (sql/0090), admins
 * only on `/v0/sql`.
 */
export const SERVICE_DATASOURCES: readonly string[] = ['pipe_stats_rt', 'pipe_stats', 'datasources_ops_log', 'endpoint_errors']

/** The views in Sightline's database that answer them (`tinybird_<name>`). */
export const SERVICE_VIEWS: readonly string[] = SERVICE_DATASOURCES.map((name) => `tinybird_${name}`)

/** The view that answers `tinybird.<name>`, or undefined for a service datasource Sightline does not keep. */
export function serviceView(qualified: string): string | undefined {
  const name = qualified.startsWith('tinybird.') ? qualified.slice('tinybird.'.length) : undefined
  return name !== undefined && SERVICE_DATASOURCES.includes(name) ? `tinybird_${name}` : undefined
}
