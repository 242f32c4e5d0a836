/**
 * Apache Kafka in KRaft mode, one node acting as broker and controller. Maven resolves the
 * official broker jars from Maven Central (stack/kafka/pom.xml); the stack runs them directly.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { Config } from "../../shared/config.ts";
import { ensureTopics, kafkaIsReady } from "../../shared/kafka.ts";
import {
  StackError,
  findBinary,
  isAlive,
  livePid,
  requireFreePort,
  run,
  spawnDetached,
  tail,
  terminate,
  waitUntil,
  writePid,
  type Binary,
} from "../process.ts";
import { stackPaths, type Service } from "./service.ts";

const KAFKA_DIR = fileURLToPath(new URL("../kafka/", import.meta.url));
const POM = join(KAFKA_DIR, "pom.xml");
const LOG4J = join(KAFKA_DIR, "log4j2.properties");
const MAIN_CLASS = "kafka.Kafka";

export function brokerProperties(config: Config, logDir: string): string {
  const { port, controllerPort, partitions } = config.kafka;
  const settings: Record<string, string | number> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": logDir,
    "num.partitions": partitions,
    // One node: every internal topic has one replica, and acks=all means that one.
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "share.coordinator.state.topic.replication.factor": 1,
    "share.coordinator.state.topic.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    // Topics are created on purpose (with their partition count), never by a typo.
    "auto.create.topics.enable": "false",
  };
  return `${Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

/**
 * Kafka's cluster ids are 16 random bytes in unpadded base64url. Like Kafka's own
 * `Uuid.randomUuid()`, skip those that start with "-": the storage tool's argument parser
 * would read one as an option (1 start in 64 failed that way).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

export function kafkaService(config: Config): Service {
  const paths = stackPaths(config);
  const home = paths.data("kafka");
  const classpathFile = join(home, "classpath.txt");
  const propertiesFile = join(home, "server.properties");
  const logDir = join(home, "data");
  const log = paths.log("kafka");
  const pidFile = paths.pid("kafka");
  const endpoint = config.kafka.brokers.join(",");
  const options = { brokers: config.kafka.brokers, clientId: "flux-gate-stack" };
  const pid = () => livePid(pidFile, MAIN_CLASS);
  const classpathIsStale = () => !existsSync(classpathFile) || statSync(classpathFile).mtimeMs < statSync(POM).mtimeMs;

  async function resolveClasspath(progress: (message: string) => void): Promise<string> {
    if (classpathIsStale()) {
      progress("resolving the broker from Maven Central (first run only)");
      await run(
        [findBinary("mvn")!, "-B", "-q", "-f", POM, "dependency:build-classpath", `-Dmdep.outputFile=${classpathFile}`],
        {
          what: "mvn dependency:build-classpath",
        },
      );
    }
    return readFileSync(classpathFile, "utf8").trim();
  }

  return {
    name: "kafka",
    binaries: (): Binary[] => (classpathIsStale() ? ["java", "mvn"] : ["java"]),

    async status() {
      const base = { name: "kafka", endpoint, log };
      if (config.kafka.external) return { ...base, state: (await kafkaIsReady(options)) ? "external" : "unreachable" };
      const running = pid();
      return running && (await kafkaIsReady(options))
        ? { ...base, state: "running", pid: running }
        : { ...base, state: "stopped" };
    },

    async start(progress) {
      for (const port of [config.kafka.port, config.kafka.controllerPort]) {
        await requireFreePort(port, "stop it, set FLUX_GATE_KAFKA_PORT, or set KAFKA_BROKERS to use that cluster");
      }
      mkdirSync(home, { recursive: true });
      const classpath = await resolveClasspath(progress);
      const java = findBinary("java")!;
      writeFileSync(propertiesFile, brokerProperties(config, logDir));
      if (!existsSync(join(logDir, "meta.properties"))) {
        progress("formatting KRaft storage (first run only)");
        await run(
          [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", newClusterId(), "-c", propertiesFile],
          {
            what: "kafka storage format",
          },
        );
      }
      const started = spawnDetached(
        [
          java,
          `-Xms128m`,
          `-Xmx${config.kafka.heapMb}m`,
          "-XX:+UseG1GC",
          `-Dlog4j2.configurationFile=${LOG4J}`,
          "-cp",
          classpath,
          MAIN_CLASS,
          propertiesFile,
        ],
        log,
      );
      writePid(pidFile, started);
      const ready = await waitUntil(async () => !isAlive(started) || (await kafkaIsReady(options)), 90_000, 500);
      if (!ready || !isAlive(started)) {
        throw new StackError(
          isAlive(started) ? "kafka did not become ready within 90 s" : "kafka exited during start",
          tail(log),
        );
      }
    },

    async stop() {
      const running = pid();
      // A controlled shutdown takes a few seconds; past 30 s the broker is stuck.
      if (running) await terminate(running, 30_000);
    },

    prepare: () =>
      ensureTopics(
        options,
        config.regions.flatMap((r) =>
          [r.kafkaTopic, r.deadLetterTopic].map((name) => ({ name, partitions: config.kafka.partitions })),
        ),
      ),
  };
}
