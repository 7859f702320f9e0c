// Automerge, loaded only when needed. Core's Automerge backend imports
// '@automerge/automerge'; the build points that import here. Every binding
// below is a live ESM binding that starts as a stub and is replaced by the
// real export once loadAutomerge() has fetched the chunk (1.6 MB gzip of
// wasm), so the app itself stays small and Yjs purchases never pay for it.
// Core only calls Automerge inside functions, never at module load.
const NAMES = [
  'applyChanges', 'change', 'clone', 'decodeChange', 'emptyChange', 'encodeChange', 'free', 'getBackend', 'getHeads',
  'getLastLocalChange', 'init', 'load', 'save', 'splice', 'view', 'ImmutableString',
]

function notLoaded() {
  const e = new Error('Automerge is still loading: this purchase uses the Automerge backend; try again in a moment')
  e.name = 'AutomergeNotLoaded'
  throw e
}

export let applyChanges = notLoaded
export let change = notLoaded
export let clone = notLoaded
export let decodeChange = notLoaded
export let emptyChange = notLoaded
export let encodeChange = notLoaded
export let free = notLoaded
export let getBackend = notLoaded
export let getHeads = notLoaded
export let getLastLocalChange = notLoaded
export let init = notLoaded
export let load = notLoaded
export let save = notLoaded
export let splice = notLoaded
export let view = notLoaded
export let ImmutableString = class ImmutableStringNotLoaded {
  constructor() {
    notLoaded()
  }
}

let loading = null
let ready = false

export function automergeReady() {
  return ready
}

export function loadAutomerge() {
  loading ??= import('automerge-real').then((A) => {
    for (const n of NAMES) if (typeof A[n] !== 'function') throw new Error(`the Automerge build has no ${n}`)
    applyChanges = A.applyChanges
    change = A.change
    clone = A.clone
    decodeChange = A.decodeChange
    emptyChange = A.emptyChange
    encodeChange = A.encodeChange
    free = A.free
    getBackend = A.getBackend
    getHeads = A.getHeads
    getLastLocalChange = A.getLastLocalChange
    init = A.init
    load = A.load
    save = A.save
    splice = A.splice
    view = A.view
    ImmutableString = A.ImmutableString
    ready = true
  })
  return loading
}
