import { Field, Float, ID, InputType } from 'type-graphql'
import { DIMENSIONS } from '../catalog/index.js'
import { App } from './enums.js'

/** The asset and the dimensions (one field per catalog entry), shared by the analytics filter and the app-event row. */
@InputType()
abstract class EventDimensions {
  @Field(() => String, { nullable: true }) assetId?: string | null;
  /** The dimensions by their field names (the catalog's). */
  readonly [field: string]: unknown
}
for (const d of DIMENSIONS) Field(() => String, { nullable: true })(EventDimensions.prototype, d.field)

@InputType({ description: 'Equality filters; REFERER matches the registrable domain (instagram.com)' })
export class AnalyticsFilter extends EventDimensions {
  @Field(() => String, {
    nullable: true,
    description: "The session's referer (Tinybird's sessionReferer): each event carries its session's attribution, so this matches the referer column like referer, and both apply when both are given",
  })
  sessionReferer?: string | null

  @Field(() => [String], { nullable: true, description: 'Events on any of these platforms; an empty list matches nothing' })
  platforms?: string[] | null

  @Field(() => [String], { nullable: true, description: "Events with any of these actions (the app's, e.g. view, purchase); an empty list matches nothing" })
  actions?: string[] | null
}

@InputType()
export class AppEventInput extends EventDimensions {
  @Field(() => Date, { nullable: true, description: 'Defaults to now' }) timestamp?: Date | null
  @Field(() => App) app!: App
  @Field(() => String, { description: 'One of the app\'s actions, e.g. cart: view, add_to_cart, purchase' }) action!: string
  @Field(() => ID) workspaceId!: string
  @Field(() => String) sessionId!: string
  @Field(() => String) visitorId!: string
  @Field(() => Float, { nullable: true }) revenue?: number | null
}
