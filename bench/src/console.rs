//! Console performance bench: the release console (`dist/`) served by the real
//! reference server (in-process, temp database, 127.0.0.1 only), measured in
//! headless Chromium through ChromeDriver. Prints a table; see
//! `docs/benchmarks.md` ("Console performance").
//!
//! Run: `trunk build --release && cargo run --release -p allocation-bench --bin console-bench`.
//! Every loop is bounded; every wait has a limit; it stops by itself.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocation_server::{app, PoolSpec, ServeOptions, ServerConfig};
use allocation_testkit::{console_dist, rand_key, Browser, Connection, Served};
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};
use clap::Parser;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{json, Value};

/// Page loads per "time to first data" figure.
const LOADS: usize = 7;
/// Rows created for the big-table figures.
const BULK_ROWS: usize = 10_000;
/// Concurrent API clients while creating them.
const BULK_CLIENTS: usize = 16;
/// Polls in the simulated day (one a minute); `--polls N` changes it.
const DAY_POLLS: usize = 1_440;
/// The most `--polls` may ask for (ten days).
const MAX_POLLS: u64 = 14_400;
/// Memory is sampled every this many polls.
const SAMPLE_EVERY: usize = 240;
/// The data changes on every this many polls.
const CHANGE_EVERY: usize = 10;
/// The longest any in-page wait may take (ms).
const PAGE_WAIT_MS: u64 = 20_000;

/// Helpers put in front of every in-page script.
const JS_HELPERS: &str = r#"
const found = (xpath) => document.evaluate(xpath, document, null,
    XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue !== null;
// Resolves with performance.now() once the frame after `test()` first holds
// has been painted (rAF, then a task after it), or -1 past `limit` ms.
const waitUntil = (test, limit) => new Promise((resolve) => {
  const painted = () => requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0));
  if (test()) { painted(); return; }
  const observer = new MutationObserver(() => {
    if (test()) { observer.disconnect(); clearTimeout(timer); painted(); }
  });
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  const timer = setTimeout(() => { observer.disconnect(); resolve(-1); }, limit);
});
const refreshButton = () => [...document.querySelectorAll('button')]
    .find((b) => b.textContent.trim() === 'Refresh');
// A poll's list step (is_list_step on the server's side).
const isListStep = (e) => { const url = new URL(e.name);
  return url.pathname.endsWith('/allocations')
    || (url.pathname.endsWith('/events') && url.searchParams.get('limit') === '1000'); };
const done = arguments[arguments.length - 1];
"#;

/// A pool card with its figures.
const FIRST_DATA: &str = "//article[contains(@class,'pool-card')]//span[@class='pool-allocated']";

/// The first page of the 10,000-row table and its pager ("1 / 100 · …").
const TABLE_READY: &str =
    "/html/body[count(.//table[contains(@class,'allocations-table')]/tbody/tr)=100]\
     [.//nav[contains(@class,'pager')]/span[contains(., '/ 100 ')]]";

/// Installed in every new document before any of its own scripts (CDP
/// `Page.addScriptToEvaluateOnNewDocument`): notes when each watched XPath
/// first matches (`dom`) and when the frame showing it has been painted
/// (`painted`: rAF, then a task), in ms since navigation start.
const WATCHER_JS: &str = r#"(() => {
  const targets = [['first-data', FIRST_DATA], ['table', TABLE_READY]];
  const seen = (window.__benchSeen = {});
  const found = (xpath) => document.evaluate(xpath, document, null,
      XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue !== null;
  const check = () => {
    for (const [name, xpath] of targets) {
      if (!(name in seen) && found(xpath)) {
        const mark = (seen[name] = { dom: performance.now() });
        requestAnimationFrame(() => setTimeout(() => { mark.painted = performance.now(); }, 0));
      }
    }
    if (targets.every(([name]) => name in seen)) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  setTimeout(() => observer.disconnect(), 30000);
})();"#;

/// The baseline: a hand-written page that fetches usage and shows the pools.
const BASELINE_HTML: &str = r#"<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>Baseline</title></head>
  <body>
    <main id="baseline"><p>Loading…</p></main>
    <script src="./baseline.js"></script>
  </body>
</html>
"#;
const BASELINE_JS: &str = r#"fetch('/api/v1/usage', { headers: { Accept: 'application/json' } })
  .then((response) => response.json())
  .then((usage) => {
    const main = document.getElementById('baseline');
    main.textContent = '';
    for (const pool of usage.pools) {
      const card = document.createElement('article');
      card.className = 'pool-card';
      const name = document.createElement('h3');
      name.textContent = pool.name;
      const figures = document.createElement('span');
      figures.className = 'pool-allocated';
      figures.textContent = pool.allocated + ' / ' + pool.capacity;
      card.append(name, figures);
      main.append(card);
    }
  });
"#;

/// The console's speed and memory in headless Chromium.
#[derive(Parser)]
#[command(name = "console-bench")]
struct Options {
    /// Refresh clicks in the simulated day.
    #[arg(long, default_value_t = DAY_POLLS as u64,
          value_parser = clap::value_parser!(u64).range(1..=MAX_POLLS))]
    polls: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let polls = Options::parse().polls as usize;
    let dist = console_dist().unwrap_or_else(|error| {
        eprintln!("console-bench: {error}");
        std::process::exit(2);
    });
    let started = Instant::now();
    let site = tempfile::tempdir().expect("a temp dir");
    copy_dir(&dist, site.path());
    std::fs::write(site.path().join("baseline.html"), BASELINE_HTML).unwrap();
    std::fs::write(site.path().join("baseline.js"), BASELINE_JS).unwrap();

    let server = Server::start(site.path().to_path_buf()).await;
    let browser = Page::start().await;
    browser.install_watcher().await;
    let mut table = Table::default();
    let console = format!("{}?lang=en&interval=3600&theme=light", server.base);

    // 1. Time to first data, the console and the baseline page, each load a
    // first visit; one more throttled first visit of the console for its
    // request waterfall.
    let waterfall = first_data(&server, &console, &mut table).await;

    // 2. Update time with the demo data: a change through the API, then Refresh.
    eprintln!("[2/4] update time, small data");
    browser.client.goto(&console).await.unwrap();
    browser.wait_xpath(FIRST_DATA).await;
    let (cards, rows) = update_times(&server, &browser, 10, 0).await;
    table.add("update, 0-1 rows: Refresh -> card figure", &cards, "ms", "");
    table.add(
        "update, 0-1 rows: Refresh -> table row count",
        &rows,
        "ms",
        "",
    );

    // 3. 10,000 rows: create them, load the page, sort, update.
    let bulk_secs = ten_thousand_rows(&server, &browser, &console, &mut table).await;

    let wire = wire_bytes(&server, &browser, BULK_ROWS as u64).await;

    // 4. A simulated day: 1,440 polls, the data changing on every 10th.
    eprintln!("[4/4] {polls} polls with {BULK_ROWS} rows");
    browser.client.goto(&console).await.unwrap();
    browser.wait_xpath(TABLE_READY).await;
    let day = simulate_day(&server, &browser, polls).await;

    // Control: the same in-page scripts, without the clicks (no polls), to
    // tell the harness's own cost in the JS heap from the console's.
    eprintln!("      control: {polls} in-page scripts without a click");
    let control = control(&browser, polls).await;

    let total = started.elapsed().as_secs_f64();
    browser.client.clone().close().await.ok();

    Report {
        table,
        bulk_secs,
        waterfall,
        wire,
        day,
        control,
        total,
    }
    .print();
}

/// Time to first data of the console and the baseline page, as a first
/// visit really is: every load in a new browser with a new profile (no HTTP
/// cache, no compiled wasm or JS cached), interleaved, on loopback and on a
/// throttled network. Returns the waterfall of one more throttled console
/// load.
async fn first_data(server: &Server, console: &str, table: &mut Table) -> Vec<String> {
    let pages = [
        ("console", console.to_owned()),
        ("baseline JS page", format!("{}baseline.html", server.base)),
    ];
    for profile in [Network::Loopback, Network::Throttled] {
        eprintln!(
            "[1/4] time to first data, {} ({LOADS} first visits each, interleaved)",
            profile.name()
        );
        let mut times = [Vec::new(), Vec::new()];
        for _ in 0..LOADS {
            for ((_, url), times) in pages.iter().zip(&mut times) {
                let (seen, _) = first_visit(url, profile, false).await;
                times.push(seen);
            }
        }
        for ((label, _), times) in pages.iter().zip(&times) {
            table.add(
                &format!("time to first data, {}: {label}", profile.name()),
                times,
                "ms since navigation start",
                "first visit: new profile",
            );
        }
    }
    first_visit(console, Network::Throttled, true).await.1
}

/// One load of `url` in a new browser (a new, empty profile): when the
/// first data was painted, and the request waterfall if asked for.
async fn first_visit(url: &str, network: Network, waterfall: bool) -> (f64, Vec<String>) {
    let page = Page::start().await;
    page.install_watcher().await;
    page.emulate(network).await;
    page.client.goto(url).await.unwrap();
    let seen = page.seen("first-data").await;
    let rows = if waterfall {
        page.waterfall().await
    } else {
        Vec::new()
    };
    page.0.close().await;
    (seen, rows)
}

/// The 10,000 rows: created through the API, then the page's loads, sorts
/// and updates with them, into `table`. Returns how long the creation took.
async fn ten_thousand_rows(
    server: &Server,
    browser: &Page,
    console: &str,
    table: &mut Table,
) -> f64 {
    eprintln!("[3/4] creating {BULK_ROWS} allocations");
    let bulk_started = Instant::now();
    server.create_bulk(BULK_ROWS).await;
    let bulk_secs = bulk_started.elapsed().as_secs_f64();
    eprintln!(
        "      {BULK_ROWS} POSTs in {bulk_secs:.1} s ({:.0}/s, {BULK_CLIENTS} clients)",
        BULK_ROWS as f64 / bulk_secs
    );
    let mut loads = Vec::new();
    for _ in 0..5 {
        browser.client.goto(console).await.unwrap();
        loads.push(browser.seen("table").await);
    }
    table.add(
        "10,000 rows: load -> first page + pager",
        &loads,
        "ms since navigation start",
        "",
    );
    let sorts = sort_times(browser).await;
    table.add(
        "10,000 rows: sort click -> first row changes",
        &sorts,
        "ms",
        "ID asc, ID desc, Owner asc, Owner desc, twice",
    );
    let (cards, rows) = update_times(server, browser, 10, BULK_ROWS as u64).await;
    table.add(
        "update, 10,000 rows: Refresh -> card figure",
        &cards,
        "ms",
        "usage shown as it arrives",
    );
    table.add(
        "update, 10,000 rows: Refresh -> table row count",
        &rows,
        "ms",
        "then the whole changed list (10,001 rows)",
    );
    bulk_secs
}

/// What the bench prints, gathered as it runs.
struct Report {
    table: Table,
    bulk_secs: f64,
    waterfall: Vec<String>,
    wire: Vec<String>,
    day: Day,
    /// Memory before and after the control run.
    control: (Sample, Sample),
    total: f64,
}

impl Report {
    fn print(&self) {
        println!();
        println!("Console performance (release dist/, headless Chromium, 127.0.0.1)");
        println!();
        self.table.print();
        println!();
        println!(
            "Creating {BULK_ROWS} allocations through the API: {:.1} s ({BULK_CLIENTS} clients).",
            self.bulk_secs
        );
        println!();
        println!(
            "Request waterfall of one first visit of the console, throttled (ms since navigation \
             start; bytes: the body as sent), until the work area's chunk is in:"
        );
        println!();
        println!("| request | start | end | bytes |");
        println!("| --- | ---: | ---: | ---: |");
        for line in &self.waterfall {
            println!("{line}");
        }
        println!();
        for line in &self.wire {
            println!("{line}");
        }
        println!();
        self.day.print();
        println!();
        println!(
            "Control (same page, then {} of the same in-page scripts without the click, so no polls): \
             JS heap used {:.2} MB -> {:.2} MB, DOM elements {} -> {}",
            self.control.1.polls,
            self.control.0.heap / 1e6,
            self.control.1.heap / 1e6,
            self.control.0.dom,
            self.control.1.dom
        );
        println!();
        println!("Total bench time: {:.0} s", self.total);
    }
}

/// Clicks each column's sort button in turn (ID, ID, Owner, Owner, twice)
/// and times, in the page, until the table's first row changes.
async fn sort_times(browser: &Page) -> Vec<f64> {
    let mut sorts = Vec::new();
    for column in ["ID", "ID", "Owner", "Owner", "ID", "ID", "Owner", "Owner"] {
        let result = browser
            .script(
                "const first = () => { const th = document.querySelector(
                     'table.allocations-table tbody tr th'); return th ? th.textContent : null; };
                 const before = first();
                 const button = [...document.querySelectorAll('th button.sort-button')]
                     .find((b) => b.textContent.trim().startsWith(arguments[0]));
                 const t0 = performance.now();
                 button.click();
                 waitUntil(() => first() !== before, arguments[1])
                     .then((t) => done({ ms: t < 0 ? -1 : t - t0, before, after: first() }));",
                vec![json!(column), json!(5_000)],
            )
            .await;
        let ms = result["ms"].as_f64().unwrap_or(-1.0);
        if ms >= 0.0 {
            sorts.push(ms);
        } else {
            eprintln!("      sort by {column}: first row did not change ({result})");
        }
    }
    sorts
}

/// Clicks Refresh after a change through the API (two GPUs allocated or
/// released) and times, in the page, until the card shows the new figure and
/// until the table's pager shows the new row count (`base_rows` before the
/// change). Returns both series.
async fn update_times(
    server: &Server,
    browser: &Page,
    rounds: usize,
    base_rows: u64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut card_times, mut table_times) = (Vec::new(), Vec::new());
    let mut held: Option<String> = None;
    for _ in 0..rounds {
        match held.take() {
            Some(id) => server.release(&id).await,
            None => held = Some(server.allocate("gpu-a100", 2, "bench-update").await),
        }
        let (gpus, rows) = if held.is_some() {
            (2, base_rows + 1)
        } else {
            (0, base_rows)
        };
        let result = browser
            .script(
                "const t0 = performance.now();
                 refreshButton().click();
                 waitUntil(() => found(arguments[0]), arguments[2]).then((card) =>
                   waitUntil(() => found(arguments[1]), arguments[2]).then((table) =>
                     done({ card: card < 0 ? -1 : card - t0, table: table < 0 ? -1 : table - t0 })));",
                vec![json!(gpu_card(gpus)), json!(pager_rows(rows)), json!(PAGE_WAIT_MS)],
            )
            .await;
        let card = result["card"].as_f64().unwrap_or(-1.0);
        let table = result["table"].as_f64().unwrap_or(-1.0);
        assert!(
            card >= 0.0 && table >= 0.0,
            "the change did not show: {result}"
        );
        card_times.push(card);
        table_times.push(table);
    }
    if let Some(id) = held {
        server.release(&id).await;
        let result = browser
            .script(
                "refreshButton().click();
                 waitUntil(() => found(arguments[0]) && found(arguments[1]), arguments[2]).then(done);",
                vec![json!(gpu_card(0)), json!(pager_rows(base_rows)), json!(PAGE_WAIT_MS)],
            )
            .await;
        assert!(
            result.as_f64().unwrap_or(-1.0) >= 0.0,
            "the release did not show"
        );
    }
    (card_times, table_times)
}

/// Bytes on the wire for a poll's list step with `base_rows` rows: one poll
/// with nothing changed, one after a grant, as the page's Resource Timing saw
/// them (`transferSize` includes the headers). The step is `GET /events`
/// once the console follows the log, `GET /allocations` before.
async fn wire_bytes(server: &Server, browser: &Page, base_rows: u64) -> Vec<String> {
    const LAST_LISTING: &str = "const entries = performance.getEntriesByType('resource')
           .filter(isListStep);
         const last = () => entries.length ? entries[entries.length - 1] : null;";
    let poll = |xpath: String| async move {
        browser
            .script(
                &format!(
                    "performance.clearResourceTimings();
                     refreshButton().click();
                     waitUntil(() => found(arguments[0]) && performance.getEntriesByType('resource')
                         .some(isListStep), arguments[1])
                       .then(() => {{ {LAST_LISTING} const e = last();
                         done({{ path: new URL(e.name).pathname, status: e.responseStatus, transfer: e.transferSize,
                                 encoded: e.encodedBodySize, decoded: e.decodedBodySize }}); }});"
                ),
                vec![json!(xpath), json!(PAGE_WAIT_MS)],
            )
            .await
    };
    let unchanged = poll(pager_rows(base_rows)).await;
    let id = server.allocate("gpu-a100", 2, "bench-wire").await;
    let changed = poll(pager_rows(base_rows + 1)).await;
    server.release(&id).await;
    let line = |what: &str, v: &Value| {
        format!(
            "- {what}: {} status {}, {} B on the wire (body {} B as sent, {} B decoded)",
            v["path"], v["status"], v["transfer"], v["encoded"], v["decoded"]
        )
    };
    vec![
        format!("Bytes on the wire, a poll's list step with {base_rows} rows:"),
        line("unchanged poll", &unchanged),
        line("changed poll (one more row)", &changed),
    ]
}

/// The A100 card showing `n` allocated.
fn gpu_card(n: u64) -> String {
    format!(
        "//article[contains(@class,'pool-card')][.//h3[normalize-space()='A100 GPU']]\
         //span[@class='pool-allocated'][.='{n}']"
    )
}

/// The pager saying the table holds `n` rows ("1 / 1 · 1 rows").
fn pager_rows(n: u64) -> String {
    let mut count = String::new();
    let digits = n.to_string();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            count.push(',');
        }
        count.push(c);
    }
    format!("//nav[contains(@class,'pager')]/span[contains(., '· {count} rows')]")
}

struct Sample {
    polls: usize,
    heap: f64,
    heap_total: f64,
    wasm: f64,
    dom: f64,
}

struct Day {
    samples: Vec<Sample>,
    requested: usize,
    served: u64,
    changes: usize,
    secs: f64,
    lost_clicks: usize,
    note: Option<String>,
}

impl Day {
    fn print(&self) {
        println!(
            "Simulated day: {} Refresh clicks ({} with changed data), {} list steps served, {:.0} s{}",
            self.requested,
            self.changes,
            self.served,
            self.secs,
            if self.lost_clicks > 0 {
                format!(", {} clicks re-sent", self.lost_clicks)
            } else {
                String::new()
            }
        );
        if let Some(note) = &self.note {
            println!("NOTE: {note}");
        }
        println!();
        println!(
            "| polls | JS heap used (after gc) | JS heap total | wasm memory | DOM elements |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: |");
        for s in &self.samples {
            println!(
                "| {} | {:.2} MB | {:.2} MB | {:.2} MB | {} |",
                s.polls,
                s.heap / 1e6,
                s.heap_total / 1e6,
                s.wasm / 1e6,
                s.dom
            );
        }
    }
}

async fn simulate_day(server: &Server, browser: &Page, polls: usize) -> Day {
    let started = Instant::now();
    let served_before = server.finished.load(Ordering::SeqCst);
    let mut day = Day {
        samples: vec![browser.memory(0).await],
        requested: 0,
        served: 0,
        changes: 0,
        secs: 0.0,
        lost_clicks: 0,
        note: None,
    };
    let mut held: Option<String> = None;
    'polls: for poll in 1..=polls {
        if poll % CHANGE_EVERY == 0 {
            match held.take() {
                Some(id) => server.release(&id).await,
                None => held = Some(server.allocate("gpu-a100", 1, "bench-day").await),
            }
            day.changes += 1;
        }
        let mut sent = false;
        for _attempt in 0..3 {
            let before = server.finished.load(Ordering::SeqCst);
            // Let the last poll's answer be handled first (a frame, then a task).
            browser
                .script(
                    "requestAnimationFrame(() => setTimeout(() => { refreshButton().click(); done(0); }, 0));",
                    vec![],
                )
                .await;
            if server.wait_served(before, Duration::from_secs(5)).await {
                sent = true;
                break;
            }
            day.lost_clicks += 1;
        }
        if !sent {
            day.note = Some(format!(
                "stopped at poll {poll}: three clicks were not answered"
            ));
            break 'polls;
        }
        day.requested = poll;
        if poll % SAMPLE_EVERY == 0 {
            server.wait_idle(Duration::from_secs(10)).await;
            day.samples.push(browser.memory(poll).await);
        }
    }
    if let Some(id) = held {
        server.release(&id).await;
    }
    day.served = server.finished.load(Ordering::SeqCst) - served_before;
    day.secs = started.elapsed().as_secs_f64();
    day
}

/// Memory before and after `n` bench scripts that click nothing.
async fn control(browser: &Page, n: usize) -> (Sample, Sample) {
    let before = browser.memory(0).await;
    for _ in 0..n {
        browser
            .script(
                "requestAnimationFrame(() => setTimeout(() => { refreshButton(); done(0); }, 0));",
                vec![],
            )
            .await;
    }
    (before, browser.memory(n).await)
}

#[derive(Default)]
struct Table {
    rows: Vec<String>,
}

impl Table {
    fn add(&mut self, what: &str, values: &[f64], unit: &str, note: &str) {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let row = if sorted.is_empty() {
            format!("| {what} | 0 | - | - | - | {unit} | {note} |")
        } else {
            let median = if sorted.len() % 2 == 1 {
                sorted[sorted.len() / 2]
            } else {
                (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
            };
            format!(
                "| {what} | {} | {:.0} | {:.0} | {:.0} | {unit} | {note} |",
                sorted.len(),
                median,
                sorted[sorted.len() - 1],
                values[0],
            )
        };
        eprintln!("      {row}");
        self.rows.push(row);
    }

    fn print(&self) {
        println!("| measure | n | median | max | first | unit | note |");
        println!("| --- | ---: | ---: | ---: | ---: | --- | --- |");
        for row in &self.rows {
            println!("{row}");
        }
    }
}

/// The real server on 127.0.0.1, with a counter of each poll's list step in
/// front of it: `GET /api/v1/allocations`, or `GET /api/v1/events` with
/// the follower's page size once the console follows the log.
struct Server {
    base: String,
    served: Served,
    started: Arc<AtomicU64>,
    finished: Arc<AtomicU64>,
    _db_dir: tempfile::TempDir,
}

impl Server {
    async fn start(dist: PathBuf) -> Server {
        let db_dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::demo(db_dir.path().join("bench.db"));
        config.dist = Some(dist);
        config
            .pools
            .push(PoolSpec::new("bulk", "Bulk", "unit", 20_000, None));
        let started = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicU64::new(0));
        let (s, f) = (started.clone(), finished.clone());
        let router = app(config)
            .await
            .expect("the server starts")
            .layer(middleware::from_fn(move |request: Request, next: Next| {
                let counted = request.method() == Method::GET && is_list_step(request.uri());
                let (s, f) = (s.clone(), f.clone());
                async move {
                    if counted {
                        s.fetch_add(1, Ordering::SeqCst);
                    }
                    let response = next.run(request).await;
                    if counted {
                        f.fetch_add(1, Ordering::SeqCst);
                    }
                    response
                }
            }));
        let served = Served::start(router, ServeOptions::default()).await;
        Server {
            base: served.base(),
            served,
            started,
            finished,
            _db_dir: db_dir,
        }
    }

    /// Waits until more than `before` polls have been answered.
    async fn wait_served(&self, before: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.finished.load(Ordering::SeqCst) > before {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        false
    }

    /// Waits until no poll is in flight server-side.
    async fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline
            && self.started.load(Ordering::SeqCst) != self.finished.load(Ordering::SeqCst)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn allocate(&self, pool: &str, amount: u64, owner: &str) -> String {
        let body = json!({"pool": pool, "amount": amount, "owner": owner});
        let key = format!("{owner}-{}", rand_key());
        let reply = Connection::open(self.served.address)
            .await
            .post_json("/api/v1/allocations", &key, &body)
            .await;
        assert_eq!(reply.status, 201, "POST /allocations: {}", reply.text());
        let value: Value = reply.json();
        value["id"].as_str().unwrap().to_owned()
    }

    async fn release(&self, id: &str) {
        let reply = Connection::open(self.served.address)
            .await
            .delete(&format!("/api/v1/allocations/{id}"))
            .await;
        assert!(
            reply.status == 204 || reply.status == 200,
            "DELETE {id}: {} {}",
            reply.status,
            reply.text()
        );
    }

    /// `n` one-unit allocations on the `bulk` pool, `BULK_CLIENTS` at a time.
    async fn create_bulk(&self, n: usize) {
        let mut tasks = Vec::new();
        for client in 0..BULK_CLIENTS {
            let address = self.served.address;
            tasks.push(tokio::spawn(async move {
                let mut connection = Connection::open(address).await;
                for i in (client..n).step_by(BULK_CLIENTS) {
                    let body = json!({
                        "pool": "bulk", "amount": 1, "owner": format!("bench-{i:05}"),
                        "note": "console bench"
                    });
                    let key = format!("bulk-{i}");
                    let reply = connection
                        .post_json("/api/v1/allocations", &key, &body)
                        .await;
                    assert_eq!(reply.status, 201, "bulk POST {i}: {}", reply.text());
                }
            }));
        }
        for task in tasks {
            task.await.expect("a bulk client panicked");
        }
    }
}

/// A poll's list step: the whole list, or a page of the followed log
/// (Activity's windows ask for at most 100 events).
fn is_list_step(uri: &axum::http::Uri) -> bool {
    match uri.path() {
        "/api/v1/allocations" => true,
        "/api/v1/events" => uri.query().is_some_and(|q| q.contains("limit=1000")),
        _ => false,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A Chrome DevTools Protocol command through ChromeDriver's
/// `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

/// The network the browser sees.
#[derive(Clone, Copy)]
enum Network {
    Loopback,
    /// A corporate Wi-Fi: 40 ms round trip, 20 Mbit/s each way.
    Throttled,
}

impl Network {
    fn name(self) -> &'static str {
        match self {
            Network::Loopback => "loopback",
            Network::Throttled => "throttled 40 ms / 20 Mbit/s",
        }
    }
}

/// Headless Chromium with the bench's in-page measurements.
struct Page(Browser);

impl Deref for Page {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.0
    }
}

impl Page {
    /// A browser whose heap can be measured (`performance.memory`, `gc()`).
    async fn start() -> Page {
        Page(
            Browser::launch_with(&["--enable-precise-memory-info", "--js-flags=--expose-gc"]).await,
        )
    }

    /// Installs [`WATCHER_JS`] in every document this browser opens from now on.
    async fn install_watcher(&self) {
        let source = WATCHER_JS
            .replace("FIRST_DATA", &json!(FIRST_DATA).to_string())
            .replace("TABLE_READY", &json!(TABLE_READY).to_string());
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await;
    }

    /// Emulates `network` for every request of the page (CDP).
    async fn emulate(&self, network: Network) {
        let (latency, bytes_per_sec) = match network {
            Network::Loopback => (0, -1.0),
            Network::Throttled => (40, 20e6 / 8.0),
        };
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({ "offline": false, "latency": latency,
                    "downloadThroughput": bytes_per_sec, "uploadThroughput": bytes_per_sec }),
        )
        .await;
    }

    /// The page and every resource it fetched, once the work area's chunk
    /// (asked for after the cards' paint) has arrived, in start order with
    /// the first data's mark, as Markdown table rows (`| name | start | end
    /// | bytes |`, bytes: the body as sent); then the bytes before the first
    /// data and after it.
    async fn waterfall(&self) -> Vec<String> {
        let rows = self
            .script(
                "const deadline = performance.now() + arguments[0];
                 const chunk = () => performance.getEntriesByType('resource')
                   .some((e) => e.name.includes('/split_work_area') && e.responseEnd > 0);
                 const collect = () => {
                   const nav = performance.getEntriesByType('navigation')[0];
                   const rows = [['page (index.html)', nav.startTime, nav.responseEnd, nav.encodedBodySize]];
                   for (const e of performance.getEntriesByType('resource')) {
                     const url = new URL(e.name);
                     rows.push([url.pathname + url.search, e.startTime, e.responseEnd, e.encodedBodySize]);
                   }
                   const seen = (window.__benchSeen || {})['first-data'];
                   if (seen) rows.push(['first data painted', seen.painted, seen.painted, null]);
                   rows.sort((a, b) => a[1] - b[1]);
                   done(rows);
                 };
                 const poll = () => chunk() || performance.now() > deadline ? collect() : setTimeout(poll, 10);
                 poll();",
                vec![json!(PAGE_WAIT_MS)],
            )
            .await;
        let rows: Vec<(String, f64, f64, Option<u64>)> = rows
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                (
                    row[0].as_str().unwrap_or("?").to_owned(),
                    row[1].as_f64().unwrap_or(f64::NAN),
                    row[2].as_f64().unwrap_or(f64::NAN),
                    row[3].as_u64(),
                )
            })
            .collect();
        let painted = rows
            .iter()
            .find(|row| row.3.is_none())
            .map_or(f64::INFINITY, |row| row.1);
        let (mut before, mut after) = (0, 0);
        let mut lines = Vec::new();
        for (name, start, end, bytes) in &rows {
            let total = if *end <= painted {
                &mut before
            } else {
                &mut after
            };
            *total += bytes.unwrap_or(0);
            let bytes = bytes.map_or(String::new(), |b| b.to_string());
            lines.push(format!("| `{name}` | {start:.0} | {end:.0} | {bytes} |"));
        }
        lines.push(String::new());
        lines.push(format!(
            "Bytes on the wire (bodies): {before} before the first data, {after} after it."
        ));
        lines
    }

    async fn cdp(&self, cmd: &'static str, params: Value) {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|error| panic!("CDP {cmd}: {error}"));
    }

    /// When the watcher saw `name` painted on the current page (ms since
    /// navigation start); waits for it, bounded.
    async fn seen(&self, name: &str) -> f64 {
        let value = self
            .script(
                "const deadline = performance.now() + arguments[1];
                 const poll = () => {
                   const mark = (window.__benchSeen || {})[arguments[0]];
                   if (mark && mark.painted !== undefined) done(mark.painted);
                   else if (performance.now() > deadline) done(-1);
                   else setTimeout(poll, 10);
                 };
                 poll();",
                vec![json!(name), json!(PAGE_WAIT_MS)],
            )
            .await;
        let t = value.as_f64().unwrap_or(-1.0);
        assert!(t >= 0.0, "{name} did not show within {PAGE_WAIT_MS} ms");
        t
    }

    /// Runs an async script with the helpers in front; it calls `done(value)`.
    async fn script(&self, body: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(&format!("{JS_HELPERS}\n{body}"), args)
            .await
            .unwrap_or_else(|error| panic!("in-page script failed: {error}\n{body}"))
    }

    async fn wait_xpath(&self, xpath: &str) {
        let t = self
            .script(
                "waitUntil(() => found(arguments[0]), arguments[1]).then(done);",
                vec![json!(xpath), json!(PAGE_WAIT_MS)],
            )
            .await;
        assert!(t.as_f64().unwrap_or(-1.0) >= 0.0, "waited for {xpath}");
    }

    /// JS heap after two forced collections, the wasm linear memory (the
    /// module's exported `memory`, reached through Trunk's `wasmBindings`:
    /// its init function hands back the instance's exports once started), and
    /// the element count.
    async fn memory(&self, polls: usize) -> Sample {
        let value = self
            .script(
                "(async () => {
                   window.gc();
                   await new Promise((r) => setTimeout(r, 50));
                   window.gc();
                   const exports = await window.wasmBindings.default();
                   done({
                     heap: performance.memory.usedJSHeapSize,
                     total: performance.memory.totalJSHeapSize,
                     wasm: exports.memory.buffer.byteLength,
                     dom: document.getElementsByTagName('*').length,
                   });
                 })().catch((e) => done({ error: String(e) }));",
                vec![],
            )
            .await;
        assert!(value.get("error").is_none(), "memory sample: {value}");
        let number = |k: &str| value[k].as_f64().unwrap_or(f64::NAN);
        Sample {
            polls,
            heap: number("heap"),
            heap_total: number("total"),
            wasm: number("wasm"),
            dom: number("dom"),
        }
    }
}
