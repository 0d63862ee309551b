import { describe, expect, it } from 'vitest'
import { DATASOURCES, parseNdjson } from '../../src/rest/events.js'
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
})
