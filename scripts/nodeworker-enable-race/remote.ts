// Connects to the inspector of a node on 127.0.0.1:argv[2] and sends NodeWorker.enable and
// NodeWorker.disable again and again (1 ms apart) for argv[3] ms, as scope attach does over its
// own connection (src/attach/workers-running.ts); says whether the process lived.
const list = (await (await fetch(`http://127.0.0.1:${process.argv[2]}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
const socket = new WebSocket(list[0]!.webSocketDebuggerUrl);
await new Promise((resolve) => socket.addEventListener("open", resolve));
let nextId = 0;
let enables = 0;
let reports = 0;
let closed = false;
const pending = new Map<number, () => void>();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(String(event.data)) as { id?: number; method?: string };
  if (message.id !== undefined) pending.get(message.id)?.();
  else if (message.method === "NodeWorker.attachedToWorker") reports++;
});
socket.addEventListener("close", () => {
  closed = true;
  for (const resolve of pending.values()) resolve();
});
const send = (method: string, params: object = {}) =>
  new Promise<void>((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
const end = Date.now() + Number(process.argv[3]);
while (Date.now() < end && !closed) {
  await send("NodeWorker.enable", { waitForDebuggerOnStart: false });
  await send("NodeWorker.disable");
  enables++;
  await Bun.sleep(1);
}
console.log(closed ? `CLOSED (the process died?) after ${enables} enables, ${reports} workers reported` : `alive after ${enables} enables, ${reports} workers reported`);
socket.close();
process.exit(0);

export {};
