/**
 * A y-websocket connection at /y/<docId>, wire-compatible with the unmodified
 * y-websocket v3 client (docs/PROTOCOL.md):
 *
 * - The token comes as `?token=` and is checked at upgrade, before the
 *   document loads. Messages that arrive while it loads wait.
 * - Once loaded: sync step 1 and every known awareness state go out. A
 *   client's step 1 is answered with step 2 from the loaded state only, so
 *   its `synced` flag never means "synced with an unloaded document".
 * - A client's step 2 or update is stored (wrapped into an event) BEFORE it is
 *   applied and echoed to the whole room, the sender included: the echo is a
 *   true acknowledgement. Read-only tokens get `permission denied` and the
 *   update is dropped.
 * - Awareness is forwarded to the whole room, the sender included, and a
 *   closing connection's states are removed for everyone else; in cluster
 *   mode it reaches the other relays' rooms of the document too. A
 *   connection may change only its own entries (awareness.ts).
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import { type PurchaseId, isConcordError } from '@concord/core'
import { type YjsDoc } from '@concord/core/internal'
import {
  type AwarenessEntry, CLOSE_CODES, closeCodeForError, decodeAwarenessUpdate, decodeYMessage, encodeAwarenessUpdate, encodeYMessage, rightsFor,
} from '@concord/core/protocol'
import { type AwarenessSource, applyAwareness, awarenessEntries, removeAwareness } from './awareness.js'
import type { Session } from './auth.js'
import type { RelayConfig } from './config.js'
import type { DocHost, LoadedDoc } from './doc-host.js'
import type { YSubscriber } from './fanout.js'
import type { RelayMetrics } from './metrics.js'
import { Peer, type RelaySocket } from './peer.js'
import type { Refusal } from './write-check.js'

export interface YContext {
  readonly config: RelayConfig
  readonly metrics: RelayMetrics
  readonly log: Logger
  readonly host: DocHost
}

export class YConnection extends Peer implements YSubscriber {
  private doc: LoadedDoc | undefined
  private waiting: Uint8Array[] = []
  private waitingBytes = 0
  /** This connection as the announcer of awareness entries (the ids it announced, its user). */
  private readonly presence: AwarenessSource

  constructor(
    ws: RelaySocket,
    private readonly ctx: YContext,
    readonly docId: PurchaseId,
    session: Session,
  ) {
    super(ws, 'y', ctx.config, ctx.metrics, ctx.log, ctx.host.runtime)
    this.setSession(session)
    this.presence = { peer: this, user: session.user, announced: new Set() }
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
  }

  /** Loads the document, then greets the client and handles what it sent meanwhile. */
  async start(): Promise<void> {
    let doc: LoadedDoc
    try {
      doc = await this.ctx.host.load(this.docId, 'yjs')
    } catch (e) {
      if (!isConcordError(e)) {
        this.log.error({ docId: this.docId, err: e }, 'document load failed')
        this.close(CLOSE_CODES.INTERNAL, 'document load failed')
        return
      }
      this.close(closeCodeForError(e.code), e.message)
      return
    }
    if (this.closed) return
    this.doc = doc
    doc.rooms.add(this)
    this.send(encodeYMessage({ t: 'syncStep1', stateVector: Y.encodeStateVector(this.ydoc(doc)) }))
    const states = awarenessEntries(doc.awareness)
    if (states.length > 0) this.send(encodeYMessage({ t: 'awareness', update: encodeAwarenessUpdate(states) }))
    const waiting = this.waiting
    this.waiting = []
    for (const bytes of waiting) this.handle(doc, bytes)
  }

  private ydoc(doc: LoadedDoc): Y.Doc {
    return (doc.replica.log.doc as YjsDoc).ydoc
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    this.metrics.bytesIn.inc({ endpoint: 'y' }, data.length)
    if (!isBinary) {
      this.close(CLOSE_CODES.POLICY_VIOLATION, 'text frames are not part of the protocol')
      return
    }
    if (!this.takeToken()) {
      this.close(CLOSE_CODES.RATE_LIMITED)
      return
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (this.doc === undefined) {
      this.waitingBytes += bytes.length
      if (this.waitingBytes > this.config.preAuthMaxBytes) {
        this.close(CLOSE_CODES.POLICY_VIOLATION, 'too much sent before the document loaded')
        return
      }
      this.waiting.push(bytes)
      return
    }
    this.handle(this.doc, bytes)
  }

  private handle(doc: LoadedDoc, bytes: Uint8Array): void {
    if (this.closed) return
    doc.lastUsed = this.runtime.now()
    let m: ReturnType<typeof decodeYMessage>
    try {
      m = decodeYMessage(bytes, { maxFrameBytes: this.config.maxFrameBytes })
    } catch (e) {
      if (!isConcordError(e)) throw e
      this.close(closeCodeForError(e.code), e.message)
      return
    }
    switch (m.t) {
      case 'syncStep1': {
        let update: Uint8Array
        try {
          update = Y.encodeStateAsUpdate(this.ydoc(doc), m.stateVector)
        } catch (e) {
          this.close(CLOSE_CODES.MALFORMED, `bad state vector: ${(e as Error).message}`)
          return
        }
        // The replica may hold accepted writes the store has not confirmed yet: the reply waits for them.
        const reply = encodeYMessage({ t: 'syncStep2', update })
        this.ctx.host.whenStored(doc, () => this.send(reply))
        return
      }
      case 'syncStep2':
        this.update(doc, m.update, true)
        return
      case 'update':
        this.update(doc, m.update, false)
        return
      case 'awareness':
        this.awareness(doc, m.update)
        return
      case 'queryAwareness':
        this.send(encodeYMessage({ t: 'awareness', update: encodeAwarenessUpdate(awarenessEntries(doc.awareness)) }))
        return
      case 'authPermissionDenied':
        // Only servers send it; a client that does is ignored.
        return
      default:
        return m satisfies never
    }
  }

  private update(doc: LoadedDoc, update: Uint8Array, syncReply: boolean): void {
    const session = this.session as Session
    if (!rightsFor(session.grants, this.docId).has('write')) {
      this.send(encodeYMessage({ t: 'authPermissionDenied', reason: `read-only access to ${this.docId}: update dropped` }))
      return
    }
    // A client with nothing to send answers step 1 with an empty update.
    if (update.length === 2 && update[0] === 0 && update[1] === 0) return
    try {
      doc.backend.validateUpdate(update)
    } catch (e) {
      if (!isConcordError(e)) throw e
      this.close(CLOSE_CODES.MALFORMED, `${e.code}: ${e.message}`)
      return
    }
    // A reconnecting client answers step 1 with everything it has, mostly
    // what the relay already stored: storing that again on every reconnect
    // would grow the log without end.
    if (syncReply && Y.snapshotContainsUpdate(Y.snapshot(this.ydoc(doc)), update)) return
    let refusal: Refusal | undefined
    this.ctx.host.contained(doc, 'push', () => {
      refusal = this.ctx.host.pushYjs(doc, this, update, session)
    })
    if (refusal !== undefined) {
      // Dropped and not stored; the client keeps its change, which the relay will refuse again.
      this.send(encodeYMessage({ t: 'authPermissionDenied', reason: `${refusal.code} (${refusal.rule}): ${refusal.message}` }))
    }
  }

  private awareness(doc: LoadedDoc, update: Uint8Array): void {
    let entries: AwarenessEntry[]
    try {
      entries = decodeAwarenessUpdate(update)
    } catch (e) {
      if (!isConcordError(e)) throw e
      this.close(CLOSE_CODES.MALFORMED, `${e.code}: ${e.message}`)
      return
    }
    const accepted = applyAwareness(doc.awareness, entries, this.presence, this.runtime.now())
    if (accepted.length === 0) return
    // Only what was accepted goes on, as sent when that is all of it.
    const forward = accepted.length === entries.length ? update : encodeAwarenessUpdate(accepted)
    const bytes = encodeYMessage({ t: 'awareness', update: forward })
    for (const peer of doc.rooms) peer.send(bytes)
    this.ctx.host.publishAwareness(doc, forward)
  }

  protected onClose(): void {
    const doc = this.doc
    if (doc === undefined) return
    doc.rooms.delete(this)
    doc.lastUsed = this.runtime.now()
    const gone = removeAwareness(doc.awareness, this.presence.announced, (a) => a.peer === this)
    if (gone.length === 0) return
    const update = encodeAwarenessUpdate(gone)
    if (doc.rooms.size > 0) {
      const bytes = encodeYMessage({ t: 'awareness', update })
      for (const peer of doc.rooms) peer.send(bytes)
    }
    this.ctx.host.publishAwareness(doc, update)
  }
}
