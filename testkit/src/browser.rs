//! The one browser launcher: headless Chromium through a ChromeDriver of its
//! own on a free port, and the waits the tests read pages with.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

/// What every session runs with: headless, a fixed window and language.
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
    "--lang=en-US",
];

/// A headless Chromium session; its ChromeDriver and Chromium stop when
/// this is dropped, even by a test that panics before [`Browser::close`].
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // ChromeDriver leads a process group of its own, which the Chromium it
        // starts joins: killing ChromeDriver alone (`kill_on_drop`) would
        // leave that Chromium running, its pages still polling.
        if let Some(group) = self.driver.id() {
            // SAFETY: a plain signal to a process group this session made.
            unsafe { libc::killpg(group as libc::pid_t, libc::SIGKILL) };
        }
    }
}

impl Browser {
    /// A new session on a blank page.
    pub async fn launch() -> Browser {
        Browser::launch_with(&[]).await
    }

    /// [`Browser::launch`] with more Chromium flags (the bench's memory flags).
    pub async fn launch_with(extra_args: &[&str]) -> Browser {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or("chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .expect("chromedriver is installed (scripts/setup --browser)");
        let args: Vec<&str> = CHROME_ARGS.iter().chain(extra_args).copied().collect();
        let capabilities: Capabilities =
            serde_json::from_value(json!({ "goog:chromeOptions": { "args": args } })).unwrap();
        let client = connect(port, capabilities).await;
        Browser { client, driver }
    }

    /// A new session on `url`.
    pub async fn open_url(url: &str) -> Browser {
        let browser = Browser::launch().await;
        browser.client.goto(url).await.unwrap();
        browser
    }

    /// Waits until an element matching the XPath exists, and returns it.
    pub async fn wait_for(&self, xpath: &str) -> Element {
        self.wait_for_within(xpath, WAIT).await
    }

    pub async fn wait_for_within(&self, xpath: &str, limit: Duration) -> Element {
        match self
            .client
            .wait()
            .at_most(limit)
            .for_element(Locator::XPath(xpath))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                let body = self
                    .client
                    .find(Locator::Css("body"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap_or_default();
                panic!("waited {limit:?} for {xpath}: {error}\npage text:\n{body}")
            }
        }
    }

    pub async fn click(&self, xpath: &str) {
        self.wait_for(xpath).await.click().await.unwrap();
    }

    /// Replaces what a text field holds.
    pub async fn fill(&self, xpath: &str, text: &str) {
        let field = self.wait_for(xpath).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Waits until nothing matches `relative` (an XPath from the body, `.//…`).
    pub async fn wait_gone(&self, relative: &str) {
        self.wait_for(&format!("/html/body[not({relative})]")).await;
    }

    /// Saves the page as `target/screenshots/{name}.png` in the workspace.
    pub async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("testkit/ sits in the workspace")
            .join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Runs `script` (a function body; `return` gives the value) in the current frame.
    pub async fn run(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Runs `script` until it returns something other than `null`, `false`
    /// or `undefined`, and gives that; bounded by [`WAIT`].
    pub async fn wait_until_js(&self, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let value = self.run(script).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            assert!(start.elapsed() < WAIT, "waited {WAIT:?} for: {script}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

/// A WebDriver session on the ChromeDriver at `port`, which needs a moment to
/// listen: tried until it answers, bounded.
async fn connect(port: u16, capabilities: Capabilities) -> Client {
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = None;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return client,
                Err(error) => last_error = Some(error.to_string()),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("ChromeDriver did not start: {last_error:?}");
}
