/**
 * NestJS (helper auditnest): a controller method's run as a step of its own, named after the
 * controller and the method ("CatsController.findOne"), inside the step the platform (Express
 * or Fastify) made for Nest's route handler, failed with what Nest's pipeline threw (a guard's
 * ForbiddenException, a pipe's BadRequestException, the method's own HttpException or Error),
 * which Nest's exception filters then answer without the platform seeing an error.
 *
 * Nest publishes nothing. Every route of a controller gets its handler from RouterExplorer's
 * `createCallbackProxy(instance, callback, methodName, …)` (@nestjs/core/router/router-explorer.js;
 * a request-scoped controller's at each request), which hands RouterProxy's `createProxy
 * (targetCallback, exceptionsHandler)` (router-proxy.js) the function that runs the guards,
 * interceptors, pipes and the method (Nest's execution context). While createCallbackProxy
 * runs, createProxy is given that function in a wrapper that runs it as a step: seen by Nest's
 * proxy alone (the platform and the program get the proxy Nest made, as before). Nest's
 * not-found handler (RoutesResolver's `registerNotFoundHandler`, router/routes-resolver.js)
 * gets the same through createProxy: a `middleware` step named NotFoundHandler, failed with
 * its NotFoundException.
 */
import { renamed } from "../shared/reflect";
import { assignPatch } from "../shared/patches";
import { makeStamp } from "../shared/stamp";
import type { Frameworks } from "./frameworks";

/** Whether `filename` is @nestjs/core's RouterExplorer, RouterProxy or RoutesResolver. */
export function isNestRouterFile(filename: string): boolean {
  return /[\\/]@nestjs[\\/]core[\\/]router[\\/](?:router-(?:explorer|proxy)|routes-resolver)\.js$/.test(filename);
}

/** The name of the step of Nest's not-found handler (a function of Nest's, `callback`, made in RoutesResolver's registerNotFoundHandler). */
const NOT_FOUND = "NotFoundHandler";

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** The step name createCallbackProxy (registerNotFoundHandler) is making a proxy for (set during its call), else undefined. */
let naming: string | undefined;

export function hookNest(frameworks: Frameworks, filename: string, exports: unknown, patched: WeakSet<object>): void {
  if (filename.endsWith("explorer.js")) return hookExplorer((exports as { RouterExplorer?: unknown } | null)?.RouterExplorer, patched);
  if (filename.endsWith("resolver.js")) return hookResolver((exports as { RoutesResolver?: unknown } | null)?.RoutesResolver, patched);
  hookProxy(frameworks, (exports as { RouterProxy?: unknown } | null)?.RouterProxy, patched);
}

function protoOf(cls: unknown, method: string, patched: WeakSet<object>): Record<string, unknown> | undefined {
  const proto = typeof cls === "function" ? (cls.prototype as Record<string, unknown> | undefined) : undefined;
  if (proto === undefined || proto === null || patched.has(proto) || typeof proto[method] !== "function") return undefined;
  patched.add(proto);
  return proto;
}

/** The controller's class name and the method's: what the step is named. */
function stepName(instance: unknown, methodName: unknown): string {
  let className = "";
  try {
    const ctor = instance !== null && typeof instance === "object" ? (instance as { constructor?: { name?: unknown } }).constructor : undefined;
    if (typeof ctor?.name === "string") className = ctor.name;
  } catch {
    // A getter of the program's: unnamed.
  }
  const method = typeof methodName === "string" && methodName !== "" ? methodName : "<anonymous>";
  return className !== "" ? `${className}.${method}` : method;
}

function hookExplorer(cls: unknown, patched: WeakSet<object>): void {
  nameWhileCalling(cls, "createCallbackProxy", patched, (instance, _callback, methodName) => stepName(instance, methodName));
}

/** Nest's not-found handler: a `middleware` step named NOT_FOUND, failed with the NotFoundException it throws ("Cannot GET /x"). */
function hookResolver(cls: unknown, patched: WeakSet<object>): void {
  nameWhileCalling(cls, "registerNotFoundHandler", patched, () => NOT_FOUND);
}

/** `cls.prototype[method]` wrapped: `naming` is what `nameOf` says of its arguments while it runs (undefined if that throws). */
function nameWhileCalling(cls: unknown, method: string, patched: WeakSet<object>, nameOf: (...args: unknown[]) => string): void {
  const proto = protoOf(cls, method, patched);
  if (proto === undefined) return;
  const original = proto[method] as Fn;
  assignPatch(
    proto,
    method,
    renamed(original, function (this: unknown) {
      const outer = naming;
      try {
        naming = nameOf(...arguments);
      } catch {
        naming = undefined;
      }
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        naming = outer;
      }
    }),
  );
}

function hookProxy(frameworks: Frameworks, cls: unknown, patched: WeakSet<object>): void {
  const proto = protoOf(cls, "createProxy", patched);
  if (proto === undefined) return;
  const recorder = frameworks.recorder;
  const original = proto.createProxy as Fn;
  assignPatch(
    proto,
    "createProxy",
    renamed(original, function createProxy(this: unknown, targetCallback: unknown, exceptionsHandler: unknown) {
      const name = naming;
      if (name === undefined || typeof targetCallback !== "function" || exceptionsHandler === null || typeof exceptionsHandler !== "object" || recorder.groups.http !== true) return Reflect.apply(original, this, arguments);
      // Once: a nested createProxy (none in Nest 11) is not the controller's.
      naming = undefined;
      let step: Fn | undefined;
      let handler: object | undefined;
      recorder.safe(() => {
        step = controllerStep(frameworks, recorder.str(name), name === NOT_FOUND ? "middleware" : "handler", targetCallback as Fn);
        handler = failingHandler(frameworks, exceptionsHandler as { next?: unknown });
      });
      if (step === undefined || handler === undefined) return Reflect.apply(original, this, arguments);
      const args = Array.prototype.slice.call(arguments);
      args[0] = step;
      args[1] = handler;
      return Reflect.apply(original, this, args);
    }),
  );
}

/** A request's open Nest step (its IncomingMessage → the step), until its failure or its end. */
const openSteps = makeStamp<object | undefined>();

/**
 * The wrapper Nest's proxy calls in place of its execution context: `(req, res, next)` on
 * Express, `(request, reply)` on Fastify (whose `raw` is the IncomingMessage and the
 * ServerResponse the steps key on). The step begins here and is left open: no reaction on the
 * promise Nest's proxy awaits (a second reaction would end the async stack trace of an error
 * made in the pipeline there: Nest's logger prints a 500's, `at async …/router-proxy.js`). It
 * fails in the exceptions handler's `next` (failingHandler), else ends with the response
 * (Express) or the handler's step (Fastify).
 */
function controllerStep(frameworks: Frameworks, nameId: number, kind: "handler" | "middleware", target: Fn): Fn {
  const recorder = frameworks.recorder;
  return function (this: unknown, req: unknown, res: unknown) {
    const incoming = rawOf(req);
    if (incoming !== null && typeof incoming === "object") {
      recorder.safe(() => {
        const step = frameworks.openStep(incoming, incoming === req ? res : rawOf(res), nameId, kind);
        if (step !== undefined) openSteps.set(incoming, step);
      });
    }
    return Reflect.apply(target, this, arguments);
  };
}

/**
 * The exceptions handler Nest's proxy calls when its pipeline threw: an object whose prototype
 * is Nest's, with its own `next(exception, host)` that fails the request's open step (the host's
 * first argument is the request) and calls Nest's `next` on Nest's object, as the proxy would.
 */
function failingHandler(frameworks: Frameworks, exceptionsHandler: { next?: unknown }): object | undefined {
  const next = exceptionsHandler.next;
  if (typeof next !== "function") return undefined;
  const recorder = frameworks.recorder;
  const own = renamed(next, function (this: unknown, exception: unknown, host: unknown) {
    recorder.safe(() => {
      const getArgs = (host as { getArgs?: unknown } | null)?.getArgs;
      const args = typeof getArgs === "function" ? (Reflect.apply(getArgs, host, []) as unknown[]) : undefined;
      const incoming = Array.isArray(args) ? rawOf(args[0]) : undefined;
      if (incoming === null || typeof incoming !== "object") return;
      const step = openSteps.get(incoming);
      if (step === undefined) return;
      openSteps.set(incoming, undefined);
      frameworks.failStep(step, exception);
    });
    return Reflect.apply(next as Fn, exceptionsHandler, arguments);
  });
  return Object.create(exceptionsHandler, { next: { value: own, writable: true, enumerable: false, configurable: true } }) as object;
}

/** Fastify's request or reply: its Node object (`raw`); an IncomingMessage or a ServerResponse as it is. */
function rawOf(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const raw = (value as { raw?: unknown }).raw;
  return raw !== null && typeof raw === "object" ? raw : value;
}
