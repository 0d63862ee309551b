import { Field, Float, ID, Int, InterfaceType, ObjectType } from 'type-graphql'
import { App } from './enums.js'

@InterfaceType({ description: "An app's exact counts; each action metric counts distinct sessions" })
export abstract class AppMetrics {
  @Field(() => Int) events!: number
  @Field(() => Int) sessions!: number
  @Field(() => Int) visitors!: number
}

@ObjectType({ implements: AppMetrics })
export class CartMetrics extends AppMetrics {
  @Field(() => Int) views!: number
  @Field(() => Int) addToCarts!: number
  @Field(() => Int) purchases!: number
  @Field(() => Float, { description: 'Sum of revenue over purchase events' }) revenue!: number
}

@ObjectType({ implements: AppMetrics })
export class FmMetrics extends AppMetrics {
  @Field(() => Int) plays!: number
  @Field(() => Int) pauses!: number
  @Field(() => Int) shares!: number
}

@ObjectType({ implements: AppMetrics })
export class LinkMetrics extends AppMetrics {
  @Field(() => Int) clicks!: number
  @Field(() => Int) redirects!: number
}

@ObjectType({ implements: AppMetrics })
export class PageMetrics extends AppMetrics {
  @Field(() => Int) views!: number
  @Field(() => Int) interactions!: number
}

@ObjectType()
export class DimensionBucket {
  @Field(() => String) value!: string
  @Field(() => AppMetrics) metrics!: AppMetrics
}

@ObjectType()
export class TimeBucket {
  @Field(() => Date) start!: Date
  @Field(() => AppMetrics) metrics!: AppMetrics
}

@ObjectType({ description: "One app's analytics for a workspace and range; ask for totals, breakdowns and a timeseries at once" })
export class AppAnalytics {
  @Field(() => App) app!: App
  @Field(() => ID) workspaceId!: string
  @Field(() => Date) from!: Date
  @Field(() => Date) to!: Date
}
