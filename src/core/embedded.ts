/**
 * The artifacts embedded into the compiled `scope` executable. Imported only when
 * running compiled (see assets.ts): `bun build --compile` follows these imports and
 * puts the files into the executable's embedded file system. The compile step
 * (scripts/compile.ts) replaces the paths below with the files of the platform it
 * builds for (scripts/build.ts: these; scripts/release/release.ts: each npm platform's).
 */
import type { AssetName } from "./assets";
import addon from "../../zig-out/lib/scope.node" with { type: "file" };
import libscope from "../../zig-out/lib/libscope.so" with { type: "file" };
// oxc-parser's binding for the build platform, copied there by scripts/build.ts.
import oxcBinding from "../../dist/lib/oxc-parser.node" with { type: "file" };
import bunAgent from "../../dist/agent/bun.mjs" with { type: "file" };
import nodeAgent from "../../dist/agent/node.cjs" with { type: "file" };
import nodeAgentBundle from "../../dist/agent/node-bundle.cjs" with { type: "file" };
import nodeAgentExtras from "../../dist/agent/node-extras.cjs" with { type: "file" };
import nodeAgentWalk from "../../dist/agent/node-walk.cjs" with { type: "file" };
import esmLoader from "../../dist/agent/esm-loader.mjs" with { type: "file" };
import functionsAgent from "../../dist/agent/functions.cjs" with { type: "file" };
import attachAgent from "../../dist/agent/attach.cjs" with { type: "file" };

export const embedded = { libscope, addon, oxcBinding, nodeAgent, nodeAgentBundle, nodeAgentExtras, nodeAgentWalk, bunAgent, esmLoader, functionsAgent, attachAgent } satisfies Record<AssetName, string>;
