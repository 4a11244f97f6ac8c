// milab's Azurite launcher: runs the pinned azurite-blob (its own CLI entry, its own options)
// and lets the emulator replace the accounts and keys it knows without a restart.
//
// Azurite reads AZURITE_ACCOUNTS from its environment when its account store initialises and
// every minute after. This launcher keeps a reference to the store; a JSON line on stdin,
// {"seq": N, "accounts": "name:key1:key2;..."}, sets the variable and refreshes the store at
// once, then "milab-accounts N" is printed. So one Azurite serves every emulated account,
// accounts appear when ARM creates them and regenerated keys apply immediately.
"use strict";
const path = require("path");
const readline = require("readline");

const root = process.env.MILAB_AZURITE_ROOT;  // .../node_modules/azurite
const AccountDataStore = require(path.join(root, "dist/src/common/AccountDataStore")).default;
const stores = [];
const init = AccountDataStore.prototype.init;
AccountDataStore.prototype.init = function (...args) {
  stores.push(this);
  return init.apply(this, args);
};

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    process.stdout.write(`milab-accounts-error ${e.message}\n`);
    return;
  }
  process.env.AZURITE_ACCOUNTS = msg.accounts;
  for (const store of stores) store.refresh();
  process.stdout.write(`milab-accounts ${msg.seq}\n`);
});

require(path.join(root, "dist/src/blob/main.js"));
