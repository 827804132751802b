//! End-to-end embedding: the built console in headless Chromium inside a
//! portal served from another origin (another loopback port), against the
//! real reference server. Every wait is for a condition, never a sleep.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use allocation_server::PoolSpec;
use support::{wait_until, Browser, Fault, Harness, HostSite, OpenConsole, RequestLog};

const TOKEN: &str = "portal-issued-token-7f3a";

/// A portal with the console in an iframe; it logs each message from the
/// console's origin as an `<li>` and sizes the iframe to `resize`.
fn iframe_portal(console: &str, host: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><title>Portal</title></head><body>
<h1>Portal</h1>
<iframe id="console" title="Allocation console" style="width:100%;border:0"
  src="{console}/?parent_origin={host}&view=full&lang=en&theme=light&interval=5&owner=portal-user"></iframe>
<ul id="messages"></ul>
<script>
const consoleOrigin = "{console}";
const frame = document.getElementById("console");
addEventListener("message", (event) => {{
  if (event.origin !== consoleOrigin) return;
  const m = event.data, li = document.createElement("li");
  li.dataset.type = m.type;
  if (typeof m.height === "number") {{ li.dataset.height = m.height; frame.style.height = m.height + "px"; }}
  if (m.problem) li.dataset.status = m.problem.status;
  if (m.allocation) li.dataset.id = m.allocation.id;
  if (m.id) li.dataset.id = m.id;
  document.getElementById("messages").append(li);
}});
window.send = (message) => frame.contentWindow.postMessage(message, consoleOrigin);
</script></body></html>"#
    )
}

/// Heights the portal was told, in order.
async fn heights(browser: &Browser) -> Vec<u64> {
    let value = browser
        .run("return [...document.querySelectorAll('li[data-type=resize]')].map(li => +li.dataset.height);")
        .await;
    serde_json::from_value(value).unwrap()
}

async fn enter_console_frame(browser: &Browser) {
    let frame = browser.wait_for("//iframe[@id='console']").await;
    frame.enter_frame().await.unwrap();
}

async fn leave_frame(browser: &Browser) {
    browser.client.enter_parent_frame().await.unwrap();
}

fn authorizations(log: &RequestLog) -> Vec<Option<String>> {
    log.all()
        .into_iter()
        .map(|seen| seen.authorization)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iframe_talks_to_its_host_and_only_to_it() {
    let mut host = HostSite::bind().await;
    let host_origin = host.origin.clone();
    let harness = Harness::start_with(None, |config, _| {
        config.token = Some(TOKEN.into());
        config.frame_ancestors = format!("'self' {host_origin}");
    })
    .await;
    let console = harness.base.trim_end_matches('/').to_owned();
    host.serve(vec![(
        "/portal.html",
        iframe_portal(&console, &host.origin),
    )]);
    let browser = Browser::open_url(&format!("{}/portal.html", host.origin)).await;

    // `ready`, then the content's height as a number; and the console did not
    // wait for the host: it polled at once and said the 401 in an `error`.
    browser.wait_for("//li[@data-type='ready']").await;
    browser
        .wait_for("//li[@data-type='resize'][number(@data-height) > 0]")
        .await;
    browser
        .wait_for("//li[@data-type='error'][@data-status='401']")
        .await;

    // Messages from another origin (the console's own window) and of the
    // wrong shape from the right one: ignored, counted, nothing thrown.
    enter_console_frame(&browser).await;
    browser
        .run("window.postMessage({type: 'token', token: 'evil-token'}, '*'); window.postMessage({type: 'theme', theme: 'dark'}, '*');")
        .await;
    leave_frame(&browser).await;
    browser
        .run(
            "send({type: 'token', token: 'x'.repeat(5000)}); send({type: 'theme', theme: 'neon'}); \
             send('refresh'); send({type: 'token', token: 'has space'}); send(null);",
        )
        .await;
    enter_console_frame(&browser).await;
    browser
        .wait_for("/html[@data-ignored-messages='7'][@data-theme='light']")
        .await;
    leave_frame(&browser).await;
    assert!(
        authorizations(&harness.log).iter().all(Option::is_none),
        "a refused token was sent: {:?}",
        authorizations(&harness.log)
    );

    // The host's token: sent as Authorization from then on; data arrives.
    browser
        .run(&format!("send({{type: 'token', token: '{TOKEN}'}});"))
        .await;
    enter_console_frame(&browser).await;
    browser
        .wait_for("//article[contains(@class,'pool-card')]")
        .await;
    let bearer = format!("Bearer {TOKEN}");
    let sent = authorizations(&harness.log);
    assert!(sent.contains(&Some(bearer.clone())), "{sent:?}");
    assert!(
        sent.iter().flatten().all(|a| *a == bearer),
        "only the host's token is ever sent: {sent:?}"
    );
    // ... and kept in memory only: in no storage, cookie or URL.
    let traces = browser
        .run(
            "return JSON.stringify({local: {...localStorage}, session: {...sessionStorage}, \
             cookie: document.cookie, url: location.href, history: history.state, \
             resources: performance.getEntriesByType('resource').map(e => e.name), \
             attributes: document.documentElement.outerHTML.length > 0 ? [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.value)) : []});",
        )
        .await;
    let traces = traces.as_str().unwrap();
    assert!(!traces.contains(TOKEN), "the token was found: {traces}");
    leave_frame(&browser).await;

    // `theme` switches the theme live.
    browser.run("send({type: 'theme', theme: 'dark'});").await;
    enter_console_frame(&browser).await;
    browser.wait_for("/html[@data-theme='dark']").await;
    let scheme = browser
        .run("return getComputedStyle(document.body).colorScheme;")
        .await;
    assert_eq!(scheme, "dark");
    leave_frame(&browser).await;

    // More rows, `refresh`: a larger height; rows gone: a smaller one.
    let before = *heights(&browser).await.last().unwrap();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let (status, body) = harness
            .api(
                "POST",
                "/allocations",
                Some(r#"{"pool":"ip-v4","amount":1,"owner":"other"}"#),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let allocation: serde_json::Value = serde_json::from_str(&body).unwrap();
        ids.push(allocation["id"].as_str().unwrap().to_owned());
    }
    browser.run("send({type: 'refresh'});").await;
    browser
        .wait_for(&format!(
            "//li[@data-type='resize'][number(@data-height) > {before}]"
        ))
        .await;
    enter_console_frame(&browser).await;
    browser.wait_for("//table[count(tbody/tr) = 8]").await;
    leave_frame(&browser).await;
    let taller = heights(&browser).await.into_iter().max().unwrap();
    for id in &ids {
        let (status, _) = harness
            .api("DELETE", &format!("/allocations/{id}"), None)
            .await;
        assert_eq!(status, 204);
    }
    browser.run("send({type: 'refresh'});").await;
    browser
        .wait_for(&format!(
            "//li[@data-type='resize'][number(@data-height) < {taller}][preceding-sibling::li[@data-type='resize'][number(@data-height) = {taller}]]"
        ))
        .await;

    // The console's own grant and release are told to the host.
    enter_console_frame(&browser).await;
    browser.fill("//input[@id='request-amount']", "1").await;
    browser.click("//button[@type='submit']").await;
    let row = browser
        .wait_for("//table//tbody/tr[contains(@class,'highlight')]/th")
        .await;
    let id = row.text().await.unwrap();
    leave_frame(&browser).await;
    browser
        .wait_for(&format!("//li[@data-type='allocated'][@data-id='{id}']"))
        .await;
    enter_console_frame(&browser).await;
    browser
        .click(&format!("//button[@aria-label='Release {id}']"))
        .await;
    browser
        .click("//button[normalize-space()='Confirm release']")
        .await;
    leave_frame(&browser).await;
    browser
        .wait_for(&format!("//li[@data-type='released'][@data-id='{id}']"))
        .await;
    browser.close().await;
}

/// A portal page embedding consoles by script: `embed.js` from `console`.
fn script_portal(console: &str, other: &str) -> String {
    let instance = |attributes: &str| {
        format!(r#"data-view="compact" data-lang="en" data-interval="5" {attributes}"#)
    };
    format!(
        r#"<!doctype html><html lang="en"><head><title>Portal</title>
<style>h1 {{ font-size: 40px; }} h3 {{ color: rgb(255, 0, 0); }}</style>
<script type="module" src="{console}/embed.js"></script></head><body>
<h1 id="portal-title">Portal</h1>
<div id="one" data-allocation-console {one}></div>
<div id="two" data-allocation-console {two}></div>
<allocation-console id="three" {three}></allocation-console>
<div id="bad" data-allocation-console {bad}></div>
</body></html>"#,
        one = instance(&format!(r#"data-endpoint="{console}/api/v1""#)),
        two = instance(&format!(r#"data-endpoint="{console}/api/v1""#)),
        three = instance(&format!(
            r#"data-endpoint="{other}/api/v1" data-credentials="include""#
        )),
        bad = instance(r#"data-endpoint="ftp://nowhere" data-theme="neon""#),
    )
}

/// The text of an instance's shadow root, or `null` before it has pool cards.
fn cards_text(id: &str) -> String {
    format!(
        "const root = document.getElementById('{id}')?.shadowRoot; \
         return root && root.querySelector('.pool-card') ? root.textContent : null;"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iframe_whose_bridge_could_not_be_fetched_fetches_it_again() {
    let mut host = HostSite::bind().await;
    let host_origin = host.origin.clone();
    let harness = Harness::start_with(None, |config, _| {
        config.frame_ancestors = format!("'self' {host_origin}");
    })
    .await;
    harness.set_fault(Fault::ChunksUnreachable);
    let console = harness.base.trim_end_matches('/').to_owned();
    host.serve(vec![(
        "/portal.html",
        iframe_portal(&console, &host.origin),
    )]);
    let browser = Browser::open_url(&format!("{}/portal.html", host.origin)).await;

    // The bridge's chunk is refused; the console shows its data all the same.
    enter_console_frame(&browser).await;
    browser
        .wait_until_js(
            "return performance.getEntriesByType('resource')
               .some((e) => e.name.includes('/split_host_bridge') && e.responseStatus === 503);",
        )
        .await;
    browser
        .wait_for("//article[contains(@class,'pool-card')]")
        .await;
    leave_frame(&browser).await;
    let told = browser
        .run("return document.querySelectorAll('#messages li').length;")
        .await;
    assert_eq!(told, 0, "no bridge, so nothing is posted");

    // Once the chunk can be fetched, a later attempt brings the bridge.
    harness.set_fault(Fault::None);
    browser.wait_for("//li[@data-type='ready']").await;
    browser
        .wait_for("//li[@data-type='resize'][number(@data-height) > 0]")
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_instances_share_a_poller_per_endpoint_and_stop_when_removed() {
    let mut host = HostSite::bind().await;
    let allow = |origin: String| {
        move |config: &mut allocation_server::ServerConfig, _: &std::path::Path| {
            config.allow_origins = vec![origin];
        }
    };
    let first = Harness::start_with(None, allow(host.origin.clone())).await;
    let tape = vec![PoolSpec::new("tape", "Tape library", "drive", 8, None)];
    let second = Harness::start_with(Some(tape), allow(host.origin.clone())).await;
    let console = first.base.trim_end_matches('/').to_owned();
    let other = second.base.trim_end_matches('/').to_owned();
    host.serve(vec![("/portal.html", script_portal(&console, &other))]);
    let browser = Browser::open_url(&format!("{}/portal.html", host.origin)).await;

    // Each instance shows its own endpoint's data (the other one with
    // `credentials=include`, as a cookie-SSO portal would: the server's
    // allow-list answers it with Access-Control-Allow-Credentials).
    for id in ["one", "two"] {
        let text = browser.wait_until_js(&cards_text(id)).await;
        assert!(text.as_str().unwrap().contains("A100 GPU"), "{id}: {text}");
        assert!(
            !text.as_str().unwrap().contains("Tape library"),
            "{id}: {text}"
        );
    }
    let text = browser.wait_until_js(&cards_text("three")).await;
    assert!(text.as_str().unwrap().contains("Tape library"), "{text}");
    assert!(!text.as_str().unwrap().contains("A100"), "{text}");

    // Compact: cards and a link to the full console, no form, no table.
    let compact = browser
        .run(
            "const root = document.getElementById('one').shadowRoot; \
             return [root.querySelectorAll('form, table').length, root.querySelector('a').href];",
        )
        .await;
    assert_eq!(compact, serde_json::json!([0, format!("{console}/")]));

    // Bad settings are said in words inside their element; styles stay on
    // their side (the page's h1 and h3 rules, the console's own).
    let bad = browser
        .wait_until_js(
            "const root = document.getElementById('bad').shadowRoot; \
             return root?.querySelector('.config-problems')?.textContent ?? null;",
        )
        .await;
    let bad = bad.as_str().unwrap();
    assert!(
        bad.contains("ftp://nowhere") && bad.contains("neon"),
        "{bad}"
    );
    let styles = browser
        .run(
            "const h3 = document.getElementById('one').shadowRoot.querySelector('h3'); \
             return [getComputedStyle(document.getElementById('portal-title')).fontSize, \
                     getComputedStyle(h3).color === 'rgb(255, 0, 0)'];",
        )
        .await;
    assert_eq!(styles, serde_json::json!(["40px", false]));

    // Two instances, one endpoint: one request per poll between them, the
    // polls an interval apart (two pollers would ask twice at once).
    wait_until(
        "three polls of the shared endpoint",
        Duration::from_secs(40),
        || first.log.gets("/api/v1/usage").len() >= 3,
    )
    .await;
    let polls = first.log.gets("/api/v1/usage");
    for pair in polls.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_secs(4), "two requests {gap:?} apart");
    }
    assert!(polls
        .iter()
        .all(|seen| seen.origin.as_deref() == Some(host.origin.as_str())));

    // The bad instance polls the portal itself (its endpoint fell back to
    // the same-origin default): its requests are the test's clock.
    let clock = |host_log: &RequestLog| host_log.gets("/api/v1/usage").len();
    let polls_after = |n: usize| {
        let start = clock(&host.log);
        let log = host.log.clone();
        async move {
            wait_until("the portal's own polls", Duration::from_secs(60), || {
                clock(&log) >= start + n
            })
            .await
        }
    };

    // One of the two goes: the other still polls.
    browser
        .run("document.getElementById('two').remove();")
        .await;
    let shared = first.log.gets("/api/v1/usage").len();
    polls_after(3).await;
    assert!(first.log.gets("/api/v1/usage").len() > shared);

    // Both endpoints' last instances go (a marked element and a custom
    // element): their requests stop (one already on its way may land).
    browser
        .run("document.getElementById('one').remove(); document.getElementById('three').remove();")
        .await;
    let (a, b) = (
        first.log.gets("/api/v1/usage").len(),
        second.log.gets("/api/v1/usage").len(),
    );
    polls_after(3).await;
    assert!(first.log.gets("/api/v1/usage").len() <= a + 1);
    assert!(second.log.gets("/api/v1/usage").len() <= b + 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_and_kiosk_show_usage_without_a_form() {
    let harness = Harness::start(None).await;
    let browser = Browser::open(&harness, "view=compact&lang=en").await;
    browser
        .wait_for("//article[contains(@class,'pool-card')]")
        .await;
    browser
        .wait_for("//a[normalize-space()='Open the full console']")
        .await;
    browser.wait_gone(".//form | .//table").await;

    browser
        .client
        .goto(&format!("{}?view=kiosk&lang=en&theme=dark", harness.base))
        .await
        .unwrap();
    browser
        .wait_for("//article[contains(@class,'pool-card')]")
        .await;
    browser
        .wait_for("//p[@class='wall-clock']/time[contains(., ':')]")
        .await;
    browser
        .wait_for("//p[contains(@class,'status-age')][starts-with(normalize-space(), 'Updated')]")
        .await;
    browser.wait_gone(".//form | .//table | .//button").await;
    // The whole screen: as tall as the viewport at least, as wide as its content box.
    let fills = browser
        .run(
            "const r = document.getElementById('allocation-console').getBoundingClientRect(); \
             return r.height >= innerHeight && r.width >= document.documentElement.clientWidth;",
        )
        .await;
    assert_eq!(fills, true);
    browser.close().await;
}
