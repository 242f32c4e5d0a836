/**
 * The pipeline run's arithmetic (bench/pipeline.ts): a process's CPU from /proc/<pid>/stat with
 * its children's (a PostgreSQL cluster is a postmaster and its backends; a Redis forks to rewrite
 * its AOF), CPU per order from two readings, by process and by kind of process, and the table.
 * Pure: the readings come in as text and numbers.
 */

/** One line of /proc/<pid>/stat: its parent, and its CPU in clock ticks, its reaped children's included. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime. */
  ticks: number;
}

/** Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses: fields are counted after its last ")". */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  // After ") ": state (3), ppid (4), …, utime (14), stime (15), cutime (16), cstime (17).
  const fields = text.slice(close + 2).split(" ");
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((i) => Number(fields[i]));
  if (![pid, ppid, utime, stime, cutime, cstime].every(Number.isFinite)) return undefined;
  return { pid, ppid: ppid!, ticks: utime! + stime! + cutime! + cstime! };
}

/**
 * CPU ticks of `root` and every live descendant. A child that exits moves its ticks into its
 * parent's cutime/cstime once reaped, so the sum only grows as backends come and go.
 */
export function treeTicks(root: number, stats: Iterable<ProcStat>): number {
  const children = new Map<number, ProcStat[]>();
  let self: ProcStat | undefined;
  for (const s of stats) {
    if (s.pid === root) self = s;
    const siblings = children.get(s.ppid);
    if (siblings) siblings.push(s);
    else children.set(s.ppid, [s]);
  }
  if (!self) return 0;
  let total = 0;
  const seen = new Set<number>();
  const stack = [self];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    total += s.ticks;
    stack.push(...(children.get(s.pid) ?? []));
  }
  return total;
}

/** The kinds of process an order passes through, as the JSON reports them. */
export const PROCESS_GROUPS = ["edge", "cores", "redis", "kafka", "workers", "postgres", "admin", "rest"] as const;
export type ProcessGroup = (typeof PROCESS_GROUPS)[number];

/** `core-pipeline-us` → cores, `redis-rest-…` → rest, `redis-…` → redis; unknown names: undefined. */
export function groupOf(name: string): ProcessGroup | undefined {
  if (name === "edge") return "edge";
  if (name === "admin") return "admin";
  if (name === "kafka") return "kafka";
  if (name === "postgres") return "postgres";
  if (name.startsWith("core-")) return "cores";
  if (name.startsWith("worker-")) return "workers";
  if (name.startsWith("redis-rest-")) return "rest";
  if (name.startsWith("redis-")) return "redis";
  return undefined;
}

/** CPU seconds per named process at one moment. */
export type CpuReading = Record<string, number>;

export interface CpuSplit {
  /** Per named process. */
  byProcess: Record<string, number>;
  /** Per kind (PROCESS_GROUPS, every one present, 0 if none ran). */
  byGroup: Record<ProcessGroup, number>;
  /** Over every named process that belongs to a group. */
  total: number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Each process's CPU between two readings, scaled by `scale` (µs per order, % of a core). A process missing from either reading counts 0. */
function split(before: CpuReading, after: CpuReading, scale: (cpuSeconds: number) => number): CpuSplit {
  const byProcess: Record<string, number> = {};
  const byGroup = Object.fromEntries(PROCESS_GROUPS.map((g) => [g, 0])) as Record<ProcessGroup, number>;
  let total = 0;
  for (const name of Object.keys(after)) {
    const delta = Math.max(0, (after[name] ?? 0) - (before[name] ?? after[name] ?? 0));
    const value = scale(delta);
    byProcess[name] = round1(value);
    const group = groupOf(name);
    if (group) {
      byGroup[group] += value;
      total += value;
    }
  }
  for (const g of PROCESS_GROUPS) byGroup[g] = round1(byGroup[g]);
  return { byProcess, byGroup, total: round1(total) };
}

/** µs of CPU per order between two readings. No orders: every figure 0, not infinity. */
export function cpuPerOrder(before: CpuReading, after: CpuReading, orders: number): CpuSplit {
  return split(before, after, (s) => (orders > 0 ? (s * 1e6) / orders : 0));
}

/** CPU between two readings `seconds` apart, in % of one core. */
export function cpuPercent(before: CpuReading, after: CpuReading, seconds: number): CpuSplit {
  return split(before, after, (s) => (seconds > 0 ? (100 * s) / seconds : 0));
}

/** `a / b` to three decimals; undefined when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : Number((a / b).toFixed(3));
}

/** The human table: one row per kind, µs per order in each phase, and its share of the flat-out total. */
export function pipelineTable(
  phases: { name: string; split: CpuSplit }[],
  before?: { name: string; byGroup: Partial<Record<ProcessGroup, number>>; total: number },
): Record<string, Record<string, string>> {
  const rows: Record<string, Record<string, string>> = {};
  const cell = (n: number | undefined) => (n === undefined ? "–" : String(Math.round(n)));
  const first = phases[0];
  for (const g of [...PROCESS_GROUPS, "total"] as const) {
    const row: Record<string, string> = {};
    if (before) row[before.name] = cell(g === "total" ? before.total : before.byGroup[g]);
    for (const p of phases) row[p.name] = cell(g === "total" ? p.split.total : p.split.byGroup[g]);
    if (first)
      row.share =
        first.split.total > 0
          ? `${Math.round((100 * (g === "total" ? first.split.total : first.split.byGroup[g])) / first.split.total)}%`
          : "–";
    rows[g] = row;
  }
  return rows;
}
