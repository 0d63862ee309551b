import { Field, ID, ObjectType } from 'type-graphql'

@ObjectType({ description: 'A new token; the secret is shown once and never stored' })
export class CreatedToken {
  @Field(() => String) name!: string
  @Field(() => String) token!: string
  @Field(() => [String]) scopes!: string[]
  @Field(() => ID, { nullable: true }) workspaceId!: string | null
}

@ObjectType({ description: 'A live stored token (never its secret or hash)' })
export class TokenInfo {
  @Field(() => String) name!: string
  @Field(() => [String]) scopes!: string[]
  @Field(() => ID, { nullable: true }) workspaceId!: string | null
  @Field(() => Date) createdAt!: Date
  @Field(() => Date, { nullable: true }) expiresAt!: Date | null
  @Field(() => Boolean, { description: 'True once expiresAt has passed: the token no longer authenticates' }) expired!: boolean
}

@ObjectType({ description: 'A signed JWT (HS256); not stored, so it cannot be revoked before it expires' })
export class SignedJwt {
  @Field(() => String) token!: string
  @Field(() => String) name!: string
  @Field(() => [String]) scopes!: string[]
  @Field(() => ID, { nullable: true }) workspaceId!: string | null
  @Field(() => Date) expiresAt!: Date
}
