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
 *
 * Lazily (helper bunlazyext): Bun learns of a replaced `.js` step from the assignment itself
 * (its `_extensions` object's put/defineOwnProperty register the value, a function of its own
 * meaning "Bun's loader"), and with any function of JavaScript's registered it runs every
 * CommonJS file through a JavaScript path whose frames show in `error.stack` at each module's
 * top level (`<anonymous> (native:1:11)`, `unknown`, `anonymous (unknown)`). So the innermost
 * wrapper is not assigned: `.js` becomes an accessor (which registers nothing: Bun keeps its
 * own step) that reads as the innermost wrapper, so a program's hook that wraps what it reads
 * wraps it; the program's assignment goes through Bun's put, which registers the program's
 * hook as untraced, and the setter keeps it. Assigning the innermost wrapper back (a hook
 * reverted, as pirates' revert does) puts the accessor back, which unregisters it: Bun's own
 * step again. A `.js` step that is not Bun's own at the plugin's start (a preload's hook) gets
 * the innermost wrapper assigned, as before. Until a program hooks `.js`, a file the plugin
 * runs is run directly (no chain to pass). Under a program's hook, the innermost wrapper
 * calls Bun's step for a file the plugin's filter does not take in tail position, so such a
 * file's stacks have the frames they have untraced (the program's hook and Bun's path).
 */
type Extension = (this: unknown, module: unknown, filename: string) => unknown;

export class ExtensionChain {
  private pending: { module: unknown; run: () => void } | undefined;
  private readonly entered = new Set<unknown>();

  /** The innermost wrapper, which `_extensions[".js"]` reads as until a program hooks it. */
  private readonly innermost: Extension | undefined;

  constructor(
    private readonly extensions: Record<string, Extension> | undefined,
    /** Whether the plugin may run `path` (its filter); other files never need the guard below. */
    taken: (path: string) => boolean = () => true,
  ) {
    const original = extensions?.[".js"];
    if (!extensions || typeof original !== "function") return;
    const chain = this;
    const innermost = function (this: unknown, module: unknown, filename: string) {
      const pending = chain.pending;
      if (pending !== undefined && pending.module === module) {
        chain.pending = undefined;
        return pending.run();
      }
      // A file the plugin does not take: Bun's step in tail position (no frame of scope's).
      if (typeof filename !== "string" || !taken(filename)) return Reflect.apply(original, this, arguments);
      chain.entered.add(module);
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        chain.entered.delete(module);
      }
    };
    Object.defineProperty(innermost, "name", { value: original.name, configurable: true });
    Object.defineProperty(innermost, "length", { value: original.length, configurable: true });
    this.innermost = innermost as Extension;
    const descriptor = Object.getOwnPropertyDescriptor(extensions, ".js");
    if (descriptor?.configurable !== true || !("value" in descriptor) || !isNative(original)) {
      extensions[".js"] = innermost as Extension;
      return;
    }
    let value: unknown = innermost;
    const accessor: PropertyDescriptor = {
      configurable: true,
      enumerable: descriptor.enumerable,
      get: function () {
        return value;
      },
      set: function (next: unknown) {
        value = next;
        // Bun's put registered `next` before this ran; the accessor again unregisters it.
        if (next === innermost) Object.defineProperty(extensions, ".js", accessor);
      },
    };
    Object.defineProperty(extensions, ".js", accessor);
  }

  /** Runs `run` (the file's code in `module`) through `_extensions[".js"]`, or at once where that cannot be. */
  runThrough(module: unknown, path: string, run: () => void): void {
    const extensions = this.extensions;
    const current = extensions?.[".js"];
    if (!path.endsWith(".js") || typeof current !== "function" || current === this.innermost || this.entered.has(module)) return run();
    this.pending = { module, run };
    try {
      Reflect.apply(current, extensions, [module, path]);
    } finally {
      // Not reached (a hook that compiled the file itself, or threw): the module is as it left it.
      this.pending = undefined;
    }
  }
}

/** Bun's own loader function (host code), not one a program or a preload wrote. */
function isNative(fn: Function): boolean {
  try {
    return /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));
  } catch {
    return false;
  }
}
