/** The app shell: header with sync feedback and the offline switch, banner, and the routed page. */
import { Component, type ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import type { AppClient } from './client-api.js'
import type { Identity } from './session.js'
import { chooseLocale, setTabOffline, tabOffline } from './session.js'
import { locale, numberExample } from './format.js'
import { Ctx, explainSafe, useClientStatus, useClientTick, useRoute } from './hooks.js'
import { Banner, ConflictBadge, OfflineSwitch, SyncIndicator } from './components/shell.js'
import { ConflictQueue, PurchaseList } from './components/list.js'
import { Editor } from './components/editor.js'

/** Locales offered in the menu; any other comes from the browser or `?locale=`. */
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'de-CH', 'fr-FR', 'sv-SE', 'en-IN']

export function App({ client, identity, onSwitchUser }: { readonly client: AppClient; readonly identity: Identity; readonly onSwitchUser: () => void }) {
  const status = useClientStatus(client)
  useClientTick(client)
  const route = useRoute()
  const [offline, setOffline] = useState(tabOffline())
  const conflicts = client.list().reduce((n, p) => n + p.conflicts, 0)
  const switchOffline = (on: boolean) => {
    setTabOffline(on)
    setOffline(on)
    if (on) client.goOffline()
    else client.goOnline()
  }
  const docId = route.name === 'purchase' ? route.id : null
  return (
    <Ctx.Provider value={{ client, identity }}>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault()
        document.getElementById('main')?.focus()
      }}>Skip to content</a>
      <header class="topbar">
        <a href="#/" class="brand" aria-label="Concord purchases, home">Concord</a>
        <SyncIndicator status={status} />
        <div class="topbar-end">
          <ConflictBadge count={conflicts} />
          <OfflineSwitch offline={offline} onChange={switchOffline} />
          <details class="who">
            <summary aria-label={`Signed in as ${identity.user}`}><span aria-hidden="true" class="avatar">{identity.user.slice(0, 1).toUpperCase()}</span><span class="wide-only">{identity.user}</span></summary>
            <div class="menu">
              <p><strong>{identity.user}</strong></p>
              <p class="muted small">{identity.device}</p>
              <button type="button" class="link" onClick={onSwitchUser}>Change name</button>
              <label for="locale-pick" class="small">Number format</label>
              <select id="locale-pick" value={LOCALES.includes(locale()) ? locale() : ''} onChange={(e) => {
                chooseLocale(e.currentTarget.value === '' ? null : e.currentTarget.value)
                location.reload()
              }}>
                <option value="">Browser default ({navigator.language})</option>
                {LOCALES.map((l) => <option key={l} value={l}>{l}: {numberExample(2, l)}</option>)}
              </select>
            </div>
          </details>
        </div>
      </header>
      <Banner status={status} tabOffline={offline} onGoOnline={() => switchOffline(false)} onRetry={() => client.forceSync()}
        explain={docId !== null ? explainSafe(client, docId) || null : null} />
      <main id="main" tabIndex={-1}>
        <Boundary key={location.hash}>
          {route.name === 'purchase' ? <Editor key={route.id} id={route.id} at={route.at} />
            : route.name === 'conflicts' ? <ConflictQueue />
            : <PurchaseList />}
        </Boundary>
      </main>
    </Ctx.Provider>
  )
}

export function IdentityForm({ onDone }: { readonly onDone: (name: string) => void }) {
  const [name, setName] = useState('')
  return (
    <main id="main" class="welcome">
      <form class="card" onSubmit={(e) => {
        e.preventDefault()
        if (name.trim() !== '') onDone(name)
      }}>
        <h1>Concord purchases</h1>
        <p>Purchase orders that a team edits from several devices, online or offline. Your name is shown next to every change you make.</p>
        <div class="field">
          <label for="user-name">Your name</label>
          <input id="user-name" value={name} required autoComplete="name" autoFocus onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary">Continue</button>
      </form>
    </main>
  )
}

export function Fatal({ message }: { readonly message: string }) {
  return (
    <main id="main" class="welcome">
      <div class="card" role="alert">
        <h1>Concord cannot start</h1>
        <p>{message}</p>
        <button type="button" class="primary" onClick={() => location.reload()}>Reload</button>
      </div>
    </main>
  )
}

/** A page that fails to render says so, and the header (sync, offline switch) keeps working. */
class Boundary extends Component<{ children?: ComponentChildren }, { error: string | null }> {
  override state = { error: null as string | null }
  override componentDidCatch(e: unknown) {
    this.setState({ error: e instanceof Error ? e.message : String(e) })
  }
  override render() {
    if (this.state.error === null) return this.props.children
    return (
      <div class="card" role="alert">
        <h1>Something went wrong on this page</h1>
        <p>{this.state.error}</p>
        <p><a href="#/">Back to the purchases</a> · <button type="button" class="link" onClick={() => this.setState({ error: null })}>Try again</button></p>
      </div>
    )
  }
}
