/**
 * Apache Kafka in KRaft mode: one node, or three in the scaled topology, each acting as broker
 * and controller (the three controllers are the quorum). Maven resolves the official broker jars
 * from Maven Central (stack/kafka/pom.xml); the stack runs them directly.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { Config } from "../../shared/config.ts";
import { allowanceTopicFor, ensureTopics, kafkaIsReady } from "../../shared/kafka.ts";
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

type KafkaNode = Config["kafka"]["nodes"][number];

export function brokerProperties(config: Config, node: KafkaNode, logDir: string): string {
  const { nodes, partitions, replicationFactor, minInsyncReplicas } = config.kafka;
  const { port, controllerPort } = node;
  const settings: Record<string, string | number> = {
    "process.roles": "broker,controller",
    "node.id": node.id,
    "controller.quorum.voters": nodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(","),
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": logDir,
    "num.partitions": partitions,
    // Internal topics are copied as ours are: on one node one replica, and acks=all means that one.
    "default.replication.factor": replicationFactor,
    "min.insync.replicas": minInsyncReplicas,
    "offsets.topic.replication.factor": replicationFactor,
    "transaction.state.log.replication.factor": replicationFactor,
    "transaction.state.log.min.isr": minInsyncReplicas,
    "share.coordinator.state.topic.replication.factor": replicationFactor,
    "share.coordinator.state.topic.min.isr": minInsyncReplicas,
    "group.initial.rebalance.delay.ms": 0,
    // Topics are created on purpose (with their partition count), never by a typo.
    "auto.create.topics.enable": "false",
    // The controller appends a no-op record to the metadata log every 500 ms by default, sale or
    // no sale: most of an idle broker's CPU (one node idle, nothing connected: 4.15% of a core,
    // 2.2–2.75% without). Brokers still heartbeat the controller; 0 turns the records off.
    "metadata.max.idle.interval.ms": 0,
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

/** `kafka` alone; `kafka-1` … `kafka-3` when there are three. */
export const kafkaServiceName = (config: Config, node: KafkaNode) =>
  config.kafka.nodes.length === 1 ? "kafka" : `kafka-${node.id}`;

/** One service per node; the last one's `prepare` creates the topics once all are up. */
export function kafkaServices(config: Config): Service[] {
  // Every node of one cluster formats its storage with the same cluster id.
  const clusterIdFile = join(stackPaths(config).data("kafka-cluster"), "cluster-id");
  const clusterId = () => {
    if (!existsSync(clusterIdFile)) {
      mkdirSync(join(clusterIdFile, ".."), { recursive: true });
      writeFileSync(clusterIdFile, newClusterId());
    }
    return readFileSync(clusterIdFile, "utf8").trim();
  };
  return config.kafka.nodes.map((node, i) =>
    kafkaService(
      config,
      node,
      config.kafka.nodes.length === 1 ? newClusterId : clusterId,
      i === config.kafka.nodes.length - 1,
    ),
  );
}

function kafkaService(config: Config, node: KafkaNode, clusterId: () => string, createsTopics: boolean): Service {
  const paths = stackPaths(config);
  const name = kafkaServiceName(config, node);
  const home = paths.data(name);
  // Resolved once for every node: the jars are the same.
  const classpathFile = join(paths.data("kafka"), "classpath.txt");
  const propertiesFile = join(home, "server.properties");
  const logDir = join(home, "data");
  const log = paths.log(name);
  const pidFile = paths.pid(name);
  const endpoint = `127.0.0.1:${node.port}`;
  const options = { brokers: config.kafka.brokers, clientId: "flux-gate-stack" };
  // A node of several is up when it answers itself; the cluster is ready when all are.
  const nodeOptions = { brokers: [endpoint], clientId: "flux-gate-stack" };
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
    name,
    binaries: (): Binary[] => (classpathIsStale() ? ["java", "mvn"] : ["java"]),

    async status() {
      const base = { name, endpoint, log };
      if (config.kafka.external) return { ...base, state: (await kafkaIsReady(options)) ? "external" : "unreachable" };
      const running = pid();
      return running && (await kafkaIsReady(nodeOptions))
        ? { ...base, state: "running", pid: running }
        : { ...base, state: "stopped" };
    },

    async start(progress) {
      for (const port of [node.port, node.controllerPort]) {
        await requireFreePort(port, "stop it, set FLUX_GATE_KAFKA_PORT, or set KAFKA_BROKERS to use that cluster");
      }
      mkdirSync(home, { recursive: true });
      mkdirSync(paths.data("kafka"), { recursive: true });
      const classpath = await resolveClasspath(progress);
      const java = findBinary("java")!;
      writeFileSync(propertiesFile, brokerProperties(config, node, logDir));
      if (!existsSync(join(logDir, "meta.properties"))) {
        progress("formatting KRaft storage (first run only)");
        await run(
          [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", clusterId(), "-c", propertiesFile],
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
      const ready = await waitUntil(async () => !isAlive(started) || (await kafkaIsReady(nodeOptions)), 90_000, 500);
      if (!ready || !isAlive(started)) {
        throw new StackError(
          isAlive(started) ? `${name} did not become ready within 90 s` : `${name} exited during start`,
          tail(log),
        );
      }
    },

    async stop() {
      const running = pid();
      // A controlled shutdown takes a few seconds; past 30 s the broker is stuck.
      if (running) await terminate(running, 30_000);
    },

    prepare: createsTopics
      ? () =>
          ensureTopics(
            options,
            config.regions.flatMap((r) =>
              [r.kafkaTopic, r.deadLetterTopic, allowanceTopicFor(r.id)].map((name) => ({
                name,
                partitions: config.kafka.partitions,
              })),
            ),
            config.kafka,
          )
      : undefined,
  };
}
