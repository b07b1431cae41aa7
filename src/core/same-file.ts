/** Whether two paths name one file: writing to one would replace the other (merge's and export's output against their inputs). */
import { statSync } from "node:fs";
import { resolve } from "node:path";

/** The file at `path`, or undefined when there is none or it cannot be looked at (opening it will say why). */
function fileAt(path: string) {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** True when `a` and `b` are the same path, or the same file by another name (a symbolic or a hard link). */
export function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  const first = fileAt(a);
  const second = first && fileAt(b);
  return second !== undefined && first!.dev === second.dev && first!.ino === second.ino;
}
