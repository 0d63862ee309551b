import { Field, InputType } from 'type-graphql'

@InputType({
  description:
    'A record the client could not turn into a typed row (e.g. an NDJSON line that is not JSON): it is quarantined as given, with its reason',
})
export class RejectedRowInput {
  @Field(() => String, { description: 'The record as received' }) row!: string
  @Field(() => String, { description: 'Why it could not be read' }) reason!: string
}
