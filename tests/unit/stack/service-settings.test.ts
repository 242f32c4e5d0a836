import { describe, expect, test } from "bun:test";
import { mkdtempSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../shared/config.ts";
import { brokerProperties, newClusterId } from "../../../stack/services/kafka.ts";
import { reachableByOthers } from "../../../stack/services/postgres.ts";
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
    brokerProperties(config, "/data/kafka")
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
