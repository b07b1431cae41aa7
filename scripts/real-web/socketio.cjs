// socket.io 4, a server and three clients (websocket transport; POLLING=1: long-polling) in one
// program: rooms, acks, N broadcasts to each of two rooms, a disconnect, the counts printed.
const { Server } = require('socket.io');
const { io } = require('socket.io-client');
const http = require('node:http');

(async () => {
  const httpServer = http.createServer();
  const ioServer = new Server(httpServer);
  const log = [];
  ioServer.on('connection', (socket) => {
    socket.on('join', (room, ack) => { socket.join(room); ack({ joined: room }); });
    socket.on('say', (room, text) => { ioServer.to(room).emit('said', { from: socket.handshake.auth.name, text }); });
    socket.on('disconnect', (reason) => log.push(`server saw ${socket.handshake.auth.name} leave: ${reason}`));
  });
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  const transports = process.env.POLLING ? ['polling'] : ['websocket'];
  const clients = ['ann', 'bob', 'cid'].map((name) => io(url, { auth: { name }, transports, forceNew: true }));
  await Promise.all(clients.map((c) => new Promise((r) => c.on('connect', r))));
  const got = clients.map(() => []);
  clients.forEach((c, i) => c.on('said', (m) => got[i].push(`${m.from}:${m.text}`)));
  for (const [i, c] of clients.entries()) log.push(JSON.stringify(await c.emitWithAck('join', i < 2 ? 'red' : 'blue')));
  const N = Number(process.env.N ?? 5);
  for (let k = 0; k < N; k++) { clients[0].emit('say', 'red', `hi ${k}`); clients[2].emit('say', 'blue', `yo ${k}`); }
  await new Promise((r) => { const t = setInterval(() => { if (got[1].length === N && got[2].length === N) { clearInterval(t); r(); } }, 5); });
  clients[1].disconnect();
  await new Promise((r) => setTimeout(r, 50));
  log.push(...got.map((g, i) => `${i}: ${g.length} ${g.slice(0, 2).join(',')}`));
  for (const c of clients) c.disconnect();
  await new Promise((r) => setTimeout(r, 50));
  ioServer.close();
  console.log(log.join('\n'));
})();
