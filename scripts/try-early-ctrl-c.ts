/**
 * A terminal's Ctrl-C `delay` ms after the program's last line, as the program ends by itself
 * leaving a node that outlives a Ctrl-C (spec/fixtures/descendants/stubborn.cjs): does it stop
 * scope run's wait (--linger 20s)? Prints how long scope ran after the Ctrl-C, and what the
 * terminal showed. Under `script -qfec`, as spec/descendants.test.ts's terminal cases.
 * BENCHMARKS.md "Processes that start late or never record".
 *
 *   bun scripts/try-early-ctrl-c.ts <scope executable> <delay ms> [linger=20s]
 */
import { join } from "node:path";

const [scopeBin, delay, linger] = [process.argv[2]!, Number(process.argv[3]), process.argv[4] ?? "20s"];
const dir = join(import.meta.dir, "../spec/fixtures/descendants");
const out = `/tmp/scope-early-ctrl-c-${process.pid}.bin`;
const command = `exec '${scopeBin}' run --linger ${linger} --out ${out} -- sh -c 'node stubborn.cjs 8000 & sleep 0.7; echo bye'`;
const child = Bun.spawn(["script", "-qfec", command, "/dev/null"], { cwd: dir, stdin: "pipe", stdout: "pipe", env: { ...process.env, NO_COLOR: "1" } });
let text = "";
const reading = (async () => {
  for await (const chunk of child.stdout) text += new TextDecoder().decode(chunk);
})();
const deadline = Date.now() + 20_000;
while (!text.includes("bye") && Date.now() < deadline) await Bun.sleep(2);
await Bun.sleep(delay);
const sent = performance.now();
child.stdin.write("\x03");
await child.stdin.flush();
const ended = await Promise.race([child.exited, Bun.sleep(15_000).then(() => "still running")]);
if (ended === "still running") child.kill("SIGKILL");
await reading;
console.log(`delay ${delay} ms: status ${ended} ${Math.round(performance.now() - sent)} ms after the Ctrl-C\n${text.replace(/\r/g, "")}`);
const pid = /ready (\d+)/.exec(text)?.[1];
if (pid) process.kill(Number(pid), "SIGKILL");
await Bun.file(out).delete().catch(() => {});
