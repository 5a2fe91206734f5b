// The Criteria extension: .crit files get the TextMate grammar (package.json contributes it)
// and the language server, `criteria lsp`, started over stdio.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

const DEFAULT_COMMAND = ["criteria", "lsp"];
let client;

// How to start the server: the `criteria.server.command` setting (a program and its
// arguments). Over stdio the client adds `--stdio`, which `criteria lsp` accepts.
function serverOptions(configuration) {
  const command = configuration.get("server.command", DEFAULT_COMMAND);
  const [program, ...args] = Array.isArray(command) && command.length ? command : DEFAULT_COMMAND;
  return { command: program, args, transport: TransportKind.stdio };
}

function clientOptions() {
  return {
    documentSelector: [
      { scheme: "file", language: "criteria" },
      { scheme: "untitled", language: "criteria" },
    ],
  };
}

async function activate(context) {
  const configuration = vscode.workspace.getConfiguration("criteria");
  client = new LanguageClient(
    "criteria",
    "Criteria language server",
    serverOptions(configuration),
    clientOptions(),
  );
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `criteria lsp did not start (${error && error.message ? error.message : error}). ` +
        "Install criteria-lang with pip install 'criteria-lang[lsp]', or set " +
        "criteria.server.command to the criteria program of your virtual environment.",
    );
    return;
  }
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, serverOptions, clientOptions };
