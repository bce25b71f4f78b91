// Reads the JSON reports mocha wrote for the client suites (see run).
//
//   node results.mjs count REPORT        one line of counts, then the failed tests' titles
//   node results.mjs compare NODE_REPORT... -- SESSIO_REPORT...
//                                        the tests that passed in a run against the Node
//                                        server but failed in one against sessio's
//                                        (exits 1 when there is one)
import { readFileSync } from "node:fs";

const read = (file) => JSON.parse(readFileSync(file, "utf8"));
const titles = (tests) => new Set(tests.map((test) => test.fullTitle));

const [mode, ...files] = process.argv.slice(2);
if (mode === "count" && files.length === 1) {
  const report = read(files[0]);
  const { passes, failures, pending } = report.stats;
  console.log(`${passes} passed, ${failures} failed, ${pending} skipped`);
  for (const title of titles(report.failures)) console.log(`    failed: ${title}`);
} else if (mode === "compare" && files.includes("--")) {
  const cut = files.indexOf("--");
  const reports = (list) => list.map(read);
  const passedOnNode = new Set(reports(files.slice(0, cut)).flatMap((r) => [...titles(r.passes)]));
  const missing = new Set();
  for (const report of reports(files.slice(cut + 1))) {
    const passed = titles(report.passes);
    for (const title of passedOnNode) if (!passed.has(title)) missing.add(title);
  }
  console.log(`${passedOnNode.size} tests passed against the Node server at least once; ` +
    `${missing.size} of them did not pass against sessio in every run`);
  for (const title of missing) console.log(`    not on sessio: ${title}`);
  process.exit(missing.size === 0 ? 0 : 1);
} else {
  console.error("usage: node results.mjs count REPORT | compare NODE_REPORT... -- SESSIO_REPORT...");
  process.exit(2);
}
