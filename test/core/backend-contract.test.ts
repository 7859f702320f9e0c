// Runs the CRDT backend contract against every backend BACKEND selects.
import { BACKENDS } from '../support/backends.js'
import { runBackendContract } from './backend-contract.js'

for (const backend of BACKENDS) runBackendContract(backend).run()
