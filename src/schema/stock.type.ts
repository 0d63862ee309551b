import { Field, ID, Int, ObjectType } from 'type-graphql'
import { StockStatus } from './enums.js'

@ObjectType({ description: 'A change of one product\'s stock: the new level and the change that led to it' })
export class StockUpdate {
  @Field(() => ID) product!: string
  @Field(() => Int) available!: number
  @Field(() => StockStatus) status!: StockStatus
  @Field(() => Int) delta!: number
  @Field(() => Date) at!: Date
}
