/**
 * Hand-written SVG charts (no plotting dependency): line charts with linear or
 * log axes, for latency distributions (CDF), growth curves and throughput by K.
 * Every chart is a standalone file a browser opens.
 */

export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

export interface LineChartSpec {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: readonly Series[]
  readonly xLog?: boolean
  readonly yLog?: boolean
  /** Draw point markers (for few points, like K = 10, 50, 200). */
  readonly markers?: boolean
  /** Force the y axis to start at zero (linear axes only). */
  readonly yFromZero?: boolean
  /** Extra horizontal reference lines, e.g. targets. */
  readonly hLines?: ReadonlyArray<{ readonly y: number; readonly label: string }>
  /** Label the x axis ticks with exactly these values. */
  readonly xTicks?: readonly number[]
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22']
const W = 760
const H = 440
const M = { left: 78, right: 190, top: 44, bottom: 56 }

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

export function formatNumber(v: number): string {
  const a = Math.abs(v)
  if (a === 0) return '0'
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`
  if (a >= 1) return `${+v.toPrecision(4)}`
  return `${+v.toPrecision(2)}`
}

function niceStep(range: number, count: number): number {
  const raw = range / Math.max(1, count)
  const mag = Math.pow(10, Math.floor(Math.log10(raw)))
  const norm = raw / mag
  const nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10
  return nice * mag
}

interface Axis {
  map(v: number): number
  ticks: number[]
}

function axis(min: number, max: number, log: boolean, from: number, to: number, fixedTicks?: readonly number[]): Axis {
  if (log && fixedTicks !== undefined) {
    // Exact data range, padded: a few named points (K = 10, 50, 200) fill the width.
    const a = Math.log10(Math.max(min, 1e-12))
    const b = Math.log10(Math.max(max, 1e-12))
    const pad = Math.max(0.05, (b - a) * 0.05)
    const lo = a - pad
    const hi = b + pad
    return { map: (v) => from + ((Math.log10(Math.max(v, 1e-12)) - lo) / (hi - lo)) * (to - from), ticks: [...fixedTicks] }
  }
  if (log) {
    const lo = Math.floor(Math.log10(Math.max(min, 1e-12)))
    let hi = Math.ceil(Math.log10(Math.max(max, 1e-12)))
    if (hi === lo) hi = lo + 1
    const ticks = fixedTicks !== undefined ? [...fixedTicks] : Array.from({ length: hi - lo + 1 }, (_, i) => Math.pow(10, lo + i))
    return { map: (v) => from + ((Math.log10(Math.max(v, 1e-12)) - lo) / (hi - lo)) * (to - from), ticks }
  }
  let lo = min
  let hi = max
  if (hi === lo) hi = lo + 1
  const step = niceStep(hi - lo, 6)
  lo = Math.floor(lo / step) * step
  hi = Math.ceil(hi / step) * step
  const ticks = fixedTicks !== undefined ? [...fixedTicks] : Array.from({ length: Math.round((hi - lo) / step) + 1 }, (_, i) => lo + i * step)
  return { map: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks }
}

export function lineChart(spec: LineChartSpec): string {
  const pts = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2 - M.right / 2 + M.left / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`)
  if (pts.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`)
    return out.join('\n')
  }
  const xs = pts.map((p) => p[0])
  const ys = pts.map((p) => p[1]).concat((spec.hLines ?? []).map((l) => l.y))
  const xMin = Math.min(...xs)
  const xMax = Math.max(...xs)
  const yMin = spec.yFromZero === true && spec.yLog !== true ? 0 : Math.min(...ys)
  const yMax = Math.max(...ys)
  const x0 = M.left
  const x1 = W - M.right
  const y0 = H - M.bottom
  const y1 = M.top
  const xa = axis(xMin, xMax, spec.xLog === true, x0, x1, spec.xTicks)
  const ya = axis(yMin, yMax, spec.yLog === true, y0, y1)
  // Grid and ticks.
  for (const t of ya.ticks) {
    const y = ya.map(t)
    if (y < y1 - 0.5 || y > y0 + 0.5) continue
    out.push(`<line x1="${x0}" y1="${y.toFixed(1)}" x2="${x1}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${x0 - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${formatNumber(t)}</text>`)
  }
  for (const t of xa.ticks) {
    const x = xa.map(t)
    if (x < x0 - 0.5 || x > x1 + 0.5) continue
    out.push(`<line x1="${x.toFixed(1)}" y1="${y0}" x2="${x.toFixed(1)}" y2="${y1}" stroke="#f0f0f0"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${y0 + 16}" text-anchor="middle">${formatNumber(t)}</text>`)
  }
  out.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#444"/>`)
  out.push(`<text x="${(x0 + x1) / 2}" y="${H - 14}" text-anchor="middle">${esc(spec.xLabel)}</text>`)
  out.push(`<text transform="translate(18 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`)
  for (const line of spec.hLines ?? []) {
    const y = ya.map(line.y)
    out.push(`<line x1="${x0}" y1="${y.toFixed(1)}" x2="${x1}" y2="${y.toFixed(1)}" stroke="#999" stroke-dasharray="5 4"/>`)
    out.push(`<text x="${x1 - 4}" y="${(y - 4).toFixed(1)}" text-anchor="end" fill="#666">${esc(line.label)}</text>`)
  }
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    if (p.length > 0) {
      const d = p.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${xa.map(x).toFixed(1)} ${ya.map(y).toFixed(1)}`).join(' ')
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`)
      if (spec.markers === true) {
        for (const [x, y] of p) out.push(`<circle cx="${xa.map(x).toFixed(1)}" cy="${ya.map(y).toFixed(1)}" r="3.5" fill="${color}"/>`)
      }
    }
    const ly = M.top + 10 + i * 20
    out.push(`<line x1="${x1 + 14}" y1="${ly}" x2="${x1 + 36}" y2="${ly}" stroke="${color}" stroke-width="3"/>`)
    out.push(`<text x="${x1 + 42}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}
