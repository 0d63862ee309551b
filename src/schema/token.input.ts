import { Field, ID, InputType, Int } from 'type-graphql'

@InputType()
export class TokenInput {
  @Field(() => String) name!: string
  @Field(() => [String], { description: 'e.g. read:ecommerce, append:ecomm_events, read:analytics:cart, admin' })
  scopes!: string[]
  @Field(() => ID, { nullable: true, description: 'Confine analytics and app-event ingest to this workspace' })
  workspaceId?: string | null
  @Field(() => Date, { nullable: true }) expiresAt?: Date | null
}

@InputType({ description: 'A signed JWT for a frontend: scopes and workspace fixed at signing, always expiring' })
export class JwtInput {
  @Field(() => String, { description: 'A name for logs (the principal is "jwt:<name>")' }) name!: string
  @Field(() => [String], { description: 'e.g. read:ecommerce, read:analytics:page' })
  scopes!: string[]
  @Field(() => ID, { nullable: true, description: 'Confine analytics and app-event ingest to this workspace' })
  workspaceId?: string | null
  @Field(() => Int, { nullable: true, defaultValue: 3600, description: 'Lifetime in seconds, at most 31 days' })
  expiresInSeconds?: number | null
}
