import puppeteer from "puppeteer-core";
import { readFileSync } from "node:fs";
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage();
await page.tracing.start({ path: "/tmp/lh/trace.json", categories: ["devtools.timeline", "v8", "v8.wasm", "blink", "loading", "disabled-by-default-devtools.timeline"] });
await page.goto(process.argv[2]);
await page.waitForSelector(".pool-card", { timeout: 30000 });
await new Promise((r) => setTimeout(r, 300));
await page.tracing.stop();
await browser.close();
const ev = JSON.parse(readFileSync("/tmp/lh/trace.json")).traceEvents;
const nav = ev.find((e) => e.name === "navigationStart" || e.name === "NavigationStartToBegin") ?? ev.find(e=>e.name==="TracingStartedInBrowser");
const threads = new Map(ev.filter(e => e.name === "thread_name").map(e => [e.pid + ":" + e.tid, e.args.name]));
const mainKey = [...threads].find(([k, v]) => v === "CrRendererMain" && ev.some(e => e.pid + ":" + e.tid === k && e.name === "ParseHTML"))[0];
const t0 = ev.filter(e => e.pid + ":" + e.tid === mainKey && e.name === "ParseHTML")[0].ts;
const mine = ev.filter(e => e.pid + ":" + e.tid === mainKey && e.ph === "X" && e.dur >= 1000);
for (const e of mine.sort((a, b) => a.ts - b.ts)) {
  const depth = mine.filter(o => o !== e && o.ts <= e.ts && o.ts + o.dur >= e.ts + e.dur).length;
  if (depth > 3) continue;
  console.log(`${" ".repeat(depth * 2)}${((e.ts - t0) / 1000).toFixed(1)} +${(e.dur / 1000).toFixed(1)} ${e.name} ${JSON.stringify(e.args?.data?.url ?? e.args?.data?.functionName ?? e.args?.data?.type ?? "").slice(-40)}`);
}
// wasm events on any thread
for (const e of ev.filter(e => /wasm/i.test(e.cat) && e.ph === "X" && e.dur > 2000)) console.log("wasm", threads.get(e.pid+":"+e.tid), ((e.ts - t0)/1000).toFixed(1), "+" + (e.dur/1000).toFixed(1), e.name);
