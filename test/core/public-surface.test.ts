/**
 * The public surface of each package, pinned: the names an application or an
 * operator may import from @concord/core, @concord/core/protocol,
 * @concord/client, @concord/client/node, @concord/relay and
 * @concord/relay/store. A name added to or dropped from an entry fails here,
 * so a change of surface is a decision written into this list, not an
 * accident of an index file. Values are read from the loaded module itself;
 * type-only names (which vanish at run time) from the entry's built .d.ts
 * through the TypeScript checker. The `internal` entries carry no promise and
 * are not pinned, but no name may be in both a public and an internal entry.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

interface Surface {
  readonly values: readonly string[]
  readonly types: readonly string[]
}

const PUBLIC: Record<string, Surface> = {
  '@concord/core': {
    values: [
      'ALL_BACKENDS', 'BACKEND_NAMES', 'BILLABLE_STATES', 'BOUNDS', 'CONFLICT_KINDS', 'CONFLICT_SPECS', 'ConcordError', 'DEFAULT_BACKEND', 'EDITABLE_STATES',
      'EVENT_KINDS', 'GUARDED_FIELDS', 'HEADER_FIELDS', 'KIND_LABEL', 'PRIORITIES', 'PurchaseReplica', 'RECEIVABLE_STATES', 'SEVERITY',
      'allowedActions', 'auditTrail', 'automergeBackend', 'backendNamed', 'businessDateOf', 'compareDecimal', 'compareHlc',
      'createUlidFactory', 'currencyExponent', 'decimalFromParts', 'decimalParts', 'decodeHlc', 'derivePurchase', 'encodeHlc',
      'epochMsOf', 'eventIdOf', 'formatMinor', 'instantFromEpochMs', 'invalidValues', 'isBackendName', 'isConcordError',
      'isConflictKind', 'isEventKind', 'lineAmount', 'majorToMinor', 'minorToString', 'multiplyToMinor', 'nextState',
      'parseBackendName', 'parseConflictId', 'parseCurrencyCode', 'parseDecimal', 'parseEventId', 'parseHlc', 'parseIsoDate',
      'parseIsoInstant', 'parseLineId', 'parseMinor', 'parsePurchaseId', 'parseRecordId', 'parseReplicaId', 'parseTimeZone',
      'roundDiv', 'splitEventId', 'systemRuntime', 'yjsBackend',
    ],
    types: [
      'AuditEntry', 'BackendName', 'BillRecord', 'ChangeListener', 'ChangeOrigin', 'Conflict', 'ConflictBranch', 'ConflictId',
      'ConflictKind', 'ConflictOption', 'ConflictSpec', 'CrdtBackend', 'CreatePurchaseInput', 'CurrencyCode', 'CurrencyExponent',
      'Decimal', 'DecimalParts', 'ErrorCode', 'EventEnvelope', 'EventId', 'EventKind', 'EventMeta', 'FieldChange', 'FlowStatus',
      'Guarded', 'GuardedField', 'HeaderField', 'Hlc', 'HlcParts', 'InvalidValue', 'IsoDate', 'IsoInstant', 'Json', 'JsonObject',
      'Lifecycle', 'LifecycleState', 'LineId', 'LineInput', 'LineKind', 'LinePatch', 'LineRecord', 'LineTotals', 'MinorString',
      'OptionSpec', 'PaymentRecord', 'Priority', 'PurchaseDerived', 'PurchaseHeader', 'PurchaseId', 'PurchaseLine',
      'PurchaseSettings', 'PurchaseState', 'PurchaseTotals', 'RandomSource', 'ReceiptRecord', 'RecordId', 'RefundRecord',
      'ReplicaId', 'ReplicaOptions', 'ResolutionOption', 'ResolutionRecord', 'ReturnRecord', 'RoundingMode', 'RoundingPolicy',
      'Runtime', 'Severity', 'Stamp', 'StoredClock', 'TaxMode', 'TaxRounding', 'TaxSnapshot', 'TimeZoneId', 'Timers',
      'TransitionAction', 'TransitionRecord', 'UnitPrice', 'VoidRecord', 'VoidableSet',
    ],
  },
  '@concord/core/protocol': {
    values: [
      'CLIENT_MESSAGE_TYPES', 'CLOSE', 'CLOSE_CODES', 'DEFAULT_MAX_FRAME_BYTES', 'MAX_SUBSCRIBE_ACTORS', 'PROTOCOL_VERSION',
      'REJECT_CODES', 'RIGHTS', 'SERVER_MESSAGE_TYPES', 'SUPPORTED_VERSIONS', 'Y_AUTH_TYPES', 'Y_MESSAGE_TYPES', 'Y_SYNC_TYPES',
      'closeCodeForError', 'closeCodeInfo', 'decodeAwarenessUpdate', 'decodeClientMessage', 'decodeEvent', 'decodeServerMessage',
      'decodeYMessage', 'encodeAwarenessUpdate', 'encodeClientMessage', 'encodeEvent', 'encodeEventBody', 'encodeEventsFrame',
      'encodeEventsFrameOfBodies', 'encodeServerMessage', 'encodeYMessage', 'grantCovers', 'isAwarenessRemoval', 'rejectCodeInfo',
      'rightsFor',
    ],
    types: [
      'AckMessage', 'AuthInfo', 'AuthMessage', 'AuthorizedMessage', 'AwarenessEntry', 'CaughtUpMessage', 'ClientMessage',
      'CloseAction', 'CloseCodeInfo', 'CloseCodeName', 'CodecOptions', 'ErrorMessage', 'EventsMessage', 'Grant', 'HelloMessage',
      'PingMessage', 'PongMessage', 'PushMessage', 'RejectAction', 'RejectCode', 'RejectCodeInfo', 'RejectMessage', 'Right',
      'SequencedBody', 'SequencedEvent', 'ServerMessage', 'SubscribeMessage', 'UnsubscribeMessage', 'ValidatedMessage',
      'WelcomeMessage', 'YAuthPermissionDenied', 'YAwareness', 'YMessage', 'YQueryAwareness', 'YSyncStep1', 'YSyncStep2',
      'YUpdate',
    ],
  },
  '@concord/client': {
    values: [
      'DEFAULT_RETRY', 'PurchaseHandle', 'SyncClient', 'createClient', 'indexedDbStorage', 'memoryStorage',
    ],
    types: [
      'BreakerState', 'ClientError', 'ClientOptions', 'ClientStatus', 'ConnectionStatus', 'CreateOptions', 'DeadLetter',
      'DocChange', 'DocStatus', 'EventAckStatus', 'KvBackend', 'KvOp', 'Lease', 'LocalStorage', 'MemoryStorage', 'NetworkInfo',
      'NetworkQuality', 'Notification', 'PurchaseSummary', 'QueueStats', 'RetryOptions', 'ScanOptions', 'SeatChannel',
      'SeatLiveness', 'SocketLike', 'SyncState', 'Table', 'Timers', 'WebSocketConstructor', 'WriteGuard',
    ],
  },
  '@concord/client/node': {
    values: [
      'createNodeClient', 'nodeWebSocket', 'normalizeFingerprint', 'processLiveness', 'sqliteStorage',
    ],
    types: [
      'NodeSocketOptions',
    ],
  },
  '@concord/relay': {
    values: [
      'AuthError', 'ConfigError', 'RelayMetrics', 'createTokenVerifier', 'parseConfig', 'signToken', 'startRelay', 'usage',
    ],
    types: [
      'Durability', 'LogLevel', 'Relay', 'RelayConfig', 'RelayOptions', 'Session', 'StoreKind', 'TokenClaims', 'TokenVerifier',
    ],
  },
  '@concord/relay/store': {
    values: [
      'DEFAULT_PAGE', 'MAX_PAGE', 'MemoryEventStore', 'PostgresEventStore', 'SqliteEventStore',
    ],
    types: [
      'AppendRequest', 'AppendResult', 'DocInfo', 'EventOutcome', 'EventStore', 'EventSummary', 'ListDocsOptions',
      'MemoryEventStoreOptions', 'PostgresEventStoreOptions', 'PutSnapshotResult', 'SnapshotInfo', 'SnapshotInput',
      'SqliteDurability', 'SqliteEventStoreOptions', 'SqliteSettings', 'StoredEvent', 'StoredSnapshot',
    ],
  },
}

/** Which internal entry sits behind which public ones. */
const INTERNAL: Record<string, readonly string[]> = {
  '@concord/core/internal': ['@concord/core', '@concord/core/protocol'],
  '@concord/client/internal': ['@concord/client', '@concord/client/node'],
  '@concord/relay/internal': ['@concord/relay', '@concord/relay/store'],
}

const declarationOf = (entry: string): string => fileURLToPath(import.meta.resolve(entry)).replace(/\.js$/, '.d.ts')

const entries = [...Object.keys(PUBLIC), ...Object.keys(INTERNAL)]
const program = ts.createProgram(entries.map(declarationOf), {
  noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
})
const checker = program.getTypeChecker()

/** The entry's exports as its .d.ts declares them, split into values and type-only names. */
function declared(entry: string): Surface {
  const file = program.getSourceFile(declarationOf(entry))
  const module = file === undefined ? undefined : checker.getSymbolAtLocation(file)
  if (module === undefined) throw new Error(`no declarations for ${entry} at ${declarationOf(entry)}: build first`)
  const values: string[] = []
  const types: string[] = []
  for (const s of checker.getExportsOfModule(module)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s
    ;(target.flags & ts.SymbolFlags.Value ? values : types).push(s.name)
  }
  return { values: values.sort(), types: types.sort() }
}

for (const [entry, want] of Object.entries(PUBLIC)) {
  test(`${entry} exports exactly its pinned values`, async () => {
    const loaded = Object.keys((await import(entry)) as object).sort()
    assert.equal(loaded, [...want.values].sort(), `${entry}: a value export was added or removed; if on purpose, update this list`)
  })

  test(`${entry} exports exactly its pinned types`, () => {
    const got = declared(entry)
    assert.equal(got.types, [...want.types].sort(), `${entry}: a type export was added or removed; if on purpose, update this list`)
    // The declarations say what the module holds at run time.
    assert.equal(got.values, [...want.values].sort(), `${entry}: its .d.ts declares other values than pinned`)
  })
}

for (const [internal, publics] of Object.entries(INTERNAL)) {
  test(`${internal} holds only what its public entries do not`, async () => {
    const inside = declared(internal)
    const names = new Set([...inside.values, ...inside.types])
    assert.ok(names.size > 0, `${internal} exports something`)
    for (const pub of publics) {
      const shown = declared(pub)
      const both = [...shown.values, ...shown.types].filter((n) => names.has(n))
      assert.equal(both, [], `${internal} and ${pub} both export these; a name has one place`)
    }
    const loaded = Object.keys((await import(internal)) as object).sort()
    assert.equal(loaded, inside.values, `${internal} loads what it declares`)
  })
}

test.run()
