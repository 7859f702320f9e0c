/**
 * The relay without HTTP: its documents (DocHost) and its connections. The
 * server (server.ts) puts HTTP, the upgrades, the admin API and the cluster
 * link around it; a simulation drives the same code with its own sockets,
 * store, tokens and runtime.
 */
import type { Logger } from 'pino'
import type { PurchaseId, ReplicaId, Runtime } from '@concord/core'
import { CLOSE_CODES } from '@concord/core/protocol'
import type { Session, TokenVerifier } from './auth.js'
import type { RelayConfig } from './config.js'
import { DocHost } from './doc-host.js'
import { RelayMetrics } from './metrics.js'
import { NativeConnection } from './native-connection.js'
import type { Peer, RelaySocket } from './peer.js'
import type { EventStore } from './store/types.js'
import { YConnection } from './ywebsocket-room.js'

export interface RelayCoreOptions {
  readonly config: RelayConfig
  readonly log: Logger
  readonly store: EventStore
  readonly verifier: TokenVerifier
  /** This process's actor (the server passes processReplicaId of the store's relay id). */
  readonly relayId: ReplicaId
  /** Default relayRuntime: the system's clock, timers (unref()ed) and randomness. */
  readonly runtime?: Runtime
  /** A fresh one if absent. */
  readonly metrics?: RelayMetrics
}

export interface RelayCore {
  readonly host: DocHost
  readonly metrics: RelayMetrics
  /** A native-protocol socket has connected (/sync). */
  acceptNative(socket: RelaySocket): void
  /** A y-websocket socket has connected to /y/<docId>, its token already checked for reading the document. */
  acceptY(socket: RelaySocket, docId: PurchaseId, session: Session): void
  /** Stops accepting, stores what is queued (host.close()), closes every open peer with SHUTTING_DOWN. Does not close the store. */
  close(): Promise<void>
}

export function createRelayCore(o: RelayCoreOptions): RelayCore {
  const { config, log, store, verifier, relayId } = o
  const metrics = o.metrics ?? new RelayMetrics()
  const host = new DocHost({ store, config, metrics, log, relayId, runtime: o.runtime })
  const ctx = { config, metrics, log, host, verifier, relayId }
  const peers = new Set<Peer>()
  let closing = false

  /** False (and the socket closed with SHUTTING_DOWN) once the relay is closing. */
  const accepting = (socket: RelaySocket): boolean => {
    if (!closing) return true
    metrics.closes.inc({ code: CLOSE_CODES.SHUTTING_DOWN.name })
    socket.close(CLOSE_CODES.SHUTTING_DOWN.code, 'relay shutting down')
    return false
  }

  const track = (peer: Peer) => {
    peers.add(peer)
    peer.ws.on('close', () => peers.delete(peer))
  }

  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      closing = true
      await host.close()
      for (const peer of [...peers]) peer.close(CLOSE_CODES.SHUTTING_DOWN)
    })()
    return closed
  }

  return {
    host,
    metrics,
    acceptNative(socket) {
      if (accepting(socket)) track(new NativeConnection(socket, ctx))
    },
    acceptY(socket, docId, session) {
      if (!accepting(socket)) return
      const peer = new YConnection(socket, ctx, docId, session)
      track(peer)
      void peer.start()
    },
    close,
  }
}
