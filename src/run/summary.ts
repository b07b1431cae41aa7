/** The few lines `scope run` prints to stderr when the program ends. */
import type { ChalkInstance } from "chalk";
import type { RunSummary } from "./collector";

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatSummary(summary: RunSummary, color: ChalkInstance): string {
  const ended = summary.signal ? `killed by ${summary.signal}` : `exit code ${summary.exitCode}`;
  const kinds = Object.entries(summary.byKind)
    .filter(([kind]) => kind !== "string")
    .sort(([, x], [, y]) => y - x)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const lost = summary.dropped + summary.overwritten;
  const lines = [
    `${color.bold("scope")}: ${summary.out} (${formatBytes(summary.fileBytes)}), ${(Number(summary.durationNs) / 1e9).toFixed(2)}s, program ${ended}`,
    `  ${summary.processes} processes, ${summary.threads} threads, ${summary.recorded} records`,
    `  events: ${kinds || "none"}`,
    lost > 0 ? color.red(`  lost: ${summary.dropped} dropped, ${summary.overwritten} overwritten (ring full; try --ring-size)`) : `  lost: none`,
  ];
  return `${lines.join("\n")}\n`;
}
