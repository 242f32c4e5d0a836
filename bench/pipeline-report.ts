/**
 * The pipeline run's figures for people: the table and the chart of CPU per order by kind of
 * process, this run against issue #25's measurement by hand (the "before"). Pure.
 */
import { barChartSvg } from "./chart.ts";
import { PROCESS_GROUPS, pipelineTable, type CpuSplit, type ProcessGroup } from "./pipeline-cpu.ts";

/**
 * Issue #25, measured by hand on this machine (2026-12-04): `npm start`, 64 connections of new
 * buyers for 10 s, ~692 orders/s accepted. It gave no figure for the admin API or the REST
 * adapters; ~2.9 ms in all.
 */
export const BEFORE = {
  label: "before: issue #25, by hand, 2026-12-04 (~692 orders/s)",
  byGroup: { kafka: 598, workers: 598, cores: 567, edge: 491, redis: 322, postgres: 200 } as Partial<
    Record<ProcessGroup, number>
  >,
  total: 2_900,
};

export interface PipelineFigures {
  date: string;
  ordersPerS: number;
  flat: CpuSplit;
  fixed: CpuSplit;
  fixedRate: number;
}

export function pipelineRows(f: PipelineFigures) {
  return pipelineTable(
    [
      { name: `flat out (${f.ordersPerS}/s)`, split: f.flat },
      { name: `at ${f.fixedRate}/s`, split: f.fixed },
    ],
    { name: "before (issue #25)", byGroup: BEFORE.byGroup, total: BEFORE.total },
  );
}

/** µs of CPU per order by kind of process: before (the issue) and after (this run, flat out). */
export function pipelineChartSvg(f: PipelineFigures): string {
  return barChartSvg({
    title: "CPU per order that reached PostgreSQL, by process (µs)",
    subtitle: `npm start's topology, 64 connections of new buyers, flat out; after: npm run bench, ${f.date}`,
    yLabel: "µs of CPU per order",
    categories: [...PROCESS_GROUPS],
    series: [
      {
        label: `${BEFORE.label}: ${BEFORE.total.toLocaleString("en")} µs in all`,
        values: PROCESS_GROUPS.map((g) => BEFORE.byGroup[g]),
      },
      {
        label: `after: this run, ${f.date} (${f.ordersPerS.toLocaleString("en")} orders/s): ${Math.round(f.flat.total).toLocaleString("en")} µs in all`,
        values: PROCESS_GROUPS.map((g) => f.flat.byGroup[g]),
      },
    ],
  });
}
