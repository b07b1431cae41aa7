/** `scope dump --why <event#>`: an event's chain of causes, one line per link (src/core/why.ts). */
import type { ChalkInstance } from "chalk";
import type { TraceEvent } from "../core/model";
import { whyChain, type WhyStep } from "../core/why";
import { eventToJson } from "./json";
import { formatEventLine, type EventsAt } from "./text";

/** "scope: ..." text for an event number that is not one of the trace's (undefined: it is). */
export function whyProblem(text: string, count: number): string | undefined {
  if (!/^\d+$/.test(text.trim())) return `--why: expected an event number as scope dump prints it (#N), got "${text}"`;
  const index = Number(text);
  if (index >= count) return `--why: no event #${index} in this trace (it has ${count} event${count === 1 ? "" : "s"}${count > 0 ? `, #0 to #${count - 1}` : ""})`;
  return undefined;
}

const width = Math.max(..."event sent by handling in request requested by ran in after scheduled by after resolve in thread started by".split(" ").map((w) => w.length), 16);

/**
 * The lines of `--why index`. `events`: the trace's events, or walks over them and their
 * count (whyChain: only the chain's events are kept); `all`: where a linked event ran (text).
 */
export function whyLines(events: Parameters<typeof whyChain>[0], all: EventsAt, index: number, startNs: bigint, color: ChalkInstance, json: boolean): string[] {
  const chain = whyChain(events, index);
  if (json) return chain.map((step) => `{"relation":${JSON.stringify(step.relation)},"event":${eventToJson(step.event, startNs)}}`);
  const lines = [color.dim(`# why #${index}: its causes, back to the start (${chain.length - 1} link${chain.length === 2 ? "" : "s"})`)];
  for (const step of chain) lines.push(`${relationText(step, color)} ${formatEventLine(step.event, startNs, all, color)}`);
  const last = chain[chain.length - 1]!.event;
  if (!endsAtStart(last)) lines.push(color.dim("# the trace shows no earlier cause"));
  return lines;
}

function relationText(step: WhyStep, color: ChalkInstance): string {
  const text = step.relation === "event" ? "" : `← ${step.relation}`;
  return color.bold(text.padEnd(width + 2));
}

/** The chain ended at a process's first event (the program's start, or a process no traced parent spawned). */
function endsAtStart(last: TraceEvent): boolean {
  return last.kind === "trace_start" || last.index === 0;
}
