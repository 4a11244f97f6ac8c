// Loaded into every Node.js program that runs with an environment of milab's (NODE_OPTIONS=--require:
// the operator's printed environment, every guest's, the page runner's JavaScript steps), as
// sitecustomize.py is into the Azure CLI: a socket may connect to a loopback address, or to a name
// the machine's /etc/hosts maps to one (inside a namespaced guest: the emulated hosts it names).
// A client that takes no proxy from the environment (@azure/cosmos connects to the account's host
// itself) and names an emulated host on port 443 is sent to the emulator's HTTPS for such clients
// (MILAB_HTTPS_BY_NAME, host:port; the TLS name and the Host header stay the account's). Any other
// host is refused before a DNS lookup: nothing leaves the machine.
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

const byName = (() => {
  const [, host, port] = /^(.+):(\d+)$/.exec(process.env.MILAB_HTTPS_BY_NAME || "") || [];
  return host && loopback(host.replace(/^\[|\]$/g, "")) ? { host: host.replace(/^\[|\]$/g, ""), port: Number(port) } : null;
})();
// "management.azure.com", "*.documents.azure.com" ...: a wildcard stands for one label
const emulated = (process.env.MILAB_EMULATED_HOSTS || "").split(",").map((p) => p.trim().toLowerCase()).filter(Boolean);
const isEmulated = (host) => emulated.some((pattern) => pattern.startsWith("*.")
  ? host.endsWith(pattern.slice(1)) && /^[^.]+$/.test(host.slice(0, host.length - pattern.length + 1))
  : host === pattern);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  // net.connect and tls.connect pass their normalised [options, callback]; a caller may pass
  // (options[, callback]), (port[, host][, callback]) or (path[, callback])
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = first !== null && typeof first === "object" ? first
    : typeof first === "string" && !/^\d+$/.test(first) ? { path: first }
    : { port: first, host: typeof args[1] === "string" ? args[1] : undefined };
  if (options.path) {
    return connect.apply(this, args);
  }
  const host = String(options.host || "localhost").toLowerCase().replace(/^\[|\]$/g, "");
  if (net.isIP(host) ? loopback(host) : names.has(host)) {
    return connect.apply(this, args);
  }
  if (byName && !net.isIP(host) && Number(options.port) === 443 && isEmulated(host)) {
    const callback = Array.isArray(args[0]) ? args[0][1] : args.find((a) => typeof a === "function");
    const routed = { ...options, host: byName.host, port: byName.port };
    return callback ? connect.call(this, routed, callback) : connect.call(this, routed);
  }
  const error = new Error(`milab: ${host} is not reachable from here: milab reaches emulated Azure through ` +
    `its proxy (HTTPS_PROXY), and this client connected without it`);
  error.code = "ECONNREFUSED";
  process.nextTick(() => this.destroy(error));
  return this;
};
