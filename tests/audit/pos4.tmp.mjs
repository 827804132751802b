import puppeteer from "puppeteer-core";
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage();
await page.setViewport({width: 412, height: 823, deviceScaleFactor: 1.75, isMobile: true, hasTouch: true});
await page.evaluateOnNewDocument(() => {
  window.__pos = [];
  const orig = Element.prototype.getBoundingClientRect;
  Element.prototype.getBoundingClientRect = function () { const r = orig.call(this); if (this.classList?.contains("work-loading")) window.__pos.push(["check", Math.round(performance.now()), Math.round(r.top), innerHeight, document.body.scrollHeight]); return r; };
  const tick = () => { const p = document.querySelector(".work-loading"); if (p) window.__pos.push(["frame", Math.round(performance.now()), Math.round(orig.call(p).top), document.querySelectorAll(".pool-card").length]); if (performance.now() < 800) requestAnimationFrame(tick); }; requestAnimationFrame(tick); });
await page.goto(process.argv[2]);
await new Promise((r) => setTimeout(r, 1000));
for (const p of await page.evaluate(() => window.__pos)) console.log(JSON.stringify(p));
await browser.close();
