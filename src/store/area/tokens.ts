import { toChDateTime64 } from '../clickhouse.js'
import type { TokenRecord } from '../types.js'
import type { StoreQueries, Versions } from './queries.js'

interface TokenRow {
  name: string
  scopes: string[]
  workspace_id: string
  created_ms: number
  expires_ms: number | null
}

/** API tokens: a ReplacingMergeTree of rows by name, revoked by writing the row again with `revoked = 1`. */
export class TokenRepository {
  constructor(
    private readonly q: StoreQueries,
    private readonly versions: Versions,
  ) {}

  async insert(t: TokenRecord): Promise<void> {
    await this.q.exec.insert(this.q.table('tokens'), [
      {
        name: t.name,
        hash: t.hash,
        scopes: t.scopes,
        workspace_id: t.workspaceId ?? '',
        created_at: toChDateTime64(t.createdAt),
        expires_at: t.expiresAt ? toChDateTime64(t.expiresAt) : null,
        revoked: 0,
        version: this.versions.next().toString(),
      },
    ])
  }

  async findByHash(hash: string): Promise<TokenRecord | null> {
    const [r] = await this.q.rows<TokenRow>('token_by_hash', { hash })
    return r ? { ...toToken(r), hash } : null
  }

  async nameExists(name: string): Promise<boolean> {
    return (await this.q.rows('token_name_exists', { name })).length > 0
  }

  async list(): Promise<Array<Omit<TokenRecord, 'hash'>>> {
    return (await this.q.rows<TokenRow>('live_tokens')).map(toToken)
  }

  async revoke(name: string): Promise<boolean> {
    const [live] = await this.q.rows<Record<string, unknown>>('token_by_name', { name })
    if (!live) return false
    await this.q.exec.insert(this.q.table('tokens'), [{ ...live, revoked: 1, version: this.versions.next().toString() }])
    return true
  }
}

function toToken(r: TokenRow): Omit<TokenRecord, 'hash'> {
  return {
    name: r.name,
    scopes: r.scopes,
    workspaceId: r.workspace_id || null,
    createdAt: new Date(Number(r.created_ms)),
    expiresAt: r.expires_ms === null ? null : new Date(Number(r.expires_ms)),
  }
}
