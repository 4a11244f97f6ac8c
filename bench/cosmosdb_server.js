// The reference for bench/cosmos.py: @vercel/cosmosdb-server (pinned in infra/package.json) on
// loopback with the emulator's certificate, keep-alive on (its default closes every connection,
// which would measure TLS handshakes instead of the server). Prints the port once listening.
const fs = require("fs");
const { createHttpsServer } = require("@vercel/cosmosdb-server");
const [cert, key] = process.argv.slice(2);
const server = createHttpsServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), keepAlive: true });
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
