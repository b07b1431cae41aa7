/**
 * GraphQL operations (graphql-js 16, what Apollo Server, GraphQL Yoga, Mercurius and
 * graphql-http execute with): the operation a request ran, its type and name (`query GetCat`,
 * the span name OpenTelemetry's GraphQL conventions give it), as the request's route
 * (`http_route`, framework `graphql`), and each error the execution met (a resolver's throw
 * or rejection, which GraphQL answers with 200 and an `errors` list) as an `http_error` of the
 * request: its type and "path: message" (`book.title: not found`).
 *
 * graphql-js 16 publishes nothing. No function of scope's is on the stack while a resolver
 * runs: a wrapper of `execute` would be, and an error a resolver makes before its first await
 * would carry its frame in its `stack`, which Apollo Server (outside production) and others
 * put in the response (`extensions.stacktrace`). So two functions are wrapped that graphql's
 * executor calls across modules (through the module's exports, which a wrapper replaces) and
 * that return before any resolver runs or after the error was made:
 * - `collectFields(schema, fragments, variableValues, rootType, selectionSet)`
 *   (execution/collectFields.js): called once an execution, for its operation's root
 *   selection set, before the first resolver (also by the subscription rule of validation,
 *   for the same operation). The operation's type and name are read from the tokens before
 *   the selection set (its `loc`, which graphql's parser keeps unless told `noLocation`),
 *   once per selection set (a WeakMap: servers cache their parsed documents); without `loc`
 *   the type alone (the root type's), as for an anonymous operation.
 * - `locatedError(error, nodes, path)` (error/locatedError.js): what the executor makes of a
 *   field's error, called after the resolver threw or rejected; its result is the program's
 *   as before. A value thrown that is no Error is made one inside it (graphql's own
 *   `Unexpected error value`), whose stack then holds the wrapper's frame.
 * Both write only inside a request (the running request context), so a script's or a test's
 * executions cost a look-up each.
 */
import { Kind } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";
import { assignPatch } from "../shared/patches";
import { callerOf, protoData, renamed } from "../shared/reflect";
import { currentRequest } from "../shared/request-context";

/** Whether `filename` is graphql-js's collectFields or locatedError (CommonJS build). */
export function isGraphqlFile(filename: string): boolean {
  return /[\\/]graphql[\\/](?:execution[\\/]collectFields|error[\\/]locatedError)\.js$/.test(filename);
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

interface Token {
  kind?: unknown;
  value?: unknown;
  prev?: Token | null;
  next?: Token | null;
}

/** The wrappers made (a function of graphql's already wrapped is not wrapped again). */
const wrappers = new WeakSet<object>();

/** The operation (`query GetCat`, `mutation`) of each root selection set seen. */
const operations = new WeakMap<object, string>();

/**
 * The operation a root selection set belongs to, from the tokens before it: back to the
 * document's start or the end of the definition before (a `}` outside brackets), skipping
 * what is inside brackets (variable definitions, directive arguments); the first token there
 * is the operation's keyword (none: `{ … }`, an anonymous query) and a name after it is its
 * name. Undefined when the parser kept no tokens.
 */
function operationFromTokens(selectionSet: { loc?: { startToken?: Token } | null }): string | undefined {
  const open = selectionSet.loc?.startToken;
  if (open === null || typeof open !== "object" || open.kind !== "{") return undefined;
  let first: Token = open;
  let depth = 0;
  let steps = 0;
  for (let token = open.prev; token !== null && token !== undefined && steps < 4096; token = token.prev, steps++) {
    const kind = token.kind;
    if (kind === "<SOF>") break;
    if (kind === "Comment") continue;
    if (kind === ")" || kind === "]" || kind === "}") {
      if (depth === 0 && kind === "}") break;
      depth++;
    } else if (kind === "(" || kind === "[" || kind === "{") depth--;
    if (depth === 0) first = token;
  }
  if (first === open) return "query";
  const keyword = first.value;
  if (first.kind !== "Name" || (keyword !== "query" && keyword !== "mutation" && keyword !== "subscription")) return undefined;
  let next = first.next;
  while (next !== null && next !== undefined && next.kind === "Comment") next = next.next;
  return next?.kind === "Name" && typeof next.value === "string" ? `${keyword} ${next.value}` : keyword;
}

/** The operation type of a root type, by the schema's root types (no `loc`). */
function operationType(schema: unknown, rootType: unknown): string {
  const s = schema as { getMutationType?: unknown; getSubscriptionType?: unknown } | null;
  if (s !== null && typeof s === "object") {
    if (typeof s.getMutationType === "function" && Reflect.apply(s.getMutationType, s, []) === rootType) return "mutation";
    if (typeof s.getSubscriptionType === "function" && Reflect.apply(s.getSubscriptionType, s, []) === rootType) return "subscription";
  }
  return "query";
}

export class GraphqlHooks {
  private frameworkId = 0;
  /** The request and route written last: validation's subscription rule and the execution name the same operation. */
  private lastRequest = 0;
  private lastRoute = 0;

  constructor(private readonly recorder: Recorder) {}

  /** collectFields.js or locatedError.js ran: its function wrapped (the CommonJS build's exports, or the ES build's bindings). */
  hook(exports: unknown): void {
    if (exports === null || typeof exports !== "object") return;
    const holder = exports as Record<string, unknown>;
    if (typeof holder.collectFields === "function") this.hookCollectFields(holder);
    if (typeof holder.locatedError === "function") this.hookLocatedError(holder);
  }

  private hookCollectFields(holder: Record<string, unknown>): void {
    const original = holder.collectFields as Fn;
    if (wrappers.has(original)) return;
    const call = callerOf(original);
    const hooks = this;
    const recorder = this.recorder;
    const wrapper = renamed(original, function collectFields(this: unknown, schema: unknown, fragments: unknown, variableValues: unknown, rootType: unknown, selectionSet: unknown) {
      const request = currentRequest();
      if (request !== 0 && recorder.groups.http === true) recorder.safe(() => hooks.onOperation(request, schema, rootType, selectionSet));
      if (arguments.length === 5) return call(this, schema, fragments, variableValues, rootType, selectionSet);
      return Reflect.apply(original, this, arguments);
    });
    wrappers.add(wrapper);
    assignPatch(holder, "collectFields", wrapper);
  }

  private hookLocatedError(holder: Record<string, unknown>): void {
    const original = holder.locatedError as Fn;
    if (wrappers.has(original)) return;
    const call = callerOf(original);
    const hooks = this;
    const recorder = this.recorder;
    const wrapper = renamed(original, function locatedError(this: unknown, rawError: unknown, nodes: unknown, path: unknown) {
      const located = arguments.length === 3 ? call(this, rawError, nodes, path) : Reflect.apply(original, this, arguments);
      const request = currentRequest();
      if (request !== 0 && recorder.groups.http === true) recorder.safe(() => hooks.onError(request, rawError, located, path));
      return located;
    });
    wrappers.add(wrapper);
    assignPatch(holder, "locatedError", wrapper);
  }

  onOperation(request: number, schema: unknown, rootType: unknown, selectionSet: unknown): void {
    if (selectionSet === null || typeof selectionSet !== "object") return;
    let route = operations.get(selectionSet);
    if (route === undefined) {
      route = operationFromTokens(selectionSet as { loc?: { startToken?: Token } | null }) ?? operationType(schema, rootType);
      operations.set(selectionSet, route);
    }
    const recorder = this.recorder;
    const routeId = recorder.str(route);
    if (request === this.lastRequest && routeId === this.lastRoute) return;
    this.lastRequest = request;
    this.lastRoute = routeId;
    if (this.frameworkId === 0) this.frameworkId = recorder.str("graphql");
    recorder.event(Kind.http_route, request, routeId, this.frameworkId);
  }

  /** An error the execution met: its type (the original error's name) and "path: message". */
  onError(request: number, rawError: unknown, located: unknown, path: unknown): void {
    const error = rawError !== null && typeof rawError === "object" ? rawError : located;
    let type = "Error";
    let message: string | undefined;
    if (error !== null && typeof error === "object") {
      const name = protoData(error, "name");
      const text = protoData(error, "message");
      if (typeof name === "string") type = name;
      if (typeof text === "string") message = text;
    } else type = typeof rawError;
    let at = Array.isArray(path) ? path : undefined;
    if (at === undefined && located !== null && typeof located === "object") {
      const own = protoData(located, "path");
      if (Array.isArray(own)) at = own;
    }
    const where = at !== undefined && at.length > 0 ? at.join(".") : "";
    const recorder = this.recorder;
    const text = where === "" ? message : `${where}: ${message ?? ""}`;
    recorder.event(Kind.http_error, request, recorder.str(type), recorder.message(text, false));
  }
}
