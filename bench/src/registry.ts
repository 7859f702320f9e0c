/**
 * The scenario registry. Adding a scenario is adding an entry here; adding a
 * variant to an existing one is an entry in crdt/variants.ts (CRDT layer) or
 * relay/servers.ts (relays).
 */
import type { Scenario } from './types.js'
import { crdtScenarios } from './crdt/scenarios.js'
import { relayScenarios } from './relay/scenarios.js'
import { storeScenario } from './store-scenario.js'
import { purchaseScenarios } from './purchase/scenarios.js'

export const scenarios: readonly Scenario[] = [...crdtScenarios, ...relayScenarios, storeScenario, ...purchaseScenarios]
