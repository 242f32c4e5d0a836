/**
 * The edge's shared lookups (edge/sale-terms.ts, edge/availability.ts) with cores made of
 * promises: a region that never answers costs nobody else anything, one lookup per product is
 * in flight, the last good terms are served while a refresh runs, made-up ids do not pile up.
 */
import { describe, expect, test } from "bun:test";
import type { ProductAnswer } from "../../../core/http/client.ts";
import type { Region } from "../../../shared/config.ts";
import { availabilityCache } from "../../../edge/availability.ts";
import { type SaleTerms, saleTermsCache } from "../../../edge/sale-terms.ts";

const east = { id: "us-east" } as Region;
const west = { id: "eu-west" } as Region;

const terms = (perUserLimit: number) => ({ perUserLimit, available: 7, held: 1, sold: 2 }) as unknown as SaleTerms;
const onSale = (body: SaleTerms): ProductAnswer => ({ kind: "answer", status: 200, body }) as ProductAnswer;
const notHere = { kind: "answer", status: 404, body: { code: "unknown_product" } } as unknown as ProductAnswer;
const never = () => new Promise<ProductAnswer>(() => {});

/** A core per region, each asked through `answer`; `asked` counts the lookups. */
function cores(answer: (region: Region, productId: string) => Promise<ProductAnswer>) {
  const asked: string[] = [];
  return {
    asked,
    ask: (region: Region, productId: string) => {
      asked.push(`${region.id} ${productId}`);
      return answer(region, productId);
    },
  };
}

describe("sale terms", () => {
  test("every region is asked at once: one that never answers does not hold up the one that does", async () => {
    const { ask } = cores((region) => (region === east ? never() : Promise.resolve(onSale(terms(2)))));
    const cache = saleTermsCache(ask, [east, west]);
    expect(await cache.get("p")).toMatchObject({ perUserLimit: 2 });
  });

  test("concurrent misses share one lookup per region", async () => {
    const { ask, asked } = cores(async () => onSale(terms(1)));
    const cache = saleTermsCache(ask, [east, west]);
    await Promise.all(Array.from({ length: 50 }, () => cache.get("p")));
    expect(asked.sort()).toEqual(["eu-west p", "us-east p"]);
  });

  test("past their moment the last good terms are served at once while one refresh runs", async () => {
    let limit = 1;
    const { ask, asked } = cores(async () => onSale(terms(limit)));
    const cache = saleTermsCache(ask, [east], { ttlMs: 20 });
    expect(await cache.get("p")).toMatchObject({ perUserLimit: 1 });
    await Bun.sleep(30);
    limit = 3;
    expect(await cache.get("p")).toMatchObject({ perUserLimit: 1 });
    await Bun.sleep(5);
    expect(await cache.get("p")).toMatchObject({ perUserLimit: 3 });
    expect(asked.length).toBe(2);
  });

  test("a refresh that never answers keeps the last good terms, and is not asked again while in flight", async () => {
    let silent = false;
    const { ask, asked } = cores(() => (silent ? never() : Promise.resolve(onSale(terms(1)))));
    const cache = saleTermsCache(ask, [east], { ttlMs: 20 });
    await cache.get("p");
    await Bun.sleep(30);
    silent = true;
    for (let i = 0; i < 5; i++) expect(await cache.get("p")).toMatchObject({ perUserLimit: 1 });
    expect(asked.length).toBe(2);
  });

  test("on sale nowhere is remembered for its moment, then asked again; no region answering is not remembered", async () => {
    let answer: () => Promise<ProductAnswer> = async () => notHere;
    const { ask, asked } = cores(() => answer());
    const cache = saleTermsCache(ask, [east, west], { unknownTtlMs: 20 });
    expect(await cache.get("x")).toBeUndefined();
    expect(await cache.get("x")).toBeUndefined();
    expect(asked.length).toBe(2);
    await Bun.sleep(30);
    expect(cache.peek("x")).toBeUndefined();
    answer = async () => ({ kind: "timeout" }) as ProductAnswer;
    expect(await cache.get("x")).toBe("unavailable");
    expect(await cache.get("x")).toBe("unavailable");
    expect(asked.length).toBe(6);
  });

  test("made-up product ids do not grow the cache past its bound", async () => {
    const { ask } = cores(async () => notHere);
    const cache = saleTermsCache(ask, [east], { maxProducts: 100 });
    for (let i = 0; i < 1_000; i++) await cache.get(`made-up-${i}`);
    const remembered = Array.from({ length: 1_000 }, (_, i) => cache.peek(`made-up-${i}`)).filter(Boolean);
    expect(remembered.length).toBe(100);
    expect(cache.peek("made-up-999")).toEqual({ terms: undefined, fresh: true });
    expect(cache.peek("made-up-0")).toBeUndefined();
  });
});

describe("availability", () => {
  test("a region that does not answer is unknown in its own row after the deadline; later requests do not wait for it", async () => {
    const { ask, asked } = cores((region) => (region === east ? never() : Promise.resolve(onSale(terms(1)))));
    const cache = availabilityCache(ask, { deadlineMs: 50 });
    const t0 = performance.now();
    const rows = await cache.rows([east, west], "p");
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(rows.map((r) => r.kind)).toEqual(["unknown", "sale"]);
    const t1 = performance.now();
    expect((await cache.rows([east, west], "p")).map((r) => r.kind)).toEqual(["unknown", "sale"]);
    // The lookup in flight is past its deadline: nobody waits for it again, and nobody asks again.
    expect(performance.now() - t1).toBeLessThan(40);
    expect(asked.sort()).toEqual(["eu-west p", "us-east p"]);
  });
});
