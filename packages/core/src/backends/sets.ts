/** The record sets of a purchase, shared by the backends, their effects and the schema. */

/** The grow-only sets a purchase has. */
export type SetName =
  | 'lines'
  | 'receipts'
  | 'returns'
  | 'bills'
  | 'payments'
  | 'refunds'
  | 'voids'
  | 'transitions'
  | 'resolutions'

export const SET_NAMES: readonly SetName[] = [
  'lines', 'receipts', 'returns', 'bills', 'payments', 'refunds', 'voids', 'transitions', 'resolutions',
]
