//! Headless Chromium driven over WebDriver (Debian `chromium` and `chromium-driver`).
//!
//! [`Browser::start`] runs a private `chromedriver` on a free loopback port (its own process
//! group, stopped by PID when the handle drops) and opens one session of a headless
//! Chromium with a throw-away profile, no network beyond loopback and no background
//! services. The handful of WebDriver commands the tests need (navigate, find, click, text,
//! a script) are plain JSON over the `reqwest` client the suite already has: a WebDriver
//! crate would add some thirty crates to every CI build for these six calls.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use super::tools::require;
use super::{kill_tree, log_tail, wait_until};

/// The key WebDriver uses for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running `chromedriver` with one open session. Dropping it ends the session and kills
/// the driver's process tree (Chromium included).
pub struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
    log: PathBuf,
}

/// An element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts `chromedriver` and a headless Chromium session.
    ///
    /// # Panics
    /// When `chromium` or `chromedriver` is missing (Debian packages chromium and
    /// chromium-driver).
    pub async fn start() -> Result<Browser> {
        let chromium = require("chromium", "chromium");
        let chromedriver = require("chromedriver", "chromium-driver");
        let profile = tempfile::Builder::new()
            .prefix("tb-chromium-")
            .tempdir()
            .context("creating the browser profile dir")?;
        let port = {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("free port")?;
            listener.local_addr().context("free port")?.port()
        };
        let log = profile.path().join("chromedriver.log");
        let log_file = std::fs::File::create(&log).context("creating the driver log")?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .env("HOME", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .context("client")?,
            _profile: profile,
            log,
        };
        let up = wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
            Ok(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok())
        })?;
        ensure!(
            up,
            "chromedriver did not listen on {port}: {}",
            log_tail(&browser.log, 2000)
        );
        let user_data = browser._profile.path().join("profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-extensions", "--no-first-run", "--disable-breakpad",
                    "--no-default-browser-check", "--window-size=1280,2000",
                    format!("--user-data-dir={}", user_data.display()),
                ]
            }
        }}});
        let answer = browser
            .command(reqwest::Method::POST, "/session", capabilities)
            .await?;
        let session = answer["sessionId"]
            .as_str()
            .context("no sessionId in the new-session answer")?
            .to_string();
        browser.base = format!("{}/session/{session}", browser.base);
        Ok(browser)
    }

    /// One WebDriver command; returns its `value`, or the WebDriver error as an error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method.clone(), &url);
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("WebDriver {method} {path}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("WebDriver {method} {path}: not JSON"))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "WebDriver {method} {path}: {status}: {} ({})",
                value["error"],
                value["message"]
            );
        }
        Ok(value)
    }

    /// Loads `url` and waits for its `load` event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await
            .map(drop)
    }

    /// The first element matching the CSS `selector`, waiting up to `timeout` for one.
    pub async fn wait_for(&self, selector: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .command(
                    reqwest::Method::POST,
                    "/elements",
                    json!({"using": "css selector", "value": selector}),
                )
                .await?;
            if let Some(first) = found.as_array().and_then(|a| a.first()) {
                let id = first[ELEMENT_KEY]
                    .as_str()
                    .context("element reference without its key")?;
                return Ok(Element(id.to_string()));
            }
            if Instant::now() >= deadline {
                bail!("no element matches `{selector}` after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `element` (scrolled into view first, as a user would).
    pub async fn click(&self, element: &Element) -> Result<()> {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            json!({}),
        )
        .await
        .map(drop)
    }

    /// The rendered text of `element`.
    pub async fn text(&self, element: &Element) -> Result<String> {
        let value = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/text", element.0),
                Value::Null,
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns
    /// what it returns.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// The driver's log (for a failure message).
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, 4000)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = kill_tree(&mut self.driver);
    }
}
