/**
 * The client's store: typed records over a KvBackend, with a schema version
 * that migrates forward, optional AES-GCM encryption of every value, and the
 * rule that a store this code cannot read is refused, never rewritten.
 *
 * One store may serve several running instances, each in its own seat
 * (seats.ts): an instance reads and writes only its seat's records (keys
 * prefixed `~<n>/`, none for seat 0) and reads the others' to carry over
 * what they hold (absorb.ts).
 *
 * Tables:
 *   meta    schema (plain JSON: version, encrypted), keycheck, replica (per seat), seat/<n> leases
 *   docs    docId -> DocRecord (cursor, acknowledged head, summary for list/search)
 *   events  docId/nnnnnnnnnn -> every event of the document (local and remote), in arrival order
 *   outbox  docId/ssssssssss -> OutboxEntry: an own event not yet acknowledged, by its slot (own
 *           sequence, counted on across the actors a refusal made the device switch to)
 */
import {
  type BackendName, type EventEnvelope, type EventId, type MinorString, type Priority, type PurchaseId, type ReplicaId, ConcordError, isBackendName, isConcordError, parseReplicaId,
} from '@concord/core'
import { backendList, decodeLegacyEvent, priorityOf } from '@concord/core/internal'
import { decodeEvent, encodeEvent } from '@concord/core/protocol'
import { type ValueCipher, aesGcmCipher, importKey } from './crypto.js'
import { type KvBackend, type KvOp, type LocalStorage, type ScanOptions, type Table, type WriteGuard, TABLES } from './kv.js'
import { Seat, type SeatLiveness, isSeatKey, replicaKey, seatPrefix } from './seats.js'

/**
 * The schema this build writes. Version 1 kept outbox entries without
 * priority and size; version 2 kept events in the body layout of protocol 2
 * (the backend as a flag bit, events.ts).
 */
export const SCHEMA_VERSION = 3

export interface DocSummary {
  readonly exists: boolean
  readonly number: string | null
  readonly supplier: string
  /** Lifecycle state (draft, confirmed...). */
  readonly lifecycle: string
  readonly total: MinorString
  readonly currency: string
  readonly exponent: number
  readonly conflictIds: readonly string[]
  /** Line products and descriptions, for search. */
  readonly lines: string
  readonly notes: string
}

export interface RejectedEvent {
  readonly id: EventId
  readonly code: string
  readonly reason: string
  readonly at: string
  /** The event's kind (absent in records written before refusals were undone). */
  readonly kind?: string
}

export interface DocRecord {
  readonly id: PurchaseId
  readonly backend: BackendName
  /** The relay sequence number this device has every event up to. */
  readonly cursor: number
  /** How many events are stored for the document (the next event key). */
  readonly eventCount: number
  /** A priority the application gave the document (createPurchase), below which it never drops. */
  readonly priority: Priority | null
  /** Own sequence numbers: the highest saved, and the highest acknowledged with every earlier one. */
  readonly localSeq: number
  readonly ackedSeq: number
  /** Relay sequence of the latest acknowledgement, and the point the relay validated up to. */
  readonly lastAckCursor: number
  /**
   * Acknowledged own events the relay has not yet validated, as runs: own
   * events up to `seq` were stored at relay sequence at most `cursor`. Runs
   * at or below validatedCursor are dropped, so this stays short.
   */
  readonly unvalidated: readonly { readonly seq: number; readonly cursor: number }[]
  readonly validatedCursor: number
  /** Relay-reported open conflicts at validatedCursor. */
  readonly relayConflicts: readonly string[]
  /** Own events the relay refused (the latest 1000). */
  readonly rejected: readonly RejectedEvent[]
  /** Refusals since the last acknowledgement: past the limit the document is dead-lettered. */
  readonly rejectStreak: number
  readonly dead: { readonly reason: string; readonly at: string } | null
  readonly lastSyncedAt: string | null
  readonly summary: DocSummary
  /**
   * The actor this device writes the document as. Absent: the store's replica
   * id. A refused own event is undone by rebuilding the replica without it
   * and its dependents, and the device then writes as a fresh actor (so no
   * event id or CRDT clock is reused with other content); `localSeq` and
   * `ackedSeq` count that actor's events.
   */
  readonly actor?: ReplicaId
  /** How many actors the device has switched to for this document (names the next one). */
  readonly actorGen?: number
  /** The actors the device wrote the document as before `actor`, oldest first (absent in records from before they were kept). */
  readonly pastActors?: readonly ReplicaId[]
  /** Outbox slots used by earlier actors: an own event's slot is slotBase + seq. */
  readonly slotBase?: number
  /**
   * The latest move to a fresh actor because the relay held other content
   * under own ids or more events of the actor than this device saved
   * (reissue.ts): when, why, the own events taken out and the event that
   * carries their content again.
   */
  readonly reissued?: { readonly at: string; readonly reason: string; readonly dropped: readonly EventId[]; readonly as: EventId | null; readonly actor: ReplicaId }
  /** Per other seat of the store (its number), how many of its event keys were carried into this one (absorb.ts). */
  readonly absorbed?: Readonly<Record<string, number>>
  /**
   * Per actor, the lowest seq under which another seat of this store held other
   * content than this one (a restored copy): that seat's later events of the actor
   * are not taken in, and its cursor is not adopted (absorb.ts).
   */
  readonly clashed?: Readonly<Record<string, number>>
}

export interface OutboxEntry {
  readonly id: EventId
  readonly docId: PurchaseId
  readonly seq: number
  readonly kind: string
  readonly priority: Priority
  /** Encoded size, for bounding what is in flight. */
  readonly bytes: number
  /** Key of the event in the events table. */
  readonly eventKey: string
  readonly savedAt: string
  /** The outbox key: creation order across actors. Absent in entries written before actors could change, where it is `seq`. */
  readonly slot?: number
}

/** Where an outbox entry sits in its document's outbox (its key and its sending order). */
export const slotOf = (o: OutboxEntry): number => o.slot ?? o.seq


export interface StoreOptions {
  readonly encryptionKey?: CryptoKey | Uint8Array
  /** Makes the replica id of a new store, and of each new seat. */
  readonly newReplicaId: () => ReplicaId
  readonly now: () => string
  /** The seat lease: this instance's random id, the clock in epoch ms, how liveness is told. */
  readonly holder: string
  readonly nowMs: () => number
  readonly liveness: SeatLiveness
  readonly seatTtlMs?: number
  /** Take only the seat of this replica (the replicaId option); it must exist unless the store is new. */
  readonly replicaId?: ReplicaId
}

const te = new TextEncoder()
const td = new TextDecoder('utf-8', { fatal: true })
const KEYCHECK = 'concord-client-keycheck-v1'

export const pad = (n: number): string => String(n).padStart(10, '0')
export const eventKey = (docId: PurchaseId, n: number): string => `${docId}/${pad(n)}`
export const outboxKey = (docId: PurchaseId, slot: number): string => `${docId}/${pad(slot)}`

/** Key problems (WRONG_KEY, KEY_REQUIRED, NOT_ENCRYPTED) are STORE_KEY_MISMATCH; anything unreadable is STORE_CORRUPT. */
function storeError(reason: string, message: string, details: Record<string, unknown> = {}, cause?: unknown): ConcordError {
  const code = reason === 'CORRUPT' ? 'STORE_CORRUPT' : 'STORE_KEY_MISMATCH'
  return new ConcordError(code, message, { reason, ...details }, cause === undefined ? undefined : { cause })
}

/** Wraps a backend's own failures (a file that is not a database...) as STORE_CORRUPT. */
async function guard<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    if (isConcordError(e)) throw e
    throw storeError('CORRUPT', `the local store cannot be read (${what}): ${(e as Error).message}`, {}, e)
  }
}

interface SchemaRecord {
  readonly version: number
  readonly encrypted: boolean
  readonly createdAt: string
}

export class ClientStore {
  private readonly prefix: string

  private constructor(
    private readonly kv: KvBackend,
    private readonly cipher: ValueCipher | null,
    readonly replicaId: ReplicaId,
    /** The version found on open, before any migration (for tests and logs). */
    readonly openedVersion: number,
    /** The seat whose records this reads and writes. */
    readonly seatNumber = 0,
    /** The held lease; null for a view of another seat, which only reads. */
    private readonly seat: Seat | null = null,
  ) {
    this.prefix = seatPrefix(seatNumber)
  }

  /** A record's key in the backend: its seat's prefix, and the seat's own replica record in meta. */
  private phys(table: Table, key: string): string {
    if (table === 'meta') return key === 'replica' ? replicaKey(this.seatNumber) : key
    return this.prefix + key
  }

  /** Scans this seat's records, keys given and returned without the seat prefix. */
  private async scanSeat(table: Table, o: ScanOptions = {}): Promise<[string, Uint8Array][]> {
    const rows = await guard(table, () => this.kv.scan(table, {
      prefix: this.prefix + (o.prefix ?? ''),
      ...(o.after !== undefined ? { after: this.prefix + o.after } : {}),
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
    }))
    // Seat 0 has no prefix: the other seats' keys (`~n/...`) sort after its own and are left out.
    const own = this.seatNumber === 0 ? rows.filter(([k]) => !isSeatKey(k)) : rows
    return own.map(([k, v]) => [k.slice(this.prefix.length), v])
  }

  get describe(): string {
    return this.kv.describe
  }

  get encrypted(): boolean {
    return this.cipher !== null
  }

  /**
   * Opens a store, creating it when empty. Refuses (and leaves untouched) a
   * store from a newer schema, one that does not decrypt with the given key,
   * an encrypted one opened without a key and a plain one opened with a key.
   */
  static async open(storage: LocalStorage, options: StoreOptions): Promise<ClientStore> {
    const kv = await guard('open', () => storage.open())
    try {
      const base = await ClientStore.init(kv, options)
      return await base.takeSeat(storage.describe, options)
    } catch (e) {
      await kv.close().catch(() => undefined)
      throw e
    }
  }

  /** Claims a seat (the requested replica's, else the lowest free one) and names a new seat's replica. */
  private async takeSeat(name: string, options: StoreOptions): Promise<ClientStore> {
    let only: number | undefined
    if (options.replicaId !== undefined) {
      const seats = [0, ...(await this.seatNumbers())]
      for (const n of seats) if ((await this.view(n)).replicaId === options.replicaId) only = n
      if (only === undefined) {
        throw new ConcordError('INVALID_ARGUMENT', `replicaId ${options.replicaId} differs from the store's ${this.replicaId}: one store belongs to one replica`, { field: 'replicaId' })
      }
    }
    const { seat, fresh } = await guard('seat', () => Seat.claim(this.kv, {
      holder: options.holder, liveness: options.liveness, now: options.nowMs, name,
      ...(options.seatTtlMs !== undefined ? { ttlMs: options.seatTtlMs } : {}),
      ...(only !== undefined ? { only } : {}),
    }))
    let replicaId: ReplicaId
    if (fresh) {
      replicaId = options.newReplicaId()
      const value = await this.seal('meta', replicaKey(seat.number), te.encode(JSON.stringify(replicaId)))
      if (!(await guard('seat', () => this.kv.write([{ table: 'meta', key: replicaKey(seat.number), value }], seat.guard)))) {
        throw new ConcordError('STORE_IN_USE', `${this.kv.describe}: seat ${seat.number} was taken while it was being set up`)
      }
    } else {
      replicaId = seat.number === 0 ? this.replicaId : (await this.view(seat.number)).replicaId
    }
    return new ClientStore(this.kv, this.cipher, replicaId, this.openedVersion, seat.number, seat)
  }

  /** Seat numbers above 0 that hold a replica record. */
  private async seatNumbers(): Promise<number[]> {
    const out: number[] = []
    for (const [k] of await guard('meta', () => this.kv.scan('meta', { prefix: '~' }))) {
      const m = /^~(\d+)\/replica$/.exec(k)
      if (m !== null) out.push(Number(m[1]))
    }
    return out.sort((a, b) => a - b)
  }

  /** The other seats of the store that hold a replica, to read what they hold. */
  async otherSeats(): Promise<ClientStore[]> {
    const seats = [0, ...(await this.seatNumbers())].filter((n) => n !== this.seatNumber)
    return Promise.all(seats.map((n) => this.view(n)))
  }

  /** Reads another seat (no lease, no writes). */
  private async view(n: number): Promise<ClientStore> {
    const probe = new ClientStore(this.kv, this.cipher, 'pending' as ReplicaId, this.openedVersion, n)
    const raw = await probe.getJson<string>('meta', 'replica')
    let replicaId: ReplicaId
    try {
      replicaId = parseReplicaId(raw)
    } catch (e) {
      throw storeError('CORRUPT', `${this.kv.describe}: the replica id record of seat ${n} is missing or invalid`, {}, e)
    }
    return new ClientStore(this.kv, this.cipher, replicaId, this.openedVersion, n)
  }

  /** Extends this instance's lease on its seat; false when another instance holds it now. */
  async renewSeat(): Promise<boolean> {
    return this.seat === null ? false : guard('seat', () => this.seat!.renew())
  }

  private static async init(kv: KvBackend, options: StoreOptions): Promise<ClientStore> {
    const raw = await guard('schema', () => kv.get('meta', 'schema'))
    const key = options.encryptionKey === undefined ? null : await importKey(options.encryptionKey)
    const cipher = key === null ? null : aesGcmCipher(key)
    if (raw === undefined) {
      for (const t of TABLES) {
        if (!(await guard(t, () => kv.isEmpty(t)))) {
          throw storeError('CORRUPT', `${kv.describe} holds data but no schema record: refusing to treat it as a new store`, { table: t })
        }
      }
      const replicaId = options.newReplicaId()
      const schema: SchemaRecord = { version: SCHEMA_VERSION, encrypted: cipher !== null, createdAt: options.now() }
      const ops: KvOp[] = [{ table: 'meta', key: 'schema', value: te.encode(JSON.stringify(schema)) }]
      const store = new ClientStore(kv, cipher, replicaId, SCHEMA_VERSION)
      if (cipher !== null) ops.push({ table: 'meta', key: 'keycheck', value: await cipher.encrypt('meta/keycheck', te.encode(KEYCHECK)) })
      ops.push({ table: 'meta', key: 'replica', value: await store.seal('meta', 'replica', te.encode(JSON.stringify(replicaId))) })
      // Two instances creating one store at once: the second finds the schema written and opens what the first made.
      const created = await guard('create', () => kv.write(ops, { table: 'meta', key: 'schema', test: (v) => v === undefined }))
      return created ? store : ClientStore.init(kv, options)
    }
    let schema: SchemaRecord
    try {
      schema = JSON.parse(td.decode(raw)) as SchemaRecord
      if (!Number.isSafeInteger(schema.version) || schema.version < 1 || typeof schema.encrypted !== 'boolean') throw new Error('bad fields')
    } catch (e) {
      throw storeError('CORRUPT', `${kv.describe}: the schema record is unreadable`, {}, e)
    }
    if (schema.version > SCHEMA_VERSION) {
      throw new ConcordError(
        'STORE_SCHEMA_TOO_NEW',
        `${kv.describe} was written by a newer client (schema ${schema.version}; this one reads up to ${SCHEMA_VERSION}). Update the application; the store was left untouched.`,
        { found: schema.version, supported: SCHEMA_VERSION },
      )
    }
    if (schema.encrypted && cipher === null) {
      throw storeError('KEY_REQUIRED', `${kv.describe} is encrypted: pass the encryptionKey it was created with`)
    }
    if (!schema.encrypted && cipher !== null) {
      throw storeError('NOT_ENCRYPTED', `${kv.describe} is not encrypted but an encryptionKey was given: refusing to mix plain and encrypted records`)
    }
    if (cipher !== null) {
      const check = await guard('keycheck', () => kv.get('meta', 'keycheck'))
      if (check === undefined) throw storeError('CORRUPT', `${kv.describe}: the key check record is missing`)
      let plain: Uint8Array
      try {
        plain = await cipher.decrypt('meta/keycheck', check)
      } catch (e) {
        throw storeError('WRONG_KEY', `${kv.describe} does not open with this encryptionKey (wrong key, or the key check record was altered); nothing was changed`, {}, e)
      }
      if (td.decode(plain) !== KEYCHECK) throw storeError('WRONG_KEY', `${kv.describe}: the key check does not match`)
    }
    const store = new ClientStore(kv, cipher, 'pending' as ReplicaId, schema.version)
    const replicaRaw = await store.getJson<string>('meta', 'replica')
    let replicaId: ReplicaId
    try {
      replicaId = parseReplicaId(replicaRaw)
    } catch (e) {
      throw storeError('CORRUPT', `${kv.describe}: the replica id record is missing or invalid`, {}, e)
    }
    const opened = new ClientStore(kv, cipher, replicaId, schema.version)
    if (schema.version < SCHEMA_VERSION) await opened.migrate(schema)
    return opened
  }

  /** Forward migrations, one version at a time, each written atomically with its new version number. */
  private async migrate(schema: SchemaRecord): Promise<void> {
    let version = schema.version
    while (version < SCHEMA_VERSION) {
      const ops: KvOp[] = []
      if (version === 1) {
        // v2: outbox entries carry their priority and encoded size, so the
        // sender can order documents and bound its window without reading events.
        for (const [key, value] of await guard('outbox', () => this.kv.scan('outbox'))) {
          const old = await this.decodeJson<Omit<OutboxEntry, 'priority' | 'bytes'>>('outbox', key, value)
          const ev = await this.getRaw('events', old.eventKey)
          if (ev === undefined) throw storeError('CORRUPT', `${this.kv.describe}: outbox entry ${key} names a missing event`, { record: key })
          const entry: OutboxEntry = { ...old, priority: priorityOf(old.kind), bytes: ev.length }
          ops.push({ table: 'outbox', key, value: await this.seal('outbox', key, te.encode(JSON.stringify(entry))) })
        }
      }
      if (version === 2) {
        // v3: events are rewritten in the current body layout (the backend as a
        // wire id byte) rather than decoded in both layouts on every read, so
        // that one decoder reads a store and the old layout lives only here.
        // Every seat's events are rewritten (keys are physical, the seal is
        // bound to them), and outbox sizes follow the new encoding.
        const sizes = new Map<string, number>()
        for (const [key, value] of await guard('events', () => this.kv.scan('events'))) {
          const plain = await this.open('events', key, value)
          let event: EventEnvelope
          try {
            event = decodeLegacyEvent(plain)
          } catch (e) {
            throw storeError('CORRUPT', `${this.kv.describe}: event ${key} does not decode: ${(e as Error).message}`, { record: `events/${key}` }, e)
          }
          const bytes = encodeEvent(event)
          sizes.set(key, bytes.length)
          ops.push({ table: 'events', key, value: await this.seal('events', key, bytes) })
        }
        for (const [key, value] of await guard('outbox', () => this.kv.scan('outbox'))) {
          const entry = await this.decodeJson<OutboxEntry>('outbox', key, value)
          const seat = isSeatKey(key) ? key.slice(0, key.indexOf('/') + 1) : ''
          const size = sizes.get(seat + entry.eventKey)
          if (size !== undefined) ops.push({ table: 'outbox', key, value: await this.seal('outbox', key, te.encode(JSON.stringify({ ...entry, bytes: size }))) })
        }
      }
      version += 1
      const next: SchemaRecord = { ...schema, version }
      ops.push({ table: 'meta', key: 'schema', value: te.encode(JSON.stringify(next)) })
      await guard('migrate', () => this.kv.write(ops))
    }
  }

  // Values are sealed under their key in the backend (`physical`), so a record moved to another key or seat fails to open.
  private async seal(table: Table, physical: string, plain: Uint8Array): Promise<Uint8Array> {
    return this.cipher === null ? plain : this.cipher.encrypt(`${table}/${physical}`, plain)
  }

  private async open(table: Table, key: string, value: Uint8Array): Promise<Uint8Array> {
    return this.cipher === null ? value : this.cipher.decrypt(`${table}/${this.phys(table, key)}`, value)
  }

  private async getRaw(table: Table, key: string): Promise<Uint8Array | undefined> {
    const v = await guard(table, () => this.kv.get(table, this.phys(table, key)))
    return v === undefined ? undefined : this.open(table, key, v)
  }

  private async decodeJson<T>(table: Table, key: string, value: Uint8Array): Promise<T> {
    const plain = await this.open(table, key, value)
    try {
      return JSON.parse(td.decode(plain)) as T
    } catch (e) {
      throw storeError('CORRUPT', `${this.kv.describe}: record ${table}/${key} is not valid JSON`, { record: `${table}/${key}` }, e)
    }
  }

  private async getJson<T>(table: Table, key: string): Promise<T | undefined> {
    const v = await guard(table, () => this.kv.get(table, this.phys(table, key)))
    return v === undefined ? undefined : this.decodeJson<T>(table, key, v)
  }

  private async decodeEventValue(key: string, value: Uint8Array): Promise<EventEnvelope> {
    const plain = await this.open('events', key, value)
    try {
      return decodeEvent(plain)
    } catch (e) {
      throw storeError('CORRUPT', `${this.kv.describe}: event ${key} does not decode: ${(e as Error).message}`, { record: `events/${key}` }, e)
    }
  }

  async loadDocs(): Promise<DocRecord[]> {
    const rows = await this.scanSeat('docs')
    return Promise.all(rows.map(async ([k, v]) => {
      const d = await this.decodeJson<DocRecord>('docs', k, v)
      // A name this build's registry lacks (a newer client wrote it) is refused here, not when the document is opened.
      if (!isBackendName(d.backend)) throw storeError('CORRUPT', `${this.kv.describe}: docs/${k} names unknown backend ${JSON.stringify(d.backend)} (this client knows ${backendList()})`, { record: `docs/${k}`, backend: d.backend })
      return d
    }))
  }

  async loadOutbox(): Promise<OutboxEntry[]> {
    const rows = await this.scanSeat('outbox')
    return Promise.all(rows.map(([k, v]) => this.decodeJson<OutboxEntry>('outbox', k, v)))
  }

  /** Every stored event of a document, in arrival order, read in pages. */
  async loadEvents(docId: PurchaseId): Promise<EventEnvelope[]> {
    return (await this.loadEventRows(docId)).map(([, e]) => e)
  }

  /** Every stored event of a document with its key, in arrival order (from the `from`-th key on). */
  async loadEventRows(docId: PurchaseId, from = 0): Promise<[string, EventEnvelope][]> {
    const out: [string, EventEnvelope][] = []
    let after: string | undefined = from > 0 ? eventKey(docId, from - 1) : undefined
    for (;;) {
      const rows = await this.scanSeat('events', { prefix: `${docId}/`, ...(after ? { after } : {}), limit: 500 })
      for (const [k, v] of rows) out.push([k, await this.decodeEventValue(k, v)])
      if (rows.length < 500) return out
      after = rows[rows.length - 1]![0]
    }
  }

  async getEvent(key: string): Promise<EventEnvelope | undefined> {
    const v = await guard('events', () => this.kv.get('events', this.phys('events', key)))
    return v === undefined ? undefined : this.decodeEventValue(key, v)
  }

  /** Writes to this instance's seat, each commit fenced by its lease (STORE_IN_USE once another instance holds the seat). */
  batch(): StoreBatch {
    const seat = this.seat
    if (seat === null) throw new ConcordError('STORE_CLOSED', `${this.kv.describe}: a view of seat ${this.seatNumber} does not write`)
    const fence: WriteGuard = seat.guard
    return new StoreBatch(this, async (ops) => {
      if (!(await guard('write', () => this.kv.write(ops, fence)))) {
        throw new ConcordError('STORE_IN_USE', `${this.kv.describe}: another running instance took over seat ${seat.number}; this one no longer writes to it`, { seat: seat.number })
      }
    })
  }

  /** @internal used by StoreBatch: a record sealed and placed under its seat's key. */
  async sealed(table: Table, key: string, plain: Uint8Array): Promise<KvOp> {
    const physical = this.phys(table, key)
    return { table, key: physical, value: await this.seal(table, physical, plain) }
  }

  /** @internal used by StoreBatch */
  deletion(table: Table, key: string): KvOp {
    return { table, key: this.phys(table, key), value: null }
  }

  /** Closes the store, giving the seat up; `abandon` leaves the lease as a crash would (it frees by liveness or expiry). */
  async close(options: { abandon?: boolean } = {}): Promise<void> {
    try {
      await this.seat?.release(options.abandon !== true).catch(() => undefined)
    } finally {
      await this.kv.close()
    }
  }
}

/** Collects typed writes and commits them as one atomic write. */
export class StoreBatch {
  private readonly pending: Promise<KvOp>[] = []
  constructor(
    private readonly store: ClientStore,
    private readonly write: (ops: readonly KvOp[]) => Promise<void>,
  ) {}

  get size(): number {
    return this.pending.length
  }

  putDoc(d: DocRecord): this {
    this.pending.push(this.store.sealed('docs', d.id, te.encode(JSON.stringify(d))))
    return this
  }

  /** Returns the encoded size of the event (before encryption). */
  putEvent(key: string, e: EventEnvelope): number {
    const bytes = encodeEvent(e)
    this.pending.push(this.store.sealed('events', key, bytes))
    return bytes.length
  }

  putOutbox(o: OutboxEntry): this {
    this.pending.push(this.store.sealed('outbox', outboxKey(o.docId, slotOf(o)), te.encode(JSON.stringify(o))))
    return this
  }

  deleteOutbox(o: OutboxEntry): this {
    this.pending.push(Promise.resolve(this.store.deletion('outbox', outboxKey(o.docId, slotOf(o)))))
    return this
  }

  deleteEvent(key: string): this {
    this.pending.push(Promise.resolve(this.store.deletion('events', key)))
    return this
  }

  async commit(): Promise<void> {
    const ops = await Promise.all(this.pending)
    if (ops.length > 0) await this.write(ops)
  }
}
