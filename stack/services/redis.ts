/**
 * A region's Redis, durable (AOF) and never evicting (a lost key is an oversell): one server, or
 * in the scaled topology a Redis Cluster of three masters and three replicas, one service per node.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { redisUrlVariable, type Config, type Region } from "../../shared/config.ts";
import { connectRedis, redisIsReady } from "../../shared/redis.ts";
import { aclFile, userRules } from "../../shared/redis-acl.ts";
import { StackError, findBinary, livePid, requireFreePort, run, tail, terminate, waitUntil } from "../process.ts";
import { stackPaths, type Service } from "./service.ts";

/** `redis-us-east`, or `redis-us-east-1` … `-6` for a cluster's nodes (masters first). */
export const redisServiceName = (region: Region, node = 0) =>
  region.redisCluster ? `redis-${region.id}-${node + 1}` : `redis-${region.id}`;

/** Where the stack writes a node's Redis users (deploy/redis/users.acl with the passwords). */
const aclPath = (config: Config, name: string) => join(stackPaths(config).data(name), "users.acl");

/**
 * A cluster node hands its slots to its replica after 2 s without an answer; a replica takes
 * over however long it was apart (validity factor 0): a lost master costs seconds, not the sale.
 * Slots whose master and replica are both gone fail alone (full coverage off): the other
 * masters' products sell on. (WAIT 1 makes a master without its replica refuse reservations.)
 */
const CLUSTER_ARGS = [
  "--cluster-enabled",
  "yes",
  "--cluster-config-file",
  "nodes.conf",
  "--cluster-node-timeout",
  "2000",
  "--cluster-replica-validity-factor",
  "0",
  "--cluster-require-full-coverage",
  "no",
  // A master's one replica, back after a failure, resyncs at once instead of after the 5 s Redis
  // waits for more replicas to share the transfer: a master without a replica takes no orders.
  "--repl-diskless-sync-delay",
  "0",
];

export function redisArgs(config: Config, region: Region, node = 0): string[] {
  const paths = stackPaths(config);
  const name = redisServiceName(region, node);
  return [
    ...(config.redis.users ? ["--aclfile", aclPath(config, name)] : []),
    ...(region.redisCluster ? CLUSTER_ARGS : []),
    "--port",
    String(region.redisPorts[node]),
    "--bind",
    "127.0.0.1",
    "--dir",
    paths.data(name),
    "--appendonly",
    "yes",
    "--appendfsync",
    config.redis.appendFsync,
    "--save",
    "",
    "--maxmemory-policy",
    "noeviction",
    "--daemonize",
    "yes",
    "--pidfile",
    paths.pid(name),
    "--logfile",
    paths.log(name),
  ];
}

/** The region's Redis: one service, or one per cluster node (the last forms the cluster). */
export function redisServices(config: Config, region: Region): Service[] {
  if (!region.redisCluster || region.redisExternal) return [redisService(config, region, 0)];
  return region.redisPorts.map((_, node) => redisService(config, region, node));
}

function redisService(config: Config, region: Region, node: number): Service {
  const paths = stackPaths(config);
  const name = redisServiceName(region, node);
  const pid = () => livePid(paths.pid(name), "redis-server");
  const url = new URL(region.redisUrl);
  url.port = String(region.redisPorts[node]);
  const nodeUrl = url.toString().replace(/\/$/, "");
  const formsCluster = region.redisCluster && !region.redisExternal && node === region.redisPorts.length - 1;

  return {
    name,
    binaries: () => (formsCluster ? ["redis-server", "redis-cli"] : ["redis-server"]),

    async status() {
      const base = { name, endpoint: nodeUrl, log: paths.log(name) };
      if (region.redisExternal) {
        return { ...base, state: (await redisIsReady(region.redisUrl)) ? "external" : "unreachable" };
      }
      const running = pid();
      return running && (await redisIsReady(nodeUrl))
        ? { ...base, state: "running", pid: running }
        : { ...base, state: "stopped" };
    },

    async start() {
      await requireFreePort(
        region.redisPorts[node]!,
        `stop it, set FLUX_GATE_REDIS_PORT, or set ${redisUrlVariable(region.id)} to use it as it is`,
      );
      mkdirSync(paths.data(name), { recursive: true });
      if (config.redis.users)
        writeFileSync(aclPath(config, name), aclFile(userRules(), region.id, config.redis.passwords), {
          mode: 0o600,
        });
      await run([findBinary("redis-server")!, ...redisArgs(config, region, node)], { what: `${name} start` });
      if (!(await waitUntil(() => redisIsReady(nodeUrl), 15_000))) {
        throw new StackError(`${name} did not answer PING within 15 s`, tail(paths.log(name)));
      }
    },

    prepare: formsCluster ? () => formCluster(region) : undefined,

    async stop() {
      const running = pid();
      if (running) await terminate(running);
    },
  };
}

/** `cluster_state:ok` as this node sees it. */
async function clusterState(url: string): Promise<string | undefined> {
  const redis = connectRedis(url, { reconnect: false, commandTimeoutMs: 1_000 });
  try {
    await redis.connect();
    return /cluster_state:(\w+)/.exec(String(await redis.call("CLUSTER", "INFO")))?.[1];
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/**
 * Joins the region's six nodes into one cluster with `redis-cli --cluster create` (three masters,
 * each with a replica) unless they already are one (a restart keeps nodes.conf), then waits until
 * every node says the cluster is ok.
 */
async function formCluster(region: Region): Promise<void> {
  const urls = region.redisPorts.map((port) => {
    const url = new URL(region.redisUrl);
    url.port = String(port);
    return url.toString();
  });
  const formed = async () => (await Promise.all(urls.map(clusterState))).every((state) => state === "ok");
  if (await formed()) return;
  const slots = await (async () => {
    const redis = connectRedis(urls[0]!, { reconnect: false, commandTimeoutMs: 1_000 });
    try {
      await redis.connect();
      return /cluster_slots_assigned:(\d+)/.exec(String(await redis.call("CLUSTER", "INFO")))?.[1];
    } finally {
      redis.disconnect();
    }
  })();
  // A cluster already formed is on its way to ok (a node restarting); a new one has no slots yet.
  if (slots === "0") {
    await run(
      [
        findBinary("redis-cli")!,
        "--cluster",
        "create",
        ...region.redisPorts.map((port) => `127.0.0.1:${port}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ],
      { what: `redis-cli --cluster create (${region.id})` },
    );
  }
  if (!(await waitUntil(formed, 30_000, 200))) {
    throw new StackError(`the ${region.id} Redis Cluster did not reach cluster_state:ok within 30 s`);
  }
}
