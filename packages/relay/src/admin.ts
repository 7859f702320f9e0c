/**
 * The admin API, behind a token with `admin: true` (Authorization: Bearer):
 *
 *   GET /admin/docs?after=<docId>&limit=<n>             documents, in id order
 *   GET /admin/docs/<docId>                              one document (with the values its schema refuses)
 *   GET /admin/docs/<docId>/history?after=<seq>&limit=<n> its audit trail: who changed what, per event
 *   GET /admin/conflicts?after=<docId>&limit=<n>         the open conflict queue across documents
 *
 * Every list pages with a keyset cursor: the answer's `next` is the `after`
 * of the following page (null at the end). The conflict queue reads loaded
 * documents from memory and builds the others from the store without keeping
 * them loaded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type PurchaseId, invalidValues, isConcordError, parsePurchaseId } from '@concord/core'
import { AuthError, type TokenVerifier } from './auth.js'
import { type DocHost, backendFor } from './doc-host.js'
import { type AuditCheckpoints, historyPage } from './admin-history.js'
import type { EventStore } from './store/types.js'

export interface AdminContext {
  readonly store: EventStore
  readonly host: DocHost
  readonly verifier: TokenVerifier
  /** Document states where earlier history pages ended (admin-history.ts). */
  readonly auditCheckpoints: AuditCheckpoints
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

function limitOf(url: URL, fallback: number, max: number): number {
  const raw = url.searchParams.get('limit')
  if (raw === null) return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new HttpError(400, 'INVALID_ARGUMENT', `limit must be an integer from 1 to ${max}`)
  return n
}

function docIdOf(raw: string): PurchaseId {
  try {
    return parsePurchaseId(decodeURIComponent(raw))
  } catch {
    throw new HttpError(400, 'INVALID_ID', `invalid document id ${JSON.stringify(raw)}`)
  }
}

function afterDocOf(url: URL): PurchaseId | undefined {
  const raw = url.searchParams.get('after')
  return raw === null || raw === '' ? undefined : docIdOf(raw)
}

/** Handles /admin/...; answers every request it is given. */
export async function handleAdmin(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    if (req.method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'the admin API is read-only (GET)')
    const auth = req.headers.authorization
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined
    if (token === undefined) throw new HttpError(401, 'UNAUTHORIZED', 'an admin token is required (Authorization: Bearer <token>)')
    let admin = false
    try {
      admin = (await ctx.verifier.verify(token)).admin
    } catch (e) {
      if (e instanceof AuthError) throw new HttpError(401, e.code, e.message)
      throw e
    }
    if (!admin) throw new HttpError(403, 'FORBIDDEN', 'this token is not an admin token (claim admin: true)')
    const parts = url.pathname.split('/').filter((p) => p !== '')
    // parts[0] === 'admin'
    if (parts.length === 2 && parts[1] === 'docs') return sendJson(res, 200, await listDocs(ctx, url))
    if (parts.length === 3 && parts[1] === 'docs') return sendJson(res, 200, await oneDoc(ctx, docIdOf(parts[2] as string)))
    if (parts.length === 4 && parts[1] === 'docs' && parts[3] === 'history') return sendJson(res, 200, await history(ctx, docIdOf(parts[2] as string), url))
    if (parts.length === 2 && parts[1] === 'conflicts') return sendJson(res, 200, await conflicts(ctx, url))
    throw new HttpError(404, 'NOT_FOUND', `no admin resource ${url.pathname}`)
  } catch (e) {
    if (e instanceof HttpError) return sendJson(res, e.status, { error: { code: e.code, message: e.message } })
    if (isConcordError(e)) return sendJson(res, e.code === 'NOT_FOUND' ? 404 : 400, { error: { code: e.code, message: e.message } })
    throw e
  }
}

async function listDocs(ctx: AdminContext, url: URL) {
  const limit = limitOf(url, 100, 1000)
  const after = afterDocOf(url)
  const docs = await ctx.store.listDocs({ limit, ...(after !== undefined ? { after } : {}) })
  return {
    docs: docs.map((d) => ({ ...d, loaded: ctx.host.docs.has(d.docId), openConflicts: ctx.host.docs.get(d.docId)?.openConflicts ?? null })),
    next: docs.length === limit ? (docs[docs.length - 1]?.docId ?? null) : null,
  }
}

async function oneDoc(ctx: AdminContext, docId: PurchaseId) {
  const doc = await ctx.store.getDoc(docId)
  if (doc === undefined) throw new HttpError(404, 'NOT_FOUND', `no document ${docId}`)
  const loaded = ctx.host.docs.get(docId)
  const built = loaded ?? (await ctx.host.build(docId, doc.backend))
  try {
    // What the document holds that the schema refuses (read as absent everywhere): an operator's to see.
    const invalid = invalidValues(built.replica.log.doc.read())
    return { ...doc, loaded: loaded !== undefined, snapshots: await ctx.store.listSnapshots(docId), invalid }
  } finally {
    if (loaded === undefined) built.replica.log.doc.destroy()
  }
}

async function history(ctx: AdminContext, docId: PurchaseId, url: URL) {
  const limit = limitOf(url, 100, 1000)
  const rawAfter = url.searchParams.get('after') ?? '0'
  const after = Number(rawAfter)
  if (!Number.isSafeInteger(after) || after < 0) throw new HttpError(400, 'INVALID_ARGUMENT', 'after must be a sequence number')
  const doc = await ctx.store.getDoc(docId)
  if (doc === undefined) throw new HttpError(404, 'NOT_FOUND', `no document ${docId}`)
  const page = await historyPage(ctx.store, ctx.auditCheckpoints, backendFor(doc.backend), doc, after, limit)
  return { docId, number: doc.number ?? null, ...page }
}

async function conflicts(ctx: AdminContext, url: URL) {
  const limit = limitOf(url, 100, 1000)
  const after = afterDocOf(url)
  const docs = await ctx.store.listDocs({ limit, ...(after !== undefined ? { after } : {}) })
  const out: unknown[] = []
  for (const info of docs) {
    const loaded = ctx.host.docs.get(info.docId)
    const doc = loaded ?? (await ctx.host.build(info.docId, info.backend))
    try {
      if (!doc.replica.exists) continue
      for (const c of doc.replica.conflicts()) out.push({ docId: info.docId, number: info.number ?? null, ...c })
    } finally {
      if (loaded === undefined) doc.replica.log.doc.destroy()
    }
  }
  return { conflicts: out, scanned: docs.length, next: docs.length === limit ? (docs[docs.length - 1]?.docId ?? null) : null }
}
