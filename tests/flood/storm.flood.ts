import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startTestServer, type TestServer } from '../helpers/server.js'

const SOCKETS = 2000

async function gauge(server: TestServer): Promise<number> {
  const text = await (await fetch(server.url.replace('/graphql', '/metrics'))).text()
  const line = text.split('\n').find((l) => l.startsWith('sightline_websocket_connections '))
  return Number(line?.split(' ').pop() ?? NaN)
}

describe(`a connect storm of ${SOCKETS} sockets`, () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer() // the defaults: init timeout 10 s, 5,000 sockets per address
  })
  afterAll(async () => {
    await server.stop()
  })

  it('is accepted: every socket acknowledged, none closed 4408, and the gauge returns to 0 once they close', async () => {
    const created = await server.services.tokens.create({ name: 'storm', scopes: ['read'] })
    const init = JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${created.secret}` } })
    const outcomes = await Promise.all(
      Array.from(
        { length: SOCKETS },
        () =>
          new Promise<{ ws: WebSocket; result: string }>((resolve) => {
            const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws')
            ws.once('open', () => ws.send(init))
            ws.once('message', (data) => resolve({ ws, result: (JSON.parse(String(data)) as { type: string }).type }))
            ws.once('close', (code) => resolve({ ws, result: `close ${code}` }))
            ws.once('error', (err) => resolve({ ws, result: `error ${err.message}` }))
          }),
      ),
    )
    const results = new Map<string, number>()
    for (const o of outcomes) results.set(o.result, (results.get(o.result) ?? 0) + 1)
    expect(Object.fromEntries(results)).toEqual({ connection_ack: SOCKETS })
    expect(await gauge(server)).toBe(SOCKETS)
    await Promise.all(outcomes.map((o) => new Promise((resolve) => (o.ws.once('close', resolve), o.ws.close()))))
    const deadline = Date.now() + 10_000
    let open = -1
    while (Date.now() < deadline && (open = await gauge(server)) !== 0) await new Promise((r) => setTimeout(r, 50))
    expect(open).toBe(0)
  })
})

describe('idle keep-alive', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('keeps an idle connection open past Node’s 5 s default, so a client reusing it gets no "socket hang up"', async () => {
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 })
    const get = () =>
      new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
        const req = request(server.url.replace('/graphql', '/healthz'), { agent }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket }))
        })
        req.on('error', reject)
        req.end()
      })
    const first = await get()
    await new Promise((r) => setTimeout(r, 6500))
    const second = await get()
    expect([first.status, second.status]).toEqual([200, 200])
    expect(second.socket).toBe(first.socket) // the same connection, reused after 6.5 s idle
    agent.destroy()
  })
})
