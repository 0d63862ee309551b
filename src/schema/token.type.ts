import { Field, ID, ObjectType } from 'type-graphql'

@ObjectType({ description: 'A new token; the secret is shown once and never stored' })
export class CreatedToken {
  @Field(() => String) name!: string
  @Field(() => String) token!: string
  @Field(() => [String]) scopes!: string[]
  @Field(() => ID, { nullable: true }) workspaceId!: string | null
}
