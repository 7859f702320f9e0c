/** Subscriptions to the client, as Preact hooks: each re-renders on the client's own events, never on a timer. */
import { createContext } from 'preact'
import { useContext, useEffect, useReducer, useState } from 'preact/hooks'
import type { PurchaseId } from '@concord/core'
import type { AppClient, ClientStatus, PurchaseHandle, PurchaseSummary } from './client-api.js'
import type { Identity } from './session.js'
import { type OrderMoney, type Said, errorText, explainError } from './format.js'
import { automergeReady, loadAutomerge } from './automerge-lazy.js'

export interface AppContext {
  readonly client: AppClient
  readonly identity: Identity
}

export const Ctx = createContext<AppContext | null>(null)

export function useApp(): AppContext {
  const c = useContext(Ctx)
  if (c === null) throw new Error('useApp outside the app')
  return c
}

export function useClientStatus(client: AppClient): ClientStatus {
  const [status, setStatus] = useState(client.status)
  useEffect(() => {
    setStatus(client.status)
    return client.onStatus((s) => setStatus(s))
  }, [client])
  return status
}

/** A counter bumped on every status change or notification: the list and badges re-read then. */
export function useClientTick(client: AppClient): number {
  const [tick, bump] = useReducer((n: number) => n + 1, 0)
  useEffect(() => {
    const a = client.onStatus(() => bump(undefined))
    const b = client.onNotification(() => bump(undefined))
    return () => {
      a()
      b()
    }
  }, [client])
  return tick
}

export function usePurchases(client: AppClient, query: string): PurchaseSummary[] {
  const tick = useClientTick(client)
  const [list, setList] = useState<PurchaseSummary[]>(() => read(client, query))
  useEffect(() => setList(read(client, query)), [client, query, tick])
  return list
}

function read(client: AppClient, query: string): PurchaseSummary[] {
  const q = query.trim()
  return q === '' ? client.list() : client.search(q)
}

export interface HandleState {
  readonly handle: PurchaseHandle | null
  readonly error: string | null
  /** Bumped on every local or remote change of the purchase. */
  readonly version: number
}

export function usePurchase(client: AppClient, id: PurchaseId): HandleState {
  const [handle, setHandle] = useState<PurchaseHandle | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [version, bump] = useReducer((n: number) => n + 1, 0)
  useEffect(() => {
    let live = true
    let off: (() => void) | undefined
    let opened: PurchaseHandle | undefined
    setHandle(null)
    setError(null)
    const open = () => client.open(id).catch(async (e: unknown) => {
      // A purchase on the Automerge backend: fetch that chunk once, then open again.
      if (e instanceof Error && e.name === 'AutomergeNotLoaded' && !automergeReady()) {
        await loadAutomerge()
        return client.open(id)
      }
      throw e
    })
    open().then(
      (h) => {
        if (!live) return h.close()
        opened = h
        off = h.onChange(() => bump(undefined))
        setHandle(h)
      },
      (e: unknown) => live && setError(errorText(e)),
    )
    return () => {
      live = false
      off?.()
      opened?.close()
    }
  }, [client, id])
  // The document's sync status changes without a change of content: follow the client too.
  useClientTick(client)
  return { handle, error, version }
}

/** The current time, refreshed every `ms` while mounted: for "synced 5 s ago". */
export function useNow(ms = 10_000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(t)
  }, [ms])
  return now
}

/**
 * Runs an action, keeping its error (a refused command) for an inline alert,
 * in words: amounts in it are shown in `money` (the order's currency) when given.
 */
export function useAction(money?: OrderMoney): { busy: boolean; error: Said | null; run: (fn: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<Said | null>(null)
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true)
    setError(null)
    try {
      await fn()
      return true
    } catch (e) {
      setError(explainError(e, money))
      return false
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, run, clear: () => setError(null) }
}

export type Route =
  | { readonly name: 'list' }
  | { readonly name: 'conflicts' }
  | { readonly name: 'purchase'; readonly id: PurchaseId; readonly at: string | null }

export function parseRoute(hash: string): Route {
  const m = /^#\/p\/([^/]+)(?:\/at\/([^/]+))?$/.exec(hash)
  if (m !== null) return { name: 'purchase', id: decodeURIComponent(m[1]!) as PurchaseId, at: m[2] === undefined ? null : decodeURIComponent(m[2]) }
  if (hash === '#/conflicts') return { name: 'conflicts' }
  return { name: 'list' }
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return parseRoute(hash)
}

export const hrefPurchase = (id: string, at?: string) => `#/p/${encodeURIComponent(id)}${at === undefined ? '' : `/at/${encodeURIComponent(at)}`}`

/** The client's words on why a document is not synced; empty for one it does not know yet. */
export function explainSafe(client: AppClient, docId: string): string {
  try {
    return client.explain(docId)
  } catch {
    return ''
  }
}
