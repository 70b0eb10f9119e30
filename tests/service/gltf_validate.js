// Runs the Khronos glTF validator (npm package gltf-validator) over the GLB files named on the
// command line and prints one JSON object per file: its path and the validator's issue counts
// and messages. Used by tests/service/test_tileset.py.
"use strict";
const fs = require("fs");
const path = require("path");
const validator = require(path.join(__dirname, "..", "..", "node_modules", "gltf-validator"));

async function main(files) {
  for (const file of files) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), { uri: file });
    const issues = report.issues;
    console.log(JSON.stringify({
      file,
      version: report.validatorVersion,
      numErrors: issues.numErrors,
      numWarnings: issues.numWarnings,
      numInfos: issues.numInfos,
      messages: issues.messages,
    }));
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(String(error));
  process.exit(1);
});
