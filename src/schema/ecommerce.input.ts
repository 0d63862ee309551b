import { Field, Float, ID, InputType, Int } from 'type-graphql'
import { EcommEventType } from './enums.js'

@InputType()
export class EcommEventInput {
  @Field(() => Date, { nullable: true, description: 'Defaults to now' }) timestamp?: Date | null
  @Field(() => EcommEventType) event!: EcommEventType
  @Field(() => ID) product!: string
}

@InputType()
export class WarehouseStockInput {
  @Field(() => Date, { nullable: true, description: 'Defaults to now' }) timestamp?: Date | null
  @Field(() => ID) product!: string
  @Field(() => String) store!: string
  @Field(() => Int, { description: 'Signed change of stock' }) amount!: number
}

@InputType()
export class ProductInput {
  @Field(() => ID) id!: string
  @Field(() => String) category!: string
  @Field(() => String) name!: string
  @Field(() => String, { nullable: true }) photo?: string | null
  @Field(() => Float) price!: number
}
