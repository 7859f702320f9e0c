// Runs the update-inspector contract against every backend BACKEND selects that has an inspector.
import { BACKENDS } from '../support/backends.js'
import { runInspectContract } from './inspect-contract.js'

for (const backend of BACKENDS) if (backend.inspectUpdate !== undefined) runInspectContract(backend).run()
