import puppeteer from "puppeteer-core";
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage();
await page.setViewport({width: 412, height: 823, deviceScaleFactor: 1.75, isMobile: true, hasTouch: true});
await page.evaluateOnNewDocument(() => { window.__pos = []; const tick = () => { const p = document.querySelector(".work-loading, .console-work"); const c = document.querySelector(".pool-card"); if (p) window.__pos.push([Math.round(performance.now()), Math.round(p.getBoundingClientRect().top), Math.round(c.getBoundingClientRect().height), document.querySelector(".sparkline-caption")?.textContent.length, !!document.querySelector(".pool-forecast")]); if (performance.now() < 1500) requestAnimationFrame(tick); }; requestAnimationFrame(tick); });
await page.goto(process.argv[2]);
await new Promise((r) => setTimeout(r, 1600));
const pos = await page.evaluate(() => window.__pos);
let last = ""; for (const p of pos) { const k = JSON.stringify(p.slice(1)); if (k !== last) console.log(JSON.stringify(p)); last = k; }
await browser.close();
