//! The staff desk in a real headless browser: Debian's chromium driven through chromedriver
//! (WebDriver, the `fantoccini` crate), against the real binary (`cts-intake run` with replies
//! through the real Postfix into Dovecot, and `cts-intake desk`), on the golden paths: a clerk
//! without an account is refused; a clerk logs in, releases a held Gmail mail to its unit and the
//! sender's mailbox receives the acknowledgement; scans a code at the paper desk, sees "Khớp",
//! and the report shows it; releases a reply the rate limit held (two lists of one school a
//! minute apart) and it is sent. axe-core (npm) checks
//! every page visited for serious or critical accessibility violations.
//!
//! Missing chromium, chromedriver or axe-core fails the test with how to install them
//! (`scripts/test` does). With `CTS_INTAKE_SCREENSHOTS=DIR` set, a PNG of each page is written
//! there (the README's screenshots in `docs/desk/`).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::mailstack::wait_until;
use crate::smtp::{PASSWORD as SMTP_PASSWORD, all_users, config, start_stack, submission_url};
use crate::support::{copy_dir, root};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const GMAIL: &str = "nguyenvana1980@gmail.com";
const NK: &str = "c3nguyenkhuyen@namdinh.edu.vn";
const CLERK_PASSWORD: &str = "Mật khẩu của Lan 2022";

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The axe-core script: `CTS_INTAKE_AXE_JS`, or the copy `scripts/test` installs under
/// `target/npm`, or installed there now with npm.
fn axe_source() -> String {
    if let Ok(p) = std::env::var("CTS_INTAKE_AXE_JS") {
        return std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {p}: {e}"));
    }
    let prefix = root().join("target/npm");
    let path = prefix.join("node_modules/axe-core/axe.min.js");
    if !path.exists() {
        let out = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg("axe-core@4")
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "npm install axe-core failed: {}; run scripts/test, or `npm install --prefix \
                 target/npm axe-core@4`",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!(
                "npm is missing ({e}): install it (`apt-get install npm`) or run scripts/test, \
                 which installs it and axe-core"
            ),
        }
    }
    std::fs::read_to_string(&path).unwrap()
}

/// The browser: chromedriver and a headless chromium session.
struct Browser {
    client: Client,
    _driver: Running,
    base: String,
    axe: String,
    shots: Option<PathBuf>,
    /// Every page checked by axe: (path, serious or critical violations).
    violations: Vec<(String, String)>,
}

impl Browser {
    async fn start(base: String) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: install Debian's {package} (`apt-get install chromium \
                 chromium-driver`, or run scripts/test)"
            );
        }
        let port = free_port();
        let driver = Running(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        assert!(
            wait_until(Duration::from_secs(30), || listening(port)),
            "chromedriver did not listen"
        );
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000", "--lang=vi"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session starts");
        Browser {
            client,
            _driver: driver,
            base,
            axe: axe_source(),
            shots: std::env::var_os("CTS_INTAKE_SCREENSHOTS").map(PathBuf::from),
            violations: Vec::new(),
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits (10 s at most) until the page shown is at `prefix`.
    async fn wait_for_path(&self, prefix: &str) {
        for _ in 0..100 {
            if self.path().await.starts_with(prefix) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser is at {}, not {prefix}", self.path().await);
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks `css` (a submit button or a link) and waits (10 s at most) until the page it
    /// leads to has loaded: a mark left on the old page's window is gone and the new document
    /// is complete. WebDriver's click does not always wait for the navigation a form starts.
    async fn click_and_load(&self, css: &str) {
        self.client
            .execute("window.ctsOldPage = true;", Vec::new())
            .await
            .unwrap();
        self.click(css).await;
        for _ in 0..100 {
            let loaded = self
                .client
                .execute(
                    "return window.ctsOldPage === undefined && document.readyState === 'complete';",
                    Vec::new(),
                )
                .await;
            // A script can fail while the old page is being replaced: look again.
            if loaded.is_ok_and(|v| v.as_bool() == Some(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "clicking {css} did not load a page; the browser shows {}:\n{}",
            self.path().await,
            self.text().await
        );
    }

    /// Runs axe-core on the page shown; keeps its serious and critical violations. Then the
    /// screenshot, when asked for.
    async fn check(&mut self, name: &str) {
        let path = self.path().await;
        self.client.execute(&self.axe, Vec::new()).await.unwrap();
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ': ' + v.help + ' [' + v.nodes.map(n => n.target.join(' ')).join(', ') + ']')))
                   .catch(e => done(['axe failed: ' + e]));",
                Vec::new(),
            )
            .await
            .unwrap();
        for v in found.as_array().into_iter().flatten() {
            self.violations
                .push((path.clone(), v.as_str().unwrap_or_default().to_string()));
        }
        if let Some(dir) = &self.shots {
            std::fs::create_dir_all(dir).unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }

    async fn login(&self, username: &str, password: &str) {
        self.goto("/dang-nhap").await;
        self.fill("input[name=username]", username).await;
        self.fill("input[name=password]", password).await;
        self.click_and_load("form button[type=submit]").await;
    }
}

/// The config: the default one, replies through the test Postfix, a poll of 1 s, one reply per
/// address and hour (so the second mail of a school is rate-limited), the registry a copy.
fn desk_config(dir: &Path, stack: &crate::mailstack::MailStack) -> PathBuf {
    let path = config(dir, "rate-limit-per-hour = 1", 1);
    let units = dir.join("units.csv");
    std::fs::copy(root().join("config/units.csv"), &units).unwrap();
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("file = \"{}\"", root().join("config/units.csv").display()),
        &format!("file = \"{}\"", units.display()),
    );
    let text = format!(
        "{text}\n[smtp]\nurl = \"{}\"\nca-file = \"{}\"\n",
        submission_url(stack),
        stack.postfix.ca_file().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn cts_with(config: &Path, args: &[&str], maildir: &Path, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cts-intake"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .arg("--maildir")
        .arg(maildir)
        .arg("--data-dir")
        .arg(data)
        .env("CTS_INTAKE_SMTP_PASSWORD", SMTP_PASSWORD)
        .env("CTS_INTAKE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn sql_i64(data: &Path, sql: &str) -> Option<i64> {
    let store = cts_intake::store::Store::open(&data.join("intake.sqlite3")).unwrap();
    store.conn().query_row(sql, [], |r| r.get(0)).ok()
}

/// Messages in `user`'s INBOX answering the mail `message_id`.
fn answers(stack: &crate::mailstack::MailStack, user: &str, message_id: &str) -> usize {
    stack
        .dovecot
        .messages(user, "INBOX")
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains(&format!("In-Reply-To: <{message_id}>")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_works_the_desk_in_a_real_browser() {
    let mut users = all_users();
    users.push(GMAIL.into());
    let stack = start_stack(&users);
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    let config = desk_config(dir.path(), &stack);

    // The daemon takes the sample mails and answers through Postfix; it keeps running, so its
    // sender delivers what staff release.
    let _daemon = Running(
        cts_with(&config, &["run"], &maildir, &data)
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_until(Duration::from_secs(60), || {
            data.join("intake.sqlite3").exists()
                && sql_i64(
                    &data,
                    "SELECT count(*) FROM mails WHERE message_id = 'sample-09@mail.gmail.com'",
                ) == Some(1)
        }),
        "the daemon did not take the sample mails"
    );
    let mut add = cts_with(&config, &["staff", "add", "lan"], &maildir, &data);
    let mut child = add.stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{CLERK_PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _desk = Running(
        cts_with(&config, &["desk", "--listen", &listen], &maildir, &data)
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_until(Duration::from_secs(30), || listening(port)),
        "the desk did not listen"
    );
    let mut b = Browser::start(format!("http://{listen}")).await;

    // A clerk without an account is refused, and stays on the login page.
    b.goto("/").await;
    assert!(
        b.path().await.starts_with("/dang-nhap"),
        "{}",
        b.path().await
    );
    b.check("dang-nhap").await;
    b.login("khach", "đoán thử").await;
    assert!(b.path().await.starts_with("/dang-nhap"));
    let shown = b.text().await;
    assert!(shown.contains("Sai tên đăng nhập hoặc mật khẩu"), "{shown}");

    // Lan logs in and sees the overview.
    b.login("lan", CLERK_PASSWORD).await;
    let shown = b.text().await;
    assert_eq!(b.path().await, "/", "{shown}");
    assert!(shown.contains("Cần xử lý trước"), "{shown}");
    b.check("tong-quan").await;

    // The held Gmail mail, released to its unit: the sender receives the acknowledgement.
    b.goto("/cho-xu-ly").await;
    b.check("cho-xu-ly").await;
    let held = sql_i64(
        &data,
        "SELECT id FROM mails WHERE message_id = 'sample-09@mail.gmail.com' AND outcome = 'held'",
    )
    .expect("the Gmail mail is held");
    b.click_and_load(&format!("a[href='/thu/{held}']")).await;
    let shown = b.text().await;
    assert!(shown.contains("chưa đăng ký"), "{shown}");
    b.check("thu").await;
    b.client
        .find(Locator::Css("#giao-don-vi"))
        .await
        .unwrap()
        .select_by_value("THPT-HHA")
        .await
        .unwrap();
    b.click("#luon-tin").await;
    b.fill("#giao-ghi-chu", "đã gọi điện xác nhận").await;
    b.click_and_load("form[action$='/giao'] button").await;
    let shown = b.text().await;
    assert!(
        b.path().await.starts_with("/thu/"),
        "{}: {shown}",
        b.path().await
    );
    assert!(shown.contains("Trường THPT Hải Hậu A"), "{shown}");
    assert!(
        wait_until(Duration::from_secs(30), || answers(
            &stack,
            GMAIL,
            "sample-09@mail.gmail.com"
        ) == 1),
        "the acknowledgement did not reach {GMAIL}"
    );

    // A rate-limited reply, released: it is sent. Two lists of Nguyễn Khuyến a minute apart
    // reach the running daemon; with one reply per address and hour, the second's is held.
    let (reply, mail) = {
        let list = crate::pipeline::list(vec![crate::pipeline::person(
            "Vũ Thị Thanh",
            "036186007777",
            (1986, 4, 9),
            "Cấp mới CTS",
        )]);
        let at = chrono::DateTime::parse_from_rfc3339("2022-12-06T09:00:00+07:00").unwrap();
        let mails: Vec<cts_testkit::MaildirMail> = (0..2)
            .map(|i| {
                let date = at + chrono::Duration::minutes(i);
                cts_testkit::MaildirMail {
                    delivered: date.timestamp(),
                    seen: false,
                    bytes: cts_testkit::eml(&cts_testkit::MailSpec {
                        from: NK.into(),
                        from_name: String::new(),
                        to: "cttt@namdinh.edu.vn".into(),
                        subject: "Danh sách đề nghị - THPT Nguyễn Khuyến".into(),
                        date,
                        message_id: format!("limited-{i}@namdinh.edu.vn"),
                        body: "Kính gửi Sở.".into(),
                        attachments: vec![cts_testkit::Attachment::xlsx(
                            "Danh sách.xlsx",
                            list.clone(),
                        )],
                        headers: Vec::new(),
                    }),
                }
            })
            .collect();
        // Written beside the sample's files (other names: `limited` in each).
        let extra = dir.path().join("extra");
        cts_testkit::write_maildir(&extra, &mails).unwrap();
        for e in std::fs::read_dir(extra.join("new")).unwrap() {
            let e = e.unwrap();
            let name = format!("{}-limited", e.file_name().to_string_lossy());
            std::fs::rename(e.path(), maildir.join("new").join(name)).unwrap();
        }
        let held = "SELECT o.id FROM outbox o JOIN mails m ON m.id = o.mail_id \
                    WHERE m.message_id = 'limited-1@namdinh.edu.vn' AND o.status = 'held' \
                    AND o.last_error LIKE 'rate limit:%'";
        assert!(
            wait_until(Duration::from_secs(60), || sql_i64(&data, held).is_some()),
            "the second list's reply was not held by the rate limit"
        );
        (
            sql_i64(&data, held).unwrap(),
            "limited-1@namdinh.edu.vn".to_string(),
        )
    };
    let before = answers(&stack, NK, &mail);
    b.goto("/cho-xu-ly").await;
    b.click_and_load(&format!("form[action='/tra-loi/{reply}/gui'] button"))
        .await;
    assert!(
        wait_until(Duration::from_secs(30), || answers(&stack, NK, &mail)
            == before + 1),
        "the released reply did not reach {NK}"
    );

    // The paper desk: the code scanned, "Khớp", and the report says so.
    b.goto("/ban-giay").await;
    b.check("ban-giay").await;
    // A scanner types the code and Enter.
    b.fill("input[name=ma]", "2KG6690H\n").await;
    b.wait_for_path("/ban-giay?ket_qua=").await;
    let shown = b.text().await;
    assert!(shown.contains("Khớp"), "{shown}");
    b.check("ban-giay-khop").await;
    let units = std::fs::read_to_string(data.join("report/units.csv")).unwrap();
    let line = units.lines().find(|l| l.starts_with("THPT-LHP,")).unwrap();
    assert!(line.contains("match"), "{line}");

    // The other pages, for axe.
    for (path, name) in [
        ("/don-vi", "don-vi"),
        ("/don-vi/THPT-LHP", "don-vi-lhp"),
        ("/tim-kiem?q=tran+thi", "tim-kiem"),
        ("/tai-ve", "tai-ve"),
        ("/nhat-ky", "nhat-ky"),
    ] {
        b.goto(path).await;
        b.check(name).await;
    }
    let violations = std::mem::take(&mut b.violations);
    b.client.clone().close().await.unwrap();
    assert!(
        violations.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        violations
            .iter()
            .map(|(p, v)| format!("{p}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
