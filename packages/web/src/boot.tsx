/** Starts the app: asks for a name once, connects, renders; registers the offline app shell. */
import { render } from 'preact'
import type { AppClient } from './client-api.js'
import { App, Fatal, IdentityForm } from './app.js'
import { type Identity, forgetUser, initLocale, loadIdentity, saveUser, tabOffline } from './session.js'
import { errorText } from './format.js'

export type Connect = (identity: Identity, options: { readonly offline: boolean }) => Promise<AppClient>

export function boot(connect: Connect, root: HTMLElement): void {
  let client: AppClient | null = null
  initLocale()
  root.textContent = ''
  const start = async (identity: Identity) => {
    render(<p class="loading" role="status">Opening the purchases on this device…</p>, root)
    try {
      client = await connect(identity, { offline: tabOffline() })
    } catch (e) {
      render(<Fatal message={errorText(e)} />, root)
      return
    }
    const c = client
    render(<App client={c} identity={identity} onSwitchUser={() => {
      forgetUser()
      void Promise.resolve(c.close()).finally(() => location.reload())
    }} />, root)
  }
  const identity = loadIdentity()
  if (identity === null) render(<IdentityForm onDone={(name) => void start(saveUser(name))} />, root)
  else void start(identity)
  addEventListener('pagehide', () => void client?.close())
}

/** The service worker keeps the app shell (index.html, app.js, app.css) for reloads without a network. */
export function registerShell(): void {
  if (!('serviceWorker' in navigator) || !isSecureContext) return
  navigator.serviceWorker.register('./sw.js').catch(() => {
    // Without it the app still works online; reloading offline then needs the browser cache.
  })
}
