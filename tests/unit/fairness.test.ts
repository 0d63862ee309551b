import { GraphQLError, GraphQLInt, GraphQLObjectType, GraphQLSchema, graphql } from 'graphql'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { AuthFailureLimiter, secretPrefix } from '../../src/auth/auth-failures.js'
import { JwtService } from '../../src/auth/jwt.js'
import { formatError } from '../../src/errors.js'
import { render } from '../../src/rest/format.js'
import { fromGraphQL } from '../../src/rest/http.js'
import { limitErrorOf, QueryLimitError, StoreBusyError, StoreValueError } from '../../src/store/errors.js'
import { clientAddress } from '../../src/sockets.js'
import { asWork, currentWork, limitSettings, Scheduler, type WorkKind } from '../../src/store/workload.js'

/** A task whose completion the test controls. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

describe('Scheduler', () => {
  it('runs waiting work by priority (ingest, live, health, auth before reads and dashboards, those before service), FIFO within one', async () => {
    const scheduler = new Scheduler(1, 100)
    const order: string[] = []
    const first = gate()
    const running = scheduler.run('dashboard', () => first.promise.then(() => void order.push('running dashboard')))
    const kinds: Array<[WorkKind, string]> = [
      ['service', 'service'],
      ['dashboard', 'dashboard 1'],
      ['read', 'read 1'],
      ['ingest', 'ingest'],
      ['dashboard', 'dashboard 2'],
      ['live', 'live'],
      ['read', 'read 2'],
      ['health', 'health'],
      ['auth', 'auth'],
    ]
    const done = kinds.map(([kind, label]) => scheduler.run(kind, async () => void order.push(label)))
    expect(scheduler.size).toEqual({ running: 1, queued: kinds.length })
    first.open()
    await Promise.all([running, ...done])
    expect(order).toEqual(['running dashboard', 'ingest', 'live', 'health', 'auth', 'dashboard 1', 'read 1', 'dashboard 2', 'read 2', 'service'])
  })

  it('bounds the queue: when full, ingest displaces the newest waiting call of a lower priority, which fails STORE_BUSY', async () => {
    const scheduler = new Scheduler(1, 3)
    const first = gate()
    const running = scheduler.run('read', () => first.promise)
    const outcomes: string[] = []
    const track = (label: string, p: Promise<unknown>) =>
      p.then(
        () => outcomes.push(`${label} ran`),
        (err: unknown) => outcomes.push(`${label} ${err instanceof StoreBusyError ? `busy, retry in ${err.retryAfterMs >= 1000 ? '≥1s' : '?'}` : String(err)}`),
      )
    const all = [
      track('read A', scheduler.run('read', async () => {})),
      track('service B', scheduler.run('service', async () => {})),
      track('dashboard C', scheduler.run('dashboard', async () => {})),
      // The queue is full (3): a read displaces the newest waiting call of a lower priority (service B).
      track('read D', scheduler.run('read', async () => {})),
      // Another dashboard finds only its own priority or higher waiting: refused itself.
      track('dashboard E', scheduler.run('dashboard', async () => {})),
      // Ingest displaces the newest read or dashboard (D).
      track('ingest F', scheduler.run('ingest', async () => {})),
      track('live G', scheduler.run('live', async () => {})), // and C
      track('health H', scheduler.run('health', async () => {})), // and A
      // Now only priority work waits: another is refused.
      track('auth I', scheduler.run('auth', async () => {})),
    ]
    expect(scheduler.size.queued).toBe(3)
    first.open()
    await running
    await Promise.all(all)
    expect(outcomes.sort()).toEqual(
      [
        'read A busy, retry in ≥1s',
        'service B busy, retry in ≥1s',
        'dashboard C busy, retry in ≥1s',
        'read D busy, retry in ≥1s',
        'dashboard E busy, retry in ≥1s',
        'ingest F ran',
        'live G ran',
        'health H ran',
        'auth I busy, retry in ≥1s',
      ].sort(),
    )
    expect(Object.fromEntries(scheduler.refused)).toEqual({ read: 2, service: 1, dashboard: 2, auth: 1 })
  })

  it('runs up to `concurrency` at once and passes errors through', async () => {
    const scheduler = new Scheduler(2, 10)
    const a = gate()
    const b = gate()
    const pa = scheduler.run('read', () => a.promise)
    const pb = scheduler.run('read', () => b.promise)
    const pc = scheduler.run('read', () => Promise.reject(new Error('boom')))
    expect(scheduler.size).toEqual({ running: 2, queued: 1 })
    a.open()
    await pa
    await expect(pc).rejects.toThrow('boom')
    b.open()
    await pb
    await new Promise((resolve) => setImmediate(resolve))
    expect(scheduler.size).toEqual({ running: 0, queued: 0 })
  })

  it('starts the next waiting call before the finished one’s caller resumes (the store never idles while a response is built)', async () => {
    const scheduler = new Scheduler(1, 10)
    const a = gate()
    const events: string[] = []
    const first = scheduler.run('read', () => a.promise).then(() => events.push('first caller resumes'))
    const second = scheduler.run('read', async () => {
      events.push('second starts')
    })
    // The failure path too: a failed call's slot is given back before its caller hears of the error.
    const c = gate()
    const third = scheduler.run('read', () => c.promise.then(() => Promise.reject(new Error('boom')))).catch(() => events.push('third caller resumes'))
    const fourth = scheduler.run('read', async () => {
      events.push('fourth starts')
    })
    a.open()
    await Promise.all([first, second])
    c.open()
    await Promise.all([third, fourth])
    expect(events).toEqual(['second starts', 'first caller resumes', 'fourth starts', 'third caller resumes'])
  })
})

describe('work kinds', () => {
  it('an outer kind wins over the kinds of the store methods it calls', async () => {
    expect(currentWork()).toBe('read')
    const seen = await asWork('live', () => asWork('read', async () => currentWork()))
    expect(seen).toBe('live')
    expect(asWork('dashboard', () => currentWork())).toBe('dashboard')
  })

  it('pins every limit on each statement, in ClickHouse units', () => {
    expect(limitSettings({ timeoutMs: 2500, maxMemory: 1024 })).toEqual({ max_execution_time: 2.5, max_memory_usage: 1024, timeout_overflow_mode: 'throw' })
  })

  it("reads ClickHouse's limit errors as QueryLimitError, by code or by message (chDB)", () => {
    expect(limitErrorOf({ code: '159', message: 'Timeout exceeded' })?.limit).toBe('time')
    expect(limitErrorOf(new Error('Code: 241. DB::Exception: Query memory limit exceeded'))?.limit).toBe('memory')
    expect(limitErrorOf(new Error('Code: 60. DB::Exception: Unknown table'))).toBeUndefined()
  })
})

describe('error codes', () => {
  const format = (err: unknown) => formatError(new GraphQLError('x', { path: ['f'], originalError: err as Error }).toJSON(), new GraphQLError('x', { path: ['f'], originalError: err as Error }))

  it('STORE_BUSY with its retry hint, QUERY_TIMEOUT, VALUE_OUT_OF_RANGE', () => {
    expect(format(new StoreBusyError(2500)).extensions).toEqual({ code: 'STORE_BUSY', retryAfterMs: 2500 })
    expect(format(new QueryLimitError('time')).extensions).toEqual({ code: 'QUERY_TIMEOUT' })
    expect(format(new QueryLimitError('memory')).message).toMatch(/memory limit/)
    expect(format(new StoreValueError('The stored revenue is not a finite number'))).toMatchObject({
      message: 'The stored revenue is not a finite number',
      extensions: { code: 'VALUE_OUT_OF_RANGE' },
    })
  })

  it('an Int field holding a 64-bit value answers VALUE_OUT_OF_RANGE for that field, not a masked internal error', async () => {
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { stock: { type: GraphQLInt, resolve: () => 4_294_967_294 } } }),
    })
    const result = await graphql({ schema, source: '{ stock }' })
    const [error] = result.errors ?? []
    const formatted = formatError(error!.toJSON(), error)
    expect(formatted.extensions).toEqual({ code: 'VALUE_OUT_OF_RANGE' })
    expect(formatted.message).toContain('4294967294')
    expect(formatted.path).toEqual(['stock'])
  })

  it('REST: QUERY_TIMEOUT is 504, STORE_BUSY 503 with Retry-After', () => {
    expect(fromGraphQL({ message: 'slow', extensions: { code: 'QUERY_TIMEOUT' } }).status).toBe(504)
    const busy = fromGraphQL({ message: 'busy', extensions: { code: 'STORE_BUSY', retryAfterMs: 2100 } })
    expect([busy.status, busy.headers]).toEqual([503, { 'retry-after': '3' }])
  })
})

describe('AuthFailureLimiter', () => {
  it('refuses an address once its failures are used up, and only that address', () => {
    let now = 0
    const limiter = new AuthFailureLimiter(60, 3, () => now)
    for (let i = 0; i < 3; i++) {
      expect(limiter.check('10.0.0.1', `sl_guess${i}aaaaaaaa`).allowed).toBe(true)
      limiter.fail('10.0.0.1', `sl_guess${i}aaaaaaaa`)
    }
    const refused = limiter.check('10.0.0.1', 'sl_another_guess')
    expect(refused).toEqual({ allowed: false, retryAfterMs: 1000, by: 'address' })
    expect(limiter.check('10.0.0.2', 'sl_another_guess').allowed).toBe(true)
    now += 1000 // one failure refilled (60 per minute)
    expect(limiter.check('10.0.0.1', 'sl_another_guess').allowed).toBe(true)
  })

  it('refuses a secret prefix guessed from many addresses', () => {
    const limiter = new AuthFailureLimiter(60, 2, () => 0)
    limiter.fail('10.0.0.1', 'sl_SAMEPREFIXguess1')
    limiter.fail('10.0.0.2', 'sl_SAMEPREFIXguess2')
    expect(limiter.check('10.0.0.3', 'sl_SAMEPREFIXguess3')).toMatchObject({ allowed: false, by: 'prefix' })
    expect(limiter.check('10.0.0.3', 'sl_OTHERPREFIX')).toEqual({ allowed: true })
  })

  it('keys JWTs by their signature, not their shared header', () => {
    expect(secretPrefix('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.SIGNATUREabcdef123')).toBe('jwt:SIGNATUREabc')
    expect(secretPrefix('sl_abcdefghijklmnop')).toBe('sl_abcdefghi')
  })

  it('is off at 0 per minute', () => {
    const limiter = new AuthFailureLimiter(0, 1)
    for (let i = 0; i < 10; i++) limiter.fail('a', 'b')
    expect(limiter.check('a', 'b').allowed).toBe(true)
  })
})

describe('JWT verification', () => {
  const SECRET = 'unit-test-secret-that-is-long-enough-0123'
  const key = new TextEncoder().encode(SECRET)
  const now = Math.floor(Date.now() / 1000)
  const sign = (claims: Record<string, unknown>) => new SignJWT({ scopes: ['read'], ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuer('sightline').sign(key)

  it('enforces the maximum lifetime when verifying, not only when minting', async () => {
    const jwt = new JwtService(SECRET, 3600)
    expect(await jwt.verify(await sign({ sub: 'a', iat: now, exp: now + 3600 }))).toMatchObject({ name: 'jwt:a' })
    expect(await jwt.verify(await sign({ sub: 'a', iat: now, exp: now + 3601 }))).toBeNull()
    // Without iat, the lifetime counts from now.
    expect(await jwt.verify(await sign({ sub: 'a', exp: now + 7200 }))).toBeNull()
    expect(await jwt.verify(await sign({ sub: 'a', exp: now + 600 }))).toMatchObject({ name: 'jwt:a' })
    await expect(jwt.sign({ name: 'a', scopes: ['read'], expiresInSeconds: 3601 })).rejects.toThrow(/from 1 to 3600/)
  })

  it('refuses an iat in the future', async () => {
    const jwt = new JwtService(SECRET)
    expect(await jwt.verify(await sign({ sub: 'a', iat: now + 120, exp: now + 600 }))).toBeNull()
    expect(await jwt.verify(await sign({ sub: 'a', iat: now + 1, exp: now + 600 }))).not.toBeNull() // clock skew
  })

  it('requires a non-empty string sub', async () => {
    const jwt = new JwtService(SECRET)
    for (const sub of [{ a: 1 }, 42, '', ['x']]) expect(await jwt.verify(await sign({ sub, iat: now, exp: now + 600 }))).toBeNull()
  })
})

describe('REST rendering', () => {
  const stats = { elapsed: 0, rows_read: 0, bytes_read: 0 }
  const columns = [
    { name: 'name', type: 'String' },
    { name: 'stock', type: 'Int64' },
  ]

  it('CSV neutralises formula cells in string columns; numbers such as -253 stay numbers', () => {
    const rows = ['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)', '\tx', '\rx', 'plain', '-'].map((name, i) => ({ name, stock: -253 + i }))
    const out = render('csvwithnames', columns, rows, stats)
    expect(out.split('\n').slice(1, -1)).toEqual([
      `"'=HYPERLINK(""http://x"")",-253`,
      `"'+1",-252`,
      `"'-2",-251`,
      `"'@SUM(A1)",-250`,
      `"'\tx",-249`,
      `"'\rx",-248`,
      `"plain",-247`,
      `"'-",-246`,
    ])
    expect(render('csvwithnames', columns, [{ name: '=1+1', stock: 1 }], stats, { csvFormulaGuard: false })).toBe('"name","stock"\n"=1+1",1\n')
    expect(render('csv', columns, [{ name: '=1+1', stock: 1 }], stats)).toBe(`"'=1+1",1\n`) // .csv: no header, guarded too
  })

  it('JSON and NDJSON write 64-bit integers beyond 2^53 exactly', () => {
    const rows = [{ name: 'p', stock: 9_223_372_036_854_775_807n }, { name: 'q', stock: 4_294_967_294 }]
    const json = render('json', columns, rows, stats)
    expect(json).toContain('"data":[{"name":"p","stock":9223372036854775807},{"name":"q","stock":4294967294}]')
    expect(render('ndjson', columns, rows, stats)).toBe('{"name":"p","stock":9223372036854775807}\n{"name":"q","stock":4294967294}\n')
    expect(render('csv', columns, rows, stats)).toContain('"p",9223372036854775807')
  })
})

describe('clientAddress', () => {
  const req = (remoteAddress: string | undefined, xff?: string | string[]) =>
    ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as Parameters<typeof clientAddress>[0]

  it('is the TCP peer unless the proxy is trusted; then the entry the proxy appended', () => {
    expect(clientAddress(req('10.0.0.9', '1.1.1.1, 2.2.2.2'))).toBe('10.0.0.9')
    expect(clientAddress(req('10.0.0.9', '1.1.1.1, 2.2.2.2'), true)).toBe('2.2.2.2')
    expect(clientAddress(req('10.0.0.9', ['1.1.1.1', '3.3.3.3 ']), true)).toBe('3.3.3.3')
    expect(clientAddress(req('10.0.0.9'), true)).toBe('10.0.0.9')
    expect(clientAddress(req(undefined))).toBe('unknown')
  })
})
