import { Field, ID, ObjectType } from 'type-graphql'

@ObjectType({ description: 'A new token; the secret is shown once and never stored' })
export class CreatedToken {
  @Field(() => String) name!: string
  @Field(() => String) token!: string
  @Field(() => [String]) scopes!: string[]
  @Field(() => ID, { nullable: true }) workspaceId!: string | null
}

@ObjectType({ description: 'A signed JWT (HS256); not stored, so it cannot be revoked before it expires' })
export class SignedJwt {
  @Field(() => String) token!: string
  @Field(() => String) name!: string
  @Field(() => [String]) scopes!: string[]
  @Field(() => ID, { nullable: true }) workspaceId!: string | null
  @Field(() => Date) expiresAt!: Date
}
