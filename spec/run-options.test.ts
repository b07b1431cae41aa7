/** `scope run` option parsing: --events lists, +/- changes to the default groups, sizes, and their errors. */
import { describe, expect, test } from "bun:test";
import { defaultEventGroups, eventGroups, parseEventGroups, parseSize } from "../src/run/options";

describe("--events", () => {
  test("a list names every group recorded; all is every group", () => {
    expect(parseEventGroups("message,http")).toEqual(["message", "http"]);
    expect(parseEventGroups(" db , db ")).toEqual(["db"]);
    expect(parseEventGroups("all")).toEqual([...eventGroups]);
  });

  test("+group and -group change the defaults, in the groups' own order", () => {
    expect(defaultEventGroups).toContain("http");
    expect(parseEventGroups("+loop,+memory")).toEqual([...defaultEventGroups, "loop", "memory"]);
    expect(parseEventGroups("-http,-db")).toEqual(defaultEventGroups.filter((group) => group !== "http" && group !== "db"));
    expect(parseEventGroups("-http,+loop")).toEqual([...defaultEventGroups.filter((group) => group !== "http"), "loop"]);
    expect(parseEventGroups("-all,+db")).toEqual(["db"]);
  });

  test("an unknown group, an empty list and a mixed list are errors that say what is wrong", () => {
    expect(parseEventGroups("+loop,+heap")).toEqual({ error: expect.stringContaining('unknown group "heap"') });
    expect(parseEventGroups("-htp")).toEqual({ error: expect.stringContaining('unknown group "htp"') });
    expect(parseEventGroups(",")).toEqual({ error: expect.stringContaining("expected a group") });
    expect(parseEventGroups("message,+loop")).toEqual({ error: expect.stringContaining("mixes groups with +/- changes") });
  });
});

describe("sizes (--max-size, --ring-size, --flight-memory)", () => {
  test("binary units up to TiB, any case, with or without B; malformed or zero is undefined", () => {
    expect(parseSize("96KiB")).toBe(96 * 1024);
    expect(parseSize("16m")).toBe(16 * 1024 ** 2);
    expect(parseSize("2GiB")).toBe(2 * 1024 ** 3);
    expect(parseSize("1TiB")).toBe(1024 ** 4);
    expect(parseSize("3tb")).toBe(3 * 1024 ** 4);
    for (const bad of ["", "0", "1.5MiB", "12 parsecs", "-4k", "1PiB"]) expect(parseSize(bad)).toBeUndefined();
  });
});
