// milab's Azurite launcher: runs the pinned azurite-blob (its own CLI entry, its own options)
// with the few changes the emulator needs, all internals of the pinned Azurite 3.37.0 (check
// them when upgrading):
//
// * Accounts and keys without a restart. Azurite reads AZURITE_ACCOUNTS when its account store
//   initialises and every minute after; the launcher keeps a reference to the store, and a JSON
//   line on stdin, {"seq": N, "accounts": "name:key1:key2;..."}, sets the variable and refreshes
//   the store at once.
// * Durable writes. Azurite keeps blob and extent metadata in LokiJS databases saved every 5 s,
//   so a crash loses up to 5 s of acknowledged writes. {"seq": N, "flush": true} saves every
//   database now (LokiJS writes a temporary file and renames it); the gateway sends it after
//   each acknowledged write and answers the client when the save is done.
// * Credentials are verified when present. Azurite's public-access authenticator runs first and
//   lets any request read a public container, whatever its Authorization header or SAS says;
//   here it applies only to requests that carry neither, so a bad signature fails as on Azure.
// * Copy sources are authorized by the gateway (for the caller, as Azure does), which rewrites
//   x-ms-copy-source to a source this Azurite serves; Azurite's own check would fetch the
//   caller's URL over the network, so it is replaced by nothing.
// * User delegation keys are derived from a secret seed (MILAB_UDK_SEED) instead of Azurite's
//   published constant, so a user-delegation SAS cannot be forged from the public source.
// * Put Blob From URL (not implemented by Azurite) and Put Block From URL (whose Azurite version
//   trusts only its own leaf certificate, not the emulator's CA): the source is read over this
//   server's own loopback socket, with its SAS, and stored with Put Blob / Put Block, Put Blob
//   From URL copying the source's content properties unless x-ms-copy-source-blob-properties is
//   false.
// * A source the gateway authorized for the caller but that carries no SAS of its own (same
//   account under Shared Key, or OAuth) is read with the short-lived SAS the gateway puts in
//   x-milab-copy-source-sas (a header outside Shared Key's string to sign, which the gateway
//   strips from every client request), for Put Block From URL and Put Blob From URL.
// * A second, plain-HTTP listener on loopback for the gateway (the gateway terminates the client's
//   TLS; re-encrypting each request to the engine on the same machine only costs CPU). It serves
//   the same request listener; "milab-plain-port N" is printed when it listens. A request on it
//   has the protocol the gateway states in x-milab-forwarded-proto (the client's), so a SAS with
//   spr=https keeps working; clients reach Azurite only through the gateway or on its HTTPS port.
//
// Every stdin message is acknowledged with "milab-ack N" on stdout.
"use strict";
const fs = require("fs");
const https = require("https");
const http = require("http");
const path = require("path");
const readline = require("readline");

const root = process.env.MILAB_AZURITE_ROOT;  // .../node_modules/azurite
const dist = (p) => require(path.join(root, "dist/src", p));

const stores = [];
const AccountDataStore = dist("common/AccountDataStore").default;
const accountInit = AccountDataStore.prototype.init;
AccountDataStore.prototype.init = function (...args) {
  stores.push(this);
  return accountInit.apply(this, args);
};

const databases = [];
for (const mod of ["blob/persistence/LokiBlobMetadataStore", "common/persistence/LokiExtentMetadataStore"]) {
  const Store = dist(mod).default;
  const init = Store.prototype.init;
  Store.prototype.init = function (...args) {
    databases.push(this);
    return init.apply(this, args);
  };
}

function flush() {
  return Promise.all(databases.filter((s) => s.db).map((s) => new Promise((resolve) => {
    s.db.saveDatabase((err) => {
      if (err) process.stdout.write(`milab-flush-error ${err}\n`);
      resolve();
    });
  })));
}

const PublicAccessAuthenticator = dist("blob/authentication/PublicAccessAuthenticator").default;
const publicValidate = PublicAccessAuthenticator.prototype.validate;
PublicAccessAuthenticator.prototype.validate = async function (req, context) {
  if (req.getHeader("authorization") !== undefined || req.getQuery("sig") !== undefined) {
    return undefined;  // a credential is present: it must verify on its own
  }
  return publicValidate.call(this, req, context);
};

const BlobHandler = dist("blob/handlers/BlobHandler").default;
BlobHandler.prototype.validateCopySource = async function () {};

if (process.env.MILAB_UDK_SEED) {
  dist("blob/utils/constants").USERDELEGATIONKEY_SIGNING_SEED = process.env.MILAB_UDK_SEED;
}

const BlockBlobHandler = dist("blob/handlers/BlockBlobHandler").default;
const BlobStorageContext = dist("blob/context/BlobStorageContext").default;
const StorageErrorFactory = dist("blob/errors/StorageErrorFactory").default;
const caBundle = process.env.MILAB_AZURITE_CA ? fs.readFileSync(process.env.MILAB_AZURITE_CA) : undefined;

function fetchSource(socket, url, headers) {
  const secure = "encrypted" in socket;
  const options = {
    host: socket.localAddress || "127.0.0.1", port: socket.localPort, method: "GET",
    path: url.pathname + url.search, headers: { ...headers, host: url.host, "accept-encoding": "identity" },
  };
  if (secure) Object.assign(options, { ca: caBundle, servername: url.hostname });
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(options, resolve);
    request.on("error", reject);
    request.end();
  });
}

function withGatewaySas(blobCtx, source) {
  const sas = blobCtx.request.getHeader("x-milab-copy-source-sas");
  if (!sas) return source;
  return source + (source.includes("?") ? "&" : "?") + sas;
}

// Read a copy source over this server's own loopback socket (the source's SAS, or the gateway's,
// is checked there like any request); answers the source response or throws Storage's error.
async function readSource(blobCtx, copySource, options, context, range) {
  let url;
  try {
    url = new URL(withGatewaySas(blobCtx, copySource));
  } catch {
    throw StorageErrorFactory.getInvalidHeaderValue(context.contextId, {
      HeaderName: "x-ms-copy-source", HeaderValue: copySource,
    });
  }
  const raw = blobCtx.request.getBodyStream();
  if (!raw || !raw.socket || raw.socket.localPort === undefined) {
    throw StorageErrorFactory.getCannotVerifyCopySource(context.contextId, 404, "The specified resource does not exist");
  }
  const conditions = options.sourceModifiedAccessConditions || {};
  const headers = {};
  if (range !== undefined) headers.range = range;
  if (conditions.sourceIfMatch !== undefined) headers["if-match"] = conditions.sourceIfMatch;
  if (conditions.sourceIfNoneMatch !== undefined) headers["if-none-match"] = conditions.sourceIfNoneMatch;
  if (conditions.sourceIfModifiedSince !== undefined) {
    headers["if-modified-since"] = new Date(conditions.sourceIfModifiedSince).toUTCString();
  }
  if (conditions.sourceIfUnmodifiedSince !== undefined) {
    headers["if-unmodified-since"] = new Date(conditions.sourceIfUnmodifiedSince).toUTCString();
  }
  let source;
  try {
    source = await fetchSource(raw.socket, url, headers);
  } catch (err) {
    throw StorageErrorFactory.getCannotVerifyCopySource(context.contextId, 500, "Could not verify the copy source within the specified time.");
  }
  if (source.statusCode === 304 || source.statusCode === 412) {
    source.destroy();
    throw StorageErrorFactory.getSourceConditionNotMet(context.contextId);
  }
  if (source.statusCode !== 200 && source.statusCode !== 206) {
    source.destroy();
    throw StorageErrorFactory.getCannotVerifyCopySource(context.contextId, source.statusCode,
      source.statusCode === 404 ? "The specified resource does not exist" : "Could not verify the copy source within the specified time.");
  }
  return source;
}

function noBody(contentLength, context) {
  if (contentLength !== 0) {
    throw StorageErrorFactory.getInvalidHeaderValue(context.contextId, {
      HeaderName: "Content-Length", HeaderValue: `${contentLength}`,
    });
  }
}

// Put Block From URL: Azurite's own fetches its source trusting only its leaf certificate, which
// fails under the emulator's CA; this one reads the source like Put Blob From URL and stages it.
BlockBlobHandler.prototype.stageBlockFromURL = async function (blockId, contentLength, sourceUrl, options, context) {
  const blobCtx = new BlobStorageContext(context);
  noBody(contentLength, context);
  const source = await readSource(blobCtx, sourceUrl, options, context, options.sourceRange);
  const length = parseInt(source.headers["content-length"] || "0", 10);
  const staged = { leaseAccessConditions: options.leaseAccessConditions, transactionalContentMD5: undefined };
  return this.stageBlock(blockId, length, source, staged, context);
};

BlockBlobHandler.prototype.putBlobFromUrl = async function (contentLength, copySource, options, context) {
  const blobCtx = new BlobStorageContext(context);
  noBody(contentLength, context);
  const source = await readSource(blobCtx, copySource, options, context, undefined);
  const given = options.blobHTTPHeaders || {};
  const fromSource = options.copySourceBlobProperties === false ? {} : {
    blobContentType: source.headers["content-type"],
    blobContentEncoding: source.headers["content-encoding"],
    blobContentLanguage: source.headers["content-language"],
    blobContentDisposition: source.headers["content-disposition"],
    blobCacheControl: source.headers["cache-control"],
  };
  const merged = { ...fromSource };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) merged[k] = v;
  const length = parseInt(source.headers["content-length"] || "0", 10);
  return this.upload(source, length, { ...options, blobHTTPHeaders: merged }, context);
};

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    process.stdout.write(`milab-error ${e.message}\n`);
    return;
  }
  if (typeof msg.accounts === "string") {
    process.env.AZURITE_ACCOUNTS = msg.accounts;
    for (const store of stores) store.refresh();
  }
  if (msg.flush) await flush();
  process.stdout.write(`milab-ack ${msg.seq}\n`);
});

const ExpressRequestAdapter = dist("blob/generated/ExpressRequestAdapter").default;
ExpressRequestAdapter.prototype.getProtocol = function () {
  const stated = this.req.headers["x-milab-forwarded-proto"];
  if (stated === "http" || stated === "https") return stated;
  return "https";  // the HTTPS port, or the gateway on the plain port without saying otherwise
};

const createSecure = https.createServer;
https.createServer = function (...args) {
  const secure = createSecure.apply(this, args);
  secure.once("listening", () => {
    const plain = http.createServer();
    for (const listener of secure.listeners("request")) plain.on("request", listener);
    plain.keepAliveTimeout = 60000;
    plain.listen(0, "127.0.0.1", () => process.stdout.write(`milab-plain-port ${plain.address().port}\n`));
    // Azurite's shutdown (SIGTERM, SIGINT) closes only its own servers: close this one with them, or
    // its listening socket keeps Node running until the emulator gives up and kills it
    secure.once("close", () => {
      plain.close();
      plain.closeAllConnections();
    });
  });
  return secure;
};

require(path.join(root, "dist/src/blob/main.js"));
