import { describe, expect, test } from "bun:test";
import pkg from "../package.json" with { type: "json" };
import { runCli } from "./harness";

describe("cli", () => {
  test("--version prints the package version", async () => {
    expect(await runCli(["--version"])).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  test("an unknown command fails with a non-zero exit", async () => {
    const result = await runCli(["no-such-command"]);
    expect(result.exitCode).not.toBe(0);
  });
});
