import puppeteer from "puppeteer-core";
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
for (let i = 0; i < 3; i++) {
const page = await browser.newPage();
await page.setViewport({width: 412, height: 823, deviceScaleFactor: 1.75, isMobile: true});
await page.evaluateOnNewDocument(() => {
  window.__lcp = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__lcp.push([Math.round(e.startTime), e.size, e.element?.outerHTML?.slice(0, 40)]); }).observe({ type: "largest-contentful-paint", buffered: true });
  new MutationObserver(() => { if (!window.__card && document.querySelector(".pool-card")) window.__card = performance.now(); if (!window.__notify && document.querySelector(".usage-panel button, .notify-toggle")) window.__notify = performance.now(); }).observe(document, {subtree: true, childList: true});
});
await page.goto(process.argv[2]);
await page.waitForSelector(".console-work form", { timeout: 30000 });
await new Promise((r) => setTimeout(r, 500));
console.log(await page.evaluate(() => JSON.stringify({lcp: window.__lcp, card: window.__card|0, notify: window.__notify|0, res: performance.getEntriesByType("resource").map(r => [r.name.slice(-28), r.startTime|0, r.responseEnd|0])})));
await page.close();
}
await browser.close();
