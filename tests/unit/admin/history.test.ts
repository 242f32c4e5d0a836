/** The dashboard's history, pure parts: quantiles from histogram buckets, rates between readings, a ring. */
import { describe, expect, test } from "bun:test";
import {
  pointBetween,
  regionReading,
  Ring,
  roomReading,
  startHistory,
  type Reading,
} from "../../../admin/dashboard/history.ts";
import {
  bucketsSince,
  histogramBuckets,
  histogramQuantile,
  readSamples,
  type Buckets,
} from "../../../shared/metrics.ts";

const INF = Number.POSITIVE_INFINITY;

describe("histogram quantiles, as Prometheus's histogram_quantile", () => {
  test("interpolate inside the bucket where the rank falls", () => {
    const buckets: Buckets = [
      [0.01, 0],
      [0.05, 0],
      [0.1, 100],
      [INF, 100],
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.075, 10);
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.0995, 10);
    expect(
      histogramQuantile(0.5, [
        [0.01, 30],
        [0.05, 90],
        [INF, 100],
      ]),
    ).toBeCloseTo(0.01 + 0.04 * (20 / 60), 10);
  });

  test("nothing observed is null; a rank in +Inf is the highest finite bound", () => {
    expect(
      histogramQuantile(0.99, [
        [0.1, 0],
        [INF, 0],
      ]),
    ).toBeNull();
    expect(histogramQuantile(0.99, [])).toBeNull();
    expect(
      histogramQuantile(0.99, [
        [0.1, 10],
        [INF, 100],
      ]),
    ).toBe(0.1);
  });

  test("what was observed between two readings; a process that restarted counts from zero", () => {
    expect(
      bucketsSince(
        [
          [0.1, 5],
          [INF, 6],
        ],
        [
          [0.1, 9],
          [INF, 12],
        ],
      ),
    ).toEqual([
      [0.1, 4],
      [INF, 6],
    ]);
    expect(
      bucketsSince(
        [
          [0.1, 50],
          [INF, 60],
        ],
        [
          [0.1, 3],
          [INF, 3],
        ],
      ),
    ).toEqual([
      [0.1, 3],
      [INF, 3],
    ]);
  });
});

describe("a region's reading from its /metrics", () => {
  const core = readSamples(`
flux_gate_reservations_total{component="core",region="us-east",outcome="reserved"} 40
flux_gate_reservations_total{component="core",region="us-east",outcome="confirmed"} 2
flux_gate_reservations_total{component="core",region="us-east",outcome="sold_out"} 500
flux_gate_http_request_duration_seconds_bucket{le="0.005",route="/v1/reservations",method="POST",status="202"} 30
flux_gate_http_request_duration_seconds_bucket{le="0.005",route="/v1/reservations",method="POST",status="409"} 10
flux_gate_http_request_duration_seconds_bucket{le="+Inf",route="/v1/reservations",method="POST",status="202"} 42
flux_gate_http_request_duration_seconds_bucket{le="+Inf",route="/v1/reservations",method="POST",status="409"} 10
flux_gate_http_request_duration_seconds_bucket{le="+Inf",route="/v1/products/:id",method="GET",status="200"} 999
flux_gate_outbox_depth{product="P"} 3
flux_gate_product_units{product="P",state="allocated"} 200
flux_gate_product_units{product="P",state="held"} 30
flux_gate_product_units{product="P",state="sold"} 20
flux_gate_product_units{product="P",state="available"} 150
`);

  test("accepted orders (reserved + sold at once), the reservation route's buckets summed over statuses, units per product", () => {
    const worker = readSamples(`flux_gate_worker_consumer_lag{partition="0"} 7`);
    const reading = regionReading({ counted: core, shared: core, worker });
    expect(reading).toEqual({
      accepted: 42,
      latency: [
        [0.005, 40],
        [INF, 52],
      ],
      outboxDepth: 3,
      consumerLag: 7,
      units: { P: { allocated: 200, held: 30, sold: 20 } },
    });
    expect(histogramBuckets(core, "flux_gate_http_request_duration_seconds", { route: "/v1/products/:id" })).toEqual([
      [INF, 999],
    ]);
  });

  test("two cores: what each counted is summed, what both read from Redis is not counted twice", () => {
    const reading = regionReading({ counted: [...core, ...core], shared: core, worker: undefined });
    expect(reading).toMatchObject({
      accepted: 84,
      latency: [
        [0.005, 80],
        [INF, 104],
      ],
      outboxDepth: 3,
      consumerLag: null,
      units: { P: { allocated: 200, held: 30, sold: 20 } },
    });
  });

  test("a core or worker that did not answer reads as unknown, not zero", () => {
    expect(regionReading({ counted: undefined, shared: undefined, worker: undefined })).toEqual({
      accepted: null,
      latency: null,
      outboxDepth: null,
      consumerLag: null,
      units: null,
    });
  });
});

describe("a chart point between two readings", () => {
  const region = (
    accepted: number | null,
    latency: Buckets | null,
    units = { P: { allocated: 200, held: 30, sold: 20 }, Q: { allocated: 0, held: 0, sold: 0 } },
  ) => ({ accepted, latency, outboxDepth: 1, consumerLag: 2, units });
  const earlier: Reading = {
    at: 10_000,
    regions: {
      "us-east": region(4, [
        [0.01, 0],
        [0.05, 0],
        [0.1, 0],
        [INF, 0],
      ]),
    },
    edge: [
      [0.01, 5],
      [INF, 5],
    ],
    rooms: { "us-east": { admitted: 40, waiting: 900 } },
  };
  const later: Reading = {
    at: 12_000,
    regions: {
      "us-east": region(10, [
        [0.01, 0],
        [0.05, 0],
        [0.1, 100],
        [INF, 100],
      ]),
    },
    edge: [
      [0.01, 105],
      [INF, 105],
    ],
    rooms: { "us-east": { admitted: 100, waiting: 800 } },
  };

  test("orders per second over the seconds between; quantiles of what was observed between, in ms; sell-through of allocated products", () => {
    expect(pointBetween(earlier, later)).toEqual({
      at: 12_000,
      regions: {
        "us-east": {
          acceptedPerSecond: 3,
          coreP50Ms: 75,
          coreP99Ms: 99.5,
          outboxDepth: 1,
          consumerLag: 2,
          sellThrough: { P: 0.25 },
          roomAdmittedPerSecond: 30,
          roomWaiting: 800,
        },
      },
      edge: { p50Ms: 5, p99Ms: 9.9 },
    });
  });

  test("the waiting rooms per region: admissions summed over products' counters, buyers held summed over products", () => {
    const edge = readSamples(
      [
        'flux_gate_room_entries_total{region="us-east",outcome="admitted"} 7',
        'flux_gate_room_entries_total{region="us-east",outcome="queued"} 50',
        'flux_gate_room_waiting{region="us-east",product="P"} 30',
        'flux_gate_room_waiting{region="us-east",product="Q"} 12',
        'flux_gate_room_waiting{region="eu-west",product="P"} 0',
      ].join("\n"),
    );
    expect(roomReading(edge)).toEqual({
      "us-east": { admitted: 7, waiting: 42 },
      "eu-west": { admitted: 0, waiting: 0 },
    });
    expect(pointBetween(earlier, { ...later, rooms: {} }).regions["us-east"]).toMatchObject({
      roomAdmittedPerSecond: null,
      roomWaiting: null,
    });
  });

  test("no rate without two readings of a core that answered", () => {
    const point = pointBetween({ ...earlier, regions: { "us-east": region(null, null) } }, later);
    expect(point.regions["us-east"]!.acceptedPerSecond).toBeNull();
    expect(pointBetween(undefined, later).regions["us-east"]!.acceptedPerSecond).toBeNull();
  });

  test("the ring keeps the last points only", () => {
    const ring = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) ring.push(i);
    expect(ring.all()).toEqual([3, 4, 5]);
  });
});

describe("the history's readings", () => {
  test("come each interval while someone looks, rarely otherwise, and at once on the first look", async () => {
    let scrapes = 0;
    const edge = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        scrapes++;
        return new Response("fg_up 1\n");
      },
    });
    const history = startHistory({
      regions: [],
      edgeUrl: `http://127.0.0.1:${edge.port}`,
      intervalMs: 50,
      idleIntervalMs: 60_000,
      watchMs: 500,
    });
    try {
      await Bun.sleep(400);
      // Nobody looked: the first reading only.
      expect(scrapes).toBe(1);
      history.points();
      await Bun.sleep(30);
      expect(scrapes).toBe(2);
      await Bun.sleep(400);
      expect(scrapes).toBeGreaterThanOrEqual(6);
      // No look for longer than watchMs: back to the idle interval.
      await Bun.sleep(400);
      const after = scrapes;
      await Bun.sleep(400);
      expect(scrapes).toBe(after);
      expect(history.points().length).toBeGreaterThanOrEqual(5);
    } finally {
      await history.stop();
      await edge.stop(true);
    }
  });
});
