import 'reflect-metadata'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

const preflight = (server: TestServer, origin: string) =>
  fetch(server.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  })

const post = (server: TestServer, origin: string, contentType = 'application/json') =>
  fetch(server.url, {
    method: 'POST',
    headers: { origin, 'content-type': contentType, authorization: `Bearer ${server.adminToken}` },
    body: JSON.stringify({ query: '{ tokens { name } }' }),
  })

describe('CORS on /graphql', () => {
  const servers: TestServer[] = []
  let plain: TestServer
  let listed: TestServer
  let demo: TestServer
  beforeAll(async () => {
    servers.push((plain = await startTestServer()))
    servers.push((listed = await startTestServer({ SIGHTLINE_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' })))
    servers.push((demo = await startTestServer({ SIGHTLINE_DEMO: '1' })))
  }, 300_000)
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
  })

  it('by default allows no other origin: the preflight is refused and answers carry no allow-origin', async () => {
    const pre = await preflight(plain, 'http://localhost:5173')
    expect(pre.status).toBe(403)
    expect(pre.headers.get('access-control-allow-origin')).toBeNull()
    expect(((await pre.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('FORBIDDEN')
    const res = await post(plain, 'https://evil.example')
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    expect(res.headers.get('vary')).toMatch(/origin/i)
  })

  it('answers a preflight from a listed origin with what the browser needs', async () => {
    const pre = await preflight(listed, 'https://app.example.com')
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS')
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization')
    expect(pre.headers.get('access-control-allow-headers')).toContain('content-type')
    expect(pre.headers.get('access-control-max-age')).toBe('600')
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull() // tokens travel in a header, not cookies
    const res = await post(listed, 'https://app.example.com')
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
    expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id')
    // Only the listed port of localhost, and no look-alike.
    expect((await preflight(listed, 'http://localhost:5174')).status).toBe(403)
    expect((await preflight(listed, 'https://app.example.com.evil.example')).status).toBe(403)
  })

  it("allows any localhost port in demo mode, and nothing else", async () => {
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:5173', 'http://localhost']) {
      const pre = await preflight(demo, origin)
      expect(pre.status, origin).toBe(204)
      expect(pre.headers.get('access-control-allow-origin'), origin).toBe(origin)
    }
    expect((await preflight(demo, 'http://localhost.evil.example')).status).toBe(403)
    expect((await preflight(demo, 'https://example.com')).status).toBe(403)
  })

  it("keeps Apollo's CSRF prevention: a simple cross-origin request is refused before it runs", async () => {
    const res = await post(listed, 'https://app.example.com', 'text/plain')
    expect(res.status).toBe(400)
    expect(await res.text()).toMatch(/CSRF|preflight/i)
  })

  it('an OPTIONS without Origin (not CORS) answers the allowed methods', async () => {
    const res = await fetch(plain.url, { method: 'OPTIONS' })
    expect(res.status).toBe(204)
    expect(res.headers.get('allow')).toBe('GET, POST, OPTIONS')
  })
})

describe('SIGHTLINE_CORS_ORIGINS', () => {
  it('takes exact origins, localhost and *, and refuses anything with a path', () => {
    expect(loadConfig({ SIGHTLINE_CORS_ORIGINS: 'https://a.example,localhost , *' }).corsOrigins).toEqual(['https://a.example', 'localhost', '*'])
    expect(loadConfig({}).corsOrigins).toEqual([])
    expect(loadConfig({ SIGHTLINE_DEMO: '1' }).corsOrigins).toEqual(['localhost'])
    expect(loadConfig({ SIGHTLINE_DEMO: '1', SIGHTLINE_CORS_ORIGINS: 'https://a.example' }).corsOrigins).toEqual(['https://a.example'])
    expect(() => loadConfig({ SIGHTLINE_CORS_ORIGINS: 'https://a.example/app' })).toThrow(ConfigError)
    expect(() => loadConfig({ SIGHTLINE_CORS_ORIGINS: 'a.example' })).toThrow(/SIGHTLINE_CORS_ORIGINS/)
  })
})
