/** The header: sync indicator, conflict badge, offline switch; and the offline / error banner below it. */
import type { ClientStatus, OverallState } from '../client-api.js'
import { ago, plainWords, when } from '../format.js'
import { Words } from './fields.js'
import { useNow } from '../hooks.js'

export const SYNC_LABEL: Readonly<Record<OverallState, string>> = {
  offline: 'Offline',
  connecting: 'Connecting',
  syncing: 'Syncing',
  synced: 'Synced',
  error: 'Sync error',
}

export function pendingCount(s: ClientStatus): number {
  return s.pending.high + s.pending.normal + s.pending.low
}

export function SyncIndicator({ status }: { readonly status: ClientStatus }) {
  const now = useNow()
  const pending = pendingCount(status)
  const last = status.lastSyncedAt
  return (
    <div class={`sync sync-${status.overall}`} role="status" aria-live="polite" data-testid="sync" data-state={status.overall}
      title={`Last synced: ${when(last)}`}>
      <span class="dot" aria-hidden="true" />
      <span class="sync-label">{SYNC_LABEL[status.overall]}</span>
      {pending > 0 ? <span class="pending" data-testid="pending-count">{pending} pending</span> : null}
      <span class="sync-last">{last === null ? 'not synced yet' : `synced ${ago(last, now)}`}</span>
    </div>
  )
}

export function ConflictBadge({ count }: { readonly count: number }) {
  return (
    <a href="#/conflicts" class={`badge-link ${count > 0 ? 'has-conflicts' : ''}`} data-testid="conflict-badge"
      aria-label={count === 1 ? '1 open conflict' : `${count} open conflicts`}>
      <span aria-hidden="true">⚠</span>
      <span class="count">{count}</span>
      <span class="wide-only" aria-hidden="true">{count === 1 ? ' conflict' : ' conflicts'}</span>
    </a>
  )
}

export function OfflineSwitch({ offline, onChange }: { readonly offline: boolean; readonly onChange: (offline: boolean) => void }) {
  return (
    <button type="button" role="switch" aria-checked={offline} class="switch" data-testid="offline-switch"
      onClick={() => onChange(!offline)} title="Disconnect this tab from the relay, to try concurrent edits">
      <span class="track" aria-hidden="true"><span class="thumb" /></span>
      <span>Offline</span>
    </button>
  )
}

export function Banner({ status, tabOffline, onGoOnline, onRetry, explain }: {
  readonly status: ClientStatus
  readonly tabOffline: boolean
  readonly onGoOnline: () => void
  readonly onRetry: () => void
  readonly explain: string | null
}) {
  const pending = pendingCount(status)
  const saved = pending === 0 ? 'Nothing is waiting to sync.'
    : `${pending} ${pending === 1 ? 'change is' : 'changes are'} saved on this device and will sync when you are back online.`
  if (status.overall === 'error' && status.error !== undefined) {
    return (
      <div class="banner banner-error" role="alert" data-testid="banner">
        <p>
          <strong>Sync stopped: </strong>{plainWords(status.error.message, status.error.code).text}
          {status.error.fatal ? ' This needs attention before syncing can go on.' : ' Retrying on its own.'}
        </p>
        <details class="tech small"><summary>Details for support</summary><code>{status.error.code}: {status.error.message}</code></details>
        <p>{saved}</p>
        {!status.error.fatal ? <button type="button" onClick={onRetry}>Retry now</button> : null}
      </div>
    )
  }
  if (status.overall === 'offline' || tabOffline) {
    return (
      <div class="banner banner-offline" role="status" data-testid="banner">
        <p>
          <strong>{tabOffline ? 'This tab is offline (switch on). ' : 'You are offline. '}</strong>
          {saved}
        </p>
        {explain !== null && !tabOffline ? <p class="muted"><Words said={plainWords(explain, undefined, undefined, 'Not synced yet; the details say why.')} /></p> : null}
        {tabOffline ? <button type="button" onClick={onGoOnline}>Go online</button> : null}
      </div>
    )
  }
  return null
}
