import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config.ts";
import { connectRedis } from "../../shared/redis.ts";
import { stackStatus, stackUp } from "../../stack/stack.ts";
import { config, uniqueName } from "../support/helpers.ts";

const CLI = join(import.meta.dir, "../../cli/flux-gate.ts");

function cli(args: string[], env: Record<string, string | undefined> = process.env) {
  const result = Bun.spawnSync([process.execPath, CLI, ...args], { env, stdin: "ignore" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("flux-gate stack", () => {
  test("status --json lists every endpoint of the running stack", () => {
    const { code, stdout } = cli(["stack", "status", "--json"]);
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status.redis).toEqual(Object.fromEntries(config.regions.map((r) => [r.id, r.redisUrl])));
    expect(status.databaseUrl).toBe(config.postgres.url);
    expect(status.kafkaBrokers).toEqual(config.kafka.brokers);
    const services = status.services as { name: string; state: string }[];
    expect(services.map((s) => s.name).sort()).toEqual(
      [...config.regions.map((r) => `redis-${r.id}`), "postgres", "kafka"].sort(),
    );
    for (const service of services) expect(["running", "external"]).toContain(service.state);
  });

  test("status --json adds every endpoint of the apps, and which of them answer", () => {
    const { code, stdout } = cli(["status", "--json"]);
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status).toMatchObject({
      edge: `http://127.0.0.1:${config.edge.port}`,
      admin: config.admin.url,
      dashboard: `${config.admin.url}/dashboard`,
      databaseUrl: config.postgres.url,
      kafkaBrokers: config.kafka.brokers,
    });
    for (const r of config.regions) {
      expect(status.regions[r.id]).toEqual({ core: r.coreUrl, redisRest: r.redisRestUrl, worker: r.workerUrl });
      expect(status.redis[r.id]).toBe(r.redisUrl);
    }
    const apps = status.apps as { name: string; state: string }[];
    expect(apps.map((a) => a.name).sort()).toEqual(
      [
        "admin",
        "edge",
        ...config.regions.flatMap((r) => [`core-${r.id}`, `redis-rest-${r.id}`, `worker-${r.id}`]),
      ].sort(),
    );
  });

  test("status says which apps answer their /health: those that do are running, the others stopped", async () => {
    // Ports of their own, where only what this test starts can answer.
    const ports = {
      FLUX_GATE_CORE_PORT: "19101",
      FLUX_GATE_REDIS_REST_PORT: "19201",
      FLUX_GATE_WORKER_PORT: "19401",
      FLUX_GATE_ADMIN_PORT: "19300",
      FLUX_GATE_EDGE_PORT: "19080",
      FLUX_GATE_EDGE_METRICS_PORT: "19090",
    };
    const [first, second] = config.regions;
    const answering = { [`core-${first!.id}`]: 19101, [`worker-${second!.id}`]: 19402, edge: 19080 };
    const servers = Object.values(answering).map((port) =>
      Bun.serve({
        port,
        hostname: "127.0.0.1",
        fetch: (r) =>
          new URL(r.url).pathname === "/health" ? Response.json({ status: "ok" }) : new Response(null, { status: 404 }),
      }),
    );
    try {
      // Not spawnSync: this process must stay free to answer the probes.
      const child = Bun.spawn([process.execPath, CLI, "status", "--json"], {
        env: { ...process.env, ...ports },
        stdin: "ignore",
        stdout: "pipe",
      });
      const stdout = await new Response(child.stdout).text();
      expect(await child.exited).toBe(0);
      const apps = (JSON.parse(stdout).apps as { name: string; state: string }[]).map((a) => [a.name, a.state]);
      expect(Object.fromEntries(apps)).toEqual(
        Object.fromEntries(apps.map(([name]) => [name, name! in answering ? "running" : "stopped"])),
      );
      expect(
        apps
          .filter(([, state]) => state === "running")
          .map(([name]) => name)
          .sort(),
      ).toEqual(Object.keys(answering).sort());
    } finally {
      for (const server of servers) server.stop(true);
    }
  });

  test("up on a running stack starts nothing and keeps every process", async () => {
    const before = await stackStatus(config);
    const { started, services } = await stackUp(config);
    expect(started).toEqual([]);
    expect(services.map((s) => s.pid)).toEqual(before.map((s) => s.pid));
  });

  const region = config.regions.at(-1)!;
  test.if(!region.redisExternal)(
    "up after a crash restarts what died, and Redis comes back with its acknowledged writes",
    async () => {
      const key = `{${region.id}:${uniqueName("crash")}}:available`;
      const redis = connectRedis(region.redisUrl, { reconnect: false });
      await redis.connect();
      await redis.set(key, "42");
      redis.disconnect();

      const victim = (await stackStatus(config)).find((s) => s.name === `redis-${region.id}`)!;
      process.kill(victim.pid!, "SIGKILL");

      const { started } = await stackUp(config);
      expect(started).toEqual([`redis-${region.id}`]);
      const again = connectRedis(region.redisUrl, { reconnect: false });
      await again.connect();
      expect(await again.get(key)).toBe("42");
      again.disconnect();
    },
    30_000,
  );

  test("on a machine without the binaries, up fails in seconds and names the packages", () => {
    const t0 = performance.now();
    const { code, stderr } = cli(["stack", "up"], {
      PATH: "/nonexistent",
      FLUX_GATE_HOME: mkdtempSync(join(tmpdir(), "fg-bare-")),
    });
    expect(code).toBe(1);
    expect(stderr).toContain("flux-gate: missing redis-server, java, mvn");
    expect(stderr).toContain("apt-get install -y redis-server openjdk-17-jre-headless maven");
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  test("a start that fails part-way stops what it had started and names the culprit", async () => {
    // A second stack of its own (other folder, other ports) whose Kafka port is taken.
    const squatter = createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => squatter.once("listening", resolve));
    const kafkaPort = (squatter.address() as { port: number }).port;
    const other = loadConfig({
      FLUX_GATE_HOME: mkdtempSync(join(tmpdir(), "fg-partial-")),
      FLUX_GATE_REDIS_PORT: "16380",
      FLUX_GATE_PG_PORT: "15433",
      FLUX_GATE_KAFKA_PORT: String(kafkaPort),
    });
    try {
      await expect(stackUp(other)).rejects.toThrow(
        `kafka: port ${kafkaPort} is taken by a process this stack did not start`,
      );
      expect((await stackStatus(other)).filter((s) => s.name !== "kafka").map((s) => s.state)).toEqual([
        "stopped",
        "stopped",
        "stopped",
      ]);
    } finally {
      squatter.close();
    }
  }, 60_000);

  test("bad settings and unknown commands get one line and a non-zero exit", () => {
    const bad = cli(["stack", "status"], { ...process.env, FLUX_GATE_PG_PORT: "port" });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('flux-gate: FLUX_GATE_PG_PORT must be a positive whole number, not "port"');
    const unreachable = cli(["verify"], { ...process.env, FLUX_GATE_REDIS_PORT: "1" });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^flux-gate: cannot reach (us-east|eu-west)'s Redis at redis:\/\/127\.0\.0\.1:[12]\n/,
    );
    const unknown = cli(["stack", "sideways"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toStartWith('flux-gate: unknown command "stack sideways"');
  });
});
