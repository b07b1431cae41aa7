/**
 * A CommonJS file's exports once it ran, without a function of scope's on the stack of its
 * top level (Node's loader): the library hand-over of the agent's core (lazy.ts
 * hookLibraryFiles) without wrapping `Module._extensions[".js"]`, whose wrapper is a frame
 * of every module's top level (a startup error's stack shows it, and keeps one program frame
 * fewer of V8's default 10).
 *
 * Node's `Module.prototype.load(filename)` (Node 20, 22, 24) sets `this.filename`, then
 * assigns `this.paths` (the module's node_modules lookup list), runs the file
 * (`Module._extensions[ext](this, filename)`) and then assigns `this.loaded = true`. No
 * module has an own `paths` before that assignment (the constructor sets none), so an
 * accessor `paths` on Module.prototype is called once per file, with the module and its
 * filename, before the file runs, and returns before it does: its setter defines the own data
 * property the assignment would have made (same attributes, same place in the key order) and,
 * for a file `wanted` accepts, makes that module's own `loaded` an accessor whose setter puts
 * the data property back and hands `module.exports` over when the loader sets it to true,
 * after the file ran. Neither is on the stack while the file runs.
 * The ES module loader's CommonJS entries (an `import` of a CommonJS package) are made by
 * the same constructor with `filename` then `paths` assigned, and finish through `load` (or
 * assign `loaded = true` themselves): handed over the same way. A file that throws is never
 * handed over (as with the wrapper).
 *
 * What a program can see: Module.prototype has an accessor `paths` (reading it on a module
 * without its own gives what the prototype chain above gives, undefined), and a watched
 * library file's `module.loaded` is an accessor while that file runs. A program that assigns
 * `Module.prototype.paths` replaces the accessor, as untraced, and files load unwatched from
 * then on.
 *
 * `Module.prototype.load` is Node's JavaScript; the shape above is checked on its source and
 * the constructor's before the accessor goes in (Bun's node:module and any other loader:
 * false, the caller keeps its wrapper).
 */

type Loaded = (filename: string, exports: unknown) => void;

interface ModuleLike {
  filename?: unknown;
  exports?: unknown;
}

/**
 * Installs the accessor when Node's loader has the shape above; false (nothing installed)
 * otherwise. `wanted`: whether a file's exports are handed over (called once per file
 * loaded, before it runs); `loaded`: called with them after it ran.
 */
export function whenFilesLoaded(Module: unknown, wanted: (filename: string) => boolean, loaded: Loaded): boolean {
  if (typeof Module !== "function") return false;
  const proto = (Module as { prototype?: unknown }).prototype;
  if (proto === null || typeof proto !== "object" || !loaderFits(Module, proto)) return false;
  const above = Object.getPrototypeOf(proto) as object | null;
  return Reflect.defineProperty(proto, "paths", {
    configurable: true,
    enumerable: false,
    get(this: object): unknown {
      return above === null ? undefined : Reflect.get(above, "paths", this);
    },
    set(this: object, value: unknown) {
      // The own property the assignment makes untraced.
      Object.defineProperty(this, "paths", { value, writable: true, enumerable: true, configurable: true });
      const filename = (this as ModuleLike).filename;
      if (typeof filename === "string" && wanted(filename)) watchLoaded(this as ModuleLike, filename, loaded);
    },
  });
}

/** Node's `load` assigns `paths`, runs the extension, then sets `loaded`; its constructor assigns no `paths`. */
function loaderFits(Module: object, proto: object): boolean {
  if (Object.getOwnPropertyDescriptor(proto, "paths") !== undefined) return false;
  const load = Object.getOwnPropertyDescriptor(proto, "load")?.value;
  if (typeof load !== "function") return false;
  const toText = Function.prototype.toString;
  const text = Reflect.apply(toText, load, []) as string;
  const paths = text.search(/\bthis\.paths \?{0,2}= /);
  const run = paths < 0 ? -1 : text.indexOf("Module._extensions[", paths);
  const done = run < 0 ? -1 : text.indexOf("this.loaded = true", run);
  return done > 0 && !(Reflect.apply(toText, Module, []) as string).includes("paths");
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
