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
