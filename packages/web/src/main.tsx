/** The production entry: the real client, IndexedDB storage, demo tokens from the relay. */
import { createClient, indexedDbStorage } from '@concord/client'
import { boot } from './boot.js'
import { registerShell } from './boot.js'
import { demoToken, syncUrl } from './session.js'
import type { AppClient } from './client-api.js'

registerShell()
boot(async (identity, { offline }) => {
  const client = await createClient({
    url: syncUrl(),
    token: () => demoToken(identity),
    storage: indexedDbStorage('concord'),
    user: identity.user,
    device: identity.device,
    autoConnect: !offline,
  })
  if (offline) client.goOffline()
  const app: AppClient = client
  return app
}, document.getElementById('app')!)
