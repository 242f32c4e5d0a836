import { describe, expect, test } from "bun:test";
import { deriveOrderId } from "../../../edge/order-id.ts";
import { regionOrder } from "../../../edge/regions.ts";

const table = { DE: ["eu-west", "us-east"], US: ["us-east", "eu-west"], "*": ["us-east", "eu-west"] };
const regions = ["us-east", "eu-west", "ap-south"];

describe("regionOrder", () => {
  test("the country's list first, then the rest, each region once", () => {
    expect(regionOrder(table, regions, { country: "de" })).toEqual(["eu-west", "us-east", "ap-south"]);
    expect(regionOrder(table, regions, { country: "BR" })).toEqual(["us-east", "eu-west", "ap-south"]);
    expect(regionOrder(table, regions, {})).toEqual(["us-east", "eu-west", "ap-south"]);
  });
  test("X-Region goes first when it names a region, and is ignored otherwise", () => {
    expect(regionOrder(table, regions, { country: "DE", region: "ap-south" })).toEqual([
      "ap-south",
      "eu-west",
      "us-east",
    ]);
    expect(regionOrder(table, regions, { country: "DE", region: "moon" })).toEqual(["eu-west", "us-east", "ap-south"]);
  });
});

describe("deriveOrderId", () => {
  test("the same client and key give the same UUID; another client or key, another", () => {
    const id = deriveOrderId("secret", "alice", "key-1");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deriveOrderId("secret", "alice", "key-1")).toBe(id);
    expect(deriveOrderId("secret", "bob", "key-1")).not.toBe(id);
    expect(deriveOrderId("secret", "alice", "key-2")).not.toBe(id);
    expect(deriveOrderId("other", "alice", "key-1")).not.toBe(id);
  });
});
