/**
 * Prometheus metrics (prom-client), in a registry of the relay's own so that
 * two relays in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class RelayMetrics {
  readonly registry = new Registry()
  readonly connections = new Gauge({ name: 'concord_connections', help: 'Open WebSocket connections', labelNames: ['endpoint'], registers: [this.registry] })
  readonly connectionsTotal = new Counter({ name: 'concord_connections_total', help: 'WebSocket connections accepted', labelNames: ['endpoint'], registers: [this.registry] })
  readonly loadedDocuments = new Gauge({ name: 'concord_loaded_documents', help: 'Documents held in memory', registers: [this.registry] })
  readonly eventsAppended = new Counter({ name: 'concord_events_appended_total', help: 'New events stored', registers: [this.registry] })
  readonly eventsRejected = new Counter({ name: 'concord_events_rejected_total', help: 'Events refused, by code', labelNames: ['code'], registers: [this.registry] })
  readonly commitGroups = new Counter({ name: 'concord_commit_groups_total', help: 'Store appends (one per commit group)', registers: [this.registry] })
  readonly commitGroupSize = new Histogram({
    name: 'concord_commit_group_events', help: 'Events per commit group', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000], registers: [this.registry],
  })
  readonly bytesIn = new Counter({ name: 'concord_bytes_in_total', help: 'WebSocket payload bytes received', labelNames: ['endpoint'], registers: [this.registry] })
  readonly bytesOut = new Counter({ name: 'concord_bytes_out_total', help: 'WebSocket payload bytes sent', labelNames: ['endpoint'], registers: [this.registry] })
  readonly ackLatency = new Histogram({
    name: 'concord_ack_latency_seconds', help: 'From receiving a push to acknowledging it (durable)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5], registers: [this.registry],
  })
  readonly walCheckpoints = new Histogram({
    name: 'concord_sqlite_checkpoint_seconds', help: 'WAL checkpoints of the SQLite store, in its worker thread (off the event loop)',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5], registers: [this.registry],
  })
  readonly openConflicts = new Gauge({ name: 'concord_open_conflicts', help: 'Open conflicts in loaded documents', registers: [this.registry] })
  readonly writesRefused = new Counter({
    name: 'concord_writes_refused_total', help: 'Writes the inspector refused, by endpoint and rule (what the update did, not its label)',
    labelNames: ['endpoint', 'rule'], registers: [this.registry],
  })
  readonly writeCheckSeconds = new Counter({
    name: 'concord_write_check_seconds_total', help: 'Time spent inspecting and checking writes (the trust boundary), by endpoint: its share of the process CPU',
    labelNames: ['endpoint'], registers: [this.registry],
  })
  readonly invalidValues = new Gauge({ name: 'concord_invalid_values', help: 'Values in loaded documents that the schema refuses (read as absent)', registers: [this.registry] })
  readonly documentFailures = new Counter({
    name: 'concord_document_failures_total', help: 'Per-document steps that threw: the document was evicted, its connections asked to reconnect',
    labelNames: ['step'], registers: [this.registry],
  })
  readonly closes = new Counter({ name: 'concord_closes_total', help: 'Connections closed by the relay, by code name', labelNames: ['code'], registers: [this.registry] })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'concord_process_' })
  }
}
