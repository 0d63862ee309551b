/**
 * The house rules of src/ (README "Architecture"), checked by `npm run lint`.
 *
 * Data flows one way: transport -> (resolvers ->) domain -> store -> connection, and everything may read
 * the catalog. If a change needs an arrow the other way, the design is wrong, not the rule.
 * Type-only imports count (tsPreCompilationDeps), so a cycle made of types fails too.
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */

/** GraphQL and the network: what the store never touches. */
const GRAPHQL_AND_NETWORK = '^node_modules/(graphql|type-graphql|@apollo|graphql-ws|ws|@escape\\.tech)/'

/** The transports (one module per protocol) and the HTTP plumbing they share. */
const TRANSPORTS = [
  '^src/transport/',
  '^src/rest/',
  '^src/server\\.ts$',
  '^src/web\\.ts$',
  '^src/sockets\\.ts$',
  '^src/introspection\\.ts$',
  '^src/overload\\.ts$',
  '^src/cors\\.ts$',
  '^src/http\\.ts$',
]

/**
 * What resolvers and transports may import from src/store/: the Store interface, its types and errors,
 * the request's query statistics, and two pure rules (the range bound, the stock-status rule; both belong
 * to the catalog/domain later). Everything else there (the ClickHouse store, its areas, SQL, batches, the
 * executor) is the store's own business.
 */
const STORE_PUBLIC = [
  '^src/store/store\\.ts$',
  '^src/store/types\\.ts$',
  '^src/store/errors\\.ts$',
  '^src/store/buckets\\.ts$',
  '^src/store/stock-status\\.ts$',
  '^src/store/query-stats\\.ts$',
]

/**
 * What the domain may import from src/store/ besides STORE_PUBLIC: the repositories the Store hands out
 * (`datasources`, `sqlApi`, a project's database), their result types, and the kind-of-work marker.
 */
const STORE_FOR_DOMAIN = [
  ...STORE_PUBLIC,
  '^src/store/datasources\\.ts$',
  '^src/store/sql-query\\.ts$',
  '^src/store/project\\.ts$',
  '^src/store/clickhouse\\.ts$',
  '^src/store/workload\\.ts$',
]

/** The use cases every transport shares (the live feed is the stock use case's push side). */
const DOMAIN = ['^src/domain/', '^src/live/']

/**
 * Where a process is put together: the only modules that open the ClickHouse store (the server's root and
 * the CLI's offline commands; the dev tools get `compose` passed in).
 */
const COMPOSITION_ROOTS = ['^src/composition\\.ts$', '^src/main\\.ts$']

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve would escape every other rule.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'catalog-imports-nothing',
      severity: 'error',
      comment: 'The catalog is pure data: it imports nothing but itself (no src, no npm, no node:).',
      from: { path: '^src/catalog/' },
      to: { pathNot: '^src/catalog/' },
    },
    {
      name: 'store-knows-no-graphql',
      severity: 'error',
      comment: 'The store speaks domain types: no GraphQL, Apollo, WebSocket or query-limit packages.',
      from: { path: '^src/store/' },
      to: { path: GRAPHQL_AND_NETWORK },
    },
    {
      name: 'store-never-reaches-graphql',
      severity: 'error',
      comment: 'Not even through another module of src/.',
      from: { path: '^src/store/' },
      to: { path: '^node_modules/(graphql|type-graphql|@apollo|graphql-ws)/', reachable: true },
    },
    {
      name: 'store-is-below-the-rest',
      severity: 'error',
      comment:
        'The store imports only itself, the catalog and the config: never the domain, resolvers, schema, ' +
        'transports, auth, live, telemetry or the request context.',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: ['^src/store/', '^src/catalog/', '^src/config\\.ts$'] },
    },
    {
      name: 'domain-knows-no-transport',
      severity: 'error',
      comment: 'Use cases are shared by every transport: no HTTP, WebSocket, Apollo, resolvers or schema.',
      from: { path: DOMAIN },
      to: {
        path: [
          '^(http|https|http2|net)$',
          '^node_modules/(ws|@apollo|graphql-ws|type-graphql)/',
          '^src/(resolvers|schema|rest|transport)/',
          '^src/(server|web|sockets|context)\\.ts$',
        ],
      },
    },
    {
      name: 'project-reads-only-the-catalog',
      severity: 'error',
      comment: 'The Tinybird project loader builds catalog entries: from src it imports only the catalog.',
      from: { path: '^src/project/' },
      to: { path: '^src/', pathNot: ['^src/project/', '^src/catalog/'] },
    },
    {
      name: 'schema-knows-no-store',
      severity: 'error',
      comment: 'GraphQL types derive from the catalog and domain, not from store types.',
      from: { path: '^src/schema/' },
      to: { path: '^src/store/' },
    },
    {
      name: 'resolvers-use-the-store-interface',
      severity: 'error',
      comment: 'Resolvers are thin adapters: they see the Store interface and its types, never its internals.',
      from: { path: '^src/resolvers/' },
      to: { path: '^src/store/', pathNot: STORE_PUBLIC },
    },
    {
      name: 'transports-use-the-store-interface',
      severity: 'error',
      comment: 'Transports see the Store interface and its types, never its internals (no exemption: the composition root opens the store).',
      from: { path: TRANSPORTS },
      to: { path: '^src/store/', pathNot: STORE_PUBLIC },
    },
    {
      name: 'domain-uses-the-store-it-is-given',
      severity: 'error',
      comment: 'Use cases work on the Store and the repositories it hands out; the executor, areas, SQL files and batches stay inside.',
      from: { path: DOMAIN },
      to: { path: '^src/store/', pathNot: STORE_FOR_DOMAIN },
    },
    {
      name: 'only-the-composition-root-opens-the-store',
      severity: 'error',
      comment: 'The ClickHouse store is built in one place (composition.ts; the CLI for its offline commands).',
      from: { path: '^src/', pathNot: ['^src/store/', ...COMPOSITION_ROOTS] },
      to: { path: '^src/store/clickhouse-store\\.ts$' },
    },
    {
      name: 'only-the-connection-reaches-clickhouse',
      severity: 'error',
      comment: 'Transport -> domain -> store -> connection: the backend is chosen in store/connection.ts alone.',
      from: { path: '^src/', pathNot: '^src/store/connection\\.ts$' },
      to: { path: '^node_modules/chdb/' },
    },
    {
      name: 'store-areas-go-through-the-executor',
      severity: 'error',
      comment: 'Every statement of a store area runs through the Executor (limits, query ids, cancellation, statistics).',
      from: { path: '^src/store/area/' },
      to: { path: ['^src/store/connection\\.ts$', '^src/store/workload\\.ts$'] },
    },
    {
      name: 'nothing-imports-the-composition-root',
      severity: 'error',
      comment: 'The services are built once, by the server.',
      from: { path: '^src/', pathNot: ['^src/server\\.ts$', '^src/main\\.ts$'] },
      to: { path: '^src/composition\\.ts$' },
    },
    {
      name: 'nothing-imports-the-server',
      severity: 'error',
      comment: 'src/server.ts hosts the transports; only the CLI entry starts it.',
      from: { path: '^src/', pathNot: '^src/main\\.ts$' },
      to: { path: '^src/server\\.ts$' },
    },
    {
      name: 'only-resolvers-and-transports-reach-up',
      severity: 'error',
      comment: 'Nothing below the transports imports them or the resolvers (schema registers the resolvers).',
      from: { path: '^src/(domain|store|catalog|project|auth|live)/' },
      to: { path: ['^src/(resolvers|rest|transport)/', '^src/(server|web|sockets|composition)\\.ts$'] },
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
