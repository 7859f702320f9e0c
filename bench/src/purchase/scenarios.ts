/** The purchase scenarios [P1]..[P5] for the registry. */
import type { Scenario } from '../types.js'
import { runP1, runP2, runP4 } from './p1-p4.js'
import { runP3 } from './p3.js'
import { runP5 } from './p5.js'

export const purchaseScenarios: readonly Scenario[] = [
  { id: 'P1', title: 'One device builds a 500-line purchase', group: 'crdt', run: runP1 },
  { id: 'P2', title: '2, 8 and 32 devices edit one purchase offline, then sync', group: 'crdt', run: runP2 },
  { id: 'P4', title: 'Conflict detection cost per merge as the purchase grows', group: 'crdt', run: runP4 },
  { id: 'P5', title: 'A day offline: 5,000 edits over 100 purchases, then reconnect to a real relay', group: 'relay', run: runP5 },
  // Last, the largest documents: P4 timed after it in the same process was
  // 1.8x (Automerge) to 11x (Yjs) slower at 1,000 lines than P4 run alone.
  { id: 'P3', title: 'Cold load of a purchase with 100k events: full replay against snapshot plus tail', group: 'crdt', run: runP3 },
]
