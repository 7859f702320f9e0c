/** POSSIBLE_DUPLICATE_LINE: two lines that look alike (product, quantity, price), added concurrently. */
import { type LineId, splitEventId } from '../../ids.js'
import { keys } from '../../purchase/model.js'
import type { PurchaseLine, StoredClock } from '../../purchase/model.js'
import { concurrent } from '../causality.js'
import { recordBranch, uniqSorted } from '../evidence.js'
import { type Found, accepting, defineKind } from '../spec.js'
import { param, writeReg } from '../writes.js'

/**
 * Bounds on the look-alike pairs of one group. Below them the pairs are
 * exactly every concurrent pair; a real order never comes near (a group is a
 * handful of lines). Unbounded, 1,000 look-alike lines written concurrently
 * (vv {}: a raw client can) made half a million conflicts and overflowed the
 * stack collecting them. Past a bound the group reports what it found so far
 * in a fixed order, so a command that shrinks such a group can surface pairs
 * it hid, which the command check then refuses; resolutions still apply.
 */
const MAX_DUPLICATE_PAIRS = 256
const DUPLICATE_WORK = 200_000

const byCreation = (x: PurchaseLine, y: PurchaseLine) =>
  x.created.hlc < y.created.hlc ? -1 : x.created.hlc > y.created.hlc ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0

const countOf = (vv: StoredClock, replica: string): number => (Object.hasOwn(vv, replica) ? vv[replica]! : 0)

type Pair = Found<'remove-line'>

/**
 * Pairs of lines that look alike and were added concurrently: a pure function
 * of the group's members, whatever their order. Each line is compared only
 * with the earlier lines its author had not seen: a clock that counts n of a
 * replica's events saw exactly its events numbered up to n, the last ones of
 * that replica's lines here. So 10,000 look-alike lines added one after
 * another cost 10,000 steps, not 50 million comparisons.
 */
function duplicatePairs(ls: readonly PurchaseLine[]): Pair[] {
  const out: Pair[] = []
  const sorted = [...ls].sort(byCreation)
  // Earlier members by creating replica: positions in `sorted` and event numbers, and whether those only grow (so unseen ones are a tail).
  const byReplica = new Map<string, { readonly at: number[]; readonly seqs: number[]; ordered: boolean }>()
  let work = 0
  for (let j = 0; j < sorted.length; j++) {
    const b = sorted[j]!
    const unseen: number[] = []
    for (const [replica, m] of byReplica) {
      const n = countOf(b.created.vv, replica)
      work++
      if (m.ordered) {
        for (let q = m.seqs.length - 1; q >= 0 && m.seqs[q]! > n; q--) unseen.push(m.at[q]!)
      } else {
        work += m.seqs.length
        for (let q = 0; q < m.seqs.length; q++) if (m.seqs[q]! > n) unseen.push(m.at[q]!)
      }
    }
    for (const i of unseen.sort((x, y) => x - y)) {
      if (++work > DUPLICATE_WORK) return out
      const a = sorted[i]!
      // The other way round too: an earlier line whose author claims to have seen this one, or the same event.
      if (!concurrent(a.created, b.created)) continue
      out.push({
        subject: `lines:${a.id}:${b.id}`,
        causes: uniqSorted([a.created.ev, b.created.ev]),
        branches: [recordBranch(a.created, `added ${a.qty} x ${a.product}`), recordBranch(b.created, `added ${b.qty} x ${b.product}`)],
        facts: { product: a.product, qty: a.qty, price: a.price.amount },
        choices: { 'remove-line': { line: [b.id, a.id] } },
      })
      if (out.length >= MAX_DUPLICATE_PAIRS) return out
    }
    if (work > DUPLICATE_WORK) return out
    const { replica, seq } = splitEventId(b.created.ev)
    let m = byReplica.get(replica)
    if (m === undefined) byReplica.set(replica, (m = { at: [], seqs: [], ordered: true }))
    if (m.seqs.length > 0 && m.seqs[m.seqs.length - 1]! > seq) m.ordered = false
    m.at.push(j)
    m.seqs.push(seq)
  }
  return out
}

export const possibleDuplicateLine = defineKind({
  label: 'Possible duplicate line',
  severity: 'INFO',
  scope: 'lookalike-lines',
  // Removed and product-less lines look like nothing.
  groupKey: (l) => (l.removed || l.product === '' ? undefined : `${l.product}\u0000${l.qty}\u0000${l.price.amount}`),
  detect: duplicatePairs,
  options: {
    'remove-line': {
      label: 'Remove one of them',
      params: [{ name: 'line', label: 'Line' }],
      effect: 'removes',
      resolve: (ctx) => writeReg(ctx, keys.line(param(ctx, 'line') as LineId, 'removed'), true),
    },
    'keep-both': accepting('Keep both'),
  },
})
