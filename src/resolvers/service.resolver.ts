import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql'
import type { Context } from '../context.js'
import { BadUserInputError } from '../errors.js'
import { ErrorEntry, IngestOp, OperationStat } from '../schema/service.type.js'
import { assertRange } from '../store/buckets.js'

const DAY_MS = 86_400_000
const MAX_LIMIT = 10_000

function checkLimit(limit: number | null): number {
  const n = limit ?? 100
  if (n < 1 || n > MAX_LIMIT) throw new BadUserInputError(`limit must be between 1 and ${MAX_LIMIT}`)
  return n
}

/**
 * The service data admins read. Each read first writes what the gateway still buffers, so an
 * admin sees every request answered before theirs.
 */
@Resolver()
export class ServiceResolver {
  @Authorized('admin')
  @Query(() => [OperationStat], { description: 'Calls, errors, latency and rows read per operation in [from, to) (admin; default: the last 24 hours)' })
  async operationStats(
    @Ctx() ctx: Context,
    @Arg('from', () => Date, { nullable: true }) from: Date | null,
    @Arg('to', () => Date, { nullable: true }) to: Date | null,
  ): Promise<OperationStat[]> {
    const end = to ?? new Date()
    const start = from ?? new Date(end.getTime() - DAY_MS)
    assertRange(start, end)
    await ctx.telemetry.serviceLog.flush()
    return ctx.store.operationStats(start, end)
  }

  @Authorized('admin')
  @Query(() => [IngestOp], { description: 'Newest ingest batches first (admin)' })
  async ingestLog(
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
  ): Promise<IngestOp[]> {
    const n = checkLimit(limit)
    await ctx.telemetry.serviceLog.flush()
    return ctx.store.ingestLog(n)
  }

  @Authorized('admin')
  @Query(() => [ErrorEntry], { description: 'Newest errors first (admin)' })
  async errorLog(
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
  ): Promise<ErrorEntry[]> {
    const n = checkLimit(limit)
    await ctx.telemetry.serviceLog.flush()
    return ctx.store.errorLog(n)
  }
}
