/**
 * A CommonJS `.js` file the Bun runtime plugin runs itself (bun-commonjs.ts) passes
 * `Module._extensions[".js"]` as it does when Bun loads it: Bun's `require` of a file a
 * plugin's onLoad takes calls no `_extensions` function, so a program's own hook of
 * `_extensions[".js"]` (pirates' kind) never saw a file traced with `--package`. (The agent's
 * integrations once hooked a framework's or a database client's file there too, and lost
 * `--package express` or `--package pg`, auditbun; they now hook `Module.prototype.require`,
 * src/agent/bun/library-files.ts, which Bun's require passes for such a file as well.)
 *
 * At the plugin's start (before a program's own hooks wrap it), `_extensions[".js"]` gets an innermost
 * wrapper of its own; the loader calls the whole chain with the module it is filling, and the
 * innermost wrapper runs the loader's code for that module instead of Bun's. A wrapper that
 * does not call on (a program's own hook that compiles the file itself, as an old
 * babel-register did) has the module as it made it, as when Bun calls it untraced: the
 * loader's code does not run as well (the module's code would run twice). A chain entered by
 * Bun itself for the same module (should Bun call `_extensions` and then the plugin) is not
 * entered again.
 */
type Extension = (this: unknown, module: unknown, filename: string) => unknown;

export class ExtensionChain {
  private pending: { module: unknown; run: () => void } | undefined;
  private readonly entered = new Set<unknown>();

  constructor(private readonly extensions: Record<string, Extension> | undefined) {
    const original = extensions?.[".js"];
    if (!extensions || typeof original !== "function") return;
    const chain = this;
    const innermost = function (this: unknown, module: unknown, filename: string) {
      const pending = chain.pending;
      if (pending !== undefined && pending.module === module) {
        chain.pending = undefined;
        return pending.run();
      }
      chain.entered.add(module);
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        chain.entered.delete(module);
      }
    };
    Object.defineProperty(innermost, "name", { value: original.name, configurable: true });
    Object.defineProperty(innermost, "length", { value: original.length, configurable: true });
    extensions[".js"] = innermost as Extension;
  }

  /** Runs `run` (the file's code in `module`) through `_extensions[".js"]`, or at once where that cannot be. */
  runThrough(module: unknown, path: string, run: () => void): void {
    const extensions = this.extensions;
    const current = extensions?.[".js"];
    if (!path.endsWith(".js") || typeof current !== "function" || this.entered.has(module)) return run();
    this.pending = { module, run };
    try {
      Reflect.apply(current, extensions, [module, path]);
    } finally {
      // Not reached (a hook that compiled the file itself, or threw): the module is as it left it.
      this.pending = undefined;
    }
  }
}
