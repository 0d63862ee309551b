import { Field, ID, InputType } from 'type-graphql'

@InputType()
export class TokenInput {
  @Field(() => String) name!: string
  @Field(() => [String], { description: 'e.g. read:ecommerce, append:ecomm_events, read:analytics:cart, admin' })
  scopes!: string[]
  @Field(() => ID, { nullable: true, description: 'Confine analytics and app-event ingest to this workspace' })
  workspaceId?: string | null
  @Field(() => Date, { nullable: true }) expiresAt?: Date | null
}
