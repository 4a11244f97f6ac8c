// Loaded into every Node.js program the page runner runs (NODE_OPTIONS=--require): a socket may
// connect only to a loopback address, or to a name the machine's /etc/hosts maps to one. That is
// the emulator's proxy, and inside a namespaced guest the emulated hosts its /etc/hosts names.
// A client that takes no proxy from the environment (@azure/cosmos connects to the account's host
// itself) and names any other host is refused before a DNS lookup: nothing leaves the machine.
"use strict";
const fs = require("fs");
const net = require("net");

const loopback = (address) => /^127\./.test(address) || address === "::1" || /^::ffff:127\./i.test(address);
const names = new Set(["localhost"]);
try {
  for (const line of fs.readFileSync("/etc/hosts", "utf8").split("\n")) {
    const [address, ...hosts] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (address && loopback(address)) {
      for (const host of hosts) names.add(host.toLowerCase());
    }
  }
} catch {
  // no /etc/hosts: loopback addresses and localhost only
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  // net.connect and tls.connect pass their normalised [options, callback]; a caller may pass
  // (options[, callback]), (port[, host][, callback]) or (path[, callback])
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = first !== null && typeof first === "object" ? first
    : typeof first === "string" && !/^\d+$/.test(first) ? { path: first }
    : { host: typeof args[1] === "string" ? args[1] : undefined };
  if (!options.path) {
    const host = String(options.host || "localhost").toLowerCase().replace(/^\[|\]$/g, "");
    if (!(net.isIP(host) ? loopback(host) : names.has(host))) {
      const error = new Error(`milab: ${host} is not reachable from here: milab reaches emulated Azure through ` +
        `its proxy (HTTPS_PROXY), and this client connected without it`);
      error.code = "ECONNREFUSED";
      process.nextTick(() => this.destroy(error));
      return this;
    }
  }
  return connect.apply(this, args);
};
