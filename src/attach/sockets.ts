/**
 * The TCP sockets of a process, from /proc: which loopback ports it listens on (its
 * inspector, whichever port it got) and whether anything is connected to one (another
 * debugger). Sockets are told apart by inode: /proc/<pid>/fd links name `socket:[inode]`,
 * /proc/net/tcp{,6} lists each socket's addresses, state and inode.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface TcpSocket {
  localAddress: string;
  localPort: number;
  remotePort: number;
  state: "listen" | "established" | "other";
  inode: number;
}

const TCP_ESTABLISHED = "01";
const TCP_LISTEN = "0A";

/** Every TCP socket of the machine's network namespace (as this process sees it). */
export function tcpSockets(): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const [localHex, localPortHex] = fields[1]!.split(":") as [string, string];
      const remotePortHex = fields[2]!.split(":")[1]!;
      const state = fields[3] === TCP_LISTEN ? "listen" : fields[3] === TCP_ESTABLISHED ? "established" : "other";
      sockets.push({ localAddress: address(localHex), localPort: Number.parseInt(localPortHex, 16), remotePort: Number.parseInt(remotePortHex, 16), state, inode: Number(fields[9]) });
    }
  }
  return sockets;
}

/** 127.0.0.1 or ::1 for loopback, the hex as given otherwise (enough to tell loopback apart). */
function address(hex: string): string {
  if (hex === "0100007F") return "127.0.0.1";
  if (hex === "00000000000000000000000001000000") return "::1";
  return hex;
}

/** Inodes of the sockets `pid` holds open. */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(Number(match[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The loopback ports `pid` listens on. */
export function listeningPorts(pid: number): number[] {
  const inodes = socketInodes(pid);
  return tcpSockets()
    .filter((socket) => socket.state === "listen" && inodes.has(socket.inode) && (socket.localAddress === "127.0.0.1" || socket.localAddress === "::1"))
    .map((socket) => socket.localPort);
}

/** Whether some process listens on loopback `port`. */
export function portTaken(port: number): boolean {
  return tcpSockets().some((socket) => socket.state === "listen" && socket.localPort === port);
}

/** Connections `pid` accepted on its `port` (clients connected to it). */
export function acceptedConnections(pid: number, port: number): number {
  const inodes = socketInodes(pid);
  return tcpSockets().filter((socket) => socket.state === "established" && socket.localPort === port && inodes.has(socket.inode)).length;
}
