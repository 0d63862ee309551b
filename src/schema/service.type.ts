import { Field, Float, Int, ObjectType } from 'type-graphql'

@ObjectType({ description: "Per-operation statistics over a time range (Tinybird's pipe_stats_rt)" })
export class OperationStat {
  @Field(() => String) operation!: string
  @Field(() => Int) calls!: number
  @Field(() => Int, { description: 'Calls that answered with at least one error' }) errors!: number
  @Field(() => Float) p50Ms!: number
  @Field(() => Float) p95Ms!: number
  @Field(() => Float, { description: 'Rows ClickHouse read for these calls, summed' }) rowsRead!: number
}

@ObjectType({ description: "One ingest batch (Tinybird's datasources_ops_log)" })
export class IngestOp {
  @Field(() => String) table!: string
  @Field(() => Int, { description: 'Rows stored' }) rows!: number
  @Field(() => Int) quarantined!: number
  @Field(() => Float) durationMs!: number
  @Field(() => String, { description: "The token's name, never its secret" }) token!: string
  @Field(() => Boolean) deduplicated!: boolean
  @Field(() => Date) at!: Date
}

@ObjectType({ description: "One error answered to a client (Tinybird's endpoint_errors)" })
export class ErrorEntry {
  @Field(() => String, { nullable: true }) operation!: string | null
  @Field(() => String) code!: string
  @Field(() => String, { description: 'The message the client saw (internal errors are masked)' }) message!: string
  @Field(() => String, { description: 'The x-request-id of the request' }) requestId!: string
  @Field(() => Date) at!: Date
}
