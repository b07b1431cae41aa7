/** `1 process`, `2 processes`: a count and its noun for the lines people read. `many` defaults to `one` + "s". */
export function counted(count: number | bigint, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 || count === 1n ? one : many}`;
}
