#!/usr/bin/env bun
import { Builtins, Cli } from "clipanion";
import { VERSION } from "../version";
import { commands } from "./commands";

const cli = new Cli({
  binaryLabel: "scope",
  binaryName: "scope",
  binaryVersion: VERSION,
  enableCapture: false,
});
cli.register(Builtins.HelpCommand);
cli.register(Builtins.VersionCommand);
for (const command of commands) cli.register(command);

process.exitCode = await cli.run(process.argv.slice(2));
