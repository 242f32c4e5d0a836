/** What the test files share: the configuration the stack runs with, and unique names. */
import { loadConfig } from "../shared/config.ts";

export const config = loadConfig();

/** A name no earlier test run used, so runs against a warm stack never see old data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
