import { describe, expect, it } from 'vitest'
import { DATASOURCES, parseNdjson } from '../../src/domain/records.js'
import { parseInstant } from '../../src/rest/params.js'

describe('/v0/events rows from the catalog', () => {
  const ecomm = DATASOURCES.get('ecomm_events')!
  const apps = DATASOURCES.get('barely_events')!

  it('reads every timestamp form as the general parser does (the common UTC forms take a fast path)', () => {
    const forms = [
      '2025-03-10 04:00:00',
      '2025-03-10T04:00:00Z',
      '2025-03-10T04:00:00.5Z',
      '2025-03-10 04:00:00.123',
      '2024-02-29 23:59:59',
      '2025-02-29 00:00:00',
      '2025-13-01 00:00:00',
      '2025-03-10 24:00:00',
      '0999-01-01 00:00:00',
      '2025-03-10T04:00:00+01:00',
      '2025-03-10',
      '1700000000',
    ]
    for (const form of forms) {
      const batch = parseNdjson(JSON.stringify({ timestamp: form, event: 'view', product: 'p' }), ecomm)
      const expected = parseInstant(form, 'UTC')
      if (expected === undefined) expect(batch.rejected, form).toHaveLength(1)
      else expect((batch.rows[0]?.timestamp as Date).toISOString(), form).toBe(expected)
    }
  })

  it('reads columns by their ClickHouse name, field name or alias, and rejects what no row can hold', () => {
    const batch = parseNdjson(
      [
        JSON.stringify({ event_type: 'CART', action: 'view', workspace_id: 'w', session_id: 's', visitor_id: 'v', email_broadcast_id: 'eb', revenue: '2.5' }),
        JSON.stringify({ app: 'fm', action: 'play', workspaceId: 'w', sessionId: 's', visitorId: 'v', metaPlacementId: 7 }),
        JSON.stringify({ app: 'shop', action: 'view' }),
        'not json',
      ].join('\n'),
      apps,
    )
    expect(batch.rows).toEqual([
      expect.objectContaining({ app: 'cart', action: 'view', workspaceId: 'w', sessionId: 's', visitorId: 'v', emailBroadcastId: 'eb', revenue: 2.5, browser: null }),
      expect.objectContaining({ app: 'fm', action: 'play', metaPlacementId: '7', revenue: null }),
    ])
    expect(batch.rejected.map((r) => r.reason)).toEqual(['unknown event_type "shop"', expect.stringMatching(/^invalid JSON/)])
  })

  it('numbers lines from 1 with blank ones counted, takes CRLF, and keeps each line as sent', () => {
    const a = JSON.stringify({ event: 'view', product: 'a' })
    const b = JSON.stringify({ event: 'sale', product: 'b' })
    const batch = parseNdjson(`${a}\r\n\n   \n[1]\r\n${b}\n{"event":"fly","product":"c"}\n`, ecomm)
    expect(batch.rows.map((r) => r.product)).toEqual(['a', 'b'])
    expect(batch.rejected.map((r) => r.row)).toEqual(['[1]', '{"event":"fly","product":"c"}'])
    expect(batch.sources).toEqual([
      { row: a, label: 'line 1' },
      { row: b, label: 'line 5' },
      { row: '[1]', label: 'line 4' },
      { row: '{"event":"fly","product":"c"}', label: 'line 6' },
    ])
    expect(batch.lines).toEqual([1, 5, 4, 6])
    expect(parseNdjson('', ecomm)).toEqual({ rows: [], rejected: [], sources: [], lines: [] })
  })
})
