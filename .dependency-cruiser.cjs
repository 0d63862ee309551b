/**
 * The house rules of src/ (see README "Architecture"), checked by `npm run lint`.
 * Data flows one way: transport -> (resolvers ->) domain -> store -> connection; everything may read the
 * catalog. If a change needs an arrow the other way, the design is wrong, not the rule.
 * Type-only imports count (tsPreCompilationDeps), so a type cycle fails too.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only imports included.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
}
