import { describe, expect, test } from "bun:test";
import { mkdtempSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../shared/config.ts";
import { brokerProperties, newClusterId } from "../../../stack/services/kafka.ts";
import { reachableByOthers } from "../../../stack/services/postgres.ts";
import { pgbouncerIni } from "../../../stack/services/pgbouncer.ts";
import { redisArgs } from "../../../stack/services/redis.ts";

const config = loadConfig({ FLUX_GATE_REDIS_APPENDFSYNC: "always", FLUX_GATE_KAFKA_PORT: "19092" }, "/srv/app");

function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args[at + 1];
}

describe("redis settings", () => {
  const args = redisArgs(config, config.regions[1]!);
  test("AOF on with the configured fsync, no eviction, loopback only", () => {
    expect(flag(args, "--appendonly")).toBe("yes");
    expect(flag(args, "--appendfsync")).toBe("always");
    expect(flag(args, "--maxmemory-policy")).toBe("noeviction");
    expect(flag(args, "--bind")).toBe("127.0.0.1");
  });
  test("each region has its own port and folder", () => {
    expect(flag(args, "--port")).toBe("6381");
    expect(flag(args, "--dir")).toBe("/srv/app/.flux-gate/redis-eu-west");
  });
});

describe("kafka settings", () => {
  const properties = Object.fromEntries(
    brokerProperties(config, config.kafka.nodes[0]!, "/data/kafka")
      .trim()
      .split("\n")
      .map((line) => line.split("=") as [string, string]),
  );
  test("one KRaft node on the configured ports", () => {
    expect(properties["process.roles"]).toBe("broker,controller");
    expect(properties.listeners).toBe("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
    expect(properties["controller.quorum.voters"]).toBe("1@127.0.0.1:19093");
    expect(properties["log.dirs"]).toBe("/data/kafka");
  });
  test("topics are never created by accident", () => {
    expect(properties["auto.create.topics.enable"]).toBe("false");
  });
  test("cluster ids have Kafka's shape, and never start with a dash (the storage tool would read an option)", () => {
    const ids = Array.from({ length: 2_000 }, newClusterId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("the scaled topology's services", () => {
  const scaled = loadConfig({ FLUX_GATE_TOPOLOGY: "scaled" }, "/srv/app");
  const settings = (text: string) =>
    Object.fromEntries(
      text
        .trim()
        .split("\n")
        .filter((line) => line.includes("="))
        .map((line) => [line.slice(0, line.indexOf("=")).trim(), line.slice(line.indexOf("=") + 1).trim()]),
    );

  test("each Redis node is a cluster node in its own folder, on its own port", () => {
    const args = redisArgs(scaled, scaled.regions[0]!, 4);
    expect(flag(args, "--cluster-enabled")).toBe("yes");
    expect(flag(args, "--port")).toBe("7004");
    expect(flag(args, "--dir")).toBe("/srv/app/.flux-gate/redis-us-east-5");
    expect(flag(args, "--appendonly")).toBe("yes");
    // A replica takes over however long it was apart, and a lost slot range stops only its products.
    expect(flag(args, "--cluster-replica-validity-factor")).toBe("0");
    expect(flag(args, "--cluster-require-full-coverage")).toBe("no");
  });

  test("three Kafka nodes are one quorum, and every topic has three copies, two of them needed", () => {
    const nodes = scaled.kafka.nodes.map((node) => settings(brokerProperties(scaled, node, "/data")));
    expect(nodes.map((n) => n["node.id"])).toEqual(["1", "2", "3"]);
    expect(new Set(nodes.map((n) => n["controller.quorum.voters"]))).toEqual(
      new Set(["1@127.0.0.1:9193,2@127.0.0.1:9195,3@127.0.0.1:9197"]),
    );
    expect(nodes[1]!.listeners).toBe("PLAINTEXT://127.0.0.1:9194,CONTROLLER://127.0.0.1:9195");
    for (const node of nodes) {
      expect(node["offsets.topic.replication.factor"]).toBe("3");
      expect(node["min.insync.replicas"]).toBe("2");
    }
  });

  test("PgBouncer pools by transaction in front of the stack's PostgreSQL", () => {
    const ini = settings(pgbouncerIni(scaled, "/var/pgbouncer"));
    expect(ini.pool_mode).toBe("transaction");
    expect(ini.listen_port).toBe("6432");
    expect(ini.fluxgate).toBe("host=127.0.0.1 port=5433 dbname=fluxgate");
  });
});

describe("postgres folder", () => {
  test("a folder under a private parent is not reachable by the postgres user", () => {
    const root = mkdtempSync(join(tmpdir(), "fg-reach-"));
    const inner = join(root, "private", "home");
    mkdirSync(inner, { recursive: true });
    chmodSync(root, 0o755);
    chmodSync(join(root, "private"), 0o700);
    expect(reachableByOthers(inner)).toBe(false);
    chmodSync(join(root, "private"), 0o711);
    expect(reachableByOthers(inner)).toBe(true);
  });
});
