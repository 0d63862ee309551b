import type { IncomingMessage } from 'node:http'
import { gunzipSync } from 'node:zlib'
import { parse as parseCsv } from 'csv-parse/sync'
import { ConditionError, UnknownDatasourceError } from '../domain/datasources.js'
import { DATASOURCES as INGEST, parseNdjson, parseRecords, type Datasource, type ParsedBatch } from '../domain/records.js'
import type { Principal } from '../auth/scopes.js'
import { readEventsBody } from './events.js'
import { HttpError } from './http.js'

/**
 * A datasource the Data Sources API changes (a loaded project's, or a built-in one), as its routes need it:
 * its name, the scopes its writes need, its truncate and delete, and the reading of an upload into rows to
 * append. Each write checks its own scope; a replace checks `appendScope` itself before it truncates.
 */
export interface WritableDatasource {
  readonly id: string
  readonly name: string
  /** What an append needs (a replace needs it and the manage scope, which truncate checks). */
  readonly appendScope: string
  readonly manageScope: string
  truncate(who: Principal): Promise<void>
  delete(who: Principal, condition: string, dryRun: boolean): Promise<{ rows: number }>
  /**
   * Reads an upload into rows, with its idempotency key, before anything changes (400 when it cannot be
   * read); `append` stores them.
   */
  read(upload: Upload, delimiter: string, key: string | undefined): Promise<UploadedRows>
}

/** An upload read for one datasource, to append (records that could not be read are quarantined with the others). */
export interface UploadedRows {
  append(who: Principal, requestId: string): Promise<{ successful: number; quarantined: number; invalid: number }>
}

/** What a `POST /v0/datasources` carries, whatever way the client sent it. */
export interface Upload {
  readonly format: 'ndjson' | 'csv'
  readonly text: string
}

const FORMATS = new Set(['ndjson', 'csv'])

/**
 * The body of `POST /v0/datasources`: raw (NDJSON or CSV, gzip allowed), or `multipart/form-data` with
 * the file in a part (the SDK names it `csv` whatever the format; a `.gz` file is gunzipped), or a
 * form with `url=`, which is refused: this server fetches nothing from the network.
 */
export async function readUpload(req: IncomingMessage, url: URL, limit: number): Promise<Upload> {
  const body = await readEventsBody(req, limit)
  const type = (req.headers['content-type'] ?? '').toLowerCase()
  let text: string
  let fileName = ''
  if (type.startsWith('multipart/form-data')) {
    let form: FormData
    try {
      form = await new Response(body, { headers: { 'content-type': req.headers['content-type']! } }).formData()
    } catch (err) {
      throw new HttpError(400, `The multipart body cannot be read: ${(err as Error).message}`)
    }
    const file = [...form.values()].find((v) => typeof v !== 'string')
    if (file === undefined || typeof file === 'string') throw new HttpError(400, 'The multipart body has no file part')
    fileName = file.name
    let bytes = Buffer.from(await file.arrayBuffer())
    if (/\.gz$/i.test(fileName)) {
      try {
        bytes = gunzipSync(bytes, { maxOutputLength: limit })
      } catch {
        throw new HttpError(413, `The gzip file is unreadable or larger than ${limit} bytes once decompressed`)
      }
    }
    text = bytes.toString('utf8')
  } else if (type.startsWith('application/x-www-form-urlencoded') && new URLSearchParams(body.toString('utf8')).has('url')) {
    throw new HttpError(400, 'Imports from a URL are not supported: upload the file in the body (multipart or raw)')
  } else {
    text = body.toString('utf8')
  }
  const declared = url.searchParams.get('format')?.toLowerCase()
  if (declared && !FORMATS.has(declared)) throw new HttpError(400, `format=${declared} is not supported; use ndjson or csv`)
  const guessed = /\.(ndjson|jsonl|json)(\.gz)?$/i.test(fileName) ? 'ndjson' : /\.csv(\.gz)?$/i.test(fileName) ? 'csv' : undefined
  return { format: (declared ?? guessed ?? 'csv') as Upload['format'], text }
}

/**
 * Rows of an upload, typed for the datasource's ingest. CSV follows Tinybird (see `csvRecords`); a CSV
 * record that cannot be read is quarantined raw, like an NDJSON line that is not JSON.
 */
export function parseUpload(upload: Upload, target: Datasource, columns: readonly string[], delimiter = ','): ParsedBatch {
  if (upload.format === 'ndjson') return parseNdjson(upload.text, target)
  const rows = csvRecords(upload.text, columns, delimiter).map(({ raw, line, cells }) => ({
    raw,
    line,
    record: cells && Object.fromEntries(Object.entries(cells).map(([name, cell]) => [name, cell === '' ? null : cell])),
  }))
  return parseRecords(rows, target)
}

/**
 * The records of a CSV upload as Tinybird reads them: cells in the datasource's column order, or a header
 * row naming the columns (recognised when its cells are all column names). `cells` is undefined for a
 * record with more cells than columns; `line` counts from 1, the header included.
 */
export function csvRecords(text: string, columns: readonly string[], delimiter = ','): Array<{ raw: string; line: number; cells: Record<string, string> | undefined }> {
  let records: string[][]
  try {
    records = parseCsv(text, { delimiter, relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][]
  } catch (err) {
    throw new HttpError(400, `The CSV cannot be read: ${(err as Error).message}`)
  }
  const known = new Set(columns)
  const first = records[0]
  const header = first !== undefined && first.length > 0 && first.every((cell) => known.has(cell.trim())) ? first.map((c) => c.trim()) : undefined
  const names = header ?? columns
  const firstLine = header ? 2 : 1
  return (header ? records.slice(1) : records).map((cells, i) => ({
    raw: cells.join(delimiter),
    line: firstLine + i,
    cells: cells.length > names.length ? undefined : Object.fromEntries(cells.map((cell, j) => [names[j]!, cell])),
  }))
}

/** The ingest target of a datasource name, or 404 for one that does not take rows. */
export function ingestTarget(name: string): Datasource {
  const target = INGEST.get(name)
  if (!target) throw new HttpError(404, `The datasource '${name}' does not take rows; append to ${[...INGEST.keys()].join(', ')}`)
  return target
}

/** Domain errors as REST answers. */
export function datasourceHttpError(err: unknown): HttpError | undefined {
  if (err instanceof UnknownDatasourceError) return new HttpError(404, err.message)
  if (err instanceof ConditionError) return new HttpError(400, `Invalid delete_condition: ${err.message}`)
  return undefined
}
