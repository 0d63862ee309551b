import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql'
import type { Context } from '../context.js'
import { ErrorEntry, IngestOp, OperationStat } from '../schema/service.type.js'
import { domainOf } from './domain.js'

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
    return domainOf(ctx).serviceData.operationStats(ctx.principal, from, to)
  }

  @Authorized('admin')
  @Query(() => [IngestOp], { description: 'Newest ingest batches first (admin)' })
  async ingestLog(
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
  ): Promise<IngestOp[]> {
    return domainOf(ctx).serviceData.ingestLog(ctx.principal, limit)
  }

  @Authorized('admin')
  @Query(() => [ErrorEntry], { description: 'Newest errors first (admin)' })
  async errorLog(
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 100 }) limit: number | null,
  ): Promise<ErrorEntry[]> {
    return domainOf(ctx).serviceData.errorLog(ctx.principal, limit)
  }
}
