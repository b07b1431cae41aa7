/**
 * A system call's error on a file (Node's "ENOTDIR: not a directory, mkdir '/x/y'") in words:
 * why it failed, "not a directory (ENOTDIR)"; undefined for an error without a code.
 */
export function systemReason(error: Error): string | undefined {
  const { code } = error as NodeJS.ErrnoException;
  if (typeof code !== "string") return undefined;
  const why = /^[A-Z0-9_]+: (.*?), \w+ '.*'$/.exec(error.message ?? "")?.[1] ?? code;
  return why === code ? code : `${why} (${code})`;
}

/**
 * The same said as what scope could not do, on which path, and why: "cannot open /x/y: no such
 * file or directory (ENOENT)"; undefined for any other error.
 */
export function systemError(error: Error): string | undefined {
  const { syscall, path } = error as NodeJS.ErrnoException;
  const reason = systemReason(error);
  if (reason === undefined || typeof syscall !== "string" || typeof path !== "string") return undefined;
  return `cannot ${syscall} ${path}: ${reason}`;
}
