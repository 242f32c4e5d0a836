import { describe, expect, test } from "bun:test";
import { luaScript, runScript, type RespArg } from "../../../shared/lua.ts";

describe("a Lua script's KEYS count, kept with the script", () => {
  const sent: RespArg[][] = [];
  const send = async (command: RespArg[]) => {
    sent.push(command);
    return "ok";
  };

  test("a call with the script's count goes to Redis as EVALSHA", async () => {
    const script = luaScript("return KEYS[1]", { keys: 1 });
    expect(await runScript(send, script, ["a"], ["x"])).toBe("ok");
    expect(sent.at(-1)).toEqual(["EVALSHA", script.sha, 1, "a", "x"]);
  });

  test("a call with another count fails before Redis sees it", async () => {
    const before = sent.length;
    const script = luaScript("return KEYS[2]", { keys: 2 });
    await expect(runScript(send, script, ["a"], [])).rejects.toThrow("takes 2 KEYS was given 1");
    expect(sent.length).toBe(before);
  });

  test("a script whose count varies (one key per order of a batch) takes any", async () => {
    expect(await runScript(send, luaScript("return #KEYS"), ["a", "b", "c"], [])).toBe("ok");
  });
});
