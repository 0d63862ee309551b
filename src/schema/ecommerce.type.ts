import { Field, Float, ID, Int, ObjectType } from 'type-graphql'
import { StockStatus } from './enums.js'

@ObjectType({ description: 'A catalog product; stock and recent sales are batched per request' })
export class Product {
  @Field(() => ID) id!: string
  @Field(() => String) category!: string
  @Field(() => String) name!: string
  @Field(() => String) photo!: string
  @Field(() => Float) price!: number
}

@ObjectType()
export class Stock {
  @Field(() => ID) product!: string
  @Field(() => Int) available!: number
  @Field(() => StockStatus) status!: StockStatus
}

@ObjectType({ description: "A row of the seed's api_product_grid" })
export class ProductGridItem {
  @Field(() => ID) id!: string
  @Field(() => String) name!: string
  @Field(() => String) category!: string
  @Field(() => String) photo!: string
  @Field(() => Float) price!: number
  @Field(() => Int, { description: 'Answers VALUE_OUT_OF_RANGE when the stored stock does not fit 32 bits; see stockExact' })
  stock!: number
  @Field(() => String, { description: 'The stock exactly, as a decimal Int64: the same value as stock, also outside the 32-bit range' })
  stockExact!: string
  @Field(() => StockStatus) stockStatus!: StockStatus
  @Field(() => Int, { description: 'Sale events in the last hour' }) hits!: number
  @Field(() => Boolean) trending!: boolean
  @Field(() => String, { nullable: true }) rankStatus!: string | null
}

@ObjectType()
export class UiFilterOption {
  @Field(() => ID, { nullable: true }) id!: string | null
  @Field(() => String) value!: string
}

@ObjectType()
export class EcommTrendPoint {
  @Field(() => Date) start!: Date
  @Field(() => Int) views!: number
  @Field(() => Int) carts!: number
  @Field(() => Int) sales!: number
  @Field(() => Float) revenue!: number
}
