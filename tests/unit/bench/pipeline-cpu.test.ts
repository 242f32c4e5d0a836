/** The pipeline run's CPU arithmetic (bench/pipeline-cpu.ts): pure, so checked directly. */
import { expect, test } from "bun:test";
import {
  cpuPercent,
  cpuPerOrder,
  groupOf,
  parseStat,
  pipelineTable,
  ratio,
  treeTicks,
} from "../../../bench/pipeline-cpu.ts";

// A real line's shape: the command name holds a space and a parenthesis.
const STAT = "4242 (bun (core) x) S 100 4242 100 0 -1 4194560 5 0 0 0 700 300 20 10 20 0 9 0 12345 0 0";

test("parseStat counts fields after the command's last parenthesis: utime + stime + cutime + cstime", () => {
  expect(parseStat(STAT)).toEqual({ pid: 4242, ppid: 100, ticks: 700 + 300 + 20 + 10 });
  expect(parseStat("garbage")).toBeUndefined();
});

test("treeTicks sums a process and its live descendants, not its parent, siblings or strangers", () => {
  const stats = [
    { pid: 1, ppid: 0, ticks: 1_000 },
    { pid: 10, ppid: 1, ticks: 5 }, // the postmaster
    { pid: 11, ppid: 10, ticks: 7 }, // a backend
    { pid: 12, ppid: 10, ticks: 3 }, // another
    { pid: 13, ppid: 11, ticks: 2 }, // a grandchild
    { pid: 20, ppid: 1, ticks: 99 }, // someone else
  ];
  expect(treeTicks(10, stats)).toBe(5 + 7 + 3 + 2);
  expect(treeTicks(20, stats)).toBe(99);
  expect(treeTicks(404, stats)).toBe(0);
});

test("process names fall into their kinds; a REST adapter is not a Redis", () => {
  expect(groupOf("core-pipeline-us")).toBe("cores");
  expect(groupOf("worker-pipeline-eu")).toBe("workers");
  expect(groupOf("redis-rest-pipeline-us")).toBe("rest");
  expect(groupOf("redis-pipeline-us")).toBe("redis");
  expect(groupOf("edge")).toBe("edge");
  expect(groupOf("load generator")).toBeUndefined();
});

test("CPU per order: each process's delta over the orders, summed per kind; the load generator is shown but not in the total", () => {
  const before = { edge: 10, "core-a": 1, "core-b": 2, "redis-a": 5, kafka: 100, "load generator": 0 };
  const after = { edge: 10.5, "core-a": 1.25, "core-b": 2.25, "redis-a": 5.1, kafka: 100.3, "load generator": 0.4 };
  const split = cpuPerOrder(before, after, 1_000);
  expect(split.byProcess).toEqual({
    edge: 500,
    "core-a": 250,
    "core-b": 250,
    "redis-a": 100,
    kafka: 300,
    "load generator": 400,
  });
  expect(split.byGroup).toEqual({
    edge: 500,
    cores: 500,
    redis: 100,
    kafka: 300,
    workers: 0,
    postgres: 0,
    admin: 0,
    rest: 0,
  });
  expect(split.total).toBe(1_400);
});

test("no orders gives zeros, not infinity; a process whose reading went backwards (restarted) counts 0", () => {
  expect(cpuPerOrder({ edge: 1 }, { edge: 2 }, 0).total).toBe(0);
  expect(cpuPerOrder({ edge: 5 }, { edge: 2 }, 10).byProcess.edge).toBe(0);
});

test("CPU in % of one core over an interval", () => {
  const idle = cpuPercent({ kafka: 1, postgres: 2 }, { kafka: 3, postgres: 2.5 }, 20);
  expect(idle.byGroup.kafka).toBe(10);
  expect(idle.byGroup.postgres).toBe(2.5);
  expect(idle.total).toBe(12.5);
});

test("ratio: three decimals, undefined without both figures", () => {
  expect(ratio(2_900, 88)).toBe(32.955);
  expect(ratio(undefined, 88)).toBeUndefined();
  expect(ratio(1, 0)).toBeUndefined();
});

test("the table: a row per kind and a total, the 'before' column first, each kind's share of the first phase", () => {
  const flat = cpuPerOrder({ edge: 0, kafka: 0 }, { edge: 0.3, kafka: 0.1 }, 1_000);
  const rows = pipelineTable([{ name: "flat out", split: flat }], {
    name: "before",
    byGroup: { edge: 491, kafka: 598 },
    total: 2_900,
  });
  expect(rows.edge).toEqual({ before: "491", "flat out": "300", share: "75%" });
  expect(rows.admin).toEqual({ before: "–", "flat out": "0", share: "0%" });
  expect(rows.total).toEqual({ before: "2900", "flat out": "400", share: "100%" });
});
