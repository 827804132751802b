import puppeteer from "puppeteer-core";
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage();
const cdp = await page.createCDPSession();
await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
await cdp.send("Profiler.start");
await page.goto(process.argv[2]);
await page.waitForSelector(".console-work table", { timeout: 30000 });
await new Promise((r) => setTimeout(r, 300));
const { profile } = await cdp.send("Profiler.stop");
await browser.close();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (id) => { const n = byId.get(id); return (n.callFrame.functionName || n.callFrame.url.split("/").pop() || "(anon)").replace(/17h[0-9a-f]{16}E$/, "").slice(0, 110); };
let t = profile.startTime, seg = null; const segs = [];
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i] ?? 0;
  const idle = name(id) === "(idle)";
  if (!idle) { if (!seg || t - seg.end > 2000) { seg = { start: t, end: t, self: new Map(), stacks: new Map() }; segs.push(seg); } seg.end = t; const k = name(id); seg.self.set(k, (seg.self.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0));
    // inclusive: every allocation_console frame on the stack
    const seen = new Set(); let p = id; while (p) { const nm = name(p); if (/allocation_console|__component|Intl|fetch|json/i.test(nm) && !seen.has(nm)) { seen.add(nm); seg.stacks.set(nm, (seg.stacks.get(nm) ?? 0) + (profile.timeDeltas[i] ?? 0)); } p = parent.get(p); } }
});
for (const s of segs) { const d = (s.end - s.start) / 1000; if (d < 20) continue;
  console.log(`segment at ${((s.start - profile.startTime) / 1000) | 0} ms, ${d | 0} ms`);
  for (const [k, v] of [...s.stacks].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`   incl ${(v / 1000) | 0} ms ${k}`);
  for (const [k, v] of [...s.self].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`   self ${(v / 1000) | 0} ms ${k}`);
}
