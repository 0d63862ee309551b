import { Field, Float, ID, InputType } from 'type-graphql'
import { App } from './enums.js'

/** The asset and the 16 dimensions, shared by the analytics filter and the app-event row. */
@InputType()
abstract class EventDimensions {
  @Field(() => String, { nullable: true }) assetId?: string | null
  @Field(() => String, { nullable: true }) browser?: string | null
  @Field(() => String, { nullable: true }) os?: string | null
  @Field(() => String, { nullable: true }) device?: string | null
  @Field(() => String, { nullable: true }) country?: string | null
  @Field(() => String, { nullable: true }) region?: string | null
  @Field(() => String, { nullable: true }) city?: string | null
  @Field(() => String, { nullable: true }) referer?: string | null
  @Field(() => String, { nullable: true }) platform?: string | null
  @Field(() => String, { nullable: true }) emailBroadcastId?: string | null
  @Field(() => String, { nullable: true }) emailTemplateId?: string | null
  @Field(() => String, { nullable: true }) flowActionId?: string | null
  @Field(() => String, { nullable: true }) landingPageId?: string | null
  @Field(() => String, { nullable: true }) metaAdId?: string | null
  @Field(() => String, { nullable: true }) metaAdSetId?: string | null
  @Field(() => String, { nullable: true }) metaCampaignId?: string | null
  @Field(() => String, { nullable: true }) metaPlacementId?: string | null
}

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
