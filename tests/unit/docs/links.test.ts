/**
 * The documentation stays true to the repository: every relative link in the README and in
 * docs/ resolves to a file inside it (and an #anchor to a heading), and every setting
 * shared/config/ reads is in docs/configuration.md.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../../..");
const pages = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** A heading's anchor as GitHub makes it. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replaceAll(" ", "-");
const anchors = (markdown: string) => new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
/** Markdown links outside code blocks. */
const links = (markdown: string) =>
  [...markdown.replace(/```[\s\S]*?```/g, "").matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);

describe("documentation links", () => {
  test.each(pages)("%s: every relative link resolves inside the repository", (page) => {
    const text = readFileSync(join(ROOT, page), "utf8");
    const broken = links(text).filter((target) => {
      if (/^(https?:|mailto:)/.test(target)) return false;
      const [path, anchor] = target.split("#") as [string, string | undefined];
      const file = path === "" ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), decodeURIComponent(path));
      if (relative(ROOT, file).startsWith("..") || !existsSync(file)) return true;
      return (
        anchor !== undefined &&
        file.endsWith(".md") &&
        statSync(file).isFile() &&
        !anchors(readFileSync(file, "utf8")).has(anchor)
      );
    });
    expect(broken).toEqual([]);
  });

  test("the README stays a front page: at most 200 lines", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(200);
  });
});

test("every setting shared/config/ reads is documented in docs/configuration.md", () => {
  const source = [...readdirSync(join(ROOT, "shared/config")).map((f) => `shared/config/${f}`), "shared/redis-users.ts"]
    .map((file) => readFileSync(join(ROOT, file), "utf8"))
    .join("\n");
  const read = new Set([
    ...[...source.matchAll(/env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!),
    ...[...source.matchAll(/\(env, "([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!),
    ...[...source.matchAll(/regionVariable\("([A-Z][A-Z0-9_]+)"/g)].map((m) => `${m[1]}_<REGION>`),
    ...[...source.matchAll(/secret\("([A-Z][A-Z0-9_]+)"\)/g)].map((m) => m[1]!),
  ]);
  const documented = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");
  const missing = [...read].filter(
    (name) => !documented.includes(name) && !documented.includes(name.replace(/_[A-Z]+$/, "")),
  );
  expect(read.size).toBeGreaterThan(40);
  expect(missing).toEqual([]);
});
