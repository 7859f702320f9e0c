// The KvBackend contract on sqliteStorage: a real file in a temporary directory per case, removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sqliteStorage } from '@concord/client/node'
import { runKvBackendContract } from './kv-contract.js'

runKvBackendContract(
  'sqlite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-kv-'))
    return { storage: sqliteStorage(join(dir, 'client.db')), cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
  },
  { propertyRuns: 40 },
)
