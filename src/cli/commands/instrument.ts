import { Command, Option, UsageError } from "clipanion";
import { existsSync, statSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import * as t from "typanion";
import { instrumentPath } from "../../instrument/aot";
import type { MatchConfig } from "../../instrument/match";
import { functionSettings } from "../../instrument/settings";

export class InstrumentCommand extends Command {
  static override paths = [["instrument"]];

  static override usage = Command.Usage({
    description: "write an instrumented copy of JavaScript/TypeScript sources (ahead of time)",
    details: `
      Instruments every JavaScript and TypeScript file of \`<path>\` (a directory, recursively, or one
      file) the way \`scope run --functions\` does at load time, and writes it under \`--out\` with an inline
      source map; every other file is copied, so the output runs as the input did. \`node_modules\` is
      skipped unless an include pattern or --package names it. Instrumented code records only when it runs under
      \`scope run --functions\`; otherwise its hooks are no-ops. A file the parser refuses is copied as it
      is, with one warning line.
    `,
    examples: [
      ["Instrument a project's sources", "scope instrument src --out build/instrumented"],
      ["Only entry events, only lib/", "scope instrument . --out /tmp/out --include 'lib/**' --level calls"],
    ],
  });

  out = Option.String("-o,--out", { required: true, description: "Directory to write to (created; must not be inside <path>)" });
  functions = Option.String("--functions", { description: "Settings as JSON, as for `scope run --functions=<json>`; globs relative to <path>" });
  include = Option.Array("--include", { description: "Path glob (relative to <path>) of files to instrument; repeatable" });
  exclude = Option.Array("--exclude", { description: "Path glob of files copied without instrumenting; repeatable" });
  packages = Option.Array("--package", { description: "Instrument a package's files (NAME, @scope/NAME or NAME/<glob inside it>; found by their package.json, node_modules included); repeatable" });
  functionNames = Option.Array("--function", { description: "Function-name glob; only matching functions are instrumented; repeatable" });
  level = Option.String("--level", { description: "calls (entry only) or full (entry, return, throw, values)", validator: t.isEnum(["off", "calls", "full"] as const) });

  input = Option.String({ name: "path" });

  async execute(): Promise<number> {
    const input = resolve(this.input);
    const out = resolve(this.out);
    if (!existsSync(input)) throw new UsageError(`${this.input}: no such file or directory`);
    const isDirectory = statSync(input).isDirectory();
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out: ${this.out} exists and is not a directory`);
    if (isDirectory && (out === input || !relative(input, out).startsWith("..") && !relative(input, out).startsWith(sep))) {
      throw new UsageError(`--out: ${this.out} is inside ${this.input}; choose a directory outside the input`);
    }
    const settings = functionSettings({ functions: this.functions ?? true, include: this.include, exclude: this.exclude, packages: this.packages, functionNames: this.functionNames, level: this.level });
    if (typeof settings === "object") throw new UsageError(`--functions: ${settings.error}`);
    const config = JSON.parse(settings ?? "{}") as MatchConfig;
    const summary = instrumentPath(input, out, config, (line) => this.context.stderr.write(line));
    const failed = summary.failed.length;
    this.context.stdout.write(
      `scope: ${summary.instrumented} files instrumented (${summary.functions} functions), ${summary.unchanged} unchanged, ` +
        `${summary.copied} copied${failed ? `, ${failed} not parsed (copied as is)` : ""} → ${out}\n`,
    );
    return 0;
  }
}
