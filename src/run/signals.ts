import { constants } from "node:os";

/** "SIGKILL" → 9; 0 for none or an unknown name. */
export function signalNumberOf(signal: string | null | undefined): number {
  if (!signal) return 0;
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}
