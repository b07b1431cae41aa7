/**
 * A system call's error on a file (Node's "ENOENT: no such file or directory, open '/x/y'")
 * said as what scope could not do, on which path, and why: "cannot open /x/y: no such file
 * or directory (ENOENT)"; undefined for any other error.
 */
export function systemError(error: Error): string | undefined {
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (typeof code !== "string" || typeof syscall !== "string" || typeof path !== "string") return undefined;
  const why = /^[A-Z0-9_]+: (.*?), \w+ '.*'$/.exec(error.message ?? "")?.[1] ?? code;
  return `cannot ${syscall} ${path}: ${why} (${code})`;
}
