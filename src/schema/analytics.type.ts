import { Field, Float, ID, Int, InterfaceType, ObjectType } from 'type-graphql'
import { APPS, type AppEntry } from '../catalog/index.js'
import { App } from './enums.js'

@InterfaceType({ description: "An app's exact counts; each action metric counts distinct sessions" })
export abstract class AppMetrics {
  @Field(() => Int) events!: number
  @Field(() => Int) sessions!: number
  @Field(() => Int) visitors!: number
}

/**
 * One metrics type per app (`CartMetrics`, …), generated from the apps catalog: its action metrics
 * (distinct sessions with the action) and, for an app with a revenue action, `revenue`.
 */
function metricsType(app: AppEntry): new () => AppMetrics {
  @ObjectType(app.metricsType, { implements: AppMetrics })
  class Metrics extends AppMetrics {}
  for (const a of app.actions) Field(() => Int)(Metrics.prototype, a.field)
  if (app.revenueAction) Field(() => Float, { description: `Sum of revenue over ${app.revenueAction} events` })(Metrics.prototype, 'revenue')
  return Metrics
}

/** Each app's metrics class, by the app's row name. */
export const METRICS_TYPES: ReadonlyMap<string, new () => AppMetrics> = new Map(APPS.map((a) => [a.name, metricsType(a)]))

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
