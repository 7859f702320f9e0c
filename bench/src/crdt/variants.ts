/** The CRDT variants every B table compares: raw libraries, then Concord's when they exist. */
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { BACKEND_NAMES } from '@concord/core'
import type { CrdtFactory } from './adapter.js'
import { yjsFactory } from './yjs.js'
import { automergeFactory } from './automerge.js'
import { concordVariant, findApplyThroughConcord } from './concord.js'
import { installedVersion } from '../versions.js'

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

export async function loadVariants(): Promise<CrdtFactory[]> {
  const variants: CrdtFactory[] = [
    yjsFactory(installedVersion('yjs', benchDir) ?? '?'),
    yjsFactory(installedVersion('yjs', benchDir) ?? '?', 'v1'),
    automergeFactory(installedVersion('@automerge/automerge', benchDir) ?? '?'),
  ]
  const applyThroughConcord = await findApplyThroughConcord()
  if (applyThroughConcord !== undefined) {
    variants.push(...BACKEND_NAMES.map((name) => concordVariant(name, applyThroughConcord)))
  }
  return variants
}

/** Ids only, without loading anything heavy: the coordinator uses this to plan child processes. */
export async function variantIds(): Promise<string[]> {
  return (await loadVariants()).map((v) => v.id)
}
