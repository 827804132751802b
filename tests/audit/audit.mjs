// Audits of the served console in Debian's Chromium: Lighthouse (default
// mobile profile, the median of seven runs) on the full console, and axe-core on every view in both
// themes and both languages. Usage: node audit.mjs BASE_URL [--lighthouse-only|--axe-only]
// Exits 1 when a Lighthouse category is under its minimum or axe finds a violation.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const base = process.argv[2];
if (!base) {
  console.error("usage: node audit.mjs BASE_URL");
  process.exit(2);
}
const only = process.argv[3] ?? "";
// Lighthouse's own advice for a score to act on: the median of several runs
// (one run's simulated timings move with whatever else the machine does).
const RUNS = 7;
const MINIMUM = { performance: 0.95, accessibility: 0.95, "best-practices": 0.95 };
const VIEWS = (process.env.AUDIT_VIEWS ?? "full,compact,kiosk").split(",");
// What every view shows once the first data is in.
const READY = ".pool-card";
// What the full view shows once its work area (form, table, Activity) is in,
// with the allocations made before the axe runs.
const WORK_AREA_READY = [".console-work table tbody tr", ".activity-list li"];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

let failed = false;
try {
  if (only !== "--axe-only") failed = (await lighthouseAudit()) || failed;
  if (only !== "--lighthouse-only") failed = (await axeAudits()) || failed;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

async function lighthouseAudit() {
  const results = [];
  for (let run = 0; run < RUNS; run++) {
    const page = await browser.newPage();
    const result = await lighthouse(
      `${base}/`,
      { output: "json", logLevel: "error", onlyCategories: Object.keys(MINIMUM) },
      undefined,
      page,
    );
    await page.close();
    results.push(result);
  }
  const performance = (r) => r.lhr.categories.performance.score;
  results.sort((a, b) => performance(a) - performance(b));
  console.log(`lighthouse performance of ${RUNS} runs: ${results.map(performance).join(", ")}`);
  const result = results[Math.floor(RUNS / 2)];
  let failed = false;
  for (const [id, minimum] of Object.entries(MINIMUM)) {
    const score = result.lhr.categories[id].score;
    const ok = score !== null && score >= minimum;
    console.log(`lighthouse ${id}: ${score} (minimum ${minimum})${ok ? "" : "  FAILED"}`);
    failed ||= !ok;
  }
  for (const audit of Object.values(result.lhr.audits)) {
    const metric = ["first-contentful-paint", "largest-contentful-paint", "cumulative-layout-shift", "total-blocking-time", "speed-index"];
    if (metric.includes(audit.id)) console.log(`  ${audit.id}: ${audit.displayValue}`);
    else if (audit.score !== null && audit.score < 0.9 && audit.scoreDisplayMode !== "informative") {
      console.log(`  below 0.9: ${audit.id} (${audit.score}) ${audit.title}`);
    }
  }
  return failed;
}

// Two allocations (one released), so the full view's table and Activity
// have rows for axe to check.
async function someActivity() {
  const post = (body, key) =>
    fetch(`${base}/api/v1/allocations`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
    }).then((response) => response.json());
  await post({ pool: "gpu-a100", amount: 2, owner: "alice", ttl_seconds: 3600 }, "audit-1");
  const second = await post({ pool: "ip-v4", amount: 1, owner: "bob" }, "audit-2");
  await fetch(`${base}/api/v1/allocations/${second.id}`, { method: "DELETE" });
}

async function axeAudits() {
  let failed = false;
  await someActivity();
  for (const view of VIEWS) {
    for (const theme of ["light", "dark"]) {
      for (const lang of ["en", "ko"]) {
        const page = await browser.newPage();
        const messages = [];
        page.on("console", (message) => {
          if (["error", "warn", "warning"].includes(message.type())) messages.push(message.text());
        });
        await page.goto(`${base}/?view=${view}&theme=${theme}&lang=${lang}`);
        await page.waitForSelector(READY, { timeout: 20000 });
        if (view === "full") {
          // The work area's chunk comes when it is on screen, else at the
          // reader's first scroll or key, or 8 s after the paint.
          await page.keyboard.press("Shift");
          for (const selector of WORK_AREA_READY) await page.waitForSelector(selector, { timeout: 20000 });
        }
        await page.evaluate(axeSource);
        const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
        const label = `axe ${view}/${theme}/${lang}`;
        if (results.violations.length === 0) {
          console.log(`${label}: no violations`);
        } else {
          failed = true;
          console.log(`${label}: ${results.violations.length} violation(s)  FAILED`);
          for (const violation of results.violations) {
            console.log(`  ${violation.id}: ${violation.help}`);
            for (const node of violation.nodes.slice(0, 3)) console.log(`    ${node.target.join(" ")}`);
          }
        }
        if (messages.length > 0) {
          failed = true;
          console.log(`${label}: browser console not clean  FAILED`);
          for (const text of messages) console.log(`  ${text}`);
        }
        await page.close();
      }
    }
  }
  return failed;
}
