/**
 * Machine and library versions recorded with every run. Library versions
 * are read from the installed package.json files, not from the ranges in
 * bench/package.json.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Version of `name` as installed for the package at `fromDir` (walking up node_modules like Node does). */
export function installedVersion(name: string, fromDir: string): string | undefined {
  let dir = fromDir
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name, 'package.json')
    if (existsSync(candidate)) {
      const json = JSON.parse(readFileSync(candidate, 'utf8')) as { version?: unknown }
      return typeof json.version === 'string' ? json.version : undefined
    }
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The real directory of an installed package (pnpm links it from .pnpm). */
export function installedDir(name: string, fromDir: string): string | undefined {
  let dir = fromDir
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name)
    if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate)
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

export function libraryVersions(benchDir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const direct = ['yjs', 'lib0', 'y-protocols', '@automerge/automerge', 'ws', '@y/websocket-server', '@hocuspocus/server']
  for (const name of direct) out[name] = installedVersion(name, benchDir) ?? 'not installed'
  // What the servers really run: each brings its own dependencies.
  const yws = installedDir('@y/websocket-server', benchDir)
  if (yws !== undefined) {
    out['@y/websocket-server > yjs'] = installedVersion('yjs', yws) ?? '?'
    out['@y/websocket-server > ws'] = installedVersion('ws', yws) ?? '?'
  }
  const hp = installedDir('@hocuspocus/server', benchDir)
  if (hp !== undefined) {
    out['@hocuspocus/server > yjs'] = installedVersion('yjs', hp) ?? '?'
    out['@hocuspocus/server > crossws'] = installedVersion('crossws', hp) ?? '?'
  }
  return out
}

export interface MachineInfo {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryBytes: number
  readonly platform: string
  readonly release: string
  readonly arch: string
  readonly node: string
  readonly v8: string
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    node: process.version,
    v8: process.versions.v8,
  }
}
