// @concord/client/internal: pieces of the client's machinery that this
// repository's tests check on their own (the retry curve, the storage schema
// version). No stability promise: names here change with the code they
// belong to. An application imports @concord/client or @concord/client/node.
export { backoffCeiling, fullJitter } from './retry.js'
export { SCHEMA_VERSION } from './storage/store.js'
