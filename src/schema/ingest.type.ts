import { Field, Int, ObjectType } from 'type-graphql'

@ObjectType()
export class RowError {
  @Field(() => Int, { description: 'Position of the row in the batch' }) index!: number
  @Field(() => String) message!: string
}

@ObjectType()
export class IngestResult {
  @Field(() => Int) accepted!: number
  @Field(() => Int) quarantined!: number
  @Field(() => [RowError]) errors!: RowError[]
  @Field(() => Boolean, { description: 'True when this idempotency key was already stored' }) deduplicated!: boolean
}

@ObjectType()
export class QuarantinedRow {
  @Field(() => String) table!: string
  @Field(() => String) row!: string
  @Field(() => String) reason!: string
  @Field(() => Date) at!: Date
}
