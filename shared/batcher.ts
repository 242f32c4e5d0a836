/**
 * Smart batching (as LMAX's and TigerBeetle's): a request that finds a free slot goes at once,
 * alone if it is alone; while `maxInFlight` batches are out, the requests that come gather, and
 * the next flush takes all of them (up to `maxBatch`). No timer: latency at low load does not rise,
 * and under load each round trip carries what arrived during the one before. A flush waits for the
 * microtasks already queued (no time passes), so the items that one task adds at once leave together.
 * Pure; runs on every runtime.
 */

/** Sends a batch; answers one outcome per item, in the items' order. */
export type SendBatch<In, Out> = (items: In[]) => Promise<Out[]>;

export interface BatcherOptions<In, Out> {
  send: SendBatch<In, Out>;
  maxBatch: number;
  maxInFlight: number;
  /**
   * The outcome of an item whose send-by time passed while it waited: it never leaves. Under a
   * flood the queue grows, and an item sent with too little of its caller's time left would be
   * done by the far side after its caller gave up on it.
   */
  late?: (item: In) => Out;
}

interface Waiting<In, Out> {
  item: In;
  sendBy: number;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

export interface Batcher<In, Out> {
  /**
   * The item's own outcome; rejects when its batch failed as a whole. `sendBy`: see `late`, on
   * `performance.now()`'s clock (a step of the wall clock must not send or drop a whole queue).
   */
  add(item: In, sendBy?: number): Promise<Out>;
  /** Takes the item out if it has not left yet (its caller gave up): true if it was still waiting. */
  withdraw(item: In): boolean;
  /** Items waiting and batches out: nothing of either, and the batcher may be dropped. */
  idle(): boolean;
}

export function batcher<In, Out>({ send, maxBatch, maxInFlight, late }: BatcherOptions<In, Out>): Batcher<In, Out> {
  let queue: Waiting<In, Out>[] = [];
  let inFlight = 0;
  let scheduled = false;

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      flush();
    });
  }

  function flush() {
    if (late && inFlight < maxInFlight && queue.length > 0) {
      const now = performance.now();
      const expired = queue.filter((w) => w.sendBy <= now);
      if (expired.length > 0) {
        queue = queue.filter((w) => w.sendBy > now);
        for (const w of expired) w.resolve(late(w.item));
      }
    }
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      void run(batch);
    }
  }

  async function run(batch: Waiting<In, Out>[]) {
    try {
      const outcomes = await send(batch.map((w) => w.item));
      // A batch answered with other than one outcome per item answers none of them.
      if (outcomes.length !== batch.length)
        throw new Error(`a batch of ${batch.length} came back with ${outcomes.length} outcomes`);
      for (const [i, w] of batch.entries()) w.resolve(outcomes[i]!);
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      inFlight--;
      flush();
    }
  }

  return {
    add(item, sendBy = Number.POSITIVE_INFINITY) {
      return new Promise<Out>((resolve, reject) => {
        queue.push({ item, sendBy, resolve, reject });
        schedule();
      });
    },
    withdraw(item) {
      const at = queue.findIndex((w) => w.item === item);
      if (at < 0) return false;
      queue.splice(at, 1);
      return true;
    },
    idle: () => queue.length === 0 && inFlight === 0 && !scheduled,
  };
}

/** A batcher per key (a product's slot, a region), made on first use and dropped once idle. */
export function keyedBatcher<In, Out>(options: (key: string) => BatcherOptions<In, Out>) {
  const batchers = new Map<string, Batcher<In, Out>>();
  return async (key: string, item: In): Promise<Out> => {
    let b = batchers.get(key);
    if (!b) {
      b = batcher(options(key));
      batchers.set(key, b);
    }
    try {
      return await b.add(item);
    } finally {
      if (b.idle() && batchers.get(key) === b) batchers.delete(key);
    }
  };
}
