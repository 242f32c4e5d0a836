/** Messages the worker cannot apply go to the region's dead-letter topic, reason attached. */
import type { IdempotentProducer, IncomingMessage, OutgoingMessage } from "../shared/kafka.ts";

export const DEAD_LETTER_HEADERS = {
  reason: "flux-gate-dead-letter-reason",
  topic: "flux-gate-original-topic",
  partition: "flux-gate-original-partition",
  offset: "flux-gate-original-offset",
} as const;

export function deadLetterMessage(message: IncomingMessage, reason: string): OutgoingMessage {
  return {
    key: message.key ?? "",
    value: message.value ?? "",
    headers: {
      ...message.headers,
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.topic]: message.topic,
      [DEAD_LETTER_HEADERS.partition]: String(message.partition),
      [DEAD_LETTER_HEADERS.offset]: message.offset,
    },
  };
}

export async function deadLetter(
  producer: IdempotentProducer,
  topic: string,
  rejected: { message: IncomingMessage; reason: string }[],
): Promise<void> {
  if (rejected.length > 0)
    await producer.send(
      topic,
      rejected.map((r) => deadLetterMessage(r.message, r.reason)),
    );
}
