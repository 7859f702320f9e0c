/** The dev entry (build.mjs --dev): the app on the in-memory stand-in client, with a demo purchase. */
import { boot } from './boot.js'
import { memoryClient } from './dev/memory-client.js'

boot(async (identity, { offline }) => {
  const client = memoryClient(identity.user, identity.device)
  await client.seedDemo()
  if (offline) client.goOffline()
  return client
}, document.getElementById('app')!)
