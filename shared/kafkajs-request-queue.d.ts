/** The one kafkajs internal that shared/kafka.ts patches (it has no types of its own). */
declare module "kafkajs/src/network/requestQueue/index.js" {
  export default class RequestQueue {
    pending: unknown[];
    throttledUntil: number;
    scheduleCheckPendingRequests(): void;
  }
}
