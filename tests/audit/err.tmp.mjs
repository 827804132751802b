import puppeteer from "puppeteer-core";
const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage();
page.on("console", (m) => console.log("console:", m.text().slice(0, 300)));
page.on("pageerror", (e) => console.log("pageerror:", String(e).slice(0, 300)));
const t0 = Date.now(); page.on("requestfailed", (r) => console.log("failed:", Date.now() - t0, r.url(), r.failure()?.errorText, r.resourceType()));
await page.goto(process.argv[2]);
await new Promise((r) => setTimeout(r, 3000));
await browser.close();
