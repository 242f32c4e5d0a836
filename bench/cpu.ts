/** CPU time per process over an interval, from /proc: where the machine's time went. */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Runs `work` and returns each named process's CPU use during it, in % of one core, and in seconds. */
export async function measureCpu<T>(
  processes: Record<string, number>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number>; cpuSeconds: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const t0 = performance.now();
  const result = await work();
  const seconds = (performance.now() - t0) / 1000;
  const used = Object.fromEntries(
    Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid) - before[name]!]),
  );
  const cpu = Object.fromEntries(Object.entries(used).map(([name, s]) => [name, Math.round((100 * s) / seconds)]));
  return { result, cpu, cpuSeconds: used };
}
