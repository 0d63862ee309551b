import { getNamedType, isObjectType, type GraphQLSchema } from 'graphql'
import { getMetadataStorage } from 'type-graphql'

/** A decorated class, as type-graphql's metadata names it. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Target = Function

/**
 * type-graphql gives every object field a resolver of its own (`root[name]` behind its middleware
 * dispatcher) unless the class opts into `simpleResolvers`, so a 1,818-row grid of 10 fields costs
 * ~18k resolver calls. Sightline checks access on root fields only (`@Authorized` on queries and
 * mutations, the scope checks in resolvers), so for a field with no `@FieldResolver`, no `@Authorized`
 * and no middleware that resolver only reads a property. Removing it lets graphql-js use its default
 * resolver and graphql-jit read the property inline.
 *
 * Changes the schema in place (field definitions are plain objects) and returns the fields it made plain.
 * A field keeps its resolver when its GraphQL name differs from the property (the default resolver would
 * read the wrong key) or when anything is attached to it.
 */
export function plainFields(schema: GraphQLSchema): string[] {
  const storage = getMetadataStorage()
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean))
  // Object type name -> its class(es); a class's fields include those it inherits.
  const classesOf = new Map<string, Set<Target>>()
  for (const t of storage.objectTypes) {
    const set = classesOf.get(t.name) ?? new Set<Target>()
    set.add(t.target)
    classesOf.set(t.name, set)
  }
  const plain: string[] = []
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || roots.has(type) || type.name.startsWith('__')) continue
    const classes = classesOf.get(type.name)
    if (!classes) continue
    for (const field of Object.values(type.getFields())) {
      if (!field.resolve) continue
      const ofClasses = (target: Target | undefined) => target !== undefined && [...classes].some((c) => isSameOrSubclass(c, target))
      // A @FieldResolver for this name on the class or an ancestor (or one whose class is unknown): keep.
      if (storage.fieldResolvers.some((r) => r.schemaName === field.name && (!r.getObjectType || ofClasses(r.getObjectType())))) continue
      const meta = storage.fields.filter((f) => f.schemaName === field.name && ofClasses(f.target))
      // Unknown to type-graphql, or declared more than once: leave it as it is.
      if (meta.length !== 1) continue
      const [m] = meta
      if (!m || m.name !== m.schemaName || (m.roles?.length ?? 0) > 0 || (m.middlewares?.length ?? 0) > 0 || (m.params?.length ?? 0) > 0) continue
      if (storage.authorizedFields.some((a) => a.fieldName === m.name && ofClasses(a.target))) continue
      // A named type is enough to know it is still a field of this schema (and not a stale metadata entry).
      if (!getNamedType(field.type)) continue
      field.resolve = undefined
      plain.push(`${type.name}.${field.name}`)
    }
  }
  return plain
}

function isSameOrSubclass(cls: Target, base: Target): boolean {
  return cls === base || cls.prototype instanceof base
}
