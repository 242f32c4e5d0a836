/** A buyer's home: the identity's word, checked; else the rendezvous hash, stable as regions come. */
import { describe, expect, test } from "bun:test";
import { rendezvousHome, resolveHome } from "../../../shared/home-region.ts";

const two = ["us-east", "eu-west"];
const three = [...two, "ap-south"];
const ids = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);

describe("home region", () => {
  test("a region the identity names is the home; one this deployment lacks is refused; none falls back to the hash", () => {
    // "user-1" hashes to one region; naming the other proves the name wins over the hash.
    const hashed = rendezvousHome("user-1", two);
    const other = two.find((r) => r !== hashed)!;
    expect(resolveHome("user-1", other, two)).toEqual({ kind: "home", region: other });
    expect(resolveHome("user-1", "mars-1", two)).toEqual({ kind: "unknown", named: "mars-1" });
    expect(resolveHome("user-1", undefined, two)).toEqual({ kind: "home", region: hashed });
    expect(resolveHome("user-1", "", two)).toEqual({ kind: "home", region: hashed });
  });

  test("the hash is stable, ignores the order regions are listed in, and spreads buyers evenly", () => {
    const counts = new Map<string, number>();
    for (const id of ids) {
      const home = rendezvousHome(id, three);
      expect(rendezvousHome(id, [...three].reverse())).toBe(home);
      counts.set(home, (counts.get(home) ?? 0) + 1);
    }
    for (const region of three) expect(counts.get(region)!).toBeWithin(32_000, 34_700);
  });

  test("adding a third region moves about a third of the hashed buyers, all to it, none between the old two", () => {
    let moved = 0;
    for (const id of ids) {
      const before = rendezvousHome(id, two);
      const after = rendezvousHome(id, three);
      if (after === before) continue;
      moved++;
      expect(after).toBe("ap-south");
    }
    // 1/3 of 100,000 is 33,333; the bounds are over 10 standard deviations (about 149) apart.
    expect(moved).toBeWithin(31_800, 34_900);
  });
});
