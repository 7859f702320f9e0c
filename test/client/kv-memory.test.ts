// The KvBackend contract on memoryStorage: a second open sees the same maps, as a restarted client does.
import { memoryStorage } from '@concord/client'
import { runKvBackendContract } from './kv-contract.js'

let n = 0
runKvBackendContract('memory', async () => ({ storage: memoryStorage(`kv-contract-${++n}`), cleanup: async () => undefined }), { propertyRuns: 100 })
