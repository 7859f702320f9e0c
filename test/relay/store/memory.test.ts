import { MemoryEventStore } from '@concord/relay/store'
import { runEventStoreContract } from './contract.js'

let n = 0
runEventStoreContract(
  'memory',
  async ({ testHooks }) => {
    const store = new MemoryEventStore({ newRelayId: () => `relay-mem-${++n}`, ...(testHooks ? { testHooks } : {}) })
    return {
      store,
      teardown: () => store.close(),
      openAnother: async () => store.share(),
    }
  },
  { propertyRuns: 100 },
)
