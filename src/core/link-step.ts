/** How interpret's link steps (src/core/model.ts) change events other than the one they are at. */
import type { FieldValue, TraceEvent } from "./model";

/**
 * How a link step changes an event before the one it is at (a send's receives, a request's
 * end, ...). interpret applies them at once (applyNow); scope dump's streaming passes record
 * them in a first pass and apply them when the event comes in the next, at the same step
 * (src/dump/stream.ts), so its fields end in the same order. `step`: which link step (LinkStep).
 */
export interface Later {
  set(target: TraceEvent, step: number, fields: Record<string, FieldValue>): void;
  link(target: TraceEvent, step: number, index: number): void;
}

export const applyNow: Later = {
  set: (target, _step, fields) => void Object.assign(target.fields, fields),
  link: (target, _step, index) => void target.linkedTo.push(index),
};

/** The link steps, in interpret's order. */
export const LinkStep = { messages: 0, handlers: 1, database: 2, requests: 3, longTasks: 4, async: 5, peers: 6 } as const;
export const LINK_STEPS = 7;
