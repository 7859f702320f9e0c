/** Markdown rendering and number formatting for the tables. */
import type { MarkdownTable } from '../types.js'

export function renderTable(t: MarkdownTable): string {
  const lines: string[] = [`### ${t.title}`, '']
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)))
  const row = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  lines.push(row(t.header))
  lines.push(`| ${widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(Math.max(1, w - 1)) : '-'.repeat(Math.max(1, w - 1)) + ':')).join(' | ')} |`)
  for (const r of t.rows) lines.push(row(r))
  if (t.notes !== undefined && t.notes.length > 0) {
    lines.push('')
    for (const n of t.notes) lines.push(`- ${n}`)
  }
  lines.push('')
  return lines.join('\n')
}

export function fmtMs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  if (v < 1) return `${v.toFixed(3)} ms`
  if (v < 10) return `${v.toFixed(2)} ms`
  if (v < 100) return `${v.toFixed(1)} ms`
  return `${Math.round(v).toLocaleString('en-US')} ms`
}

export function fmtUs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  if (v < 10) return `${v.toFixed(2)} us`
  if (v < 100) return `${v.toFixed(1)} us`
  return `${Math.round(v).toLocaleString('en-US')} us`
}

export function fmtBytes(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  return `${Math.round(v).toLocaleString('en-US')} B`
}

export function fmtMem(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  const a = Math.abs(v)
  if (a >= 1024 * 1024) return `${(v / 1024 / 1024).toFixed(1)} MiB`
  if (a >= 1024) return `${(v / 1024).toFixed(1)} KiB`
  return `${Math.round(v)} B`
}

export function fmtInt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  return Math.round(v).toLocaleString('en-US')
}

export function fmtRate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`
  return v.toFixed(0)
}

export function fmtRatio(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  return `${v.toFixed(2)}x`
}

export function fmtPct(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  return `${Math.round(v)}%`
}
