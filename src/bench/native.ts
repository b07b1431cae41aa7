/**
 * The native workload: the ring and codec microbenchmarks the native core keeps
 * under scripts/ (reused, not rewritten). They need the source tree (and zig), so
 * they run from a checkout only; the compiled executable says so instead.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface NativeReport {
  ok: boolean;
  /** What ran (the exact commands), or why nothing did. */
  commands: string[];
  note?: string;
  /** Each script's output, verbatim: the figures are theirs. */
  output: string;
}

const repoRoot = join(import.meta.dir, "..", "..");

/**
 * The microbenchmark entry points under scripts/ (others there, such as
 * bench-agent-node.ts or bench-ring-node.mjs, are the halves these run in node).
 */
const nativeEntries = ["bench-ring.ts", "bench-trace.ts", "bench-agent.ts", "bench-instrument.ts"];

function nativeScripts(): string[] {
  const dir = join(repoRoot, "scripts");
  return nativeEntries.map((name) => join(dir, name)).filter((path) => existsSync(path));
}

/** The native core's `zig build bench` step (zig/bench.zig), when this is a checkout with zig on PATH. */
function zigBench(): string[] | undefined {
  const buildFile = join(repoRoot, "build.zig");
  if (!existsSync(buildFile) || !readFileSync(buildFile, "utf8").includes('b.step("bench"')) return undefined;
  if (!Bun.which("zig")) return undefined;
  return ["zig", "build", "bench", "-Doptimize=ReleaseFast"];
}

export async function runNative(): Promise<NativeReport> {
  const zig = zigBench();
  const scripts = nativeScripts().map((script) =>
    script.endsWith(".sh") ? ["bash", script] : script.endsWith(".ts") ? [process.execPath, script] : ["node", script],
  );
  if (zig) scripts.unshift(zig);
  if (scripts.length === 0) {
    return { ok: true, commands: [], output: "", note: "no native microbenchmarks found (scripts/bench-* in a source checkout)" };
  }
  let output = "";
  let ok = true;
  const commands: string[] = [];
  for (const argv of scripts) {
    commands.push(argv.map((part) => (part === process.execPath ? "bun" : part.replace(`${repoRoot}/`, ""))).join(" "));
    const child = Bun.spawn(argv, { cwd: repoRoot, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    // Zig programs often print with std.debug.print (stderr): keep whichever holds the figures.
    output += stdout.trim() ? stdout : stderr;
    if (exitCode !== 0) {
      ok = false;
      output += `${stdout.trim() ? stderr : ""}(exit code ${exitCode})\n`;
    }
  }
  return { ok, commands, output };
}
