//! A real headless Chromium, driven over WebDriver (W3C) by `fantoccini`
//! through Debian's `chromedriver`, for the console's tests. Chromium is a
//! prerequisite the README names (`apt-get install chromium chromium-driver`);
//! without it a console test says `SKIP` (see [`super::tools::or_skip`]), or
//! fails under `CAREPATH_TEST_TOOLS=require`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Map, json};

use super::wait_for;

/// Chromium under chromedriver, and a WebDriver session in it.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Where the console's screenshots go: `target/tmp/console-screenshots`
/// (test artifacts; the README shows three of them).
pub fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium
    /// window 1280 px wide.
    ///
    /// # Errors
    /// Chromium or chromedriver not installed, or not starting.
    pub async fn start() -> Result<Browser, String> {
        let install = "install Chromium: apt-get install chromium chromium-driver";
        let driver_bin =
            on_path("chromedriver").ok_or(format!("no chromedriver on PATH ({install})"))?;
        let chromium = on_path("chromium")
            .or_else(|| on_path("chromium-browser"))
            .or_else(|| on_path("google-chrome"))
            .ok_or(format!("no chromium on PATH ({install})"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver did not start: {e}"))?;
        let mut browser_opts = Map::new();
        browser_opts.insert("binary".into(), json!(chromium.to_string_lossy()));
        browser_opts.insert(
            "args".into(),
            json!([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1280,1000",
            ]),
        );
        let mut caps = Map::new();
        caps.insert("goog:chromeOptions".into(), json!(browser_opts));
        let url = format!("http://127.0.0.1:{port}");
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        let mut guard = Browser::guard(driver);
        // chromedriver listens a moment after it starts.
        let client = wait_for(
            "chromedriver to accept a session",
            Duration::from_secs(30),
            || async { builder.connect(&url).await.ok() },
        )
        .await;
        let driver = guard.take();
        Ok(Browser { client, driver })
    }

    fn guard(driver: Child) -> DriverGuard {
        DriverGuard(Some(driver))
    }

    /// Opens `url` and waits for its `<main>`.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        self.wait(Locator::Css("main")).await;
    }

    /// Waits (30 s at most) for an element.
    pub async fn wait(&self, at: Locator<'_>) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(at)
            .await
            .unwrap_or_else(|e| panic!("waiting for {at:?}: {e}"))
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.wait(Locator::Css("body"))
            .await
            .text()
            .await
            .unwrap_or_default()
    }

    /// Fills the field `css` with `value`.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.wait(Locator::Css(css)).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks `css`, then waits for the next page (the current one is
    /// marked first, so its own `<main>` is not mistaken for the next's).
    pub async fn submit(&self, css: &str) {
        self.leave_by(css, false).await;
    }

    /// [`Browser::submit`] for a form that asks first (`data-confirm`): the
    /// dialog is accepted.
    pub async fn submit_confirming(&self, css: &str) {
        self.leave_by(css, true).await;
    }

    async fn leave_by(&self, css: &str, confirm: bool) {
        let button = self.wait(Locator::Css(css)).await;
        self.client
            .execute("document.body.setAttribute('data-left', '1')", vec![])
            .await
            .unwrap_or_else(|e| panic!("mark the page: {e}"));
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        if confirm {
            wait_for(
                "the confirmation dialog",
                Duration::from_secs(10),
                || async { self.client.accept_alert().await.ok() },
            )
            .await;
        }
        self.wait(Locator::Css("body:not([data-left]) main")).await;
    }

    /// Clicks `css` on the page (a checkbox, a radio button): no navigation.
    pub async fn click(&self, css: &str) {
        let element = self.wait(Locator::Css(css)).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Saves a PNG of the window as `<name>.png` under [`screenshots`].
    pub async fn screenshot(&self, name: &str) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let dir = screenshots();
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(dir.join(format!("{name}.png")), png)
            .unwrap_or_else(|e| panic!("save {name}: {e}"));
    }

    /// Ends the WebDriver session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills chromedriver if the session never opens.
struct DriverGuard(Option<Child>);

impl DriverGuard {
    fn take(&mut self) -> Child {
        self.0.take().expect("taken once")
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
