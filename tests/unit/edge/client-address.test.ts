/** Whose address the per-IP limit counts (issue 11): pure. */
import { expect, test } from "bun:test";
import { clientAddress } from "../../../edge/client-address.ts";

test("is the socket's peer by default, whatever X-Forwarded-For says; behind proxies, the entry the first appended; on Cloudflare, CF-Connecting-IP", () => {
  const socket = "198.51.100.9";
  expect(clientAddress({ onCloudflare: false, forwardedFor: "203.0.113.1", socket, trustedProxies: 0 })).toBe(socket);
  expect(clientAddress({ onCloudflare: false, forwardedFor: "1.1.1.1, 203.0.113.1", socket, trustedProxies: 1 })).toBe(
    "203.0.113.1",
  );
  expect(
    clientAddress({
      onCloudflare: false,
      forwardedFor: "1.1.1.1, 203.0.113.1, 10.0.0.2",
      socket,
      trustedProxies: 2,
    }),
  ).toBe("203.0.113.1");
  expect(clientAddress({ onCloudflare: false, socket, trustedProxies: 1 })).toBe(socket);
  expect(
    clientAddress({
      onCloudflare: true,
      cfConnectingIp: "203.0.113.7",
      forwardedFor: "1.1.1.1",
      socket,
      trustedProxies: 0,
    }),
  ).toBe("203.0.113.7");
});
