/** See automerge-lazy.js: the app's handle on the lazily loaded Automerge chunk. */
export declare function loadAutomerge(): Promise<void>
export declare function automergeReady(): boolean
