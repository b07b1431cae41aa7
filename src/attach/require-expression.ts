/**
 * `require` in an inspector evaluation's context, as an expression: the command line API's
 * (CommonJS and ES module mains), else one made from process. Shared by scope's side
 * (inspector.ts, session.ts) and the agent in the target (agent.ts, for workers started
 * while attached), so it has no imports.
 */
export const REQUIRE_EXPRESSION = `(typeof require === "function" ? require : process.getBuiltinModule("node:module").createRequire(process.cwd() + "/"))`;
