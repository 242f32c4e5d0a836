/** One Redis per region, durable (AOF) and never evicting: a lost key is an oversell. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { redisUrlVariable, type Config, type Region } from "../../shared/config.ts";
import { redisIsReady } from "../../shared/redis.ts";
import { aclFile, userRules } from "../../shared/redis-acl.ts";
import { StackError, findBinary, livePid, requireFreePort, run, tail, terminate, waitUntil } from "../process.ts";
import { stackPaths, type Service } from "./service.ts";

/** Where the stack writes a region's Redis users (deploy/redis/users.acl with the passwords). */
const aclPath = (config: Config, region: Region) => join(stackPaths(config).data(`redis-${region.id}`), "users.acl");

export function redisArgs(config: Config, region: Region): string[] {
  const paths = stackPaths(config);
  const name = `redis-${region.id}`;
  return [
    ...(config.redis.users ? ["--aclfile", aclPath(config, region)] : []),
    "--port",
    String(region.redisPort),
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

export function redisService(config: Config, region: Region): Service {
  const paths = stackPaths(config);
  const name = `redis-${region.id}`;
  const pid = () => livePid(paths.pid(name), "redis-server");

  return {
    name,
    binaries: () => ["redis-server"],

    async status() {
      const base = { name, endpoint: region.redisUrl, log: paths.log(name) };
      if (region.redisExternal) {
        return { ...base, state: (await redisIsReady(region.redisUrl)) ? "external" : "unreachable" };
      }
      const running = pid();
      return running && (await redisIsReady(region.redisUrl))
        ? { ...base, state: "running", pid: running }
        : { ...base, state: "stopped" };
    },

    async start() {
      await requireFreePort(
        region.redisPort,
        `stop it, set FLUX_GATE_REDIS_PORT, or set ${redisUrlVariable(region.id)} to use it as it is`,
      );
      mkdirSync(paths.data(name), { recursive: true });
      if (config.redis.users)
        writeFileSync(aclPath(config, region), aclFile(userRules(), region.id, config.redis.passwords), {
          mode: 0o600,
        });
      await run([findBinary("redis-server")!, ...redisArgs(config, region)], { what: `${name} start` });
      if (!(await waitUntil(() => redisIsReady(region.redisUrl), 15_000))) {
        throw new StackError(`${name} did not answer PING within 15 s`, tail(paths.log(name)));
      }
    },

    async stop() {
      const running = pid();
      if (running) await terminate(running);
    },
  };
}
