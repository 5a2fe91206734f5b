// Runs without VS Code and without `npm install`: the vscode API and the language client are
// replaced by recording fakes, so `node --test test/` needs no network.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const test = require("node:test");

const root = path.resolve(__dirname, "..");
const calls = { clients: [], errors: [] };
let settings = {};
let failStart = false;

class FakeLanguageClient {
  constructor(id, name, server, options) {
    calls.clients.push({ id, name, server, options, started: false, stopped: false });
  }
  async start() {
    if (failStart) throw new Error("spawn criteria ENOENT");
    calls.clients.at(-1).started = true;
  }
  async stop() {
    calls.clients.at(-1).stopped = true;
  }
}

const fakes = {
  vscode: {
    workspace: { getConfiguration: () => ({ get: (key, fallback) => settings[key] ?? fallback }) },
    window: { showErrorMessage: (message) => calls.errors.push(message) },
  },
  "vscode-languageclient/node": {
    LanguageClient: FakeLanguageClient,
    TransportKind: { stdio: 0, ipc: 1 },
  },
};
const load = Module._load;
Module._load = function (request, parent, isMain) {
  return Object.hasOwn(fakes, request) ? fakes[request] : load.call(this, request, parent, isMain);
};
const extension = require(path.join(root, "extension.js"));

test("starts `criteria lsp` over stdio for criteria documents", async () => {
  const context = { subscriptions: [] };
  await extension.activate(context);
  const client = calls.clients.at(-1);
  assert.equal(client.id, "criteria");
  assert.deepEqual(client.server, { command: "criteria", args: ["lsp"], transport: 0 });
  assert.deepEqual(
    client.options.documentSelector.map((s) => s.language),
    ["criteria", "criteria"],
  );
  assert.ok(client.started);
  assert.equal(context.subscriptions.length, 1);
  await extension.deactivate();
  assert.ok(client.stopped);
});

test("the server command comes from the settings", async () => {
  settings = { "server.command": ["/venv/bin/criteria", "lsp"] };
  await extension.activate({ subscriptions: [] });
  assert.deepEqual(calls.clients.at(-1).server.command, "/venv/bin/criteria");
  settings = {};
});

test("a server that cannot start is reported with what to do", async () => {
  failStart = true;
  await extension.activate({ subscriptions: [] });
  failStart = false;
  assert.match(calls.errors.at(-1), /pip install 'criteria-lang\[lsp\]'/);
});

test("package.json contributes the language, its configuration and the grammar", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const [language] = manifest.contributes.languages;
  assert.deepEqual(language.extensions, [".crit"]);
  const [grammar] = manifest.contributes.grammars;
  const tm = JSON.parse(fs.readFileSync(path.join(root, grammar.path), "utf8"));
  assert.equal(tm.scopeName, grammar.scopeName);
  const configuration = JSON.parse(fs.readFileSync(path.join(root, language.configuration), "utf8"));
  assert.equal(configuration.comments.lineComment, "#");
  for (const file of manifest.files) assert.ok(fs.existsSync(path.join(root, file)), file);
  assert.equal(manifest.main, "./extension.js");
});

test("every pattern of the grammar compiles", () => {
  const tm = JSON.parse(
    fs.readFileSync(path.join(root, "syntaxes", "criteria.tmLanguage.json"), "utf8"),
  );
  for (const [name, rule] of Object.entries(tm.repository)) {
    for (const key of ["match", "begin", "end"]) {
      if (rule[key]) assert.doesNotThrow(() => new RegExp(rule[key], "u"), `${name}.${key}`);
    }
  }
});
