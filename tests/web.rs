//! Component tests in headless Chromium (wasm-bindgen-test): components render
//! the state they are given, as real, accessible DOM.
#![cfg(target_arch = "wasm32")]

use allocation_console::core::config::Config;
use allocation_console::core::i18n::{Lang, Text};
use allocation_console::core::problem::{Failure, Unreadable};
use allocation_console::core::request::ticket_ready::TicketReady;
use allocation_console::transport::{Api, Fetched};
use allocation_console::ui::activity::activity_section::ActivitySection;
use allocation_console::ui::activity::event_follower::use_event_follower;
use allocation_console::ui::allocations::allocations_panel::{AllocationsPanel, PAGE_SIZE};
use allocation_console::ui::allocations::queue_panel::QueuePanel;
use allocation_console::ui::confirmed_action::{ActionTarget, ConfirmedAction};
use allocation_console::ui::identity::token_prompt::TokenPrompt;
use allocation_console::ui::monitor::announcer::{use_announcer, LiveRegion};
use allocation_console::ui::monitor::live_monitor::{use_live_monitor, LiveMonitor};
use allocation_console::ui::monitor::page_news::{use_page_news, PageNews};
use allocation_console::ui::monitor::poller::Poller;
use allocation_console::ui::monitor::status_line::StatusLine;
use allocation_console::ui::request::request_form::RequestForm;
use allocation_console::ui::usage::usage_panel::UsagePanel;
use allocation_console::ui::work_area::WorkArea;
use allocation_contract::{
    Allocation, Allocations, Me, Pool, Problem, Queue, Thresholds, Ticket, TicketStatus, Usage,
};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh container in the document, and a monitor that never polls.
fn setup() -> (web_sys::HtmlElement, LiveMonitor) {
    let document = document();
    let container: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&container).unwrap();
    let monitor = LiveMonitor::new(Api::new(&Config::default()), 60, None);
    (container, monitor)
}

/// Mounts a component as the console does: English, inside the live region.
/// Keep the returned handle alive for the test's length.
fn render<V: IntoView + 'static>(
    container: &web_sys::HtmlElement,
    component: impl FnOnce() -> V + Send + 'static,
) -> impl Sized {
    leptos::mount::mount_to(container.clone(), move || {
        provide_context(Lang::En);
        view! { <LiveRegion>{component()}</LiveRegion> }
    })
}

/// Alice's request form on a page whose one pool is `gpu`, once the pool is
/// offered: the container, the monitor, the highlight signal and the handle
/// (keep it for the test's length).
async fn alice_form(
    gpu: Pool,
) -> (
    web_sys::HtmlElement,
    LiveMonitor,
    RwSignal<Option<String>>,
    impl Sized,
) {
    let (container, monitor) = setup();
    let highlight = RwSignal::new(None::<String>);
    let handle = render(
        &container,
        move || view! { <RequestForm monitor owner="alice".to_owned() highlight /> },
    );
    monitor.show_usage(usage(vec![gpu], "t"));
    until("pool option", || {
        container
            .query_selector("option[value=gpu]")
            .unwrap()
            .is_some()
    })
    .await;
    (container, monitor, highlight, handle)
}

/// Lets everything Leptos has scheduled run (a few turns of the event loop).
async fn settle() {
    for _ in 0..5 {
        next_turn().await;
    }
}

async fn next_turn() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Lets the reactive system flush its effects until `ready` holds (bounded).
async fn until(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        // One turn of the event loop: what Leptos schedules runs in between.
        next_turn().await;
    }
    panic!("never became true: {what}");
}

/// Types `amount` into the request form's Amount, more than its pool has
/// free, and waits for the form to offer to wait in line.
async fn ask_for_more_than_is_free(container: &web_sys::HtmlElement, amount: &str) {
    let field: web_sys::HtmlInputElement = container
        .query_selector("#request-amount")
        .unwrap()
        .unwrap()
        .unchecked_into();
    field.set_value(amount);
    field
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    until("the offer to wait", || {
        container
            .query_selector("#request-wait_seconds")
            .unwrap()
            .is_some()
    })
    .await;
}

/// Chooses the wait at `index` of the offered choices.
fn choose_wait(container: &web_sys::HtmlElement, index: &str) {
    let wait: web_sys::HtmlElement = container
        .query_selector("#request-wait_seconds")
        .unwrap()
        .unwrap()
        .unchecked_into();
    js_sys::Reflect::set(&wait, &"value".into(), &index.into()).unwrap();
    wait.dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

fn pool(id: &str, name: &str, capacity: u64, allocated: u64) -> Pool {
    allocation_testkit::pool(id)
        .name(name)
        .unit("GPU")
        .capacity(capacity)
        .allocated(allocated)
        .max_per_request(Some(4))
        .build()
}

fn usage(pools: Vec<Pool>, as_of: &str) -> Usage {
    Usage {
        as_of: as_of.into(),
        pools,
    }
}

fn allocation(n: usize) -> Allocation {
    allocation_testkit::allocation(&format!("al_{n:05}"))
        .pool(if n % 2 == 0 { "gpu" } else { "vm" })
        .owner(&format!("owner{}", n % 10))
        .resources(vec![format!("gpu-{n:05}")])
        .created_at(&format!(
            "2026-11-26T{:02}:{:02}:00Z",
            (n / 60) % 24,
            n % 60
        ))
        .build()
}

#[wasm_bindgen_test]
async fn pool_cards_show_server_text_as_text_with_words_beside_colour() {
    let (container, monitor) = setup();
    let hostile = "<img src=x onerror=alert(1)>A100";
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    monitor.show_usage(usage(
        vec![pool("gpu", hostile, 16, 16), pool("vm", "VM", 40, 2)],
        "t1",
    ));
    until("two cards", || {
        container.query_selector_all(".pool-card").unwrap().length() == 2
    })
    .await;

    let heading = container.query_selector(".pool-card h3").unwrap().unwrap();
    assert_eq!(heading.text_content().unwrap(), hostile);
    assert!(container
        .query_selector(".pool-card img")
        .unwrap()
        .is_none());
    let first = container.query_selector(".pool-card").unwrap().unwrap();
    assert!(
        first.class_list().contains("level-critical"),
        "{}",
        first.class_name()
    );
    let text = first.text_content().unwrap();
    assert!(text.contains("Critical"), "{text}");
    assert!(text.contains("16 of 16 GPU allocated"), "{text}");
    let second = container
        .query_selector_all(".pool-card")
        .unwrap()
        .get(1)
        .unwrap()
        .unchecked_into::<web_sys::Element>();
    assert!(second.text_content().unwrap().contains("OK"));
    assert!(
        second.class_list().contains("level-ok"),
        "{}",
        second.class_name()
    );
}

#[wasm_bindgen_test]
async fn an_unchanged_answer_changes_nothing_in_the_dom() {
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    let pools = vec![pool("gpu", "A100", 16, 3), pool("vm", "VM", 40, 2)];
    monitor.show_usage(usage(pools.clone(), "t1"));
    // The cards, then each one's trend (it comes once they are painted).
    until("cards and their trends", || {
        container
            .query_selector_all(".pool-card .sparkline")
            .unwrap()
            .length()
            == 2
    })
    .await;

    let mutations = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let counter = mutations.clone();
    let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |records: js_sys::Array| {
        counter.set(counter.get() + records.length());
    });
    let observer = web_sys::MutationObserver::new(callback.as_ref().unchecked_ref()).unwrap();
    let options = web_sys::MutationObserverInit::new();
    options.set_subtree(true);
    options.set_child_list(true);
    options.set_character_data(true);
    options.set_attributes(true);
    observer.observe_with_options(&container, &options).unwrap();

    // Same pools, newer `as_of`: nothing to show, and nothing moves.
    assert!(!monitor.show_usage(usage(pools.clone(), "t2")));
    settle().await;
    assert_eq!(
        mutations.get() + observer.take_records().length(),
        0,
        "an unchanged answer touched the DOM"
    );
    // A real change after it, so we know the observer sees what happens.
    let mut changed = pools;
    changed[0].allocated = 4;
    assert!(monitor.show_usage(usage(changed, "t3")));
    until("the change", || mutations.get() > 0).await;
    let records = observer.take_records();
    observer.disconnect();
    let all = mutations.get() + records.length();
    // Only the changed card's figures moved: a handful of text/attribute updates.
    let changed_text = container
        .query_selector(".pool-card .pool-allocated")
        .unwrap()
        .unwrap();
    assert_eq!(changed_text.text_content().unwrap(), "4");
    assert!(all <= 12, "{all} mutations for one changed number");
}

#[wasm_bindgen_test]
async fn a_polls_list_is_shown_only_after_its_usage() {
    // The list answers at once, usage 100 ms later (a server busy counting):
    // the table must not change before the card shows the poll's figure.
    let usage_json = serde_json::to_string(&usage(vec![pool("gpu", "A100", 16, 9)], "t")).unwrap();
    let list_json = serde_json::to_string(&Allocations {
        as_of: "t".into(),
        allocations: vec![allocation(0)],
        events_through: None,
    })
    .unwrap();
    let _fake = FakeFetch::install(&format!(
        r#"const url = String(request.url);
           const json = (body) => new Response(body, {{ status: 200,
             headers: {{ 'Content-Type': 'application/json' }} }});
           if (url.endsWith('/usage')) {{
             return new Promise((answer) => setTimeout(() => answer(json({usage_json:?})), 100));
           }}
           if (url.endsWith('/allocations')) return Promise.resolve(json({list_json:?}));
           return Promise.resolve(new Response('', {{ status: 404 }}));"#
    ));
    let (container, _) = setup();
    let _handle = render(&container, move || {
        let poller = Poller::new(Api::new(&Config::default()), 60);
        let monitor = use_live_monitor(poller, None, None);
        poller.start();
        let highlight = RwSignal::new(None::<String>);
        view! {
            <Show when=move || monitor.has_answered()>
                <UsagePanel monitor thresholds=Thresholds::DEFAULT />
            </Show>
            <AllocationsPanel monitor highlight />
        }
    });
    let text = |selector: &str| {
        container
            .query_selector(selector)
            .unwrap()
            .and_then(|element| element.text_content())
    };
    for _ in 0..400 {
        let card = text(".pool-card .pool-allocated");
        let row = text("tbody tr");
        assert!(
            row.is_none() || card.as_deref() == Some("9"),
            "the table showed the poll's list before its usage: card {card:?}, row {row:?}"
        );
        if row.is_some() {
            return;
        }
        next_turn().await;
    }
    panic!("the poll's list never showed");
}

#[wasm_bindgen_test]
async fn ten_thousand_allocations_render_one_page_in_a_real_table() {
    let (container, monitor) = setup();
    let highlight = RwSignal::new(None::<String>);
    let _handle = render(
        &container,
        move || view! { <AllocationsPanel monitor highlight /> },
    );
    monitor.show_allocations(Allocations {
        as_of: "t".into(),
        allocations: (0..10_000).map(allocation).collect(),
        events_through: None,
    });
    until("rows", || {
        container.query_selector_all("tbody tr").unwrap().length() > 0
    })
    .await;
    assert_eq!(
        container.query_selector_all("tbody tr").unwrap().length() as usize,
        PAGE_SIZE
    );
    assert_eq!(
        container
            .query_selector_all("thead th[scope=col]")
            .unwrap()
            .length(),
        8
    );
    let pager = container
        .query_selector(".pager")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(pager.contains("1 / 100"), "{pager}");
    // Newest first: the latest created_at leads.
    let first = container
        .query_selector("tbody tr th")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert_eq!(first, "al_01439");
    assert!(container
        .query_selector("button[data-release='al_01439']")
        .unwrap()
        .is_some_and(|b| b.get_attribute("aria-label").as_deref() == Some("Release al_01439")));

    // The pager moves through the whole set.
    let next: web_sys::HtmlElement = container
        .query_selector(".pager button:last-of-type")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert_eq!(next.text_content().unwrap(), "Next");
    next.click();
    until("page two", || {
        container
            .query_selector(".pager")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
            .contains("2 / 100")
    })
    .await;

    // Filtering by owner narrows the whole set, not just the page.
    let owner: web_sys::HtmlInputElement = container
        .query_selector("input[type=search]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    owner.set_value("owner3");
    owner
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    until("filtered", || {
        container
            .query_selector(".pager")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
            .contains("1 / 10")
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_failed_poll_is_said_in_an_alert_and_cleared_on_recovery() {
    let (container, monitor) = setup();
    let _handle = render(&container, move || view! { <StatusLine monitor /> });
    let mut problem = Problem::new(503, "overloaded", "Server overloaded");
    problem.detail = Some("Try again in a moment.".into());
    monitor.failure.set(Some(Failure::Http(problem)));
    let alert = container.query_selector("[role=alert]").unwrap().unwrap();
    until("alert text", || {
        alert.text_content().unwrap().contains("Server overloaded")
    })
    .await;
    assert!(alert
        .text_content()
        .unwrap()
        .contains("Try again in a moment."));
    assert!(container
        .query_selector("[role=status][aria-live=polite]")
        .unwrap()
        .is_some());

    monitor.failure.set(None);
    until("alert cleared", || alert.text_content().unwrap().is_empty()).await;
}

#[wasm_bindgen_test]
async fn the_form_checks_amount_before_sending() {
    let (container, _, _, _handle) = alice_form(pool("gpu", "A100", 16, 14)).await;
    // Every field has its own label, tied to it by `for`.
    for (field, label) in [
        ("pool", "Pool"),
        ("amount", "Amount"),
        ("owner", "Owner"),
        ("ttl_seconds", "Duration"),
        ("note", "Note"),
    ] {
        let tag = container
            .query_selector(&format!("label[for=request-{field}]"))
            .unwrap()
            .unwrap_or_else(|| panic!("no label for {field}"));
        assert_eq!(tag.text_content().unwrap(), label);
        assert!(container
            .query_selector(&format!("#request-{field}"))
            .unwrap()
            .is_some());
    }
    let amount: web_sys::HtmlInputElement = container
        .query_selector("#request-amount")
        .unwrap()
        .unwrap()
        .unchecked_into();
    amount.set_value("3");
    amount
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    let submit: web_sys::HtmlElement = container
        .query_selector("button[type=submit]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    submit.click();
    let error = container
        .query_selector("#request-amount-error")
        .unwrap()
        .unwrap();
    until("amount error", || !error.text_content().unwrap().is_empty()).await;
    assert!(
        error.text_content().unwrap().contains('2'),
        "{:?}",
        error.text_content()
    );
    assert_eq!(
        amount.get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    // Nothing was sent, so no request is in flight.
    assert!(!submit
        .unchecked_ref::<web_sys::HtmlButtonElement>()
        .disabled());
    // A screen reader hears it: focus is on the field to fix, the alert says why.
    let focused = document().active_element().map(|e| e.id());
    assert_eq!(focused.as_deref(), Some("request-amount"));
    let alert = container
        .query_selector(".request [role=alert]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(alert.contains("Only 2 available"), "{alert}");
}

#[wasm_bindgen_test]
async fn a_pool_with_no_capacity_is_not_zero_percent_and_critical_at_once() {
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    monitor.show_usage(usage(vec![pool("empty", "Retired", 0, 0)], "t"));
    until("the card", || {
        container.query_selector(".pool-card").unwrap().is_some()
    })
    .await;
    let card = container.query_selector(".pool-card").unwrap().unwrap();
    let text = card.text_content().unwrap();
    assert!(text.contains("Critical"), "{text}");
    assert!(text.contains("no capacity"), "{text}");
    assert!(!text.contains("0%"), "{text}");
}

#[wasm_bindgen_test]
async fn a_card_says_how_much_is_waited_for_only_while_anyone_waits() {
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    let mut full = pool("gpu", "A100 GPU", 16, 16);
    full.waiting = 5;
    monitor.show_usage(usage(vec![full.clone(), pool("vm", "VM", 40, 2)], "t1"));
    until("the waiting line", || {
        container.query_selector(".pool-waiting").unwrap().is_some()
    })
    .await;
    let lines = container.query_selector_all(".pool-waiting").unwrap();
    assert_eq!(lines.length(), 1, "only the pool anyone waits for");
    let line = lines.get(0).unwrap().text_content().unwrap();
    assert_eq!(line, "5 GPU waiting");

    full.waiting = 0;
    monitor.show_usage(usage(vec![full, pool("vm", "VM", 40, 2)], "t2"));
    until("the line gone once nobody waits", || {
        container.query_selector(".pool-waiting").unwrap().is_none()
    })
    .await;
}

fn ticket(id: &str, pool: &str, owner: &str, amount: u64, position: u64) -> Ticket {
    Ticket {
        id: id.into(),
        pool: pool.into(),
        amount,
        owner: owner.into(),
        ttl_seconds: Some(3600),
        note: None,
        status: TicketStatus::Waiting,
        position: Some(position),
        created_at: "2026-11-26T10:00:00Z".into(),
        wait_until: "2026-11-26T11:00:00Z".into(),
        estimated_grant_at: None,
        allocation: None,
        ended_at: None,
    }
}

#[wasm_bindgen_test]
async fn the_queue_is_a_real_table_in_serving_order_and_the_card_counts_its_tickets() {
    let (container, monitor) = setup();
    let _handle = render(&container, move || {
        view! {
            <UsagePanel monitor thresholds=Thresholds::DEFAULT />
            <QueuePanel monitor />
        }
    });
    let mut full = pool("gpu", "A100 GPU", 16, 16);
    full.waiting = 5;
    monitor.show_usage(usage(vec![full], "t1"));
    until("the card", || {
        container.query_selector(".pool-waiting").unwrap().is_some()
    })
    .await;
    assert!(
        container.query_selector(".queue").unwrap().is_none(),
        "no queue, no section"
    );
    let hostile = "<b>mallory</b>";
    monitor.queue.set(Some(Queue {
        as_of: "t1".into(),
        tickets: vec![
            ticket("tk_1", "gpu", "alice", 2, 1),
            ticket("tk_2", "gpu", hostile, 3, 2),
        ],
    }));
    until("the queue table", || {
        container
            .query_selector_all(".queue tbody tr")
            .unwrap()
            .length()
            == 2
    })
    .await;
    let heading = container.query_selector("#queue-heading").unwrap().unwrap();
    assert_eq!(heading.text_content().unwrap(), "Queue");
    let headers = container
        .query_selector_all(".queue th[scope=col]")
        .unwrap();
    assert_eq!(headers.length(), 7);
    let rows = container.query_selector_all(".queue tbody tr").unwrap();
    let second = rows.get(1).unwrap().text_content().unwrap();
    assert!(second.starts_with("2nd"), "{second}");
    assert!(second.contains(hostile), "server text as text: {second}");
    assert!(second.contains("no estimate"), "{second}");
    assert!(container.query_selector(".queue b").unwrap().is_none());
    let line = container.query_selector(".pool-waiting").unwrap().unwrap();
    until("the card counts tickets", || {
        line.text_content().unwrap() == "2 waiting · 5 GPU"
    })
    .await;
    // Your own ticket (and only yours) can leave the line, confirmed first.
    let _fake = FakeFetch::install(
        r#"const status = request.method === 'DELETE' && request.url.endsWith('/queue/tk_1')
             ? 204 : 503;
           return Promise.resolve(new Response(null, { status }));"#,
    );
    monitor.me.set(Some(Me {
        name: Some("alice".into()),
        admin: false,
    }));
    let leave = || container.query_selector_all("button[data-leave]").unwrap();
    until("Leave the line on alice's ticket", || leave().length() == 1).await;
    let start: web_sys::HtmlElement = leave().get(0).unwrap().unchecked_into();
    assert_eq!(start.get_attribute("data-leave").as_deref(), Some("tk_1"));
    assert_eq!(start.text_content().unwrap(), "Leave the line");
    start.click();
    until("the confirmation", || {
        container
            .query_selector(".queue .button-danger")
            .unwrap()
            .is_some()
    })
    .await;
    let confirm: web_sys::HtmlElement = container
        .query_selector(".queue .button-danger")
        .unwrap()
        .unwrap()
        .unchecked_into();
    confirm.click();
    until("the ticket left the line", || {
        container
            .query_selector_all(".queue tbody tr")
            .unwrap()
            .length()
            == 1
    })
    .await;
    monitor.queue.set(None);
    until("a server without a queue shows none", || {
        container.query_selector(".queue").unwrap().is_none()
    })
    .await;
}

/// Replaces `window.fetch` for one test; the original comes back on drop.
struct FakeFetch(JsValue);

impl FakeFetch {
    fn install(body: &str) -> FakeFetch {
        let original = js_sys::Reflect::get(&window(), &"fetch".into()).unwrap();
        let fake = js_sys::Function::new_with_args("request", body);
        js_sys::Reflect::set(&window(), &"fetch".into(), &fake).unwrap();
        FakeFetch(original)
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        js_sys::Reflect::set(&window(), &"fetch".into(), &self.0).unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_fetch_rejected_with_a_non_error_is_a_network_failure_not_a_panic() {
    let _fake = FakeFetch::install("return Promise.reject('blocked by an extension');");
    let api = Api::new(&Config::default());
    let error = api.usage(None).await.unwrap_err();
    assert_eq!(
        error.failure,
        Failure::Network("blocked by an extension".into())
    );
}

#[wasm_bindgen_test]
async fn a_replayed_grant_is_told_apart_from_a_new_one() {
    let _fake = FakeFetch::install(
        r#"if (request.method !== 'POST') {
             return Promise.resolve(new Response('', { status: 503 }));
           }
           const grant = { id: 'al_replay', pool: 'gpu', amount: 1, owner: 'alice',
             resources: ['gpu-1'], status: 'active', created_at: '2026-11-26T10:00:00Z' };
           return Promise.resolve(new Response(JSON.stringify(grant), { status: 201,
             headers: { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' } }));"#,
    );
    let (container, _, _, _handle) = alice_form(pool("gpu", "A100", 16, 0)).await;
    let submit: web_sys::HtmlElement = container
        .query_selector("button[type=submit]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    submit.click();
    let granted = || {
        container
            .query_selector(".granted")
            .unwrap()
            .and_then(|e| e.text_content())
    };
    until("the grant", || {
        granted().is_some_and(|t| t.contains("al_replay"))
    })
    .await;
    let text = granted().unwrap();
    assert!(
        text.starts_with("This request had already been granted"),
        "{text}"
    );
    let region = container
        .query_selector("[role=status][aria-live=polite]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(
        region.starts_with("This request had already been granted"),
        "{region}"
    );
}

#[wasm_bindgen_test]
async fn a_full_pool_offers_to_wait_and_a_place_in_line_is_said_in_words() {
    let _fake = FakeFetch::install(
        r#"if (request.method === 'GET' && request.url.endsWith('/queue/tk_1')) {
             const granted = { id: 'tk_1', pool: 'gpu', amount: 2, owner: 'alice',
               status: 'granted', position: null, created_at: '2026-11-26T10:00:00Z',
               wait_until: '2026-11-26T11:00:00Z',
               allocation: { id: 'al_waited', pool: 'gpu', amount: 2, owner: 'alice',
                 resources: ['gpu-1', 'gpu-2'], status: 'active',
                 created_at: '2026-11-26T10:05:00Z' } };
             return Promise.resolve(new Response(JSON.stringify(granted), { status: 200,
               headers: { 'Content-Type': 'application/json' } }));
           }
           if (request.method !== 'POST') {
             return Promise.resolve(new Response('', { status: 503 }));
           }
           return request.text().then(body => {
             if (JSON.parse(body).wait_seconds !== 3600) {
               return new Response('', { status: 400 });
             }
             const ticket = { id: 'tk_1', pool: 'gpu', amount: 2, owner: 'alice',
               ttl_seconds: 3600, note: null, status: 'waiting', position: 2,
               created_at: '2026-11-26T10:00:00Z', wait_until: '2026-11-26T11:00:00Z',
               estimated_grant_at: null, allocation: null, ended_at: null };
             return new Response(JSON.stringify(ticket), { status: 202,
               headers: { 'Content-Type': 'application/json', 'Location': '/queue/tk_1' } });
           });"#,
    );
    let (container, monitor, highlight, _handle) =
        alice_form(pool("gpu", "A100 GPU", 16, 15)).await;
    assert!(container
        .query_selector("#request-wait_seconds")
        .unwrap()
        .is_none());
    ask_for_more_than_is_free(&container, "2").await;
    let label = container
        .query_selector("label[for=request-wait_seconds]")
        .unwrap()
        .unwrap();
    assert_eq!(label.text_content().unwrap(), "Wait in line for up to");
    let chosen = container
        .query_selector("#request-wait_seconds option:checked")
        .unwrap()
        .unwrap();
    assert_eq!(
        chosen.text_content().unwrap(),
        "Don't wait",
        "waiting is chosen"
    );
    choose_wait(&container, "2");
    let submit: web_sys::HtmlElement = container
        .query_selector("button[type=submit]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    submit.click();
    let queued = || {
        container
            .query_selector(".queued")
            .unwrap()
            .and_then(|e| e.text_content())
    };
    until("the place in line", || queued().is_some()).await;
    assert_eq!(
        queued().unwrap(),
        "You are 2nd in line for 2 GPU on A100 GPU; no estimate: an allocation ahead has no expiry"
    );
    // The next poll's queue no longer holds it (its list was read just
    // before the grant): the server says it was granted.
    monitor.show_allocations(Allocations {
        as_of: "t2".into(),
        allocations: Vec::new(),
        events_through: None,
    });
    monitor.queue.set(Some(Queue {
        as_of: "t2".into(),
        tickets: Vec::new(),
    }));
    let region = || {
        container
            .query_selector("[role=status][aria-live=polite]")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
    };
    until("the grant said", || {
        region().contains("Your 2 GPU on A100 GPU are ready")
    })
    .await;
    assert_eq!(highlight.get_untracked().as_deref(), Some("al_waited"));
    let shown = monitor
        .allocations
        .with_untracked(|list| list.as_ref().unwrap().allocations[0].id.clone());
    assert_eq!(shown, "al_waited", "the grant is in the table at once");
}

#[wasm_bindgen_test]
async fn a_full_pools_amount_hint_gives_what_waiting_may_ask_for() {
    let (container, _monitor, _highlight, _handle) =
        alice_form(pool("gpu", "A100 GPU", 16, 16)).await;
    let hint = || {
        container
            .query_selector("#request-amount-hint")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
    };
    until("the hint", || hint() == "at most 0").await;
    ask_for_more_than_is_free(&container, "2").await;
    assert_eq!(hint(), "at most 0", "nothing is free while not waiting");
    choose_wait(&container, "2");
    until("the limit in line", || hint() == "at most 4").await;
}

#[wasm_bindgen_test]
async fn a_grant_shown_at_once_is_counted_once() {
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    monitor.show_usage(usage(vec![pool("gpu", "A100", 16, 2)], "t"));
    monitor.show_allocations(Allocations {
        as_of: "t".into(),
        allocations: vec![],
        events_through: None,
    });
    let mut grant = allocation(1);
    grant.pool = "gpu".into();
    grant.amount = 3;
    // The 201, then the same 201 replayed (or a poll that saw it first).
    monitor.apply_allocated(&grant);
    monitor.apply_allocated(&grant);
    let allocated = || {
        container
            .query_selector(".pool-allocated")
            .unwrap()
            .and_then(|e| e.text_content())
    };
    until("the grant", || allocated().as_deref() == Some("5")).await;
    assert_eq!(
        monitor
            .allocations
            .with_untracked(|a| a.as_ref().unwrap().allocations.len()),
        1
    );
    monitor.apply_released(&grant);
    monitor.apply_released(&grant);
    until("the release", || allocated().as_deref() == Some("2")).await;
}

#[wasm_bindgen_test]
async fn the_pools_setting_limits_what_is_shown() {
    let (container, _) = setup();
    let monitor = LiveMonitor::new(Api::new(&Config::default()), 60, Some(vec!["vm".into()]));
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    monitor.show_usage(usage(
        vec![pool("gpu", "A100", 16, 1), pool("vm", "VM", 40, 2)],
        "t",
    ));
    monitor.show_allocations(Allocations {
        as_of: "t".into(),
        allocations: (0..4).map(allocation).collect(),
        events_through: None,
    });
    until("a card", || {
        container.query_selector(".pool-card").unwrap().is_some()
    })
    .await;
    let cards = container.query_selector_all(".pool-card h3").unwrap();
    assert_eq!(cards.length(), 1);
    assert_eq!(cards.get(0).unwrap().text_content().unwrap(), "VM");
    let pools: Vec<String> = monitor.allocations.with_untracked(|a| {
        a.as_ref()
            .unwrap()
            .allocations
            .iter()
            .map(|a| a.pool.clone())
            .collect()
    });
    assert_eq!(pools, ["vm", "vm"]);
}

#[wasm_bindgen_test]
async fn two_messages_said_together_are_both_in_the_live_region() {
    let (container, _monitor) = setup();
    let _handle = render(&container, || {
        let announcer = use_announcer();
        announcer.announce("Your 2 GPU on A100 GPU are ready");
        announcer.announce("Allocations ended: 1");
        view! { <p>"said"</p> }
    });
    let region = container
        .query_selector("[role=status][aria-live=polite]")
        .unwrap()
        .unwrap();
    until("both said", || {
        region.text_content().unwrap() == "Your 2 GPU on A100 GPU are ready. Allocations ended: 1"
    })
    .await;
}

#[wasm_bindgen_test]
async fn changes_seen_by_polling_are_announced_politely() {
    let (container, monitor) = setup();
    let highlight = RwSignal::new(None::<String>);
    let _handle = render(
        &container,
        move || view! { <AllocationsPanel monitor highlight /> },
    );
    let list = |ns: &[usize]| Allocations {
        as_of: "t".into(),
        allocations: ns.iter().map(|&n| allocation(n)).collect(),
        events_through: None,
    };
    let region = container
        .query_selector("[role=status][aria-live=polite]")
        .unwrap()
        .unwrap();
    monitor.show_allocations(list(&[2, 1]));
    until("rows", || {
        container.query_selector_all("tbody tr").unwrap().length() == 2
    })
    .await;
    assert_eq!(
        region.text_content().unwrap(),
        "",
        "the first list is not news"
    );
    monitor.show_allocations(list(&[4, 3, 2]));
    until("news", || {
        region.text_content().unwrap() == "New allocations: 2; ended: 1"
    })
    .await;
}

/// `now` plus `secs`, as RFC 3339.
fn iso_in(secs: f64) -> String {
    let at = js_sys::Date::new(&JsValue::from_f64(js_sys::Date::now() + secs * 1000.0));
    String::from(at.to_iso_string())
}

#[wasm_bindgen_test]
async fn the_servers_history_draws_the_line_and_the_forecast_at_once() {
    // An hour rising from 1 to 7 of 16, a minute apart, ending this minute.
    let start = iso_in(-3_600.0);
    let as_of = iso_in(0.0);
    let points: Vec<String> = (0..61).map(|m| (1 + m / 10).to_string()).collect();
    let history = format!(
        r#"{{"as_of":"{as_of}","resolution_seconds":60,"pools":[{{"id":"gpu","start":"{start}",
            "allocated":[{}],"capacity":[{}]}}]}}"#,
        points.join(","),
        vec!["16"; 61].join(",")
    );
    let _fake = FakeFetch::install(&format!(
        r#"if (String(request.url).includes('/usage/history')) {{
             return Promise.resolve(new Response({history:?}, {{ status: 200,
               headers: {{ 'Content-Type': 'application/json' }} }}));
           }}
           return Promise.resolve(new Response('', {{ status: 503 }}));"#
    ));
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    monitor.show_usage(usage(vec![pool("gpu", "A100", 16, 7)], "t"));
    until("the server's hour in words", || {
        container
            .query_selector(".sparkline-caption")
            .unwrap()
            .and_then(|c| c.text_content())
            .is_some_and(|text| text.contains("Last 1 hr") && text.contains("peak 7 of 16 GPU"))
    })
    .await;
    let forecast = container.query_selector(".pool-forecast").unwrap().unwrap();
    let words = forecast.text_content().unwrap();
    assert!(words.starts_with("Full in about 2 hr"), "{words}");
}

#[wasm_bindgen_test]
async fn without_a_server_history_the_page_keeps_its_own_and_forecasts_nothing() {
    let _fake = FakeFetch::install(
        r#"return Promise.resolve(new Response('{"type":"about:blank","title":"Not Found","status":404}',
             { status: 404, headers: { 'Content-Type': 'application/problem+json' } }));"#,
    );
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <UsagePanel monitor thresholds=Thresholds::DEFAULT /> },
    );
    monitor.show_usage(usage(vec![pool("gpu", "A100", 16, 7)], "t"));
    until("the page's own minute", || {
        container
            .query_selector(".sparkline-caption")
            .unwrap()
            .and_then(|c| c.text_content())
            .is_some_and(|text| text.contains("Last 1 min") && text.contains("peak 7 of 16"))
    })
    .await;
    settle().await;
    assert!(container
        .query_selector(".pool-forecast")
        .unwrap()
        .is_none());
}

#[wasm_bindgen_test]
async fn a_refused_extend_is_said_in_words_beside_the_row() {
    use allocation_console::ui::allocations::extend_button::YourAllocations;
    let _fake = FakeFetch::install(
        r#"if (request.method !== 'PATCH') {
             return Promise.resolve(new Response('', { status: 503 }));
           }
           const problem = { type: 'https://x.test/problems/forbidden', title: 'Not allowed',
             status: 403, detail: 'al_mine belongs to alice' };
           return Promise.resolve(new Response(JSON.stringify(problem), { status: 403,
             headers: { 'Content-Type': 'application/problem+json' } }));"#,
    );
    let (container, monitor) = setup();
    let highlight = RwSignal::new(None::<String>);
    let _handle = render(&container, move || {
        provide_context(YourAllocations::new("alice"));
        view! { <AllocationsPanel monitor highlight /> }
    });
    let mine = Allocation {
        id: "al_mine".into(),
        owner: "alice".into(),
        created_at: iso_in(-300.0),
        expires_at: Some(iso_in(300.0)),
        ..allocation(1)
    };
    let theirs = Allocation {
        id: "al_theirs".into(),
        owner: "bob".into(),
        created_at: iso_in(-300.0),
        expires_at: Some(iso_in(300.0)),
        ..allocation(2)
    };
    monitor.show_allocations(Allocations {
        as_of: "t".into(),
        allocations: vec![mine, theirs],
        events_through: None,
    });
    until("Extend on your own row only", || {
        container
            .query_selector_all("button[data-extend]")
            .unwrap()
            .length()
            == 1
    })
    .await;
    let row = container
        .query_selector("tr.expiring-soon")
        .unwrap()
        .unwrap();
    assert!(row.text_content().unwrap().contains("expires soon"));
    let extend: web_sys::HtmlElement = container
        .query_selector("button[data-extend='al_mine']")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert_eq!(
        extend.get_attribute("aria-label").as_deref(),
        Some("Extend al_mine by 10 min")
    );
    extend.click();
    until("the refusal beside the row", || {
        row.query_selector(".row-error[role=alert]")
            .unwrap()
            .and_then(|e| e.text_content())
            .is_some_and(|text| {
                text.contains("Not allowed") && text.contains("al_mine belongs to alice")
            })
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_hostile_deep_body_is_read_without_walking_it() {
    // JSON.parse takes any depth; reading never goes below the contract's types.
    let _fake = FakeFetch::install(
        r#"const deep = '['.repeat(100000) + ']'.repeat(100000);
           const body = request.url.endsWith('/usage')
             ? '{"as_of":"t","pools":[],"extra":' + deep + '}'
             : '{"as_of":"t","allocations":' + deep + '}';
           return Promise.resolve(new Response(body, { status: 200,
             headers: { 'Content-Type': 'application/json' } }));"#,
    );
    let api = Api::new(&Config::default());
    let usage = api.usage(None).await.unwrap();
    assert!(matches!(usage, Fetched::Fresh { data, .. } if data.pools.is_empty()));
    let error = api.allocations(None).await.unwrap_err();
    assert_eq!(
        error.failure,
        Failure::Unreadable {
            status: 200,
            // An array where an allocation belongs is read by position:
            // its first item, 99,999 levels deep, is not an id (and is not walked).
            reason: Unreadable::Field {
                path: "allocations[0].id".into()
            }
        }
    );
}

#[wasm_bindgen_test]
async fn a_wrong_member_is_named_through_json_parse() {
    let _fake = FakeFetch::install(
        r#"return Promise.resolve(new Response(
             '{"as_of":"t","pools":[{"id":"p","name":"P","unit":"u","capacity":"lots","allocated":0}]}',
             { status: 200, headers: { 'Content-Type': 'application/json' } }));"#,
    );
    let error = Api::new(&Config::default()).usage(None).await.unwrap_err();
    assert_eq!(
        error.failure,
        Failure::Unreadable {
            status: 200,
            reason: Unreadable::Field {
                path: "pools[0].capacity".into()
            }
        }
    );
}

#[wasm_bindgen_test]
async fn a_non_admin_sees_release_on_their_own_rows_only() {
    let (container, monitor) = setup();
    let highlight = RwSignal::new(None::<String>);
    let _handle = render(
        &container,
        move || view! { <AllocationsPanel monitor highlight /> },
    );
    let rows: Vec<Allocation> = (0..4).map(allocation).collect();
    monitor.show_allocations(Allocations {
        as_of: "t".into(),
        allocations: rows,
        events_through: None,
    });
    let releases = || {
        container
            .query_selector_all("button[data-release]")
            .unwrap()
            .length()
    };
    until("every row offers Release", || releases() == 4).await;
    monitor.me.set(Some(Me {
        name: Some("owner1".into()),
        admin: false,
    }));
    until("only owner1's row offers Release", || releases() == 1).await;
    let only = container
        .query_selector("button[data-release]")
        .unwrap()
        .unwrap();
    assert_eq!(
        only.get_attribute("data-release").as_deref(),
        Some("al_00001")
    );
    assert!(container.query_selector(".filter-mine").unwrap().is_some());
}

#[wasm_bindgen_test]
async fn a_401_asks_for_a_token_in_a_labelled_password_field() {
    let (container, monitor) = setup();
    let _handle = render(&container, move || view! { <TokenPrompt monitor /> });
    assert!(container
        .query_selector("#console-token")
        .unwrap()
        .is_none());
    monitor.failure.set(Some(Failure::Http(Problem::about_blank(
        401,
        "Unauthorized",
    ))));
    until("the token field", || {
        container
            .query_selector("#console-token")
            .unwrap()
            .is_some()
    })
    .await;
    let field = container.query_selector("#console-token").unwrap().unwrap();
    assert_eq!(field.get_attribute("type").as_deref(), Some("password"));
    let label = container
        .query_selector("label[for=console-token]")
        .unwrap()
        .unwrap();
    assert_eq!(label.text_content().as_deref(), Some("Access token"));
}

#[wasm_bindgen_test]
async fn usage_is_published_without_waiting_for_a_slow_list() {
    let _fake = FakeFetch::install(
        r#"return request.url.endsWith('/usage')
             ? Promise.resolve(new Response('{"as_of":"t","pools":[]}',
                 { status: 200, headers: { 'Content-Type': 'application/json' } }))
             : new Promise(() => {});"#,
    );
    // Mounting sets up the task executor the poller spawns its requests on.
    let (container, _) = setup();
    let _handle = render(&container, || view! { <p /> });
    let poller = Poller::new(Api::new(&Config::default()), 60);
    poller.refresh();
    until(
        "usage published while /allocations is still on its way",
        || poller.usage.with_untracked(Option::is_some),
    )
    .await;
    assert!(poller.allocations.with_untracked(Option::is_none));
}

#[wasm_bindgen_test]
async fn a_grant_stays_in_the_title_until_the_reader_is_back_and_its_row_until_they_act() {
    let (container, monitor) = setup();
    let highlight = RwSignal::new(None::<String>);
    let news = RwSignal::new(None::<PageNews>);
    let _handle = render(&container, move || {
        news.set(Some(use_page_news()));
        view! {
            <UsagePanel monitor thresholds=Thresholds::DEFAULT />
            <AllocationsPanel monitor highlight />
        }
    });
    monitor.show_usage(usage(vec![pool("gpu", "A100 GPU", 16, 16)], "t"));
    monitor.show_allocations(Allocations {
        as_of: "t".into(),
        allocations: vec![allocation(2)],
        events_through: None,
    });
    let critical = "✖ Critical · Allocation console";
    until("the level in the title", || document().title() == critical).await;
    let ready = TicketReady {
        allocation_id: "al_00002".into(),
        words: "Your 2 GPU on A100 GPU are ready".into(),
        units: "gpu-00002".into(),
    };
    news.get_untracked().unwrap().tell(&ready);
    highlight.set(Some(ready.allocation_id.clone()));
    let row_highlighted = || {
        container
            .query_selector("tbody tr.highlight")
            .unwrap()
            .is_some()
    };
    until("the grant in the title and its row", || {
        document().title() == "Your 2 GPU on A100 GPU are ready · Allocation console"
            && row_highlighted()
    })
    .await;

    // Back at the page (the window takes the focus): the title is seen; the
    // row stays, so the reader sees which one is new.
    window()
        .dispatch_event(&web_sys::Event::new("focus").unwrap())
        .unwrap();
    until("the title back", || document().title() == critical).await;
    settle().await;
    assert!(row_highlighted());

    // A key pressed on the page: the row is seen too.
    window()
        .dispatch_event(&web_sys::Event::new("keydown").unwrap())
        .unwrap();
    until("the row plain", || !row_highlighted()).await;
    assert_eq!(highlight.get_untracked(), None);
}

#[wasm_bindgen_test]
async fn the_work_area_says_it_is_loading_then_shows_the_form_and_the_tables() {
    let (container, monitor) = setup();
    let _handle = render(
        &container,
        move || view! { <WorkArea monitor owner="alice".to_owned() /> },
    );
    // Drawn with the cards: a polite loading line, no form yet.
    let loading = container
        .query_selector(".work-loading[role=status]")
        .unwrap()
        .expect("a loading line");
    assert_eq!(
        loading.text_content().as_deref(),
        Some("Loading the request form and the tables…")
    );
    assert!(container.query_selector("form").unwrap().is_none());
    // The frame after: the form, the line gone.
    until("the request form", || {
        container
            .query_selector("#request-amount")
            .unwrap()
            .is_some()
    })
    .await;
    assert!(container.query_selector(".work-loading").unwrap().is_none());
    // The tables in the task after the form's.
    until("the allocations section", || {
        container
            .query_selector("[aria-labelledby=allocations-heading]")
            .unwrap()
            .is_some()
    })
    .await;
}

/// A fake server with an event log of `window.fakeHead` events (seqs
/// `window.fakeOldest` to the head, each a minute after the one before, the
/// newest now; an older `after` is a `410` naming `oldest`): every fifth is
/// alice's, every third is on `vm`, seq 7 is of a kind this build does not
/// know. Lists are empty, name the head as `events_through` (none without a
/// log) and are counted in `window.listReads`; `/queue` is a 404.
const FAKE_LOG: &str = r#"
    const url = new URL(request.url);
    const json = (body) => Promise.resolve(new Response(JSON.stringify(body),
        { status: 200, headers: { 'Content-Type': 'application/json' } }));
    if (url.pathname.endsWith('/usage')) return json({ as_of: 't', pools: [
        { id: 'gpu', name: 'A100 GPU', unit: 'GPU', capacity: 16, allocated: 2 },
        { id: 'vm', name: 'Large VM', unit: 'VM', capacity: 8, allocated: 0 } ] });
    if (url.pathname.endsWith('/allocations')) {
        window.listReads += 1;
        const list = { as_of: 't', allocations: [] };
        return json(window.fakeNoLog ? list : { ...list, events_through: window.fakeHead });
    }
    if (!url.pathname.endsWith('/events') || window.fakeNoLog) {
        return Promise.resolve(new Response('', { status: 404 }));
    }
    window.eventReads += 1;
    const head = window.fakeHead;
    const after = Number(url.searchParams.get('after'));
    const limit = Number(url.searchParams.get('limit'));
    if (after + 1 < window.fakeOldest) {
        return Promise.resolve(new Response(JSON.stringify({ status: 410, title: 'Gone',
            type: 'https://allocation-console.dev/problems/events-expired', oldest: window.fakeOldest }),
            { status: 410, headers: { 'Content-Type': 'application/problem+json' } }));
    }
    const events = [];
    for (let seq = after + 1; seq <= Math.min(head, after + limit); seq++) {
        const owner = seq % 5 === 0 ? 'alice' : 'bob';
        events.push({ seq, at: new Date(Date.now() - (head - seq) * 60000).toISOString(),
            kind: seq === 7 ? 'pool_renamed' : seq % 2 ? 'released' : 'allocated',
            pool: seq % 3 === 0 ? 'vm' : 'gpu', owner, amount: 2, actor: owner,
            allocation: null, ticket: null, level: 'warning' });
    }
    return json({ events, next: events.length ? events[events.length - 1].seq : after });
"#;

/// Sets up [`FAKE_LOG`]: the log's head, whether there is a log, counters at 0.
fn fake_log(head: u64, no_log: bool) {
    js_sys::Reflect::set(&window(), &"fakeHead".into(), &(head as f64).into()).unwrap();
    for (name, value) in [
        ("fakeNoLog", JsValue::from(no_log)),
        ("fakeOldest", 1.0.into()),
        ("listReads", 0.0.into()),
        ("eventReads", 0.0.into()),
    ] {
        js_sys::Reflect::set(&window(), &name.into(), &value).unwrap();
    }
}

/// Mounts the Activity section on a monitor signed in as alice, polls once.
fn activity_page(head: u64, no_log: bool) -> (web_sys::HtmlElement, LiveMonitor, impl Sized) {
    fake_log(head, no_log);
    let (container, monitor) = setup();
    let handle = render(&container, move || {
        let follower = use_event_follower(monitor);
        view! { <ActivitySection monitor follower /> }
    });
    monitor.show_usage(usage(
        vec![
            pool("gpu", "A100 GPU", 16, 2),
            allocation_testkit::pool("vm")
                .name("Large VM")
                .unit("VM")
                .capacity(8)
                .build(),
        ],
        "t",
    ));
    monitor.me.set(Some(Me {
        name: Some("alice".into()),
        admin: false,
    }));
    monitor.refresh();
    (container, monitor, handle)
}

fn activity_items(container: &web_sys::HtmlElement) -> Vec<String> {
    let items = container
        .query_selector_all("section.activity ol.activity-list > li")
        .unwrap();
    (0..items.length())
        .filter_map(|i| items.item(i)?.text_content())
        .collect()
}

#[wasm_bindgen_test]
async fn activity_lists_the_latest_events_in_words_newest_first_with_your_own_marked() {
    let _fake = FakeFetch::install(FAKE_LOG);
    let (container, monitor, _handle) = activity_page(25, false);
    until("the ten latest events", || {
        activity_items(&container).len() == 10
    })
    .await;
    let items = activity_items(&container);
    // 25: alice's release on gpu; 24: bob's allocation on vm; 16: the oldest shown.
    assert!(
        items[0].starts_with("You alice released 2 GPU on A100 GPU · "),
        "{items:?}"
    );
    assert!(items[0].ends_with(" ago"), "{items:?}");
    assert!(
        items[1].starts_with("bob allocated 2 VM on Large VM · "),
        "{items:?}"
    );
    assert!(
        items[9].starts_with("bob allocated 2 GPU on A100 GPU · "),
        "{items:?}"
    );
    let own = container
        .query_selector_all("li.activity-own strong.activity-you")
        .unwrap();
    assert_eq!(own.length(), 2, "25 and 20 are alice's");
    // A real list under a heading that names the section.
    let heading = container
        .query_selector("#activity-heading")
        .unwrap()
        .unwrap();
    assert_eq!(heading.text_content().as_deref(), Some("Activity"));
    assert!(container
        .query_selector("section[aria-labelledby=activity-heading] > ol > li > time[datetime]")
        .unwrap()
        .is_some());

    // A new event is on top after the next poll.
    js_sys::Reflect::set(&window(), &"fakeHead".into(), &26.0.into()).unwrap();
    monitor.refresh();
    until("the new event on top", || {
        activity_items(&container)
            .first()
            .is_some_and(|item| item.starts_with("bob allocated 2 GPU on A100 GPU"))
    })
    .await;
    assert_eq!(activity_items(&container).len(), 10);
}

/// Chooses `value` in the `select` labelled `label`.
fn choose(container: &web_sys::HtmlElement, label: &str, value: &str) {
    let labels = container
        .query_selector_all("section.activity label")
        .unwrap();
    let label = (0..labels.length())
        .filter_map(|i| labels.item(i))
        .find(|l| l.text_content().is_some_and(|t| t.starts_with(label)))
        .unwrap();
    let select = label
        .unchecked_ref::<web_sys::Element>()
        .query_selector("select")
        .unwrap()
        .unwrap();
    js_sys::Reflect::set(&select, &"value".into(), &value.into()).unwrap();
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn activity_filters_by_pool_and_person_and_shows_older_events_down_to_the_start() {
    let _fake = FakeFetch::install(FAKE_LOG);
    let (container, _monitor, _handle) = activity_page(25, false);
    until("the ten latest events", || {
        activity_items(&container).len() == 10
    })
    .await;

    choose(&container, "Filter by pool", "vm");
    until("only Large VM", || {
        let items = activity_items(&container);
        // 24, 21, 18, 15, 12, 9, 6, 3: all eight vm events, from the whole log.
        items.len() == 8 && items.iter().all(|i| i.contains("on Large VM"))
    })
    .await;
    choose(&container, "Filter by person", "alice");
    until("alice's on Large VM", || {
        activity_items(&container).len() == 1
    })
    .await;
    assert!(activity_items(&container)[0].starts_with("You alice released 2 VM on Large VM"));

    choose(&container, "Filter by pool", "");
    choose(&container, "Filter by person", "");
    until("ten again", || activity_items(&container).len() == 10).await;
    let show_older = || {
        container
            .query_selector("section.activity button")
            .unwrap()
            .map(|b| b.unchecked_into::<web_sys::HtmlElement>())
    };
    show_older().expect("Show older").click();
    until("twenty", || activity_items(&container).len() == 20).await;
    show_older().expect("Show older").click();
    until("all 25", || activity_items(&container).len() == 25).await;
    // The start of the log: nothing older to ask for. Seq 7's kind is unknown.
    until("no Show older", || show_older().is_none()).await;
    let items = activity_items(&container);
    assert!(items[18].starts_with("A change on A100 GPU"), "{items:?}");
}

#[wasm_bindgen_test]
async fn a_server_without_an_event_log_is_said_and_its_list_read_whole() {
    let _fake = FakeFetch::install(FAKE_LOG);
    let (container, monitor, _handle) = activity_page(25, true);
    until("no activity log", || {
        container
            .text_content()
            .is_some_and(|t| t.contains("This server keeps no activity log"))
    })
    .await;
    assert!(activity_items(&container).is_empty());
    assert!(!container.text_content().unwrap().contains("Loading"));
    until("the list read", || fake_count("listReads") >= 1).await;
    // From then on the list is read whole and the log is not asked for.
    let (asked, lists) = (fake_count("eventReads"), fake_count("listReads"));
    monitor.refresh();
    until("the list read again", || fake_count("listReads") > lists).await;
    assert_eq!(fake_count("eventReads"), asked);
}

/// A counter the fake server keeps on `window`.
fn fake_count(name: &str) -> u64 {
    js_sys::Reflect::get(&window(), &name.into())
        .unwrap()
        .as_f64()
        .unwrap_or(0.0) as u64
}

#[wasm_bindgen_test]
async fn a_410_reads_the_list_again_and_follows_from_the_new_head() {
    let _fake = FakeFetch::install(FAKE_LOG);
    let (container, monitor, _handle) = activity_page(25, false);
    until("the ten latest events", || {
        activity_items(&container).len() == 10
    })
    .await;
    let lists = fake_count("listReads");
    // The log moved on to 40 and let go of everything before 30.
    js_sys::Reflect::set(&window(), &"fakeOldest".into(), &30.0.into()).unwrap();
    js_sys::Reflect::set(&window(), &"fakeHead".into(), &40.0.into()).unwrap();
    monitor.refresh();
    until("40 on top", || {
        activity_items(&container)
            .first()
            .is_some_and(|item| item.starts_with("You alice allocated 2 GPU on A100 GPU"))
    })
    .await;
    // (Another test's poller may read too: the count is the page's.)
    assert!(fake_count("listReads") > lists);
    until("40 to 31", || activity_items(&container).len() == 10).await;
    // Nothing older than 30 is kept, as the first window's 410 said
    // (`oldest`): the next window read 30 too, so Show older reads nothing
    // more, shows it and goes.
    let reads = fake_count("eventReads");
    container
        .query_selector("section.activity button")
        .unwrap()
        .expect("Show older")
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
    until("no Show older", || {
        container
            .query_selector("section.activity button")
            .unwrap()
            .is_none()
    })
    .await;
    assert_eq!(activity_items(&container).len(), 11);
    settle().await;
    assert_eq!(fake_count("eventReads"), reads, "the start was known");
}

/// Activity with a follower of its own, as each full console's work area has.
#[component]
fn FollowedActivity(monitor: LiveMonitor) -> impl IntoView {
    let follower = use_event_follower(monitor);
    view! { <ActivitySection monitor follower /> }
}

#[wasm_bindgen_test]
async fn a_console_going_away_leaves_another_consoles_follower_on_the_shared_poller() {
    let _fake = FakeFetch::install(FAKE_LOG);
    fake_log(25, false);
    // Two full consoles on one poller (the script embed shares one per
    // endpoint): the follower installed last keeps the list.
    let (container, monitor) = setup();
    let (first_shown, second_shown) = (RwSignal::new(true), RwSignal::new(false));
    let _handle = render(&container, move || {
        view! {
            <div class="first">
                <Show when=move || first_shown.get()><FollowedActivity monitor /></Show>
            </div>
            <div class="second">
                <Show when=move || second_shown.get()><FollowedActivity monitor /></Show>
            </div>
        }
    });
    let items = |console: &str| {
        let list = container
            .query_selector_all(&format!(".{console} section.activity li"))
            .unwrap();
        (0..list.length())
            .filter_map(|i| list.item(i)?.text_content())
            .collect::<Vec<_>>()
    };
    monitor.show_usage(usage(vec![pool("gpu", "A100 GPU", 16, 2)], "t"));
    monitor.refresh();
    until("the first follows", || items("first").len() == 10).await;
    second_shown.set(true);
    until("the second follows", || items("second").len() == 10).await;

    // The first goes; the second's follower stays the poller's.
    first_shown.set(false);
    settle().await;
    js_sys::Reflect::set(&window(), &"fakeHead".into(), &26.0.into()).unwrap();
    monitor.refresh();
    until("26 on top of the second", || {
        items("second")
            .first()
            .is_some_and(|item| item.starts_with("bob allocated 2 GPU on A100 GPU"))
    })
    .await;
}

/// Resolves at the next animation frame's callbacks (after those asked for before).
async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window().request_animation_frame(&resolve).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_confirmation_gone_before_its_focus_moves_does_not_panic() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PANICKED: AtomicBool = AtomicBool::new(false);
    let before = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        before(info);
    }));
    let (container, _monitor) = setup();
    let handle = render(&container, || {
        view! {
            <ConfirmedAction label="Release al_1".to_owned() seen=Text::Release
                confirm=Text::ConfirmRelease target=ActionTarget::Allocation
                id="al_1".to_owned() act=Callback::new(|_| ()) />
        }
    });
    container
        .query_selector("button[data-release]")
        .unwrap()
        .expect("Release")
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
    // The row goes (a poll, the page moving on) before the frame that
    // would focus the confirmation.
    drop(handle);
    next_frame().await;
    next_frame().await;
    assert!(
        !PANICKED.load(Ordering::SeqCst),
        "a panic after the row went"
    );
}
