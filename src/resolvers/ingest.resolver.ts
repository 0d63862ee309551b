import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql'
import { requirePrincipal } from '../auth/guard.js'
import type { Context } from '../context.js'
import { BadUserInputError } from '../errors.js'
import { AppEventInput } from '../schema/analytics.input.js'
import { EcommEventInput, ProductInput, WarehouseStockInput } from '../schema/ecommerce.input.js'
import { IngestResult, QuarantinedRow } from '../schema/ingest.type.js'
import type { IngestOutcome } from '../store/store.js'
import type { IngestOptions } from '../store/types.js'
import { INGEST_TABLES, type IngestTable } from '../store/types.js'

const MAX_KEY = 256

/** Checks the batch limits; nothing is written when they fail. */
function checkBatch(ctx: Context, rows: readonly unknown[], key: string | null | undefined): void {
  if (rows.length > ctx.config.maxBatch) {
    throw new BadUserInputError(`a batch holds at most ${ctx.config.maxBatch} rows; this one has ${rows.length}`)
  }
  if (key !== null && key !== undefined && (key.length === 0 || key.length > MAX_KEY)) {
    throw new BadUserInputError(`idempotencyKey must be 1 to ${MAX_KEY} characters`)
  }
}

/** The store's ingest options for this caller; @Authorized has already checked the scope. */
function options(ctx: Context, idempotencyKey: string | null): IngestOptions {
  const principal = requirePrincipal(ctx)
  return { idempotencyKey: idempotencyKey ?? undefined, workspaceId: principal.workspaceId ?? undefined, tokenName: principal.name }
}

/** Publishes the stock the batch moved (after it is durable) and answers the batch's result. */
async function answer(ctx: Context, outcome: IngestOutcome): Promise<IngestResult> {
  if (outcome.stockChanges.length > 0) await ctx.feed.nudge()
  return { accepted: outcome.accepted, quarantined: outcome.quarantined, errors: [...outcome.errors], deduplicated: outcome.deduplicated }
}

@Resolver()
export class IngestResolver {
  @Authorized('append:ecomm_events')
  @Mutation(() => IngestResult)
  async ingestEcommEvents(
    @Ctx() ctx: Context,
    @Arg('events', () => [EcommEventInput]) events: EcommEventInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, events, idempotencyKey)
    return answer(ctx, await ctx.store.ingestEcommEvents(events, options(ctx, idempotencyKey)))
  }

  @Authorized('append:warehouse_stock')
  @Mutation(() => IngestResult)
  async ingestWarehouseStock(
    @Ctx() ctx: Context,
    @Arg('updates', () => [WarehouseStockInput]) updates: WarehouseStockInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, updates, idempotencyKey)
    return answer(ctx, await ctx.store.ingestWarehouseStock(updates, options(ctx, idempotencyKey)))
  }

  @Authorized('append:products')
  @Mutation(() => IngestResult, { description: 'Inserts or replaces products by id' })
  async upsertProducts(
    @Ctx() ctx: Context,
    @Arg('products', () => [ProductInput]) products: ProductInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, products, idempotencyKey)
    return answer(ctx, await ctx.store.upsertProducts(products, options(ctx, idempotencyKey)))
  }

  @Authorized('append:app_events')
  @Mutation(() => IngestResult, { description: "Rows of another workspace than a bound token's are quarantined" })
  async ingestAppEvents(
    @Ctx() ctx: Context,
    @Arg('events', () => [AppEventInput]) events: AppEventInput[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<IngestResult> {
    checkBatch(ctx, events, idempotencyKey)
    return answer(
      ctx,
      await ctx.store.ingestAppEvents(events, options(ctx, idempotencyKey)),
    )
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
