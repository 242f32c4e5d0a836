/**
 * One line chart as a standalone SVG, for the soak's memory curve: a file anyone can open or put
 * in a README. Written by hand because it is one polyline and two axes; a chart library
 * (uPlot, the dashboard's) draws in a browser, not to a file.
 */
export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  points: { x: number; y: number }[];
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 24, top: 40, bottom: 48 };
const TICKS = 5;

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
const label = (value: number) =>
  value >= 1_000_000
    ? `${value / 1_000_000}M`
    : value >= 1_000
      ? `${value / 1_000}k`
      : String(Number(value.toFixed(1)));

/** The chart as SVG text. Pure. The y axis starts at 0, so growth is seen at its true size. */
export function lineChartSvg({ title, xLabel, yLabel, points }: LineChart): string {
  const maxX = Math.max(...points.map((p) => p.x), 1);
  const maxY = Math.max(...points.map((p) => p.y), 1) * 1.1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + (x / maxX) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - (y / maxY) * plotH;
  const ticks = Array.from({ length: TICKS + 1 }, (_, i) => i / TICKS);
  const text = (x: number, y: number, content: string, anchor = "middle", extra = "") =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" ${extra}>${escapeXml(content)}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    text(WIDTH / 2, 22, title, "middle", 'font-size="14" font-weight="bold"'),
    ...ticks.map(
      (t) =>
        `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${sy(t * maxY).toFixed(1)}" y2="${sy(t * maxY).toFixed(1)}" stroke="#ddd"/>`,
    ),
    ...ticks.map((t) => text(MARGIN.left - 8, sy(t * maxY) + 4, label(t * maxY), "end")),
    ...ticks.map((t) => text(sx(t * maxX), HEIGHT - MARGIN.bottom + 18, label(Math.round(t * maxX)))),
    text(WIDTH / 2, HEIGHT - 10, xLabel),
    text(16, MARGIN.top + plotH / 2, yLabel, "middle", `transform="rotate(-90 16 ${MARGIN.top + plotH / 2})"`),
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`,
    ...points.map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="#1f77b4"/>`),
    "</svg>",
  ].join("\n");
}

/** Grouped bars: one group per category, one bar per series (e.g. before and after); a missing value draws no bar and says so. */
export interface BarChart {
  title: string;
  /** A line under the title: where the figures come from. */
  subtitle?: string;
  yLabel: string;
  categories: string[];
  series: { label: string; values: (number | undefined)[] }[];
}

const SERIES_COLORS = ["#aec7e8", "#1f77b4", "#ff7f0e", "#2ca02c"];

/** The chart as SVG text. Pure. The y axis starts at 0; each bar carries its value. */
export function barChartSvg({ title, subtitle, yLabel, categories, series }: BarChart): string {
  const width = Math.max(WIDTH, MARGIN.left + MARGIN.right + categories.length * (24 + 22 * series.length));
  const top = MARGIN.top + (subtitle ? 16 : 0) + 18 * series.length;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - top - MARGIN.bottom;
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== undefined);
  const maxY = Math.max(...values, 1) * 1.1;
  const sy = (y: number) => top + plotH - (y / maxY) * plotH;
  const slot = plotW / Math.max(categories.length, 1);
  const barW = (slot * 0.8) / Math.max(series.length, 1);
  const ticks = Array.from({ length: TICKS + 1 }, (_, i) => i / TICKS);
  const text = (x: number, y: number, content: string, anchor = "middle", extra = "") =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" ${extra}>${escapeXml(content)}</text>`;
  const color = (i: number) => SERIES_COLORS[i % SERIES_COLORS.length]!;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${HEIGHT}" fill="white"/>`,
    text(width / 2, 22, title, "middle", 'font-size="14" font-weight="bold"'),
    ...(subtitle ? [text(width / 2, 38, subtitle, "middle", 'fill="#555"')] : []),
    ...series.flatMap((s, i) => {
      const y = MARGIN.top + (subtitle ? 16 : 0) + 18 * i;
      return [
        `<rect x="${MARGIN.left}" y="${y - 10}" width="12" height="12" fill="${color(i)}"/>`,
        text(MARGIN.left + 18, y, s.label, "start"),
      ];
    }),
    ...ticks.map(
      (t) =>
        `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${sy(t * maxY).toFixed(1)}" y2="${sy(t * maxY).toFixed(1)}" stroke="#ddd"/>`,
    ),
    ...ticks.map((t) => text(MARGIN.left - 8, sy(t * maxY) + 4, label(Math.round(t * maxY)), "end")),
    text(16, top + plotH / 2, yLabel, "middle", `transform="rotate(-90 16 ${top + plotH / 2})"`),
    ...categories.flatMap((category, c) => {
      const x0 = MARGIN.left + c * slot + slot * 0.1;
      return [
        text(MARGIN.left + (c + 0.5) * slot, HEIGHT - MARGIN.bottom + 18, category),
        ...series.flatMap((s, i) => {
          const v = s.values[c];
          const x = x0 + i * barW;
          if (v === undefined) return [text(x + barW / 2, sy(0) - 4, "–", "middle", 'fill="#999"')];
          return [
            `<rect x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(sy(0) - sy(v)).toFixed(1)}" fill="${color(i)}"/>`,
            text(x + barW / 2 - 1, sy(v) - 4, String(Math.round(v)), "middle", 'font-size="10"'),
          ];
        }),
      ];
    }),
    "</svg>",
  ].join("\n");
}
