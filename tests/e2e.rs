//! End-to-end: the built console in real headless Chromium against the real
//! reference server. Every wait is for a condition on the page, never a sleep.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use allocation_server::PoolSpec;
use fantoccini::Locator;
use std::path::Path;
use std::time::Duration;

use support::{Browser, Fault, Harness, OpenConsole};

/// The card of a pool, by its heading text.
fn card(name: &str) -> String {
    format!("//article[contains(@class,'pool-card')][.//h3[normalize-space()='{name}']]")
}

/// A pool card showing `n` allocated.
fn allocated(card: &str, n: u64) -> String {
    format!("{card}//span[@class='pool-allocated'][.='{n}']")
}

fn alert_containing(text: &str) -> String {
    format!("//*[@role='alert'][contains(normalize-space(), '{text}')]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_see_it_then_release_it() {
    let harness = Harness::start(None).await;
    let browser = Browser::open(&harness, "owner=e2e-alice&lang=en&theme=light").await;

    // First data on screen: every demo pool, empty.
    let gpu = card("A100 GPU");
    browser.wait_for(&allocated(&gpu, 0)).await;
    browser.wait_for(&card("Large VM")).await;
    browser.wait_for(&card("IPv4 address")).await;
    browser.screenshot("console-light").await;

    // Request 3 GPUs: the grant is shown, its row is highlighted, usage moves at once.
    browser.fill("//input[@id='request-amount']", "3").await;
    browser
        .click("//button[@type='submit'][normalize-space()='Request']")
        .await;
    let row = browser
        .wait_for("//table//tbody/tr[contains(@class,'highlight')]")
        .await;
    let id = row
        .find(Locator::XPath("./th"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!id.is_empty());
    let row_text = row.text().await.unwrap();
    assert!(row_text.contains("gpu-a100"), "row: {row_text}");
    assert!(row_text.contains("e2e-alice"), "row: {row_text}");
    browser.wait_for(&allocated(&gpu, 3)).await;
    browser
        .wait_for("//p[@class='granted'][contains(., 'gpu-a100-')]")
        .await;
    let (status, body) = harness
        .api("GET", &format!("/allocations/{id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"amount\":3"), "{body}");

    // Release it, with the confirmation step.
    browser
        .click(&format!("//button[@aria-label='Release {id}']"))
        .await;
    browser
        .click("//button[normalize-space()='Confirm release']")
        .await;
    browser
        .wait_gone(&format!(".//table//tbody/tr[th[normalize-space()='{id}']]"))
        .await;
    browser.wait_for(&allocated(&gpu, 0)).await;
    let (_, body) = harness
        .api("GET", &format!("/allocations/{id}"), None)
        .await;
    assert!(body.contains("\"status\":\"released\""), "{body}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_capacity_shows_the_servers_words() {
    let harness = Harness::start(None).await;
    let browser = Browser::open(&harness, "owner=e2e-bob&lang=en").await;
    let gpu = card("A100 GPU");
    browser.wait_for(&allocated(&gpu, 0)).await;
    // The work area's event follower starts with a poll of its own: done
    // (two answers to `/usage` in the page) before anyone else allocates.
    browser
        .client
        .execute_async(
            "const done = arguments[0];
             const polled = () => performance.getEntriesByType('resource')
               .filter((e) => new URL(e.name).pathname === '/api/v1/usage').length >= 2;
             const check = () => polled() ? done() : setTimeout(check, 10);
             check();",
            vec![],
        )
        .await
        .unwrap();

    // Someone else takes 14 of the 16 GPUs; the page has not polled since.
    for amount in [4, 4, 4, 2] {
        let body = format!(r#"{{"pool":"gpu-a100","amount":{amount},"owner":"other"}}"#);
        let (status, text) = harness.api("POST", "/allocations", Some(&body)).await;
        assert_eq!(status, 201, "{text}");
    }

    browser.fill("//input[@id='request-amount']", "4").await;
    browser.click("//button[@type='submit']").await;
    // The 409 problem's own title, in the alert; and the usage catches up.
    let (_, problem) = harness
        .api(
            "POST",
            "/allocations",
            Some(r#"{"pool":"gpu-a100","amount":4,"owner":"probe"}"#),
        )
        .await;
    let title: serde_json::Value = serde_json::from_str(&problem).unwrap();
    let title = title["title"].as_str().unwrap().to_owned();
    browser.wait_for(&alert_containing(&title)).await;
    browser.wait_for(&allocated(&gpu, 14)).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_keeps_data_then_recovers() {
    let harness = Harness::start(None).await;
    let browser = Browser::open(&harness, "interval=5&lang=en").await;
    let gpu = card("A100 GPU");
    browser.wait_for(&gpu).await;

    harness.set_fault(Fault::BadGatewayHtml);
    browser.click("//button[normalize-space()='Refresh']").await;
    // The status in words, not the proxy's HTML; the last good data stays, marked stale.
    browser.wait_for(&alert_containing("502")).await;
    browser
        .wait_for("//span[contains(@class,'badge-stale')]")
        .await;
    browser.wait_for(&gpu).await;
    let alerts = browser
        .client
        .find_all(Locator::XPath(
            "//*[@role='alert']//h1 | //*[@role='alert']//script",
        ))
        .await
        .unwrap();
    assert!(alerts.is_empty(), "server markup was rendered");
    let injected = browser
        .client
        .execute("return window.__xss === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(injected, serde_json::Value::Bool(true));

    // The backoff retries by itself; once the server is back the alert clears.
    harness.set_fault(Fault::None);
    browser
        .wait_gone(".//*[@role='alert'][contains(., '502')]")
        .await;
    browser
        .wait_gone(".//span[contains(@class,'badge-stale')]")
        .await;

    // A 200 whose body is not what the contract says is an error too, in words.
    harness.set_fault(Fault::MalformedUsage);
    browser.click("//button[normalize-space()='Refresh']").await;
    browser
        .wait_for(&alert_containing("could not be read"))
        .await;
    browser.wait_for(&gpu).await;
    let markup = browser
        .client
        .find_all(Locator::Css("article b, [role=alert] b"))
        .await
        .unwrap();
    assert!(markup.is_empty(), "server text became markup");
    harness.set_fault(Fault::None);
    browser
        .wait_gone(".//*[@role='alert'][contains(., 'could not be read')]")
        .await;

    // A body that never ends is cut off by the 15 s timeout and said in words.
    harness.set_fault(Fault::StalledUsage);
    browser.click("//button[normalize-space()='Refresh']").await;
    browser
        .wait_for_within(&alert_containing("took too long"), Duration::from_secs(40))
        .await;
    browser.wait_for(&gpu).await;
    harness.set_fault(Fault::None);
    browser
        .wait_gone(".//*[@role='alert'][contains(., 'took too long')]")
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_names_are_text_never_markup() {
    let hostile = r#"<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"#;
    let pools = vec![PoolSpec::new("evil", hostile, "<b>u</b>", 4, None)];
    let harness = Harness::start(Some(pools)).await;
    let browser = Browser::open(&harness, "lang=en&theme=dark").await;
    let heading = browser
        .wait_for("//article[contains(@class,'pool-card')]//h3")
        .await;
    assert_eq!(heading.text().await.unwrap(), hostile);
    let injected = browser
        .client
        .find_all(Locator::Css("article img, article script, article b"))
        .await
        .unwrap();
    assert!(injected.is_empty(), "server text became markup");
    let clean = browser
        .client
        .execute("return window.__xss === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(clean, serde_json::Value::Bool(true));
    browser.close().await;
}

/// Moves the server's clock to the start of its next minute.
fn to_a_minute_start(clock: &allocation_server::Clock) {
    let into_minute = clock.now_ms().rem_euclid(60_000) as u64;
    clock.advance(Duration::from_millis(60_000 - into_minute + 100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_of_history_is_drawn_at_once_with_a_forecast_and_the_title_follows() {
    let harness = Harness::start(None).await;
    to_a_minute_start(&harness.clock);
    // An hour in which a GPU was granted every 10 minutes: 7 of 16 now.
    for step in 0..7 {
        if step > 0 {
            harness.clock.advance(Duration::from_secs(600));
        }
        let (status, body) = harness
            .api(
                "POST",
                "/allocations",
                Some(r#"{"pool":"gpu-a100","amount":1,"owner":"ops"}"#),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let browser = Browser::open(&harness, "lang=en&theme=light&warn=50&critical=90").await;
    let gpu = card("A100 GPU");
    browser.wait_for(&allocated(&gpu, 7)).await;
    // The line is the server's hour, not the page's first minute.
    browser
        .wait_for(&format!(
            "{gpu}//figcaption[contains(., 'Last 1 hr')][contains(., 'peak 7 of 16 GPU')]"
        ))
        .await;
    let points = browser
        .wait_for(&format!("{gpu}//*[local-name()='polyline']"))
        .await
        .attr("points")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(points.split(' ').count() >= 7, "a staircase: {points}");
    // Rising 1 every 10 min, 9 left: full in about 2 hours (1.5 rounded).
    browser
        .wait_for(&format!(
            "{gpu}//p[@class='pool-forecast'][contains(., 'Full in about 2 hr at the current rate')]"
        ))
        .await;
    browser
        .wait_for("//html/head/title[normalize-space()='Allocation console']")
        .await;
    browser.screenshot("card-forecast").await;
    the_title_and_the_icon_follow_the_level(&harness, &browser).await;
    browser.close().await;
}

/// With 7 of 16 GPUs (`warn` at 50 %): the page's own icon; one GPU more,
/// after a Refresh, the warning's title and icon; that GPU released, the
/// page's own icon again.
async fn the_title_and_the_icon_follow_the_level(harness: &Harness, browser: &Browser) {
    let own_icon = "//html/head/link[@rel='icon'][@href='favicon.svg'][@data-level='level-ok']";
    browser.wait_for(own_icon).await;

    let (status, body) = harness
        .api(
            "POST",
            "/allocations",
            Some(r#"{"pool":"gpu-a100","amount":1,"owner":"ops"}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    browser.click("//button[normalize-space()='Refresh']").await;
    browser
        .wait_for("//html/head/title[normalize-space()='▲ Warning · Allocation console']")
        .await;
    browser
        .wait_for(
            "//html/head/link[@rel='icon'][@data-level='level-warn'][starts-with(@href, 'data:')]",
        )
        .await;

    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = harness
        .api("DELETE", &format!("/allocations/{id}"), None)
        .await;
    assert!(status < 300, "{status} {body}");
    browser.click("//button[normalize-space()='Refresh']").await;
    browser.wait_for(own_icon).await;
}

/// A row of the table, by its allocation id.
fn row(id: &str) -> String {
    format!("//table//tbody/tr[th[normalize-space()='{id}']]")
}

/// Answers the token prompt a `401` brings up.
async fn sign_in(browser: &Browser, token: &str) {
    browser
        .wait_for("//label[@for='console-token'][normalize-space()='Access token']")
        .await;
    browser
        .fill("//input[@id='console-token'][@type='password']", token)
        .await;
    browser
        .click("//form[contains(@class,'token-prompt')]//button[normalize-space()='Sign in']")
        .await;
}

/// A users file with a non-admin `alice` and an admin `root`: their tokens.
fn with_users(config: &mut allocation_server::ServerConfig, dir: &Path) -> (String, String) {
    use allocation_server::identity::users::add_user;
    use allocation_server::identity::Users;
    let path = dir.join("users.toml");
    let alice = add_user(&path, "alice", false).unwrap();
    let root = add_user(&path, "root", true).unwrap();
    config.users = std::sync::Arc::new(Users::load(&path).unwrap());
    (alice, root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_is_held_to_their_own_and_a_403_is_said_beside_the_action() {
    let mut tokens = None;
    let harness =
        Harness::start_with(None, |config, dir| tokens = Some(with_users(config, dir))).await;
    let (alice, root) = tokens.unwrap();
    let (status, body) = harness
        .api_as(
            Some(&root),
            "POST",
            "/allocations",
            Some(r#"{"pool":"gpu-a100","amount":1,"owner":"bob","ttl_seconds":3600}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let bob: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bob = bob["id"].as_str().unwrap().to_owned();

    // No token yet: the server's 401 brings up the prompt; the typed token is used.
    let browser = Browser::open(&harness, "lang=en&theme=light").await;
    sign_in(&browser, &alice).await;
    browser
        .wait_for("//p[@class='signed-in'][normalize-space()='Signed in as alice']")
        .await;
    let owner = browser.wait_for("//input[@id='request-owner']").await;
    assert_eq!(owner.prop("value").await.unwrap().as_deref(), Some("alice"));
    assert_eq!(
        owner.prop("readOnly").await.unwrap().as_deref(),
        Some("true")
    );
    let theirs = browser.wait_for(&row(&bob)).await;
    assert!(
        theirs
            .find_all(Locator::XPath(".//button"))
            .await
            .unwrap()
            .is_empty(),
        "no Release on another owner's row"
    );

    // Her own request: her row, with Release.
    browser
        .click("//button[@type='submit'][normalize-space()='Request']")
        .await;
    let mine = browser
        .wait_for("//table//tbody/tr[contains(@class,'highlight')][td[normalize-space()='alice']]")
        .await;
    let id = mine
        .find(Locator::XPath("./th"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .wait_for(&format!("{}//button[@aria-label='Release {id}']", row(&id)))
        .await;

    // "Mine only" leaves her rows.
    browser
        .click("//label[contains(@class,'filter-mine')]/input[@type='checkbox']")
        .await;
    browser.wait_gone(&format!(".{}", row(&bob))).await;
    browser.wait_for(&row(&id)).await;

    // The token is in memory only: not in storage, not in the URL.
    let kept = browser
        .client
        .execute(
            "return [localStorage.length, sessionStorage.length, location.href.includes(arguments[0])];",
            vec![serde_json::Value::String(alice.clone())],
        )
        .await
        .unwrap();
    assert_eq!(kept, serde_json::json!([0, 0, false]));

    // Told she is an admin, the page offers what the server refuses: each
    // refusal is said in words beside the action that caused it.
    harness.set_fault(Fault::MeClaimsAdmin);
    browser.client.refresh().await.unwrap();
    sign_in(&browser, &alice).await;
    browser
        .click(&format!(
            "{}//button[@aria-label='Release {bob}']",
            row(&bob)
        ))
        .await;
    browser
        .click("//button[normalize-space()='Confirm release']")
        .await;
    browser
        .wait_for(&format!(
            "{}//*[@role='alert'][contains(., 'Not allowed: you may only request and release for yourself (HTTP 403)')]",
            row(&bob)
        ))
        .await;
    browser.fill("//input[@id='request-owner']", "bob").await;
    browser
        .click("//button[@type='submit'][normalize-space()='Request']")
        .await;
    browser
        .wait_for("//section[contains(@class,'request')]//*[@role='alert'][contains(., 'Not allowed') and contains(., 'HTTP 403')]")
        .await;
    let (status, _) = harness
        .api_as(Some(&root), "GET", &format!("/allocations/{bob}"), None)
        .await;
    assert_eq!(status, 200, "bob's allocation is still there");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_moves_the_expiry_of_your_allocation() {
    let harness = Harness::start(None).await;
    let (status, body) = harness
        .api(
            "POST",
            "/allocations",
            Some(r#"{"pool":"vm-large","amount":2,"owner":"e2e-alice","ttl_seconds":600}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let granted: allocation_contract::Allocation = serde_json::from_str(&body).unwrap();
    let (_, body) = harness
        .api(
            "POST",
            "/allocations",
            Some(r#"{"pool":"vm-large","amount":1,"owner":"someone-else","ttl_seconds":600}"#),
        )
        .await;
    let others: allocation_contract::Allocation = serde_json::from_str(&body).unwrap();
    let browser = Browser::open(&harness, "owner=e2e-alice&lang=en&theme=light").await;
    // Yours, expiring within 10 minutes: marked, with Extend; another's is not.
    browser
        .wait_for(&format!(
            "{}[contains(@class,'expiring-soon')]//span[@class='expires-soon']",
            row(&granted.id)
        ))
        .await;
    browser.wait_for(&row(&others.id)).await;
    let extend_others = browser
        .client
        .find_all(Locator::XPath(&format!(
            "{}//button[@data-extend]",
            row(&others.id)
        )))
        .await
        .unwrap();
    assert!(extend_others.is_empty(), "Extend only on your own");

    // Five minutes on (server clock), Extend renews by the original 10 minutes.
    harness.clock.advance(Duration::from_secs(300));
    browser
        .click(&format!(
            "//button[@aria-label='Extend {} by 10 min']",
            granted.id
        ))
        .await;
    browser
        .wait_for(&format!(
            "{}[not(contains(@class,'expiring-soon'))]/td[contains(., '15 min')]",
            row(&granted.id)
        ))
        .await;
    let (status, body) = harness
        .api("GET", &format!("/allocations/{}", granted.id), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let renewed: allocation_contract::Allocation = serde_json::from_str(&body).unwrap();
    assert!(renewed.expires_at > granted.expires_at, "{body}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_config_json_is_ignored_and_never_sent() {
    let token = "e2e-shared-token-0123456789";
    let harness =
        Harness::start_with(None, |config, _| config.token = Some(token.to_owned())).await;
    harness.serve_config_json(&format!(r#"{{"token":"{token}"}}"#));
    let browser = Browser::open(&harness, "lang=en&theme=light").await;
    browser
        .wait_for("//*[contains(normalize-space(), 'config.json: the token is ignored: this file is served to anyone who loads the page')]")
        .await;
    // Without a token the server says 401 and the console asks for one.
    browser
        .wait_for("//input[@id='console-token'][@type='password']")
        .await;
    let seen = harness.log.all();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|request| request.authorization.is_none()),
        "{seen:?}"
    );
    // Typed in, it is sent and the data comes.
    sign_in(&browser, token).await;
    browser.wait_for(&allocated(&card("A100 GPU"), 0)).await;
    let bearer = format!("Bearer {token}");
    assert!(harness
        .log
        .all()
        .iter()
        .any(|request| request.uri == "/api/v1/usage"
            && request.authorization.as_deref() == Some(bearer.as_str())));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_data_moves_nothing_already_on_screen() {
    let harness = Harness::start(None).await;
    let browser = Browser::open(&harness, "lang=en&theme=light").await;
    browser.wait_for(&allocated(&card("A100 GPU"), 0)).await;
    browser
        .wait_for("//table[contains(@class,'allocations-table')]")
        .await;
    // Every layout shift since navigation (buffered), less those right after input.
    let shift = browser
        .client
        .execute(
            "const observer = new PerformanceObserver(() => {});
             observer.observe({ type: 'layout-shift', buffered: true });
             const entries = observer.takeRecords();
             observer.disconnect();
             return entries.filter((e) => !e.hadRecentInput).reduce((sum, e) => sum + e.value, 0);",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(shift < 0.01, "cumulative layout shift {shift}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_that_cannot_be_fetched_is_said_and_fetched_on_try_again() {
    let harness = Harness::start(None).await;
    harness.set_fault(Fault::ChunksUnreachable);
    let browser = Browser::open(&harness, "lang=en&theme=light").await;
    // The cards come without the chunk; the work area says why it is missing.
    browser.wait_for(&allocated(&card("A100 GPU"), 0)).await;
    browser
        .wait_for(&alert_containing(
            "The request form and the tables could not be loaded",
        ))
        .await;
    harness.set_fault(Fault::None);
    browser
        .click("//button[normalize-space()='Try again']")
        .await;
    browser
        .wait_for("//button[@type='submit'][normalize-space()='Request']")
        .await;
    browser
        .wait_for("//table[contains(@class,'allocations-table')]")
        .await;
    browser.close().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phones_first_screen_the_work_area_waits_for_the_reader() {
    let harness = Harness::start(None).await;
    let browser = Browser::launch().await;
    browser.client.set_window_size(400, 600).await.unwrap();
    let url = format!("{}?lang=en&theme=light", harness.base);
    browser.client.goto(&url).await.unwrap();
    browser.wait_for(&allocated(&card("A100 GPU"), 0)).await;
    // The page decides once the cards are painted (two frames, then a task);
    // two frames and two tasks more, and a chunk asked for would be on its way.
    let seen = browser
        .client
        .execute_async(
            "const done = arguments[0];
             requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => setTimeout(() => {
               const cards = [...document.querySelectorAll('.pool-card')];
               done({
                 cardsFillTheScreen: cards[cards.length - 1].getBoundingClientRect().bottom > innerHeight,
                 chunkAskedFor: performance.getEntriesByType('resource')
                   .some((e) => new URL(e.name).pathname.startsWith('/split_work_area')),
               });
             }, 0), 0)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        seen,
        serde_json::json!({ "cardsFillTheScreen": true, "chunkAskedFor": false }),
        "off screen, the work area's chunk waits for the reader"
    );
    // The reader scrolls to it: it comes.
    browser
        .client
        .execute("window.scrollTo(0, document.body.scrollHeight);", vec![])
        .await
        .unwrap();
    browser
        .wait_for("//button[@type='submit'][normalize-space()='Request']")
        .await;
    browser.close().await;
}

/// Takes all 16 A100 GPUs as `other`, over HTTP; the last allocation holds 2.
async fn fill_the_gpus(harness: &Harness) -> Vec<allocation_contract::Allocation> {
    let mut held = Vec::new();
    for amount in [4, 4, 4, 2, 2] {
        let body = format!(r#"{{"pool":"gpu-a100","amount":{amount},"owner":"other"}}"#);
        let (status, text) = harness.api("POST", "/allocations", Some(&body)).await;
        assert_eq!(status, 201, "{text}");
        held.push(serde_json::from_str(&text).unwrap());
    }
    held
}

/// Asks for `amount` through the form, choosing to wait up to an hour, and
/// waits for the place in line said in words.
async fn wait_in_line(browser: &Browser, amount: u64, place: &str) {
    browser
        .fill("//input[@id='request-amount']", &amount.to_string())
        .await;
    browser
        .wait_for(
            "//label[@for='request-wait_seconds'][normalize-space()='Wait in line for up to']",
        )
        .await;
    browser
        .click("//select[@id='request-wait_seconds']/option[normalize-space()='1 hour']")
        .await;
    browser
        .click("//button[@type='submit'][normalize-space()='Request']")
        .await;
    browser
        .wait_for(&format!(
            "//p[@class='queued'][starts-with(normalize-space(), 'You are {place} in line for {amount} GPU on A100 GPU')]"
        ))
        .await;
}

/// The waiting tickets, in the order they will be served (`GET /queue`).
async fn queue(harness: &Harness) -> Vec<allocation_contract::Ticket> {
    let (status, body) = harness.api("GET", "/queue", None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<allocation_contract::Queue>(&body)
        .unwrap()
        .tickets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_granted_after_a_release_shows_within_one_poll_and_leaving_the_line_ends_one() {
    let harness = Harness::start(None).await;
    let held = fill_the_gpus(&harness).await;
    let browser = Browser::open(&harness, "owner=e2e-alice&lang=en&theme=light&interval=5").await;
    browser.wait_for(&allocated(&card("A100 GPU"), 16)).await;
    // Everything the live region says, in order: a later message (another
    // user's release seen by the same poll) may follow the grant's at once.
    browser
        .run(
            "window.said = []; new MutationObserver(() => { \
               for (const region of document.querySelectorAll('[aria-live]')) { \
                 const text = region.textContent.trim(); \
                 if (text && window.said.at(-1) !== text) window.said.push(text); } }) \
             .observe(document.body, { subtree: true, childList: true, characterData: true }); \
             return true;",
        )
        .await;

    // Full: the form offers to wait; two tickets join the line.
    wait_in_line(&browser, 2, "1st").await;
    wait_in_line(&browser, 1, "2nd").await;
    let waiting = queue(&harness).await;
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    let (first, second) = (waiting[0].id.clone(), waiting[1].id.clone());
    browser
        .wait_for(&format!(
            "//section[contains(@class,'queue')]//button[@aria-label='Leave the line {second}']"
        ))
        .await;

    // Another user releases 2 GPUs: the first ticket is granted at once.
    let polls = harness.log.gets("/api/v1/queue").len();
    let (status, body) = harness
        .api("DELETE", &format!("/allocations/{}", held[4].id), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, body) = harness.api("GET", &format!("/queue/{first}"), None).await;
    let granted: allocation_contract::Ticket = serde_json::from_str(&body).unwrap();
    let allocation = granted.allocation.expect("granted with its allocation");

    // Within one poll (5 s, 10% jitter): the row, its units, the words, the title.
    let units = allocation.resources.join(", ");
    browser
        .wait_for_within(
            &format!(
                "{}[contains(@class,'highlight')]/td[@title='{units}']",
                row(&allocation.id)
            ),
            Duration::from_millis(5_500 + 3_000),
        )
        .await;
    let polled = harness.log.gets("/api/v1/queue").len() - polls;
    assert!(polled <= 1, "the grant took {polled} polls");
    let ready = "Your 2 GPU on A100 GPU are ready";
    browser
        .wait_until_js(&format!(
            "return window.said.some((text) => text.includes('{ready}'));"
        ))
        .await;
    let title = browser.run("return document.title;").await;
    assert_eq!(title, format!("{ready} · Allocation console"));
    browser.screenshot("queue-granted").await;

    leave_the_line(&harness, &browser, &second).await;
    // Acting on the page was seeing the news: the title and the row are back.
    let title = browser.run("return document.title;").await;
    assert_eq!(title, "✖ Critical · Allocation console");
    browser
        .wait_gone(".//tr[contains(@class,'highlight')]")
        .await;
    browser.close().await;
}

/// "Leave the line" (confirmed) on a waiting ticket: gone from the Queue
/// section and from the server.
async fn leave_the_line(harness: &Harness, browser: &Browser, id: &str) {
    browser
        .click(&format!("//button[@aria-label='Leave the line {id}']"))
        .await;
    browser
        .click("//button[normalize-space()='Confirm leaving']")
        .await;
    browser
        .wait_gone(".//section[contains(@class,'queue')]")
        .await;
    assert!(queue(harness).await.is_empty());
    let (status, body) = harness.api("GET", &format!("/queue/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    let ticket: allocation_contract::Ticket = serde_json::from_str(&body).unwrap();
    assert_eq!(ticket.status, allocation_contract::TicketStatus::Cancelled);
}

/// `n` one-unit allocations on the `bulk` pool, made by `token`'s holder
/// over 16 connections at once.
async fn create_bulk(harness: &Harness, token: &str, n: usize) {
    const CLIENTS: usize = 16;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (address, token) = (harness.addr, token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut connection = allocation_testkit::Connection::open(address).await;
            for i in (client..n).step_by(CLIENTS) {
                let body = serde_json::json!({ "pool": "bulk", "amount": 1, "owner": format!("bulk-{i:05}") });
                let reply = connection
                    .send_as(&token, http::Method::POST, "/api/v1/allocations", Some(body))
                    .await;
                assert_eq!(reply.status, 201, "bulk POST {i}: {}", reply.text());
            }
        }));
    }
    for task in tasks {
        task.await.expect("a bulk client panicked");
    }
}

/// The Activity section's items, by their text.
fn activity_item(text: &str) -> String {
    format!(
        "//section[@aria-labelledby='activity-heading']//ol/li[contains(normalize-space(), '{text}')]"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_grant_shows_in_the_table_and_in_activity_within_one_poll_of_under_2_kb() {
    let mut tokens = None;
    let mut pools = allocation_server::domain::pools::demo_pools();
    pools.push(PoolSpec::new("bulk", "Bulk", "unit", 20_000, None));
    let harness = Harness::start_with(Some(pools), |config, dir| {
        tokens = Some(with_users(config, dir))
    })
    .await;
    let (alice, root) = tokens.unwrap();
    create_bulk(&harness, &root, 10_000).await;

    let browser = Browser::open(&harness, "lang=en&theme=light&interval=5").await;
    sign_in(&browser, &alice).await;
    browser
        .wait_for("//nav[@class='pager']/span[contains(., '10,000 rows')]")
        .await;
    // Following the log: Activity shows its latest events (root's grants).
    browser
        .wait_for(&activity_item("root allocated 1 unit on Bulk (of bulk-"))
        .await;
    let lists = harness.log.gets("/api/v1/allocations").len();
    // No probes for the log's end: the list names it (`events_through`).
    // Every /events request so far is a follow poll (a page of up to 1,000,
    // at most one per poll) or Activity's one window of 100 just below it.
    let seen = harness.log.gets("/api/v1/events");
    let uris: Vec<&str> = seen.iter().map(|s| s.uri.as_str()).collect();
    eprintln!("before the grant: {lists} GET /allocations, GET /events: {uris:?}");
    fn limit(uri: &str) -> Option<&str> {
        let query = uri.split_once('?').map_or("", |(_, query)| query);
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("limit="))
    }
    let follows = uris.iter().filter(|u| limit(u) == Some("1000")).count();
    let windows = uris.iter().filter(|u| limit(u) == Some("100")).count();
    assert_eq!(follows + windows, uris.len(), "a probe: {uris:?}");
    assert!(
        follows <= harness.log.gets("/api/v1/usage").len(),
        "{uris:?}"
    );
    assert_eq!(windows, 1, "{uris:?}");
    assert!(lists <= 2, "{lists} lists before following");
    browser
        .run("performance.clearResourceTimings(); return true;")
        .await;

    // Root grants carol 2 GPUs: the table and Activity show it within one poll.
    let polls = harness.log.gets("/api/v1/usage").len();
    let (status, body) = harness
        .api_as(
            Some(&root),
            "POST",
            "/allocations",
            Some(r#"{"pool":"gpu-a100","amount":2,"owner":"carol","ttl_seconds":3600}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let grant: allocation_contract::Allocation = serde_json::from_str(&body).unwrap();
    browser
        .wait_for_within(&row(&grant.id), Duration::from_millis(5_500 + 3_000))
        .await;
    browser
        .wait_for(&activity_item(
            "root allocated 2 GPU on A100 GPU (of carol)",
        ))
        .await;
    let polled = harness.log.gets("/api/v1/usage").len() - polls;
    assert!(polled <= 1, "the grant took {polled} polls");
    assert_eq!(
        harness.log.gets("/api/v1/allocations").len(),
        lists,
        "the list is not read again"
    );
    browser
        .wait_for("//nav[@class='pager']/span[contains(., '10,001 rows')]")
        .await;

    // The poll that brought it, as the page's Resource Timing saw it.
    let events = browser
        .run(
            "return performance.getEntriesByType('resource')
               .filter((e) => new URL(e.name).pathname.endsWith('/events'))
               .map((e) => ({ transfer: e.transferSize, encoded: e.encodedBodySize }));",
        )
        .await;
    let events = events.as_array().unwrap();
    eprintln!("GET /events since the grant, as Resource Timing saw them: {events:?}");
    let brought = events
        .iter()
        .filter(|e| e["encoded"].as_u64().unwrap() > 100)
        .collect::<Vec<_>>();
    assert!(
        !brought.is_empty(),
        "no /events answer held the grant: {events:?}"
    );
    for entry in events {
        let transfer = entry["transfer"].as_u64().unwrap();
        assert!(transfer > 0 && transfer < 2_048, "{entry} over 2 KB");
    }
    browser.close().await;
}
