//! The staff desk over HTTP, in process (`tower::ServiceExt::oneshot` on the router), on a real
//! database made by running the real intake on the sample Maildir: every page and action, and the
//! refusals (no session, missing or wrong `csrf`, a foreign origin, wrong passwords, the rate
//! limit). `staff add` through the built binary, the password on standard input.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use cts_intake::config::{Config, Overrides};
use cts_intake::desk::{self, auth};
use cts_intake::store::Store;
use cts_intake::units::Registry;
use tower::ServiceExt;

use crate::support::{copy_dir, cts, root, run_once};

const HOST: &str = "desk.test";
const PASSWORD: &str = "Mật khẩu của Lan 2022";

/// A data folder with the sample Maildir taken, and the desk's router on it.
struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    maildir: PathBuf,
    router: Router,
}

fn config(maildir: &Path, data: &Path, secure: bool) -> Config {
    let mut c = Config::load(
        &root().join("config/default.toml"),
        &Overrides {
            maildir: Some(maildir.to_path_buf()),
            data_dir: Some(data.to_path_buf()),
            ..Default::default()
        },
    )
    .unwrap();
    c.desk.secure_cookie = secure;
    // The desk edits the registry: its own copy, next to the data folder.
    let units = data.parent().unwrap().join("units.csv");
    if !units.exists() {
        std::fs::copy(&c.units.file, &units).unwrap();
    }
    c.units.file = units;
    c.reader.program = Some(env!("CARGO_BIN_EXE_cts-intake").into());
    c
}

fn router_on(maildir: &Path, data: &Path, secure: bool) -> Router {
    router_with(config(maildir, data, secure))
}

fn router_with(config: Config) -> Router {
    let registry = Registry::load(&config.units.file).unwrap();
    let store = Store::open(&config.database_path()).unwrap();
    desk::router(desk::Desk::new(config, registry, store).unwrap())
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let router = router_on(&maildir, &data, false);
    let f = Fixture {
        _dir: dir,
        data,
        maildir,
        router,
    };
    f.db()
        .add_staff("lan", &auth::hash_password(PASSWORD).unwrap())
        .unwrap();
    f
}

impl Fixture {
    /// A second connection to the same database, to look at what the desk wrote.
    fn db(&self) -> Store {
        Store::open(&self.data.join("intake.sqlite3")).unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.db().conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn browser(&self) -> Browser {
        Browser {
            router: self.router.clone(),
            cookies: Vec::new(),
            client: "192.0.2.10:50000".parse().unwrap(),
        }
    }

    /// A browser logged in as lan.
    async fn logged_in(&self) -> Browser {
        let mut b = self.browser();
        let r = b.login("lan", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        b
    }
}

/// What came back.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    location: String,
    set_cookies: Vec<String>,
    content_disposition: String,
    bytes: Vec<u8>,
    body: String,
}

/// A browser: keeps cookies, sends forms from the desk's own origin unless told otherwise.
struct Browser {
    router: Router,
    cookies: Vec<(String, String)>,
    client: SocketAddr,
}

impl Browser {
    async fn send(&mut self, req: Request<Body>) -> Answer {
        let mut req = req;
        req.extensions_mut().insert(ConnectInfo(self.client));
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req.headers_mut()
                .insert(header::COOKIE, cookie.parse().unwrap());
        }
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let get = |h: header::HeaderName| {
            resp.headers()
                .get(h)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let location = get(header::LOCATION);
        let content_disposition = get(header::CONTENT_DISPOSITION);
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap();
            let (k, v) = first.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() && !c.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            location,
            set_cookies,
            content_disposition,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = Request::get(path)
            .header(header::HOST, HOST)
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    /// POSTs a form with this Origin (None: no Origin header).
    async fn post_from(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut req = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_from(path, fields, Some(&format!("http://{HOST}")))
            .await
    }

    async fn login(&mut self, username: &str, password: &str) -> Answer {
        let page = self.get("/dang-nhap").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = csrf_of(&page.body);
        self.post(
            "/dang-nhap",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/"),
            ],
        )
        .await
    }

    /// Records a paper copy at the paper desk; the page it leads to.
    async fn paper(&mut self, fields: &[(&str, &str)]) -> String {
        let a = self.post("/ban-giay", fields).await;
        self.get(&a.location).await.body
    }

    /// The session's `csrf` token, read from a page's forms.
    async fn csrf(&mut self) -> String {
        let page = self.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        csrf_of(&page.body)
    }
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a csrf field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A page as the desk should make every page: Vietnamese, one h1, a main landmark.
fn assert_clean_page(a: &Answer, path: &str) {
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
    assert!(a.body.contains("<html lang=\"vi\">"), "{path}");
    assert_eq!(a.body.matches("<h1").count(), 1, "{path}: one h1");
    assert!(a.body.contains("<main"), "{path}");
    // Every input but hidden ones has a label.
    let inputs = a.body.matches("<input id=\"").count() + a.body.matches("<select id=\"").count();
    let labels = a.body.matches("<label for=\"").count();
    assert!(
        labels >= inputs,
        "{path}: {labels} labels for {inputs} fields"
    );
}

fn mail_id(f: &Fixture, message_id: &str) -> i64 {
    f.db()
        .conn()
        .query_row(
            "SELECT id FROM mails WHERE message_id = ?1 AND superseded_by IS NULL \
             AND duplicate_of IS NULL",
            [message_id],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn a_request_without_a_session_is_sent_to_the_login_page() {
    let f = fixture();
    let mut b = f.browser();
    for path in [
        "/",
        "/cho-xu-ly",
        "/ban-giay",
        "/tai-ve/doi-chieu.xlsx",
        "/thu/1/eml",
    ] {
        let a = b.get(path).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            a.location.starts_with("/dang-nhap?next="),
            "{path}: {}",
            a.location
        );
    }
    let a = b.get("/cho-xu-ly").await;
    assert_eq!(a.location, "/dang-nhap?next=%2Fcho-xu-ly");
    // A made-up session cookie is no session.
    b.cookies
        .push((auth::SESSION_COOKIE.into(), "made-up".into()));
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    // The login page itself and /healthz need none.
    assert_clean_page(&b.get("/dang-nhap").await, "/dang-nhap");
}

#[tokio::test]
async fn a_clerk_logs_in_and_every_page_answers_in_vietnamese() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let accepted = mail_id(&f, "sample-06@namdinh.edu.vn");
    let pages = [
        ("/".to_string(), "Cần xử lý trước"),
        ("/cho-xu-ly".to_string(), "nguyenvana1980@gmail.com"),
        (
            format!("/thu/{held}"),
            "chưa đăng ký và không thuộc tên miền chính thức",
        ),
        (
            format!("/thu/{accepted}"),
            "Danh sách CTS - THPT Lê Hồng Phong (cập nhật).xlsx",
        ),
        ("/don-vi".to_string(), "Trường THPT chuyên Lê Hồng Phong"),
        (
            "/don-vi?trang_thai=rejected".to_string(),
            "Trường THPT Trần Quốc Bảo",
        ),
        ("/don-vi/THPT-LHP".to_string(), "2KG6690H"),
        ("/ban-giay".to_string(), "Mã đối chiếu"),
        ("/tim-kiem?q=tran+thi+thu+ha".to_string(), "036194003517"),
        ("/tai-ve".to_string(), "doi-chieu.xlsx"),
        ("/nhat-ky".to_string(), "Đăng nhập"),
    ];
    for (path, expected) in &pages {
        let a = b.get(path).await;
        assert_clean_page(&a, path);
        assert!(
            a.body.contains(expected),
            "{path} lacks {expected:?}:\n{}",
            a.body
        );
    }
    // No script, no framing, nothing cached, on pages as on refusals.
    for a in [b.get("/").await, f.browser().get("/").await] {
        let csp = a.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
        assert_eq!(a.headers["x-frame-options"], "DENY");
        assert_eq!(a.headers["cache-control"], "no-store");
    }
    // The overview counts what needs handling: one held mail, two units awaiting a correction.
    let o = b.get("/").await.body;
    assert!(o.contains("1 thư chờ xử lý"), "{o}");
    assert!(o.contains("2 đơn vị chờ gửi lại danh sách đã sửa"), "{o}");
    assert!(
        o.contains("<a href=\"/don-vi/PGD-YY\">Phòng GD&#38;ĐT huyện Ý Yên</a>"),
        "{o}"
    );
    // The units filter leaves out the others.
    let rejected = b.get("/don-vi?trang_thai=rejected").await.body;
    assert!(!rejected.contains("Trường THPT chuyên Lê Hồng Phong"));
    let no_paper = b.get("/don-vi?ban_giay=khop").await.body;
    assert!(no_paper.contains("0 đơn vị."), "{no_paper}");
    // Late and unregistered-sender filters: the sample has neither kind of unit.
    for filter in ["muon=1", "chua_dang_ky=1"] {
        let page = b.get(&format!("/don-vi?{filter}")).await.body;
        assert!(page.contains("0 đơn vị."), "{filter}: {page}");
        assert!(page.contains(" checked>"), "{filter}: {page}");
    }
    // A unit's versions say what each changed against the one before.
    let lhp = b.get("/don-vi/THPT-LHP").await.body;
    assert!(lhp.contains("<td>Danh sách đầu tiên</td>"), "{lhp}");
    assert!(lhp.contains("<td>Thêm "), "{lhp}");
    // From a unit's page to the paper desk with the unit chosen.
    let unit = b.get("/don-vi/THPT-NK").await.body;
    assert!(unit.contains("href=\"/ban-giay?don_vi=THPT-NK\""), "{unit}");
    let paper = b.get("/ban-giay?don_vi=THPT-NK").await.body;
    assert!(
        paper.contains("<option value=\"THPT-NK\" selected>"),
        "{paper}"
    );
    assert_eq!(paper.matches(" selected>").count(), 1);
    // An unknown unit or mail is a 404 page, not a crash.
    assert_eq!(
        b.get("/don-vi/KHONG-CO").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(b.get("/thu/999999").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_session_cookie_is_httponly_strict_and_secure_when_configured() {
    let f = fixture();
    let mut b = f.browser();
    let a = b.login("lan", PASSWORD).await;
    let session = a
        .set_cookies
        .iter()
        .find(|c| c.starts_with(auth::SESSION_COOKIE))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    assert!(!session.contains("Secure"), "{session}");
    // 256 bits, base64url.
    let value = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    assert_eq!(value.len(), 43);
    // Stored hashed: the token itself is nowhere in the database.
    assert_eq!(
        f.count(&format!(
            "SELECT count(*) FROM staff_sessions WHERE token_sha256 = '{value}'"
        )),
        0
    );
    assert_eq!(f.count("SELECT count(*) FROM staff_sessions"), 1);

    let secure = router_on(&f.maildir, &f.data, true);
    let mut b = Browser {
        router: secure,
        cookies: Vec::new(),
        client: "192.0.2.11:1".parse().unwrap(),
    };
    let a = b.login("lan", PASSWORD).await;
    assert!(
        a.set_cookies
            .iter()
            .filter(|c| c.starts_with(auth::SESSION_COOKIE))
            .all(|c| c.contains("; Secure")),
        "{:?}",
        a.set_cookies
    );
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let stolen = b.cookies.clone();
    let csrf = b.csrf().await;
    let a = b.post("/dang-xuat", &[("csrf", &csrf)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    // The old cookie, replayed, is no longer a session.
    b.cookies = stolen;
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action = 'logout' AND username = 'lan'"),
        1
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_or_with_a_wrong_one_is_refused() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let missing = b.post("/ban-giay", &[("ma", "2KG6690H")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("Yêu cầu bị từ chối"));
    let wrong = b
        .post(
            "/ban-giay",
            &[("csrf", "not-the-token"), ("ma", "2KG6690H")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Another session's token is a wrong one too.
    let mut other = f.logged_in().await;
    let theirs = other.csrf().await;
    assert_ne!(theirs, csrf);
    let a = b
        .post("/ban-giay", &[("csrf", &theirs), ("ma", "2KG6690H")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let a = b
        .post(&format!("/thu/{held}/bo-qua"), &[("note", "x")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(f.count("SELECT count(*) FROM paper_receipts"), 0);
    assert_eq!(
        f.count("SELECT count(*) FROM mails WHERE outcome = 'held'"),
        1
    );
    // The right one goes through.
    let a = b
        .post("/ban-giay", &[("csrf", &csrf), ("ma", "2KG6690H")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(f.count("SELECT count(*) FROM paper_receipts"), 1);
}

#[tokio::test]
async fn a_form_posted_from_another_origin_is_refused() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let fields = [("csrf", csrf.as_str()), ("ma", "2KG6690H")];
    let a = b
        .post_from("/ban-giay", &fields, Some("http://evil.example"))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("không được gửi từ trang của bàn tiếp nhận"));
    let a = b.post_from("/ban-giay", &fields, Some("null")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Without Origin, the Referer is looked at.
    let req = Request::post("/ban-giay")
        .header(header::HOST, HOST)
        .header(header::REFERER, "https://evil.example/trang")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}&ma=2KG6690H")))
        .unwrap();
    assert_eq!(b.send(req).await.status, StatusCode::FORBIDDEN);
    // A login form posted from elsewhere is refused as well.
    let mut stranger = f.browser();
    let page = stranger.get("/dang-nhap").await;
    let token = csrf_of(&page.body);
    let a = stranger
        .post_from(
            "/dang-nhap",
            &[
                ("csrf", &token),
                ("username", "lan"),
                ("password", PASSWORD),
            ],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(f.count("SELECT count(*) FROM paper_receipts"), 0);
}

#[tokio::test]
async fn the_login_form_is_refused_without_its_own_token() {
    let f = fixture();
    let mut b = f.browser();
    let a = b
        .post("/dang-nhap", &[("username", "lan"), ("password", PASSWORD)])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // The login page keeps the token it set: another tab's form still works.
    let first = csrf_of(&b.get("/dang-nhap").await.body);
    assert_eq!(csrf_of(&b.get("/dang-nhap").await.body), first);
    // A token that is not the one the login page set.
    let a = b
        .post(
            "/dang-nhap",
            &[
                ("csrf", "guessed"),
                ("username", "lan"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(f.count("SELECT count(*) FROM staff_sessions"), 0);
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_five_failures_make_the_name_wait() {
    let f = fixture();
    let mut b = f.browser();
    let a = b.login("lan", "sai mật khẩu").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("Sai tên đăng nhập hoặc mật khẩu."));
    // An unknown name is refused alike.
    let a = b.login("khong-co", PASSWORD).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("Sai tên đăng nhập hoặc mật khẩu."));
    assert_eq!(f.count("SELECT count(*) FROM staff_sessions"), 0);

    // Five failures for one name, from several clients: the right password then waits too.
    for i in 0..4 {
        let mut other = f.browser();
        other.client = format!("198.51.100.{i}:1").parse().unwrap();
        assert_eq!(
            other.login("LAN", "sai").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let mut fresh = f.browser();
    fresh.client = "203.0.113.1:1".parse().unwrap();
    let a = fresh.login("lan", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("Đăng nhập sai quá nhiều lần"), "{}", a.body);
    assert_eq!(f.count("SELECT count(*) FROM staff_sessions"), 0);

    // Another account is not blocked from a client that did not fail.
    f.db()
        .add_staff("minh", &auth::hash_password(PASSWORD).unwrap())
        .unwrap();
    assert_eq!(
        fresh.login("minh", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn five_failures_from_one_client_make_that_client_wait() {
    let f = fixture();
    f.db()
        .add_staff("minh", &auth::hash_password(PASSWORD).unwrap())
        .unwrap();
    let mut b = f.browser();
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(b.login(name, "x").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        b.login("minh", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let mut elsewhere = f.browser();
    elsewhere.client = "203.0.113.9:1".parse().unwrap();
    assert_eq!(
        elsewhere.login("minh", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

/// A login through a proxy at 127.0.0.1 that names the client `forwarded` (after whatever the
/// client itself wrote in the header), for the desk at https://tiepnhan.example.vn.
async fn proxied_login(
    router: &Router,
    forwarded: &str,
    username: &str,
    password: &str,
) -> StatusCode {
    let mut b = Browser {
        router: router.clone(),
        cookies: Vec::new(),
        client: "127.0.0.1:40000".parse().unwrap(),
    };
    let page = b
        .send(
            Request::get("/dang-nhap")
                .header(header::HOST, "127.0.0.1:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf_of(&page.body).as_str()),
            ("username", username),
            ("password", password),
        ])
        .finish();
    let req = Request::post("/dang-nhap")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "https://tiepnhan.example.vn")
        .header("x-forwarded-for", format!("10.9.9.9, {forwarded}"))
        .header("x-forwarded-proto", "https")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let a = b.send(req).await;
    // Reached over https through the proxy: the cookies are Secure without being configured so.
    assert!(
        a.set_cookies.iter().all(|c| c.contains("; Secure")),
        "{:?}",
        a.set_cookies
    );
    a.status
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_one_the_proxy_names() {
    let f = fixture();
    let mut c = config(&f.maildir, &f.data, false);
    c.desk.trust_proxy = true;
    c.desk.public_url = Some("https://tiepnhan.example.vn/".into());
    let router = router_with(c);
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            proxied_login(&router, "198.51.100.7", name, "x").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        proxied_login(&router, "198.51.100.7", "lan", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not made to wait: the client is the entry the
    // proxy added (the last), not the first, which the client itself may write.
    assert_eq!(
        proxied_login(&router, "198.51.100.8", "lan", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    // The configured public origin is the only one accepted.
    let mut b = Browser {
        router,
        cookies: Vec::new(),
        client: "127.0.0.1:40000".parse().unwrap(),
    };
    let token = csrf_of(&b.get("/dang-nhap").await.body);
    let a = b
        .post_from(
            "/dang-nhap",
            &[
                ("csrf", &token),
                ("username", "lan"),
                ("password", PASSWORD),
            ],
            Some(&format!("http://{HOST}")),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ignoring_a_held_mail_takes_it_off_the_pending_page_and_is_audited() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let page = b.get(&format!("/thu/{held}")).await.body;
    assert!(page.contains(&format!("action=\"/thu/{held}/bo-qua\"")));
    let a = b
        .post(
            &format!("/thu/{held}/bo-qua"),
            &[
                ("csrf", &csrf),
                ("note", "Thư cá nhân, đã gọi điện cho trường"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let outcome: String = f
        .db()
        .conn()
        .query_row("SELECT outcome FROM mails WHERE id = ?1", [held], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(outcome, "ignored");
    let pending = b.get("/cho-xu-ly").await.body;
    assert!(pending.contains("Không có thư nào chờ xử lý."), "{pending}");
    // No button to ignore it twice, and who ignored it is on its page; a second POST is
    // refused.
    let page = b.get(&format!("/thu/{held}")).await.body;
    assert!(!page.contains("bo-qua"));
    assert!(
        page.contains("lan: Bỏ qua thư (Thư cá nhân, đã gọi điện cho trường)"),
        "{page}"
    );
    let again = b
        .post(&format!("/thu/{held}/bo-qua"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let log = b.get("/nhat-ky").await.body;
    assert!(log.contains("Bỏ qua thư"), "{log}");
    assert!(log.contains("sample-09@mail.gmail.com"));
    assert!(log.contains("Thư cá nhân, đã gọi điện cho trường"));
}

#[tokio::test]
async fn a_held_or_failed_reply_is_put_back_in_the_queue() {
    let f = fixture();
    let accepted = mail_id(&f, "sample-06@namdinh.edu.vn");
    let reply: i64 = f
        .db()
        .conn()
        .query_row(
            "SELECT id FROM outbox WHERE mail_id = ?1",
            [accepted],
            |r| r.get(0),
        )
        .unwrap();
    f.db()
        .conn()
        .execute(
            "UPDATE outbox SET status = 'held', last_error = 'rate limit' WHERE id = ?1",
            [reply],
        )
        .unwrap();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let pending = b.get("/cho-xu-ly").await.body;
    assert!(
        pending.contains(&format!("action=\"/tra-loi/{reply}/gui\"")),
        "{pending}"
    );
    assert!(pending.contains("Tạm giữ"));
    // The overview shows it among what needs handling first.
    let overview = b.get("/").await.body;
    assert!(
        overview.contains("1 thư trả lời bị tạm giữ hoặc gửi không được"),
        "{overview}"
    );
    assert!(overview.contains(&format!("action=\"/tra-loi/{reply}/gui\"")));
    let a = b
        .post(
            &format!("/tra-loi/{reply}/gui"),
            &[("csrf", &csrf), ("note", "đã kiểm tra")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location, format!("/thu/{accepted}"));
    let status: String = f
        .db()
        .conn()
        .query_row("SELECT status FROM outbox WHERE id = ?1", [reply], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "pending");
    // A reply no longer held: nothing to release, no button.
    let again = b
        .post(&format!("/tra-loi/{reply}/gui"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(!b.get("/cho-xu-ly").await.body.contains("/gui\""));
    // A failed one is offered again ("Gửi lại").
    f.db()
        .conn()
        .execute("UPDATE outbox SET status = 'failed' WHERE id = ?1", [reply])
        .unwrap();
    assert!(b.get("/cho-xu-ly").await.body.contains("Gửi lại"));
    assert_eq!(
        f.count(
            "SELECT count(*) FROM audit_log WHERE action = 'release_reply' \
             AND target = 'sample-06@namdinh.edu.vn' AND note LIKE '%; đã kiểm tra'"
        ),
        1
    );
}

#[tokio::test]
async fn a_scanned_code_is_recorded_as_paper_receive_records_it_and_can_be_undone() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    // Typed by hand, lower case with a dash: the unit is the code's.
    let a = b
        .post(
            "/ban-giay",
            &[("csrf", &csrf), ("ma", "2kg6-690h"), ("so_dong", "6")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(
        a.location.starts_with("/ban-giay?ket_qua="),
        "{}",
        a.location
    );
    let page = b.get(&a.location).await;
    assert_clean_page(&page, &a.location);
    assert!(
        page.body
            .contains("<h2 id=\"ket-qua\" class=\"big\">Khớp</h2>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Trường THPT chuyên Lê Hồng Phong"));
    let (unit, code, rows, verdict): (String, String, i64, String) = f
        .db()
        .conn()
        .query_row(
            "SELECT unit_code, code, row_count, verdict FROM paper_receipts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (unit.as_str(), code.as_str(), rows, verdict.as_str()),
        ("THPT-LHP", "2KG6690H", 6, "match")
    );

    // Another unit's code, for a unit chosen: not a match, and whose code it is.
    let a = b
        .post(
            "/ban-giay",
            &[("csrf", &csrf), ("ma", "7343MYG8"), ("don_vi", "THPT-LHP")],
        )
        .await;
    let page = b.get(&a.location).await.body;
    assert!(page.contains("Không khớp mã"), "{page}");
    assert!(
        page.contains("Mã 7343MYG8 là của Trường THPT Nguyễn Khuyến (THPT-NK)"),
        "{page}"
    );

    // Undo: the unit's latest receipt is kept, marked undone.
    let a = b
        .post("/ban-giay/huy", &[("csrf", &csrf), ("don_vi", "THPT-LHP")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let page = b.get(&a.location).await.body;
    assert!(
        page.contains("Đã huỷ ghi nhận bản giấy gần nhất của Trường THPT chuyên Lê Hồng Phong"),
        "{page}"
    );
    assert_eq!(
        f.count(
            "SELECT count(*) FROM paper_receipts WHERE undone_at IS NOT NULL AND code = '7343MYG8'"
        ),
        1
    );
    assert_eq!(
        f.count("SELECT count(*) FROM paper_receipts WHERE undone_at IS NULL"),
        1
    );

    // An unknown code with no unit is not recorded.
    let a = b
        .post("/ban-giay", &[("csrf", &csrf), ("ma", "ZZZZZZZZ")])
        .await;
    let page = b.get(&a.location).await.body;
    assert!(page.contains("Không tìm thấy mã “ZZZZZZZZ”"), "{page}");
    assert_eq!(f.count("SELECT count(*) FROM paper_receipts"), 2);
    // A row count that is not a number is not recorded either.
    let a = b
        .post(
            "/ban-giay",
            &[("csrf", &csrf), ("ma", "2KG6690H"), ("so_dong", "sáu")],
        )
        .await;
    assert!(
        b.get(&a.location)
            .await
            .body
            .contains("Số dòng phải là một số")
    );
    assert_eq!(f.count("SELECT count(*) FROM paper_receipts"), 2);
    // The audit log has both actions, with the verdict.
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action = 'paper_receive' AND note LIKE 'mã 2KG6690H, 6 dòng: match%'"),
        1
    );
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action = 'paper_undo'"),
        1
    );
}

#[tokio::test]
async fn a_code_rewritten_by_a_vietnamese_input_method_still_finds_its_list() {
    let f = fixture();
    // A code with letters Telex turns into marks (the sample's codes have none): the current
    // version of THPT-NK gets one.
    f.db()
        .conn()
        .execute(
            "UPDATE versions SET code = 'K7AS3DD2' WHERE code = '7343MYG8'",
            [],
        )
        .unwrap();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    // Telex: A S → Á, D D → Đ.
    let a = b
        .post("/ban-giay", &[("csrf", &csrf), ("ma", "K7Á3Đ2")])
        .await;
    let page = b.get(&a.location).await.body;
    assert!(page.contains("class=\"big\">Khớp</h2>"), "{page}");
    assert!(page.contains("Trường THPT Nguyễn Khuyến"));
    assert_eq!(
        f.count("SELECT count(*) FROM paper_receipts WHERE unit_code = 'THPT-NK' AND code = 'K7AS3DD2' AND verdict = 'match'"),
        1
    );
    // With the unit chosen, and the input method in lower case.
    let a = b
        .post(
            "/ban-giay",
            &[("csrf", &csrf), ("ma", "k7á3đ2"), ("don_vi", "THPT-NK")],
        )
        .await;
    assert!(
        b.get(&a.location)
            .await
            .body
            .contains("class=\"big\">Khớp</h2>")
    );
}

#[tokio::test]
async fn a_printed_code_with_a_wrong_check_character_is_told_a_typo_not_a_mismatch() {
    use cts_intake::domain::paper::printed_code;
    let f = fixture();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let printed = printed_code("2KG6690H");
    assert_eq!(printed.len(), 9);
    // The printed code (with its check character), through Telex after the last vowel-less
    // letters: found, "Khớp".
    let page = b.paper(&[("csrf", &csrf), ("ma", &printed)]).await;
    assert!(page.contains("class=\"big\">Khớp</h2>"), "{page}");
    // One character typed wrong ("2KG6690H" → "2KG6691H") with the check character kept: a
    // typo, not another list's code, whether the unit was chosen or not.
    let typo = format!("2KG6691H{}", printed.chars().last().unwrap());
    let page = b.paper(&[("csrf", &csrf), ("ma", &typo)]).await;
    assert!(page.contains("Mã gõ sai"), "{page}");
    let page = b
        .paper(&[("csrf", &csrf), ("ma", &typo), ("don_vi", "THPT-LHP")])
        .await;
    assert!(page.contains("class=\"big\">Mã gõ sai</h2>"), "{page}");
    assert_eq!(
        f.count("SELECT count(*) FROM paper_receipts WHERE verdict = 'typo'"),
        1
    );
    // Another unit's real code, chosen for LHP: "Không khớp", naming whose it is.
    let nk = printed_code("7343MYG8");
    let page = b
        .paper(&[("csrf", &csrf), ("ma", &nk), ("don_vi", "THPT-LHP")])
        .await;
    assert!(page.contains("Không khớp"), "{page}");
    assert!(page.contains("Trường THPT Nguyễn Khuyến"), "{page}");
    // An old code, printed before check characters, still matches.
    assert!(
        b.paper(&[("csrf", &csrf), ("ma", "2KG6690H")])
            .await
            .contains("class=\"big\">Khớp</h2>")
    );
}

#[tokio::test]
async fn a_person_is_found_by_name_without_accents_or_by_id_number() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let by_name = b.get("/tim-kiem?q=NGUYEN+VAN+HUNG").await.body;
    assert!(by_name.contains("Nguyễn Văn Hùng"), "{by_name}");
    assert!(by_name.contains("036075001284"));
    let by_number = b.get("/tim-kiem?q=036194003517").await.body;
    assert!(by_number.contains("Trần Thị Thu Hà"), "{by_number}");
    assert!(!by_number.contains("Nguyễn Văn Hùng"));
    let nobody = b.get("/tim-kiem?q=khong+co+ai+ten+nay").await.body;
    assert!(nobody.contains("0 kết quả"), "{nobody}");
}

#[tokio::test]
async fn report_files_raw_mails_and_attachments_download_and_nothing_else() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let a = b.get("/tai-ve/doi-chieu.xlsx").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.content_disposition.starts_with("attachment;"));
    assert!(a.bytes.starts_with(b"PK"));
    for bad in [
        "/tai-ve/..%2Fintake.sqlite3",
        "/tai-ve/intake.sqlite3",
        "/tai-ve/%2E%2E",
    ] {
        assert_eq!(b.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
    let accepted = mail_id(&f, "sample-06@namdinh.edu.vn");
    let raw = b.get(&format!("/thu/{accepted}/eml")).await;
    assert_eq!(raw.status, StatusCode::OK);
    assert!(
        raw.body.contains("Message-ID: <sample-06@namdinh.edu.vn>")
            || raw.body.contains("Message-Id: <sample-06@namdinh.edu.vn>")
    );
    let file = b.get(&format!("/thu/{accepted}/tep/0")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(file.bytes.starts_with(b"PK"), "the xlsx attachment");
    assert!(file.content_disposition.contains("filename*=UTF-8''"));
    assert_eq!(
        b.get(&format!("/thu/{accepted}/tep/99")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action IN ('download_report', 'download_raw', 'download_attachment')"),
        3
    );
}

#[tokio::test]
async fn healthz_answers_200_while_the_last_poll_is_fresh_and_503_after() {
    let f = fixture();
    let mut b = f.browser();
    let a = b.get("/healthz").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    f.db()
        .conn()
        .execute(
            "UPDATE polls SET last_success_at = '2022-12-01T00:00:00+00:00'",
            [],
        )
        .unwrap();
    assert_eq!(
        b.get("/healthz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    f.db().conn().execute("DELETE FROM polls", []).unwrap();
    assert_eq!(
        b.get("/healthz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// `staff` through the built binary on a data folder.
fn staff(data: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = cts(&["staff"])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn staff_add_takes_the_password_from_standard_input_and_it_logs_in() {
    let f = fixture();
    let out = staff(&f.data, &["add", "Hoa"], "Mật khẩu của Hòa 1\n".as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = staff(&f.data, &["list"], b"");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("hoa\t") && l.ends_with("active")),
        "{listed}"
    );
    // A second account of the same name, or a short password, is refused.
    assert!(
        !staff(&f.data, &["add", "hoa"], b"another password\n")
            .status
            .success()
    );
    assert!(
        !staff(&f.data, &["add", "tuan"], b"short\n")
            .status
            .success()
    );
    // Stored as an argon2 hash, never as typed.
    assert_eq!(
        f.count(
            "SELECT count(*) FROM staff WHERE username = 'hoa' AND password_hash LIKE '$argon2id$%'"
        ),
        1
    );
    let mut b = f.browser();
    assert_eq!(
        b.login("hoa", "Mật khẩu của Hòa 1").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    // Removed: its session ends and it cannot log in again.
    assert!(staff(&f.data, &["remove", "hoa"], b"").status.success());
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    let mut again = f.browser();
    again.client = "203.0.113.5:1".parse().unwrap();
    assert_eq!(
        again.login("hoa", "Mật khẩu của Hòa 1").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(!staff(&f.data, &["remove", "hoa"], b"").status.success());
}

#[test]
fn the_desk_command_serves_on_the_address_given() {
    // The real binary on a free port: /healthz answers over TCP.
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = cts(&["desk", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--maildir")
        .arg(&maildir)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut answer = String::new();
    // Until it listens (30 s at most: the machine is shared).
    for _ in 0..600 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Read;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            s.read_to_string(&mut answer).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

// ---- the actions on held mail and on units ----

/// A mail's outcome, by row.
fn outcome_of(f: &Fixture, id: i64) -> String {
    f.db()
        .conn()
        .query_row("SELECT outcome FROM mails WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
}

/// The replies in the outbox to `address`: (kind, bytes).
fn replies_to(f: &Fixture, address: &str) -> Vec<(String, Vec<u8>)> {
    let db = f.db();
    let mut stmt = db
        .conn()
        .prepare("SELECT kind, bytes, recipients FROM outbox ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .filter(|(_, _, to)| to.contains(address))
    .map(|(k, b, _)| (k, b))
    .collect()
}

fn report_text(f: &Fixture, name: &str) -> String {
    std::fs::read_to_string(f.data.join("report").join(name)).unwrap()
}

fn units_file(f: &Fixture) -> String {
    std::fs::read_to_string(f.data.parent().unwrap().join("units.csv")).unwrap()
}

const GMAIL: &str = "nguyenvana1980@gmail.com";

#[tokio::test]
async fn a_held_gmail_mail_released_to_its_unit_is_answered_as_the_units_own() {
    let f = fixture();
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let path = format!("/thu/{held}/giao");
    // Refused without a session, without or with a wrong csrf, from another origin: nothing
    // changes.
    let mut stranger = f.browser();
    let a = stranger.post(&path, &[("don_vi", "THPT-HHA")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.location.starts_with("/dang-nhap"), "{}", a.location);
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let a = b.post(&path, &[("don_vi", "THPT-HHA")]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b
        .post(&path, &[("csrf", "wrong"), ("don_vi", "THPT-HHA")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b
        .post_from(
            &path,
            &[("csrf", &csrf), ("don_vi", "THPT-HHA")],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // No unit chosen: refused with the reason.
    let a = b.post(&path, &[("csrf", &csrf), ("don_vi", "")]).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("Hãy chọn đơn vị"), "{}", a.body);
    assert_eq!(outcome_of(&f, held), "held");
    assert!(replies_to(&f, GMAIL).is_empty());

    // The page offers the release, the unit inferred from nothing (a Gmail sender): a choice.
    let page = b.get(&format!("/thu/{held}")).await.body;
    assert!(
        page.contains(&format!("action=\"/thu/{held}/giao\"")),
        "{page}"
    );
    assert!(page.contains("Luôn tin địa chỉ này"));
    let before_report = std::fs::metadata(f.data.join("report/doi-chieu.xlsx"))
        .unwrap()
        .modified()
        .unwrap();

    let a = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("don_vi", "THPT-HHA"),
                ("luon_tin", "1"),
                ("note", "đã gọi điện xác nhận với thầy A"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    // The mail was processed again: the old row is superseded, the new one is the unit's.
    let new: i64 = f
        .db()
        .conn()
        .query_row(
            "SELECT superseded_by FROM mails WHERE id = ?1",
            [held],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(a.location, format!("/thu/{new}"));
    let (unit, trust, outcome): (String, String, String) = f
        .db()
        .conn()
        .query_row(
            "SELECT unit_code, trust, outcome FROM mails WHERE id = ?1",
            [new],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(unit, "THPT-HHA");
    assert_eq!(trust, "registered");
    assert_ne!(outcome, "held");
    // The normal reply to the sender is composed in the outbox, for the daemon to deliver.
    let replies = replies_to(&f, GMAIL);
    assert_eq!(
        replies.len(),
        1,
        "{:?}",
        replies.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    assert!(
        matches!(replies[0].0.as_str(), "ack" | "errors"),
        "{}",
        replies[0].0
    );
    assert!(!replies[0].1.is_empty(), "the reply was composed");
    assert_eq!(
        f.count(
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND recipients LIKE '%gmail%'"
        ),
        1
    );
    // "Always trust": the address is the unit's in the registry file.
    let units = units_file(&f);
    let line = units.lines().find(|l| l.starts_with("THPT-HHA,")).unwrap();
    assert!(line.contains(GMAIL), "{line}");
    // Audited with who and the note; the report was rewritten.
    assert_eq!(
        f.count(
            "SELECT count(*) FROM audit_log WHERE action = 'release_mail' AND username = 'lan' \
             AND target = 'sample-09@mail.gmail.com' AND note LIKE '%THPT-HHA%' \
             AND note LIKE '%luôn tin địa chỉ nguyenvana1980@gmail.com%' \
             AND note LIKE '%đã gọi điện xác nhận với thầy A'"
        ),
        1
    );
    let after_report = std::fs::metadata(f.data.join("report/doi-chieu.xlsx"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(after_report > before_report);
    assert!(report_text(&f, "mails.csv").contains("THPT-HHA"));
    let log = b.get("/nhat-ky").await.body;
    assert!(log.contains("Giao thư cho đơn vị"), "{log}");
    // Released once: the old row is no longer held, a second release is refused.
    let again = b
        .post(&path, &[("csrf", &csrf), ("don_vi", "THPT-HHA")])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(
        b.get("/cho-xu-ly")
            .await
            .body
            .contains("Không có thư nào chờ xử lý.")
    );
}

#[tokio::test]
async fn a_held_mail_released_to_a_unit_whose_address_it_is_not_stays_untrusted_for_good() {
    let f = fixture();
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let a = b
        .post(
            &format!("/thu/{held}/giao"),
            &[("csrf", &csrf), ("don_vi", "THPT-HHA")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    // Without "always trust", the registry is as it was.
    assert!(!units_file(&f).contains(GMAIL));
    assert_eq!(replies_to(&f, GMAIL).len(), 1);
}

#[tokio::test]
async fn a_rejected_held_mail_sends_the_clerks_reason_to_the_sender() {
    let f = fixture();
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let path = format!("/thu/{held}/tu-choi");
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let a = b.post(&path, &[("ly_do", "x")]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b
        .post_from(
            &path,
            &[("csrf", &csrf), ("ly_do", "x")],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // A reason is required: the school reads it.
    let a = b.post(&path, &[("csrf", &csrf), ("ly_do", "   ")]).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("Hãy ghi lý do từ chối"));
    assert_eq!(outcome_of(&f, held), "held");

    let reason = "Danh sách phải gửi từ hộp thư công vụ của trường.\nĐề nghị gửi lại.";
    let a = b.post(&path, &[("csrf", &csrf), ("ly_do", reason)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, format!("/thu/{held}"));
    assert_eq!(outcome_of(&f, held), "rejected");
    let replies = replies_to(&f, GMAIL);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].0, "rejection");
    let msg = mail_parser::MessageParser::default()
        .parse(replies[0].1.as_slice())
        .unwrap();
    let text = msg.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.contains("> Danh sách phải gửi từ hộp thư công vụ của trường.\n> Đề nghị gửi lại."),
        "{text}"
    );
    assert!(text.contains("không tiếp nhận danh sách"), "{text}");
    assert!(msg.subject().unwrap().contains("[Không tiếp nhận]"));
    assert_eq!(
        msg.in_reply_to().as_text(),
        Some("sample-09@mail.gmail.com")
    );
    assert_eq!(
        f.count(
            "SELECT count(*) FROM audit_log WHERE action = 'reject_mail' \
             AND note LIKE '%Đề nghị gửi lại.'"
        ),
        1
    );
    // Not twice.
    let again = b.post(&path, &[("csrf", &csrf), ("ly_do", reason)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(replies_to(&f, GMAIL).len(), 1);
    let page = b.get(&format!("/thu/{held}")).await.body;
    assert!(page.contains("Từ chối thư"), "{page}");
}

#[tokio::test]
async fn a_unit_edited_in_the_desk_is_used_at_once_and_a_held_mail_processed_again() {
    let f = fixture();
    let held = mail_id(&f, "sample-09@mail.gmail.com");
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let edit = "/don-vi/THPT-HHA/sua";
    // Checked as `units import` checks a file: no bad address, none of another unit's.
    let a = b
        .post(
            edit,
            &[
                ("csrf", &csrf),
                ("ten", "Trường THPT Hải Hậu A"),
                ("dia_chi", "khong-phai-dia-chi"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        a.body.contains("không phải là địa chỉ thư điện tử"),
        "{}",
        a.body
    );
    let a = b
        .post(
            edit,
            &[
                ("csrf", &csrf),
                ("ten", "Trường THPT Hải Hậu A"),
                ("dia_chi", "c3nguyenkhuyen@namdinh.edu.vn"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("Trường THPT Nguyễn Khuyến"), "{}", a.body);
    let a = b.post(edit, &[("ten", "x"), ("dia_chi", GMAIL)]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(!units_file(&f).contains(GMAIL));

    let a = b
        .post(
            edit,
            &[
                ("csrf", &csrf),
                ("ten", "Trường THPT Hải Hậu A"),
                ("loai", "THPT"),
                ("dia_chi", &format!("c3haihaua@namdinh.edu.vn; {GMAIL}")),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, "/don-vi/THPT-HHA");
    assert!(units_file(&f).contains(&format!("c3haihaua@namdinh.edu.vn;{GMAIL}")));
    let page = b.get("/don-vi/THPT-HHA").await.body;
    assert!(page.contains(GMAIL), "{page}");
    // The held mail, processed again as it is, now comes from a registered address.
    let a = b
        .post(
            &format!("/thu/{held}/xu-ly-lai"),
            &[("csrf", &csrf), ("note", "sau khi thêm địa chỉ")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let trust: String = f
        .db()
        .conn()
        .query_row(
            "SELECT trust FROM mails WHERE superseded_by IS NULL AND message_id = ?1",
            ["sample-09@mail.gmail.com"],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(trust, "registered");
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action = 'reprocess_mail'"),
        1
    );
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action = 'unit_edit'"),
        1
    );

    // A new unit: a code that is free, a name; then its page, the paper desk's choice.
    let a = b
        .post(
            "/don-vi-moi",
            &[("csrf", &csrf), ("ma", "THPT-HHA"), ("ten", "Trùng mã")],
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("đã là mã của"), "{}", a.body);
    let a = b
        .post(
            "/don-vi-moi",
            &[
                ("csrf", &csrf),
                ("ma", "THPT-XTC"),
                ("ten", "Trường THPT Xuân Trường C"),
                ("loai", "THPT"),
                ("dia_chi", "c3xuantruongc@namdinh.edu.vn"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, "/don-vi/THPT-XTC");
    assert!(
        units_file(&f)
            .contains("THPT-XTC,Trường THPT Xuân Trường C,THPT,c3xuantruongc@namdinh.edu.vn")
    );
    assert_clean_page(&b.get("/don-vi/THPT-XTC").await, "/don-vi/THPT-XTC");
    assert!(b.get("/ban-giay").await.body.contains("value=\"THPT-XTC\""));
    // The file still loads as the daemon loads it.
    Registry::load(&f.data.parent().unwrap().join("units.csv")).unwrap();
}

#[tokio::test]
async fn a_unit_marked_as_having_nobody_to_request_is_not_reminded_and_the_report_says_so() {
    let f = fixture();
    let mut b = f.logged_in().await;
    let csrf = b.csrf().await;
    let path = "/don-vi/THPT-GT/khong-nhu-cau";
    let a = b.post(path, &[("bat", "1")]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("bat", "1"),
                ("note", "trường báo không có ai"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = b.get("/don-vi/THPT-GT").await.body;
    assert!(page.contains("không có nhu cầu</strong>"), "{page}");
    let units = report_text(&f, "units.csv");
    let line = units.lines().find(|l| l.starts_with("THPT-GT,")).unwrap();
    assert!(line.contains("no_need"), "{line}");
    assert!(report_text(&f, "doi-chieu.html").contains("Không có nhu cầu"));
    let listed = b.get("/don-vi?trang_thai=no_need").await.body;
    assert!(
        listed.contains("Trường THPT Giao Thủy") && listed.contains("1 đơn vị."),
        "{listed}"
    );
    // Not reminded.
    let config = config(&f.maildir, &f.data, false);
    let store = f.db();
    let registry = Registry::load(&config.units.file).unwrap();
    let rec = cts_intake::report::build(&store, &registry, &config).unwrap();
    let due = cts_intake::remind::due(&rec);
    assert!(!due.iter().any(|d| d.unit_code == "THPT-GT"));
    // Taken back: reminded again.
    let a = b.post(path, &[("csrf", &csrf), ("bat", "0")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let rec = cts_intake::report::build(&store, &registry, &config).unwrap();
    assert!(
        cts_intake::remind::due(&rec)
            .iter()
            .any(|d| d.unit_code == "THPT-GT")
    );
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action IN ('unit_no_need', 'unit_need')"),
        2
    );
}

#[test]
fn a_running_daemon_knows_a_unit_added_to_the_registry_file_without_a_restart() {
    let f = fixture();
    let config = config(&f.maildir, &f.data, false);
    let file = config.units.file.clone();
    let mut intake = cts_intake::daemon::Intake::open(config).unwrap();
    assert!(intake.registry.by_code("THPT-XTC").is_none());
    // Written as the desk writes it (a new file renamed over the old one).
    let registry = Registry::load(&file)
        .unwrap()
        .with_unit(cts_intake::units::Unit {
            code: "THPT-XTC".into(),
            name: "Trường THPT Xuân Trường C".into(),
            kind: "THPT".into(),
            emails: vec!["c3xuantruongc@namdinh.edu.vn".into()],
        })
        .unwrap();
    // A modification time the filesystem can tell from the first one.
    std::thread::sleep(std::time::Duration::from_millis(20));
    registry.save(&file).unwrap();
    intake.reload_registry_if_changed();
    assert!(intake.registry.by_code("THPT-XTC").is_some());
    // A file that no longer loads leaves the registry in use as it was.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, "code,name,kind,emails\n,Không mã,THPT,\n").unwrap();
    intake.reload_registry_if_changed();
    assert!(intake.registry.by_code("THPT-XTC").is_some());
}

/// A mail over the size limit keeps only its header when it comes; staff processing it again
/// fetch it whole from the mailbox, and it is read and answered as the school's own mail. A mail
/// gone from the mailbox is refused with the reason, and nothing changes.
#[tokio::test]
async fn an_oversized_mail_processed_again_is_fetched_whole_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let raw = crate::support::oversized_sample();
    let name = "1669858203.M1P1.big";
    std::fs::write(maildir.join("new").join(name), &raw).unwrap();
    let data = dir.path().join("data");
    let config_file = dir.path().join("config.toml");
    let text = std::fs::read_to_string(root().join("config/default.toml"))
        .unwrap()
        .replace("max-message-mb = 25", "max-message-mb = 1");
    assert!(text.contains("max-message-mb = 1"));
    std::fs::write(&config_file, text).unwrap();
    crate::support::succeeds(
        std::process::Command::new(env!("CARGO_BIN_EXE_cts-intake"))
            .arg("--config")
            .arg(&config_file)
            .args(["run", "--once", "--maildir"])
            .arg(&maildir)
            .arg("--data-dir")
            .arg(&data)
            .arg("--units")
            .arg(root().join("config/units.csv"))
            .env("CTS_INTAKE_LOG", "warn"),
    );
    let mut config = config(&maildir, &data, false);
    config.source.max_message_mb = 1;
    let f = Fixture {
        router: router_with(config),
        _dir: dir,
        data,
        maildir,
    };
    f.db()
        .add_staff("lan", &auth::hash_password(PASSWORD).unwrap())
        .unwrap();
    let held = mail_id(&f, "sample-01@namdinh.edu.vn");
    assert_eq!(outcome_of(&f, held), "held");
    let mut b = f.logged_in().await;
    let page = b.get(&format!("/thu/{held}")).await;
    assert_clean_page(&page, "/thu/{id}");
    assert!(
        page.body.contains("lấy toàn bộ thư từ hộp thư"),
        "{}",
        page.body
    );
    let csrf = b.csrf().await;

    // Gone from the Maildir: refused, the mail still held, no reply.
    let cur = std::fs::read_dir(f.maildir.join("cur"))
        .unwrap()
        .chain(std::fs::read_dir(f.maildir.join("new")).unwrap())
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .expect("the mail is in the Maildir");
    let aside = f.data.parent().unwrap().join("aside");
    std::fs::rename(&cur, &aside).unwrap();
    let a = b
        .post(&format!("/thu/{held}/xu-ly-lai"), &[("csrf", &csrf)])
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(
        a.body.contains("lấy lại toàn bộ thư từ hộp thư"),
        "{}",
        a.body
    );
    assert_eq!(outcome_of(&f, held), "held");
    let replies_before = replies_to(&f, "c3lehongphong@namdinh.edu.vn").len();

    // Back in the Maildir: fetched whole, read, accepted, acknowledged.
    std::fs::rename(&aside, &cur).unwrap();
    let a = b
        .post(
            &format!("/thu/{held}/xu-ly-lai"),
            &[("csrf", &csrf), ("note", "thư lớn")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let now = mail_id(&f, "sample-01@namdinh.edu.vn");
    assert_ne!(now, held);
    assert_eq!(outcome_of(&f, now), "accepted");
    let kept: i64 = f
        .db()
        .conn()
        .query_row(
            "SELECT length(r.bytes) FROM mails m JOIN raw_mails r ON r.sha256 = m.sha256 \
             WHERE m.id = ?1",
            [now],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept as usize, raw.len(), "the whole mail is kept");
    let replies = replies_to(&f, "c3lehongphong@namdinh.edu.vn");
    assert_eq!(replies.len(), replies_before + 1, "one reply more");
    assert_eq!(replies.last().unwrap().0, "ack");
    assert_eq!(
        f.count("SELECT count(*) FROM audit_log WHERE action = 'reprocess_mail'"),
        1
    );
}
