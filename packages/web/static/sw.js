// The app shell for reloads without a network: index.html, app.js, app.css
// and the small shared chunks, cached at install; the Automerge chunk is
// cached the first time a purchase needs it.
// Network first (a running relay always serves the newest build), the cache
// when the network fails. Data never goes through here: purchases live in
// IndexedDB and sync over the WebSocket.
const CACHE = 'concord-shell-__VERSION__'
const SHELL = __SHELL__

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('concord-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin) return
  const shell = req.mode === 'navigate' || /\.(js|css|html)$/.test(url.pathname) && !url.pathname.endsWith('/sw.js')
  if (!shell) return
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone()
          void caches.open(CACHE).then((c) => c.put(req.mode === 'navigate' ? './' : req, copy))
        }
        return res
      })
      .catch(async () => {
        const cache = await caches.open(CACHE)
        return (await cache.match(req.mode === 'navigate' ? './' : req)) ?? (await cache.match(req, { ignoreSearch: true })) ?? Response.error()
      }),
  )
})
