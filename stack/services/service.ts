/** What the stack needs from each service it manages. */
import { join } from "node:path";
import type { Config } from "../../shared/config.ts";
import type { Binary } from "../process.ts";

export type ServiceState = "running" | "stopped" | "external" | "unreachable";

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  endpoint: string;
  pid?: number;
  log?: string;
}

export interface Service {
  name: string;
  /** Binaries `start` needs; checked for every service before any starts. */
  binaries(): Binary[];
  status(): Promise<ServiceStatus>;
  /** Starts the service and resolves once it answers; throws a StackError otherwise. */
  start(progress: (message: string) => void): Promise<void>;
  /** Stops the process this stack started, if it runs. */
  stop(): Promise<void>;
  /** Brings a ready service (ours or external) to what Flux-Gate expects: schema, topics. */
  prepare?(): Promise<void>;
}

/** Where the stack keeps each service's data, logs and pid files. */
export function stackPaths(config: Config) {
  return {
    logs: join(config.home, "logs"),
    run: join(config.home, "run"),
    data: (service: string) => join(config.home, service),
    log: (service: string) => join(config.home, "logs", `${service}.log`),
    pid: (service: string) => join(config.home, "run", `${service}.pid`),
  };
}
