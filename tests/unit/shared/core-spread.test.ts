import { describe, expect, test } from "bun:test";
import { spreadOver } from "../../../core/http/spread.ts";

describe("spreading calls over a region's cores", () => {
  test("each core in turn", () => {
    const spread = spreadOver(["a", "b"], () => 0);
    expect([spread.order()[0], spread.order()[0], spread.order()[0]]).toEqual(["a", "b", "a"]);
  });

  test("a core that refused a connection rests, last in line, then takes its turn again", () => {
    let now = 0;
    const spread = spreadOver(["a", "b"], () => now, 5_000);
    spread.refused("a");
    expect([spread.order(), spread.order()]).toEqual([
      ["b", "a"],
      ["b", "a"],
    ]);
    now = 5_001;
    expect([spread.order()[0], spread.order()[0]]).toEqual(["a", "b"]);
  });

  test("one core: always that one, resting or not", () => {
    const spread = spreadOver(["a"], () => 0);
    spread.refused("a");
    expect(spread.order()).toEqual(["a"]);
  });
});
