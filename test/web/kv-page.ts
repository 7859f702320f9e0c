/**
 * The page side of the IndexedDB run of the KvBackend contract: bundled by
 * kv-indexeddb.test.ts (with esbuild, as the web app is) and loaded in
 * Chromium. It exposes the contract's cases to the Node test, which runs
 * them one by one and fails with the case's own message.
 */
import { indexedDbStorage } from '@concord/client'
import { type KvHarness, kvContractCases, runKvCase } from '../client/kv-contract.js'

export interface KvPageResult {
  readonly ok: boolean
  readonly message?: string
}

export interface KvPageApi {
  names(): string[]
  run(name: string): Promise<KvPageResult>
}

const cases = kvContractCases({ propertyRuns: 30 })
let n = 0

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name)
    let timer: ReturnType<typeof setTimeout> | undefined
    r.onsuccess = () => {
      clearTimeout(timer)
      resolve()
    }
    r.onerror = () => reject(r.error ?? new Error(`deleting ${name} failed`))
    // A closed connection whose last transaction is still finishing blocks the delete for a moment;
    // one that stays blocked is a connection the case left open.
    r.onblocked = () => {
      timer = setTimeout(() => reject(new Error(`deleting ${name} stays blocked by an open connection`)), 5000)
    }
  })
}

async function setup(): Promise<KvHarness> {
  const name = `kv-contract-${++n}`
  // indexedDbStorage names its database `concord:<name>`.
  return { storage: indexedDbStorage(name), cleanup: () => deleteDatabase(`concord:${name}`) }
}

const api: KvPageApi = {
  names: () => cases.map((c) => c.name),
  async run(name) {
    const c = cases.find((x) => x.name === name)
    if (c === undefined) return { ok: false, message: `no contract case named ${JSON.stringify(name)} in the page` }
    try {
      await runKvCase(setup, c)
      return { ok: true }
    } catch (e) {
      const err = e as Error & { details?: unknown }
      // uvu's assertion errors carry their diff in `details`.
      const details = typeof err?.details === 'string' ? `\n${err.details}` : ''
      return { ok: false, message: `${String(err?.message ?? e)}${details}\n${err?.stack ?? ''}` }
    }
  },
}

;(globalThis as { kvContract?: KvPageApi }).kvContract = api
