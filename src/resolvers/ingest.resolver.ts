import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql'
import { scopeFor } from '../auth/scopes.js'
import type { Context } from '../context.js'
import { AppEventInput } from '../schema/analytics.input.js'
import { EcommEventInput, ProductInput, WarehouseStockInput } from '../schema/ecommerce.input.js'
import { RejectedRowInput } from '../schema/ingest.input.js'
import { IngestResult, QuarantinedRow } from '../schema/ingest.type.js'
import type { AppendOptions } from '../domain/ingest.js'
import { domainOf } from './domain.js'

const REJECTED_DESCRIPTION = 'Records refused before they could be typed; quarantined and reported after the rows (index rows + i)'

const NDJSON_DESCRIPTION =
  'The same rows as NDJSON text, read as POST /v0/events reads them: the fast way to send large batches (no per-object input coercion); errors[].index is the line (from 0)'
const NDJSON_DATA = 'One JSON object per line (the datasource\'s column or field names); blank lines are skipped'

/** The append options of a mutation: its key, its rejected records and the transport's row sources. */
function options(ctx: Context, idempotencyKey: string | null, rejected: readonly RejectedRowInput[] | null): AppendOptions {
  return { idempotencyKey, rejected, sources: ctx.rowSources }
}

@Resolver()
export class IngestResolver {
  @Authorized(scopeFor.append('ecomm_events'))
  @Mutation(() => IngestResult)
  async ingestEcommEvents(
    @Ctx() ctx: Context,
    @Arg('events', () => [EcommEventInput]) events: EcommEventInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    return domainOf(ctx).ingest.append(ctx.principal, 'ecomm_events', events, options(ctx, idempotencyKey, rejected))
  }

  @Authorized(scopeFor.append('ecomm_events'))
  @Mutation(() => IngestResult, { description: NDJSON_DESCRIPTION })
  async ingestEcommEventsNdjson(
    @Ctx() ctx: Context,
    @Arg('data', () => String, { description: NDJSON_DATA }) data: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<IngestResult> {
    return domainOf(ctx).ingest.appendNdjson(ctx.principal, 'ecomm_events', data, { idempotencyKey })
  }

  @Authorized(scopeFor.append('warehouse_stock'))
  @Mutation(() => IngestResult)
  async ingestWarehouseStock(
    @Ctx() ctx: Context,
    @Arg('updates', () => [WarehouseStockInput]) updates: WarehouseStockInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    return domainOf(ctx).ingest.append(ctx.principal, 'warehouse_stock', updates, options(ctx, idempotencyKey, rejected))
  }

  @Authorized(scopeFor.append('products'))
  @Mutation(() => IngestResult, { description: 'Inserts or replaces products by id' })
  async upsertProducts(
    @Ctx() ctx: Context,
    @Arg('products', () => [ProductInput]) products: ProductInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    return domainOf(ctx).ingest.append(ctx.principal, 'products', products, options(ctx, idempotencyKey, rejected))
  }

  @Authorized(scopeFor.append('app_events'))
  @Mutation(() => IngestResult, { description: "Rows of another workspace than a bound token's are quarantined" })
  async ingestAppEvents(
    @Ctx() ctx: Context,
    @Arg('events', () => [AppEventInput]) events: AppEventInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    return domainOf(ctx).ingest.append(ctx.principal, 'app_events', events, options(ctx, idempotencyKey, rejected))
  }

  @Authorized(scopeFor.append('app_events'))
  @Mutation(() => IngestResult, { description: `${NDJSON_DESCRIPTION}. Rows of another workspace than a bound token's are quarantined` })
  async ingestAppEventsNdjson(
    @Ctx() ctx: Context,
    @Arg('data', () => String, { description: NDJSON_DATA }) data: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<IngestResult> {
    return domainOf(ctx).ingest.appendNdjson(ctx.principal, 'app_events', data, { idempotencyKey })
  }

  @Authorized('admin')
  @Query(() => [QuarantinedRow], { description: 'Newest quarantined rows of a datasource (admin)' })
  quarantine(
    @Ctx() ctx: Context,
    @Arg('table', () => String) table: string,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
  ): Promise<QuarantinedRow[]> {
    return domainOf(ctx).ingest.quarantine(ctx.principal, table, limit ?? 100)
  }
}
