/**
 * A CommonJS file's exports once it ran, without a function of scope's on the stack of its
 * top level (Node's loader): the library hand-over of the agent's core (lazy.ts
 * hookLibraryFiles) without wrapping `Module._extensions[".js"]`, whose wrapper is a frame
 * of every module's top level (a startup error's stack shows it, and keeps one program frame
 * fewer of V8's default 10).
 *
 * Node's `Module.prototype.load(filename)` (Node 20, 22, 24) sets `this.filename`, assigns
 * `this.paths = Module._nodeModulePaths(dirname)` (the module's node_modules lookup list),
 * runs the file (`Module._extensions[ext](this, filename)`) and then assigns
 * `this.loaded = true`; the ES module loader makes its CommonJS entries (an `import` of a
 * CommonJS package) the same way (filename, then paths from `_nodeModulePaths`) and they
 * finish through `load` or assign `loaded = true` themselves. No module has an own `paths`
 * before that assignment (the constructor sets none). So:
 * - `Module._nodeModulePaths` is wrapped: it returns before the file runs. For a directory
 *   `candidate` accepts (one a hooked file lives in), it arms an accessor `paths` on
 *   Module.prototype, which the assignment that follows calls with the module.
 * - The accessor's setter takes itself off the prototype, defines the own data property the
 *   assignment would have made (same attributes, same place in the key order, the same
 *   hidden class), and, for a file `wanted` accepts, makes that module's own `loaded` an
 *   accessor whose setter puts the data property back and hands `module.exports` over when
 *   the loader sets it to true, after the file ran.
 * None of these is on the stack while a file runs. A file that throws is never handed over
 * (as with the wrapper). Arming only for candidate directories keeps the common file at a
 * wrapper call and a few string tests: the setter's `Object.defineProperty` costs ~3 k
 * instructions (BENCHMARKS.md "Library files without a frame").
 *
 * What a program can see: `Module._nodeModulePaths` is scope's function (same name and
 * length); a watched library file's `module.loaded` is an accessor while that file runs; an
 * accessor `paths` on Module.prototype between a candidate directory's lookup and the
 * assignment (or, after a program's own call of `_nodeModulePaths` with such a directory,
 * until the next module's).
 *
 * `Module.prototype.load` is Node's JavaScript; the shape above is checked on its source and
 * the constructor's before anything is installed (Bun's node:module and any other loader:
 * false, the caller keeps its wrapper). The channel `module.require` (Node 22.14+/23.3+)
 * was not used: with a subscriber, Node runs every require through `traceSync`, three more
 * frames a level (its own, `runStores` and a closure) where it has none without one.
 */
import { renamed } from "../shared/reflect";

type Loaded = (filename: string, exports: unknown) => void;

interface ModuleLike {
  filename?: unknown;
  exports?: unknown;
}

interface ModuleClass {
  prototype?: unknown;
  _nodeModulePaths?: unknown;
}

/**
 * Installs the hooks when Node's loader has the shape above; false (nothing installed)
 * otherwise. `candidate`: whether a module in this directory may be one whose exports are
 * wanted (called with each directory Node computes lookup paths for, so cheap: string tests
 * first); `wanted`: whether this file's exports are handed over (called for candidates, before
 * the file runs); `loaded`: called with them after it ran.
 */
export function whenFilesLoaded(Module: unknown, candidate: (directory: string) => boolean, wanted: (filename: string) => boolean, loaded: Loaded): boolean {
  if (typeof Module !== "function") return false;
  const holder = Module as ModuleClass;
  const proto = holder.prototype;
  const original = holder._nodeModulePaths;
  if (proto === null || typeof proto !== "object" || typeof original !== "function" || !loaderFits(Module, proto)) return false;
  const above = Object.getPrototypeOf(proto) as object | null;
  // Made at the first candidate directory, not when installed: an object literal's maps are
  // made anew in each isolate (~6 K instructions a property), and most workers load no file
  // from a hooked directory (BENCHMARKS.md "Sixteenth look").
  let accessor: PropertyDescriptor | undefined;
  const makeAccessor = (): PropertyDescriptor => ({
    configurable: true,
    enumerable: false,
    get(this: object): unknown {
      return above === null ? undefined : Reflect.get(above, "paths", this);
    },
    set(this: object, value: unknown) {
      disarm();
      // The own property the assignment makes untraced.
      Object.defineProperty(this, "paths", { value, writable: true, enumerable: true, configurable: true });
      const filename = (this as ModuleLike).filename;
      if (typeof filename === "string" && wanted(filename)) watchLoaded(this as ModuleLike, filename, loaded);
    },
  });
  const disarm = () => {
    if (accessor !== undefined && Object.getOwnPropertyDescriptor(proto, "paths")?.set === accessor.set) Reflect.deleteProperty(proto, "paths");
  };
  holder._nodeModulePaths = renamed(original, function (this: unknown, from: unknown) {
    const result = Reflect.apply(original, this, arguments);
    // Armed for the assignment that follows (load, the ES module loader's CommonJS entries).
    if (typeof from === "string" && candidate(from) && Object.getOwnPropertyDescriptor(proto, "paths") === undefined) Object.defineProperty(proto, "paths", (accessor ??= makeAccessor()));
    return result;
  });
  return true;
}

/** Node's `load` assigns `paths` from `Module._nodeModulePaths`, runs the extension, then sets `loaded`; its constructor assigns no `paths`. */
function loaderFits(Module: object, proto: object): boolean {
  if (Object.getOwnPropertyDescriptor(proto, "paths") !== undefined) return false;
  const load = Object.getOwnPropertyDescriptor(proto, "load")?.value;
  if (typeof load !== "function") return false;
  const toText = Function.prototype.toString;
  const text = Reflect.apply(toText, load, []) as string;
  const paths = pathsAssignment(text);
  const run = paths < 0 ? -1 : text.indexOf("Module._extensions[", paths);
  const done = run < 0 ? -1 : text.indexOf("this.loaded = true", run);
  return done > 0 && !(Reflect.apply(toText, Module, []) as string).includes("paths");
}

/**
 * Where `load`'s source assigns `this.paths` from `Module._nodeModulePaths(` (`=`: Node 20,
 * `??=`: Node 22.12+, 24), -1 if it does not. Plain `indexOf`, not a regular expression: V8
 * compiles a regular expression at its first use in each isolate, ~90 K instructions of every
 * worker's start for this one test (BENCHMARKS.md "Sixteenth look").
 */
function pathsAssignment(text: string): number {
  for (const assignment of ["this.paths = Module._nodeModulePaths(", "this.paths ??= Module._nodeModulePaths("]) {
    const at = text.indexOf(assignment);
    // Not the end of a longer name (`xthis.paths`): a word boundary before it.
    if (at === 0 || (at > 0 && !isWordCode(text.charCodeAt(at - 1)))) return at;
  }
  return -1;
}

/** A letter, digit, `_` or `$` (a name goes on across it). */
function isWordCode(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 36;
}

/** The module's own `loaded` (false until the loader sets it) as an accessor until it is set to true. */
function watchLoaded(module: ModuleLike, filename: string, loaded: Loaded): void {
  const own = Object.getOwnPropertyDescriptor(module, "loaded");
  if (own === undefined || !("value" in own) || !own.writable || !own.configurable) return;
  const enumerable = own.enumerable;
  let value: unknown = own.value;
  Object.defineProperty(module, "loaded", {
    configurable: true,
    enumerable,
    get(): unknown {
      return value;
    },
    set(next: unknown) {
      if (next !== true) {
        value = next;
        return;
      }
      Object.defineProperty(module, "loaded", { value: next, writable: true, enumerable, configurable: true });
      loaded(filename, module.exports);
    },
  });
}
