/** The Upstash REST protocol's pure parts: reply encoding, script flags, token comparison. */
import { describe, expect, test } from "bun:test";
import { encodeReply, tokenMatches } from "../../../redis-rest/protocol.ts";
import { portableScript } from "../../../shared/script-flags.ts";

describe("protocol", () => {
  test("base64 applies to every string, nested too; numbers and null pass as they are", () => {
    expect(encodeReply([Buffer.from("a"), 7, null, [Buffer.from("ü")]], true)).toEqual(["YQ==", 7, null, ["w7w="]]);
    expect(encodeReply(Buffer.from("ü"), false)).toBe("ü");
  });

  test("Upstash-only script flags are taken out; other flags and scripts stay as they are", () => {
    expect(portableScript("#!lua flags=allow-key-locking\nreturn 1")).toBe("#!lua\nreturn 1");
    expect(portableScript("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(portableScript("#!lua flags=no-writes\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(portableScript("return 1")).toBe("return 1");
  });

  test("tokens compare whole, never by prefix", () => {
    expect(tokenMatches("secret", "Bearer secret")).toBe(true);
    expect(tokenMatches("secret", "Bearer secre")).toBe(false);
    expect(tokenMatches("secret", "Bearer secret2")).toBe(false);
    expect(tokenMatches("secret", "secret")).toBe(false);
    expect(tokenMatches("secret", undefined)).toBe(false);
  });
});
