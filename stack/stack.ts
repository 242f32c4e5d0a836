/**
 * The local service stack, up, down and status: per region a Redis (a Redis Cluster in the scaled
 * topology), PostgreSQL (behind PgBouncer when scaled) and Kafka (one node, or three).
 */
import { mkdirSync } from "node:fs";
import { redactUrl, type Config } from "../shared/config.ts";
import { StackError, requireBinaries } from "./process.ts";
import { kafkaServices } from "./services/kafka.ts";
import { pgbouncerService } from "./services/pgbouncer.ts";
import { postgresService } from "./services/postgres.ts";
import { redisServices } from "./services/redis.ts";
import { stackPaths, type Service, type ServiceStatus } from "./services/service.ts";

export type { ServiceStatus };

export type Progress = (service: string, message: string) => void;

export function stackServices(config: Config): Service[] {
  return [
    ...config.regions.flatMap((region) => redisServices(config, region)),
    postgresService(config),
    ...(config.postgres.pooled && !config.postgres.external ? [pgbouncerService(config)] : []),
    ...kafkaServices(config),
  ];
}

export interface UpResult {
  /** Names of the services this call started (the rest were running or external). */
  started: string[];
  services: ServiceStatus[];
}

/**
 * Starts what is not running, reuses what is, and prepares every service (migrations, topics).
 * Harmless to call twice; after a crash it starts what died. All binaries are checked first,
 * so a machine that lacks one fails in seconds, not after Kafka has started.
 */
export async function stackUp(config: Config, progress: Progress = () => {}): Promise<UpResult> {
  const paths = stackPaths(config);
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(paths.run, { recursive: true });

  const services = stackServices(config);
  const before = await Promise.all(services.map((s) => s.status()));
  const unreachable = before.filter((s) => s.state === "unreachable");
  if (unreachable.length > 0) {
    throw new StackError(
      `external ${unreachable.map((s) => `${s.name} (${s.endpoint})`).join(", ")} does not answer`,
      "start it, or unset its variable to let the stack run its own",
    );
  }
  const toStart = services.filter((_, i) => before[i]!.state === "stopped");
  requireBinaries([...new Set(toStart.flatMap((s) => s.binaries()))]);

  const results = await Promise.allSettled(
    toStart.map(async (service) => {
      const t0 = performance.now();
      progress(service.name, "starting");
      await service
        .start((message) => progress(service.name, message))
        .catch((error: unknown) => {
          throw withService(service.name, error);
        });
      progress(service.name, `ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }),
  );
  try {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    for (const service of services) {
      await service.prepare?.().catch((error: unknown) => {
        throw withService(service.name, error);
      });
    }
  } catch (error) {
    // Leave no half stack behind: stop what this call started, then report.
    await Promise.all(toStart.map((s) => s.stop().catch(() => {})));
    throw error;
  }
  return { started: toStart.map((s) => s.name), services: await stackStatus(config) };
}

/** Stops the services this stack started (all of them, or only those named). */
export async function stackDown(config: Config, only?: string[]): Promise<void> {
  const services = stackServices(config).filter((s) => !only || only.includes(s.name));
  await Promise.all(services.map((s) => s.stop()));
}

/** SIGKILL to the named services' processes, no grace: what a second Ctrl-C asks for. */
export async function killServices(config: Config, only: string[]): Promise<void> {
  for (const service of await stackStatus(config)) {
    if (only.includes(service.name) && service.pid) process.kill(service.pid, "SIGKILL");
  }
}

export function stackStatus(config: Config): Promise<ServiceStatus[]> {
  return Promise.all(stackServices(config).map((s) => s.status()));
}

/** What scripts need to find the services, in the shape `status --json` prints. */
export function endpoints(config: Config) {
  return {
    redis: Object.fromEntries(config.regions.map((r) => [r.id, redactUrl(r.redisUrl)])),
    databaseUrl: redactUrl(config.postgres.url),
    kafkaBrokers: config.kafka.brokers,
    kafkaTopics: Object.fromEntries(config.regions.map((r) => [r.id, r.kafkaTopic])),
  };
}

function withService(name: string, error: unknown): StackError {
  if (error instanceof StackError) return new StackError(`${name}: ${error.message}`, error.hint);
  const message = error instanceof Error ? error.message : String(error);
  return new StackError(`${name}: ${message}`);
}
