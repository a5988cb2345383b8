//! A real browser for the console tests: Debian's chromedriver on a free loopback port,
//! a headless Chromium session driven with fantoccini (plain HTTP, no TLS), and the
//! steps an operator takes (sign in, open a path, fill a labelled field, click, press
//! keys, wait for text, choose a file, download a file). Every page a test reaches goes through
//! [`Browser::page`], which checks its headings and labels and writes a screenshot named
//! after the step into `target/console-screenshots/`. Nothing sleeps for a fixed time:
//! every wait polls a condition until [`WAIT`] runs out.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The page's size in screenshots.
const VIEWPORT: (u64, u64) = (1280, 900);

/// How long any condition may take to hold.
pub const WAIT: Duration = Duration::from_secs(15);

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// Where the screenshots go: `console-screenshots` in the target directory the
/// `ponte` binary was built into.
pub fn screenshot_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_ponte"));
    let target = bin
        .ancestors()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n == "debug" || n == "release")
        })
        .and_then(Path::parent)
        .expect("the ponte binary is under a target directory");
    target.join("console-screenshots")
}

/// Polls `f` until it gives a value; panics naming `what` after [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < WAIT, "{what}: not seen within {WAIT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// chromedriver, with the session it runs. Dropping it ends the session (Chromium
/// exits), even when a test panics, then kills chromedriver.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it accepts connections.
    fn start() -> Driver {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut driver = Driver {
                child: Command::new(CHROMEDRIVER)
                    .arg(format!("--port={port}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("chromedriver (Debian's chromium-driver) runs"),
                port,
                session: None,
            };
            let start = Instant::now();
            while start.elapsed() < WAIT {
                if let Ok(Some(_)) = driver.child.try_wait() {
                    break; // the port was taken meanwhile: another one
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return driver;
                }
                std::thread::sleep(POLL);
            }
        }
        panic!("chromedriver did not start");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Asks chromedriver to end the session (it closes Chromium), waiting at most a
    /// few seconds for the answer. Plain blocking HTTP: this runs in `drop`.
    fn end_session(&mut self) {
        let Some(id) = self.session.take() else {
            return;
        };
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        if conn.write_all(request.as_bytes()).is_ok() {
            let _ = conn.read_to_end(&mut vec![]);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.end_session();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session on one ponte.
pub struct Browser {
    pub client: Client,
    /// ponte's base URL (`http://127.0.0.1:port`).
    base: String,
    /// Screenshot names start with this (the test's name).
    name: String,
    shots: usize,
    // Before the directories: Chromium ends before they are removed.
    driver: Driver,
    downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a 1280x900 headless Chromium on `base`, asking for Portuguese pages;
    /// screenshots are named `{name}-NN-{step}.png`.
    pub async fn open(base: &str, name: &str) -> Browser {
        let mut driver = Driver::start();
        let downloads = tempfile::tempdir().unwrap();
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--lang=pt-BR", "--hide-scrollbars",
                    "--no-first-run", "--disable-extensions", "--disable-background-networking",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "pt-BR,pt",
                },
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .expect("a Chromium session");
        driver.session = client.session_id().await.unwrap();
        // `--window-size` counts the window's frame: grow it so the page gets 1280x900.
        let inner = || async {
            let v = client
                .execute("return [window.innerWidth, window.innerHeight]", vec![])
                .await
                .unwrap();
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
        };
        let (w, h) = inner().await;
        let (ow, oh) = client.get_window_size().await.unwrap();
        let (w, h) = (ow + VIEWPORT.0 - w, oh + VIEWPORT.1 - h);
        client
            .set_window_size(u32::try_from(w).unwrap(), u32::try_from(h).unwrap())
            .await
            .unwrap();
        assert_eq!(inner().await, VIEWPORT);
        std::fs::create_dir_all(screenshot_dir()).unwrap();
        Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            name: name.to_owned(),
            shots: 0,
            driver,
            downloads,
            _profile: profile,
        }
    }

    /// Ends the session (Chromium exits) and chromedriver.
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.driver.session = None;
        }
    }

    /// Signs in as a person does: e-mail and password typed into their labelled
    /// fields, Enter; lands on the order list (not yet checked: the caller names that
    /// step).
    pub async fn sign_in(&mut self, email: &str) {
        self.goto("/console/login", "sign-in").await;
        self.fill("E-mail", email).await;
        self.fill("Senha", crate::shop::PASSWORD).await;
        self.press(Key::Enter).await;
        self.wait_path("/console/orders").await;
    }

    /// Opens `path` (e.g. `/console/orders`) and checks the page it lands on.
    pub async fn goto(&mut self, path: &str, step: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.page(step).await;
    }

    /// The page reached (after a click or a key, call it once something of the new
    /// page was seen, e.g. [`Self::wait_h1`]): waits until it has loaded, checks that
    /// it has exactly one `h1` and that every input and select has a label, and
    /// writes its screenshot.
    pub async fn page(&mut self, step: &str) {
        eventually("page loaded", || async {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .ok()?;
            (state == "complete").then_some(())
        })
        .await;
        let problems = self
            .client
            .execute(ACCESSIBILITY_CHECK, vec![])
            .await
            .unwrap();
        assert_eq!(
            problems,
            json!([]),
            "{step} ({}): accessibility problems",
            self.path().await
        );
        self.screenshot(step).await;
    }

    /// Writes the visible page as `{name}-NN-{step}.png`.
    pub async fn screenshot(&mut self, step: &str) {
        self.shots += 1;
        let png = self.client.screenshot().await.unwrap();
        let path = screenshot_dir().join(format!("{}-{:02}-{step}.png", self.name, self.shots));
        std::fs::write(path, png).unwrap();
    }

    /// Loads the page again until the element `css` selects contains `text` (for what
    /// changes in the background and shows at the next load), then checks it.
    pub async fn reload_until(&mut self, css: &str, text: &str, step: &str) {
        eventually(&format!("{css} containing {text:?}"), || async {
            self.client.refresh().await.ok()?;
            let e = self.client.find(Locator::Css(css)).await.ok()?;
            e.text().await.ok()?.contains(text).then_some(())
        })
        .await;
        self.page(step).await;
    }

    /// The current URL's path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the current path (without query) is `path`.
    pub async fn wait_path(&self, path: &str) {
        eventually(&format!("path {path}"), || async {
            let url = self.client.current_url().await.ok()?;
            (url.path() == path).then_some(())
        })
        .await;
    }

    /// The one element `css` selects (waiting for it to appear).
    pub async fn find(&self, css: &str) -> Element {
        eventually(&format!("element {css}"), || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The visible texts of every element `css` selects, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = vec![];
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// The cells' texts of the table row that holds a link reading `link`.
    pub async fn row(&self, link: &str) -> Vec<String> {
        let xpath = format!("//tr[td//a[normalize-space()={}]]/td", xpath_literal(link));
        let cells = eventually(&format!("row of {link:?}"), || async {
            let cells = self.client.find_all(Locator::XPath(&xpath)).await.ok()?;
            (!cells.is_empty()).then_some(cells)
        })
        .await;
        let mut out = vec![];
        for c in cells {
            out.push(c.text().await.unwrap());
        }
        out
    }

    /// Waits until the page's visible text contains `text`.
    pub async fn wait_text(&self, text: &str) {
        eventually(&format!("text {text:?}"), || async {
            let body = self.client.find(Locator::Css("body")).await.ok()?;
            body.text().await.ok()?.contains(text).then_some(())
        })
        .await;
    }

    /// Waits until the element `css` selects reads `text`.
    pub async fn wait_text_of(&self, css: &str, text: &str) {
        eventually(&format!("{css} reading {text:?}"), || async {
            let e = self.client.find(Locator::Css(css)).await.ok()?;
            (e.text().await.ok()? == text).then_some(())
        })
        .await;
    }

    /// Waits until the `h1` reads `text` (ignoring what follows it, e.g. a badge).
    pub async fn wait_h1(&self, text: &str) {
        eventually(&format!("h1 {text:?}"), || async {
            let h1 = self.client.find(Locator::Css("h1")).await.ok()?;
            h1.text().await.ok()?.starts_with(text).then_some(())
        })
        .await;
    }

    /// Types `value` into the field whose `<label>` reads `label`.
    pub async fn fill(&self, label: &str, value: &str) {
        self.fill_in("body", label, value).await;
    }

    /// Types `value` into the field whose `<label>` reads `label` inside the element
    /// `scope` selects (e.g. `#movement-form`, when another form has the same label).
    pub async fn fill_in(&self, scope: &str, label: &str, value: &str) {
        let field = self.field(scope, label).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Chooses the option reading `option` in the select whose `<label>` reads `label`.
    pub async fn select(&self, label: &str, option: &str) {
        let field = self.field("body", label).await;
        field.select_by_label(option).await.unwrap();
    }

    /// Chooses the file `path` in the file input whose `<label>` reads `label`.
    pub async fn upload(&self, label: &str, path: &Path) {
        // chromedriver takes canonical paths only.
        let path = std::fs::canonicalize(path).unwrap();
        let field = self.field("body", label).await;
        field.send_keys(path.to_str().unwrap()).await.unwrap();
    }

    /// The field whose `<label>` inside `scope` reads `label`.
    async fn field(&self, scope: &str, label: &str) -> Element {
        let xpath = format!(".//label[normalize-space()={}]", xpath_literal(label));
        let found = eventually(&format!("label {label:?} in {scope}"), || async {
            let scope = self.client.find(Locator::Css(scope)).await.ok()?;
            scope.find(Locator::XPath(&xpath)).await.ok()
        })
        .await;
        let for_id = found
            .attr("for")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("label {label:?} names no field"));
        self.find(&format!("#{for_id}")).await
    }

    /// Waits until the field `css` selects is refused as the console refuses a field:
    /// marked `aria-invalid`, described by an error that starts with `message`. Then
    /// scrolls the field to the middle of the window, for the screenshot.
    pub async fn refused_at(&self, css: &str, message: &str) {
        let field = eventually(&format!("{css} refused with {message:?}"), || async {
            let field = self.client.find(Locator::Css(css)).await.ok()?;
            if field.attr("aria-invalid").await.ok()?.as_deref() != Some("true") {
                return None;
            }
            let described = field.attr("aria-describedby").await.ok()??;
            for id in described.split_whitespace() {
                let e = self.client.find(Locator::Id(id)).await.ok()?;
                let class = e.attr("class").await.ok()?.unwrap_or_default();
                let is_error = class.split_whitespace().any(|c| c == "error");
                if is_error && e.text().await.ok()?.starts_with(message) {
                    return Some(field);
                }
            }
            None
        })
        .await;
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center'})",
                vec![serde_json::to_value(field).unwrap()],
            )
            .await
            .unwrap();
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Clicks the link or button whose text is `text`.
    pub async fn click_text(&self, text: &str) {
        let t = xpath_literal(text);
        let xpath = format!("//a[normalize-space()={t}] | //button[normalize-space()={t}]");
        let e = eventually(&format!("link or button {text:?}"), || async {
            self.client.find(Locator::XPath(&xpath)).await.ok()
        })
        .await;
        e.click().await.unwrap();
    }

    /// Presses `key` on whatever has the focus, as a keyboard does.
    pub async fn press(&self, key: Key) {
        self.keys(&[char::from(key)]).await;
    }

    /// Types `text` into whatever has the focus, key by key.
    pub async fn type_text(&self, text: &str) {
        self.keys(&text.chars().collect::<Vec<_>>()).await;
    }

    async fn keys(&self, keys: &[char]) {
        let mut seq = KeyActions::new("keyboard".to_owned());
        for &k in keys {
            seq = seq
                .then(KeyAction::Down { value: k })
                .then(KeyAction::Up { value: k });
        }
        self.client.perform_actions(seq).await.unwrap();
    }

    /// Whether the focused element matches `css`.
    pub async fn focused(&self, css: &str) -> bool {
        let r = self
            .client
            .execute(
                "return !!document.activeElement && document.activeElement.matches(arguments[0])",
                vec![json!(css)],
            )
            .await
            .unwrap();
        r == json!(true)
    }

    /// Presses Tab until the element `css` selects has the focus (at most `max`
    /// times), as someone without a mouse moves through the page.
    pub async fn tab_to(&self, css: &str, max: usize) {
        for _ in 0..max {
            self.press(Key::Tab).await;
            if self.focused(css).await {
                return;
            }
        }
        panic!("{css} not reached with {max} Tabs");
    }

    /// Clicks the link `css` selects and waits for the file it downloads; returns
    /// its path.
    pub async fn download(&self, css: &str) -> PathBuf {
        self.click(css).await;
        let dir = self.downloads.path().to_owned();
        // Chromium writes a hidden temporary file (`.org.chromium.Chromium.*`), then
        // `*.crdownload`, and renames it once the file is complete.
        eventually("a downloaded file", || async {
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| {
                    let hidden = p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    !hidden && p.extension().is_some_and(|e| e != "crdownload")
                })
        })
        .await
    }
}

/// An XPath string literal for `s` (XPath 1.0 has no escapes).
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// What a page must have: one `h1`, a language, and a label for every input and
/// select (a `<label for>`, an enclosing `<label>`, `aria-label` or
/// `aria-labelledby`, never empty). Returns the problems found.
const ACCESSIBILITY_CHECK: &str = r#"
const problems = [];
const h1s = document.querySelectorAll("h1");
if (h1s.length !== 1) problems.push(h1s.length + " h1 elements");
if (!document.documentElement.lang) problems.push("no lang on html");
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden") continue;
  const byFor = el.id ? document.querySelector('label[for="' + CSS.escape(el.id) + '"]') : null;
  const byLabel = byFor || el.closest("label");
  const labelledBy = el.getAttribute("aria-labelledby");
  const text = (byLabel ? byLabel.textContent : "")
    || (el.getAttribute("aria-label") || "")
    || (labelledBy ? labelledBy.split(/\s+/).map(i => (document.getElementById(i) || {}).textContent || "").join(" ") : "");
  if (!text.trim()) problems.push("no label: " + el.outerHTML.slice(0, 120));
}
return problems;
"#;
