/**
 * How a product's waiting room runs at the edge (edge/room/), as the admin sets it per product:
 * `off` (every order goes straight to the cores), `shed` (the room's rate without a queue: beyond
 * it, 503 and Retry-After at once), `queue` (beyond the room's rate, buyers get a ticket and a
 * place), `lobby` (a queue whose buyers who come before the start are drawn in random order at
 * the start).
 */
export const ROOM_MODES = ["off", "shed", "queue", "lobby"] as const;
export type RoomMode = (typeof ROOM_MODES)[number];
