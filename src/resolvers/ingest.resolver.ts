import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql'
import { requirePrincipal } from '../auth/guard.js'
import { scopeFor } from '../auth/scopes.js'
import type { Context } from '../context.js'
import { BadUserInputError } from '../errors.js'
import { AppEventInput } from '../schema/analytics.input.js'
import { EcommEventInput, ProductInput, WarehouseStockInput } from '../schema/ecommerce.input.js'
import { RejectedRowInput } from '../schema/ingest.input.js'
import { IngestResult, QuarantinedRow } from '../schema/ingest.type.js'
import type { IngestOutcome } from '../store/store.js'
import type { IngestOptions } from '../store/types.js'
import { INGEST_TABLES, type IngestTable } from '../store/types.js'

const MAX_KEY = 256
const REJECTED_DESCRIPTION = 'Records refused before they could be typed; quarantined and reported after the rows (index rows + i)'

/** Checks the batch limits; nothing is written when they fail. */
function checkBatch(
  ctx: Context,
  rows: readonly unknown[],
  key: string | null | undefined,
  rejected: readonly RejectedRowInput[] | null = null,
): void {
  const size = rows.length + (rejected?.length ?? 0)
  if (size > ctx.config.maxBatch) {
    throw new BadUserInputError(`a batch holds at most ${ctx.config.maxBatch} rows; this one has ${size}`)
  }
  if (key !== null && key !== undefined && (key.length === 0 || key.length > MAX_KEY)) {
    throw new BadUserInputError(`idempotencyKey must be 1 to ${MAX_KEY} characters`)
  }
}

/** The store's ingest options for this caller; @Authorized has already checked the scope. */
function options(ctx: Context, idempotencyKey: string | null, rejected: readonly RejectedRowInput[] | null = null): IngestOptions {
  const principal = requirePrincipal(ctx)
  return {
    idempotencyKey: idempotencyKey ?? undefined,
    workspaceId: principal.workspaceId ?? undefined,
    tokenName: principal.name,
    rejected: rejected?.map((r) => ({ row: r.row, reason: r.reason })),
    sources: ctx.rowSources,
  }
}

/**
 * Runs one ingest, publishes the stock it moved (after it is durable), records it in the ingest log
 * and metrics, and answers the batch's result.
 */
async function answer(ctx: Context, table: IngestTable, ingest: () => Promise<IngestOutcome>): Promise<IngestResult> {
  const started = performance.now()
  const outcome = await ingest()
  ctx.telemetry.ingested({
    at: new Date(),
    table,
    rows: outcome.accepted,
    quarantined: outcome.quarantined,
    durationMs: performance.now() - started,
    token: ctx.principal?.name ?? '',
    deduplicated: outcome.deduplicated,
  })
  if (outcome.stockChanges.length > 0) await ctx.feed.nudge()
  return { accepted: outcome.accepted, quarantined: outcome.quarantined, errors: [...outcome.errors], deduplicated: outcome.deduplicated }
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
    checkBatch(ctx, events, idempotencyKey, rejected)
    return answer(ctx, 'ecomm_events', () => ctx.store.ingestEcommEvents(events, options(ctx, idempotencyKey, rejected)))
  }

  @Authorized(scopeFor.append('warehouse_stock'))
  @Mutation(() => IngestResult)
  async ingestWarehouseStock(
    @Ctx() ctx: Context,
    @Arg('updates', () => [WarehouseStockInput]) updates: WarehouseStockInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, updates, idempotencyKey, rejected)
    return answer(ctx, 'warehouse_stock', () => ctx.store.ingestWarehouseStock(updates, options(ctx, idempotencyKey, rejected)))
  }

  @Authorized(scopeFor.append('products'))
  @Mutation(() => IngestResult, { description: 'Inserts or replaces products by id' })
  async upsertProducts(
    @Ctx() ctx: Context,
    @Arg('products', () => [ProductInput]) products: ProductInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, products, idempotencyKey, rejected)
    return answer(ctx, 'products', () => ctx.store.upsertProducts(products, options(ctx, idempotencyKey, rejected)))
  }

  @Authorized(scopeFor.append('app_events'))
  @Mutation(() => IngestResult, { description: "Rows of another workspace than a bound token's are quarantined" })
  async ingestAppEvents(
    @Ctx() ctx: Context,
    @Arg('events', () => [AppEventInput]) events: AppEventInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Arg('rejected', () => [RejectedRowInput], { nullable: true, description: REJECTED_DESCRIPTION }) rejected: RejectedRowInput[] | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, events, idempotencyKey, rejected)
    return answer(ctx, 'app_events', () => ctx.store.ingestAppEvents(events, options(ctx, idempotencyKey, rejected)))
  }

  @Authorized('admin')
  @Query(() => [QuarantinedRow], { description: 'Newest quarantined rows of a datasource (admin)' })
  quarantine(
    @Ctx() ctx: Context,
    @Arg('table', () => String) table: string,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
  ): Promise<QuarantinedRow[]> {
    if (!INGEST_TABLES.includes(table as IngestTable)) {
      throw new BadUserInputError(`table must be one of ${INGEST_TABLES.join(', ')}`)
    }
    const n = limit ?? 100
    if (n < 1 || n > 10_000) throw new BadUserInputError('limit must be between 1 and 10000')
    return ctx.store.quarantine(table as IngestTable, n)
  }
}
