//! A real mail stack on loopback for the tests (../shared/MAILSTACK.md): a private Dovecot (IMAP,
//! IMAPS, LMTP, SASL) and a private Postfix that delivers to it over LMTP, each from its own config
//! in a temporary folder, on free ports, killed when dropped. Nothing can leave the machine:
//! Postfix relays only the test domains, to Dovecot, and fails everything else.
//!
//! Needs root (Postfix does not run as another user here) and Debian's dovecot-imapd,
//! dovecot-lmtpd and postfix packages: `./scripts/test` installs them.

#![allow(dead_code)] // each test uses a part

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const DOVECOT: &str = "/usr/sbin/dovecot";
const DOVEADM: &str = "/usr/bin/doveadm";
const POSTFIX_MASTER: &str = "/usr/lib/postfix/sbin/master";
const POSTQUEUE: &str = "/usr/sbin/postqueue";

static INSTANCE: AtomicU32 = AtomicU32::new(0);

fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: the mail-stack tests need a real {package}. Run ./scripts/test (it \
         installs what the tests need) or: apt-get install -y dovecot-imapd dovecot-lmtpd postfix"
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Free loopback ports (bound then released; a clash is handled by retrying the start).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A unique token for greetings and banners, so a harness never talks to another process.
fn token(kind: &str) -> String {
    format!(
        "cts-test-{kind}-{}-{}",
        std::process::id(),
        INSTANCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until a TCP server on `port` greets with a line containing `token`.
fn wait_for_greeting(port: u16, token: &str, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut line = String::new();
            if BufReader::new(&s).read_line(&mut line).is_ok() {
                if line.contains(token) {
                    return Ok(());
                }
                last = line;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!(
        "no greeting with {token} on port {port} (last: {last:?})"
    ))
}

/// A self-signed server certificate rustls accepts (not a CA; SAN localhost and 127.0.0.1).
fn make_certificate(dir: &Path) {
    let cnf = dir.join("cert.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name=dn\nprompt=no\nx509_extensions=ext\n[dn]\nCN=localhost\n\
         [ext]\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n\
         subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "3650", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .arg("-config")
        .arg(&cnf)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(dir.join("key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Starts a server again on its old ports, which the killed one may hold for a moment.
fn relaunch(mut launch: impl FnMut() -> Result<(), String>) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..50 {
        match launch() {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last)
}

/// Kills a server's whole process group and reaps every process of it.
///
/// Reaping matters: a killed server's children are orphans, and until someone reaps them they are
/// zombies that `kill(pid, 0)` still finds alive. Dovecot then takes the lock files a killed
/// `imap` process left behind (`dovecot-uidlist.lock`) for locks still held, and the restarted
/// server's SELECT waits the two minutes after which it calls them stale. A real init reaps at
/// once; the one on these machines can take seconds. So the tests adopt the orphans
/// ([`adopt_orphans`]) and reap them here.
fn kill_group(child: &mut Child) {
    let group = child.id() as i32;
    // SAFETY: kill(2) on the process group of a child we started.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    // Once the leader is reaped, it has exited, and its children have been handed to us.
    let _ = child.wait();
    loop {
        // SAFETY: waitpid(2) on the group's processes, all of them ours by now; a null status
        // pointer is allowed.
        let reaped = unsafe { libc::waitpid(-group, std::ptr::null_mut(), 0) };
        if reaped < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if reaped <= 0 {
            break; // ECHILD: none left
        }
    }
}

/// Makes this process the reaper of its orphaned descendants (`PR_SET_CHILD_SUBREAPER`), so
/// [`kill_group`] can reap a killed server's children at once.
fn adopt_orphans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl(2) with PR_SET_CHILD_SUBREAPER only sets a flag on this process.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "prctl(PR_SET_CHILD_SUBREAPER) failed");
    });
}

/// A private Dovecot: IMAP (plain + STARTTLS), IMAPS, LMTP and a SASL auth listener.
pub struct Dovecot {
    /// The temporary folder holding config, certificate, mail and logs (removed on drop).
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub lmtp_port: u16,
    pub auth_port: u16,
    pub token: String,
    /// Extra configuration appended to dovecot.conf (e.g. an IMAP capability without IDLE).
    extra: String,
}

impl Dovecot {
    /// Starts Dovecot with these users (`address`, `password`).
    pub fn start(users: &[(&str, &str)]) -> Dovecot {
        Dovecot::start_with(users, "")
    }

    /// Starts Dovecot with extra configuration appended.
    pub fn start_with(users: &[(&str, &str)], extra: &str) -> Dovecot {
        require(DOVECOT, "Dovecot");
        let dir = tempfile::Builder::new()
            .prefix("cts-dovecot-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        make_certificate(dir.path());
        for sub in ["mail", "home"] {
            let p = dir.path().join(sub);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let passwd: String = users
            .iter()
            .map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n"))
            .collect();
        std::fs::write(dir.path().join("passwd"), passwd).unwrap();
        let mut d = Dovecot {
            dir,
            child: None,
            imap_port: 0,
            imaps_port: 0,
            lmtp_port: 0,
            auth_port: 0,
            token: token("imap"),
            extra: extra.to_string(),
        };
        let mut last = String::new();
        for _ in 0..5 {
            let p = free_ports(4);
            (d.imap_port, d.imaps_port, d.lmtp_port, d.auth_port) = (p[0], p[1], p[2], p[3]);
            match d.launch() {
                Ok(()) => return d,
                Err(e) => last = e,
            }
        }
        panic!("Dovecot did not start: {last}\nlog:\n{}", d.log());
    }

    fn write_config(&self) {
        let dir = self.dir.path().display();
        let (users, internal) = if is_root() {
            (
                "default_internal_user = dovecot\ndefault_login_user = dovenull\n\
                 mail_uid = nobody\nmail_gid = nogroup\nfirst_valid_uid = 0\n"
                    .to_string(),
                "uid=nobody gid=nogroup",
            )
        } else {
            let me = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            (
                format!(
                    "default_internal_user = {me}\ndefault_login_user = {me}\n\
                     mail_uid = {me}\nmail_gid = {me}\nfirst_valid_uid = 0\n"
                ),
                "uid=%{uid} gid=%{gid}",
            )
        };
        let conf = format!(
            "instance_name = {token}\n\
             base_dir = {dir}/run\nstate_dir = {dir}/state\n\
             log_path = {dir}/dovecot.log\ninfo_log_path = {dir}/dovecot-info.log\n\
             listen = 127.0.0.1\nprotocols = imap lmtp\n\
             mail_location = maildir:{dir}/mail/%d/%n\n\
             login_greeting = {token}\n\
             disable_plaintext_auth = no\nauth_mechanisms = plain login\nauth_failure_delay = 0\n\
             ssl = yes\nssl_cert = <{dir}/cert.pem\nssl_key = <{dir}/key.pem\n\
             {users}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {dir}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = {internal} home={dir}/home/%d/%n allow_all_users=no\n}}\n\
             service imap-login {{\n  chroot =\n\
               inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap}\n  }}\n\
               inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps}\n    ssl = yes\n  }}\n}}\n\
             service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {lmtp}\n  }}\n}}\n\
             service auth {{\n  inet_listener auth {{\n    address = 127.0.0.1\n    port = {auth}\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             namespace inbox {{\n  inbox = yes\n  separator = /\n\
               mailbox Sent {{\n    special_use = \\Sent\n    auto = subscribe\n  }}\n}}\n\
             {extra}\n",
            token = self.token,
            imap = self.imap_port,
            imaps = self.imaps_port,
            lmtp = self.lmtp_port,
            auth = self.auth_port,
            extra = self.extra,
        );
        std::fs::write(self.conf_path(), conf).unwrap();
    }

    fn launch(&mut self) -> Result<(), String> {
        self.write_config();
        adopt_orphans();
        let mut cmd = Command::new(DOVECOT);
        cmd.arg("-F")
            .arg("-c")
            .arg(self.conf_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.path().join("stderr.log")).unwrap(),
            ))
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {DOVECOT}: {e}"))?;
        match wait_for_greeting(self.imap_port, &self.token, Duration::from_secs(10)) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                kill_group(&mut child);
                Err(e)
            }
        }
    }

    /// The private config file (for `doveadm -c`).
    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    /// The server certificate, to trust as a CA file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The Maildir of a user (`local@domain`).
    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').expect("user is an address");
        self.dir.path().join("mail").join(domain).join(local)
    }

    /// The Dovecot logs, for failure messages.
    pub fn log(&self) -> String {
        ["dovecot.log", "dovecot-info.log", "stderr.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs `doveadm -c CONF ARGS...` and checks it succeeded.
    pub fn doveadm(&self, args: &[&str]) -> Output {
        let out = Command::new(DOVEADM)
            .arg("-c")
            .arg(self.conf_path())
            .args(args)
            .output()
            .expect("doveadm runs");
        assert!(
            out.status.success(),
            "doveadm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Puts a mail into a user's mailbox directly (no SMTP, no IMAP).
    pub fn save(&self, user: &str, mailbox: &str, bytes: &[u8]) {
        let mut child = Command::new(DOVEADM)
            .arg("-c")
            .arg(self.conf_path())
            .args(["save", "-u", user, "-m", mailbox])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("doveadm runs");
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "doveadm save failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The mails in a user's mailbox folder (`INBOX` or a folder name), as Dovecot stored them.
    pub fn messages(&self, user: &str, mailbox: &str) -> Vec<Vec<u8>> {
        let base = if mailbox == "INBOX" {
            self.maildir(user)
        } else {
            self.maildir(user).join(format!(".{mailbox}"))
        };
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|s| std::fs::read_dir(base.join(s)).ok())
            .flatten()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// The server's master process (the leader of its process group), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(&mut c);
        }
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = relaunch(|| self.launch()) {
            panic!("Dovecot did not restart: {e}\n{}", self.log());
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private Postfix delivering the test domains to a [`Dovecot`] over LMTP, with SASL through
/// Dovecot. Three listeners: `smtp_port` (STARTTLS offered), `smtps_port` (implicit TLS) and
/// `submission_port` (STARTTLS required).
pub struct Postfix {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub submission_port: u16,
    pub token: String,
    /// The certificate (Dovecot's), to trust as a CA file.
    ca_file: PathBuf,
}

impl Postfix {
    /// Starts Postfix for `domains`; `recipients` are the addresses it accepts (others get 550).
    pub fn start(dovecot: &Dovecot, domains: &[&str], recipients: &[&str]) -> Postfix {
        require(POSTFIX_MASTER, "Postfix");
        assert!(
            is_root(),
            "the Postfix test server needs root (Postfix does not run as another user)"
        );
        let dir = tempfile::Builder::new()
            .prefix("cts-postfix-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path();
        let rcpts: String = recipients.iter().map(|r| format!("{r} ok\n")).collect();
        std::fs::write(d.join("recipients"), rcpts).unwrap();
        make_queue(d);
        let mut p = Postfix {
            smtp_port: 0,
            smtps_port: 0,
            submission_port: 0,
            token: token("smtp"),
            child: None,
            ca_file: dovecot.ca_file(),
            dir,
        };
        let mut last = String::new();
        for _ in 0..5 {
            let ports = free_ports(3);
            (p.smtp_port, p.smtps_port, p.submission_port) = (ports[0], ports[1], ports[2]);
            p.write_config(dovecot, domains);
            match p.launch() {
                Ok(()) => return p,
                Err(e) => last = e,
            }
        }
        panic!("Postfix did not start: {last}\n{}", p.log());
    }

    fn write_config(&self, dovecot: &Dovecot, domains: &[&str]) {
        let d = self.dir.path().display();
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/queue\ndata_directory = {d}/data\n\
             command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n\
             meta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n\
             mail_owner = postfix\nsetgid_group = postdrop\n\
             maillog_file = {d}/postfix.log\nmaillog_file_prefixes = {d}\n\
             inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
             myhostname = mx.test.invalid\nmydomain = test.invalid\nmyorigin = test.invalid\n\
             mydestination =\nlocal_recipient_maps =\nalias_maps =\nalias_database =\n\
             relay_domains = {domains}\n\
             relay_recipient_maps = texthash:{d}/recipients\n\
             relay_transport = lmtp:inet:127.0.0.1:{lmtp}\n\
             default_transport = error:no mail leaves this test\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination\n\
             smtpd_sasl_type = dovecot\nsmtpd_sasl_path = inet:127.0.0.1:{auth}\n\
             smtpd_sasl_auth_enable = yes\n\
             smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n\
             smtpd_tls_security_level = may\n\
             smtp_dns_support_level = disabled\nsmtpd_error_sleep_time = 0s\n\
             smtpd_banner = $myhostname ESMTP {token}\n\
             queue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n\
             message_size_limit = 104857600\nbiff = no\n",
            domains = domains.join(", "),
            lmtp = dovecot.lmtp_port,
            auth = dovecot.auth_port,
            cert = dovecot.ca_file().display(),
            key = dovecot.dir.path().join("key.pem").display(),
            token = self.token,
        );
        let master = format!(
            "{smtp} inet n - n - - smtpd\n\
             {smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n\
             {sub} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt\n\
             pickup unix n - n 60 1 pickup\ncleanup unix n - n - 0 cleanup\n\
             qmgr unix n - n 300 1 qmgr\ntlsmgr unix - - n 1000? 1 tlsmgr\n\
             rewrite unix - - n - - trivial-rewrite\nbounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\nflush unix n - n 1000? 0 flush\n\
             proxymap unix - - n - - proxymap\nproxywrite unix - - n - 1 proxymap\n\
             smtp unix - - n - - smtp\nrelay unix - - n - - smtp\n\
             showq unix n - n - - showq\nerror unix - - n - - error\n\
             retry unix - - n - - error\ndiscard unix - - n - - discard\n\
             lmtp unix - - n - - lmtp\nanvil unix - - n - 1 anvil\n\
             scache unix - - n - 1 scache\npostlog unix-dgram n - n - 1 postlogd\n",
            smtp = self.smtp_port,
            smtps = self.smtps_port,
            sub = self.submission_port,
        );
        let d = self.dir.path();
        std::fs::write(d.join("main.cf"), main).unwrap();
        std::fs::write(d.join("master.cf"), master).unwrap();
        // Postfix sleeps on config files younger than 2 s: back-date them.
        let _ = Command::new("touch")
            .args(["-d", "-1 minute"])
            .arg(d.join("main.cf"))
            .arg(d.join("master.cf"))
            .arg(d.join("recipients"))
            .status();
    }

    fn launch(&mut self) -> Result<(), String> {
        adopt_orphans();
        // master calls setsid itself, so its pid is its process group.
        let mut child = Command::new(POSTFIX_MASTER)
            .arg("-c")
            .arg(self.dir.path())
            .arg("-s")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.path().join("stderr.log")).unwrap(),
            ))
            .spawn()
            .map_err(|e| format!("cannot run {POSTFIX_MASTER}: {e}"))?;
        match wait_for_greeting(self.smtp_port, &self.token, Duration::from_secs(10)) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                kill_group(&mut child);
                Err(e)
            }
        }
    }

    /// The certificate the servers present, to trust as a CA file.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Postfix's log, for failure messages.
    pub fn log(&self) -> String {
        ["postfix.log", "stderr.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Asks Postfix to try every queued mail now, whatever its next-try time (`postqueue -f`).
    /// Without it, a mail whose queue file the queue manager met while the delivery that had
    /// just deferred it still held its lock waits a whole minute (Postfix's own rule), longer
    /// than a test waits.
    pub fn flush(&self) {
        let out = Command::new(POSTQUEUE)
            .arg("-c")
            .arg(self.dir.path())
            .arg("-f")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {POSTQUEUE}: {e}"));
        assert!(
            out.status.success(),
            "postqueue -f failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// Kills Postfix at once, as a crash or an outage would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(&mut c);
        }
        // A killed master leaves its pid file; the next master refuses to start while it names
        // a live process, and ignores a stale one.
        let _ = std::fs::remove_file(self.dir.path().join("queue/pid/master.pid"));
    }

    /// Starts Postfix again on the same ports and queue.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = relaunch(|| self.launch()) {
            panic!("Postfix did not restart: {e}\n{}", self.log());
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates Postfix's queue folders with the owners and modes it insists on.
fn make_queue(dir: &Path) {
    let chown = |p: &Path, owner: &str| {
        let ok = Command::new("chown")
            .arg(owner)
            .arg(p)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown {owner} {} failed", p.display());
    };
    let mk = |rel: &str, owner: &str, mode: u32| {
        let p = dir.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        chown(&p, owner);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for q in [
        "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private",
        "saved", "trace",
    ] {
        mk(&format!("queue/{q}"), "postfix", 0o700);
    }
    mk("queue/maildrop", "postfix:postdrop", 0o730);
    mk("queue/public", "postfix:postdrop", 0o710);
    mk("queue/pid", "root", 0o755);
    mk("data", "postfix", 0o700);
}

/// Dovecot and Postfix together: mail sent to Postfix for the test domains lands in Dovecot.
pub struct MailStack {
    pub dovecot: Dovecot,
    pub postfix: Postfix,
}

impl MailStack {
    /// Starts both servers with these users (`address`, `password`), all on `namdinh.edu.vn`
    /// or the domains their addresses name.
    pub fn start(users: &[(&str, &str)]) -> MailStack {
        let dovecot = Dovecot::start(users);
        let mut domains: Vec<&str> = users
            .iter()
            .filter_map(|(u, _)| u.split_once('@').map(|(_, d)| d))
            .collect();
        domains.sort();
        domains.dedup();
        let recipients: Vec<&str> = users.iter().map(|(u, _)| *u).collect();
        let postfix = Postfix::start(&dovecot, &domains, &recipients);
        MailStack { dovecot, postfix }
    }
}

/// Sends one message with a minimal SMTP client (no TLS, from loopback, which Postfix trusts).
pub fn smtp_send(port: u16, from: &str, to: &[&str], bytes: &[u8]) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut expect = |code: &str| -> Result<(), String> {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if !line.starts_with(code) {
                return Err(format!("expected {code}, got {line:?}"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    };
    expect("220")?;
    let mut cmd = |c: String, code: &str| -> Result<(), String> {
        w.write_all(c.as_bytes()).map_err(|e| e.to_string())?;
        expect(code)
    };
    cmd("EHLO test.invalid\r\n".into(), "250")?;
    cmd(format!("MAIL FROM:<{from}>\r\n"), "250")?;
    for r in to {
        cmd(format!("RCPT TO:<{r}>\r\n"), "250")?;
    }
    cmd("DATA\r\n".into(), "354")?;
    let mut data = Vec::with_capacity(bytes.len() + 8);
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    cmd(String::from_utf8_lossy(&data).into_owned(), "250")?;
    let _ = cmd("QUIT\r\n".into(), "221");
    Ok(())
}

/// Waits until `f` holds, polling every 20 ms, for at most `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn the_mail_stack_delivers_smtp_mail_into_dovecot() {
    let stack = MailStack::start(&[
        ("cttt@namdinh.edu.vn", "secret"),
        ("c3school@namdinh.edu.vn", "secret"),
    ]);
    let mail = b"From: cttt@namdinh.edu.vn\r\nTo: c3school@namdinh.edu.vn\r\nSubject: test\r\n\r\nhello\r\n.dot line\r\n";
    smtp_send(
        stack.postfix.smtp_port,
        "cttt@namdinh.edu.vn",
        &["c3school@namdinh.edu.vn"],
        mail,
    )
    .unwrap();
    let arrived = wait_until(Duration::from_secs(10), || {
        !stack
            .dovecot
            .messages("c3school@namdinh.edu.vn", "INBOX")
            .is_empty()
    });
    assert!(arrived, "not delivered:\n{}", stack.postfix.log());
    let got = &stack.dovecot.messages("c3school@namdinh.edu.vn", "INBOX")[0];
    // Dovecot stores LF line ends; the dot-stuffing was undone on the way.
    assert!(String::from_utf8_lossy(got).contains("\n.dot line"));
    // An unknown recipient is refused at RCPT, and nothing goes elsewhere.
    let err = smtp_send(
        stack.postfix.smtp_port,
        "cttt@namdinh.edu.vn",
        &["nobody@namdinh.edu.vn"],
        mail,
    )
    .unwrap_err();
    assert!(err.contains("550"), "{err}");
    let err = smtp_send(
        stack.postfix.smtp_port,
        "cttt@namdinh.edu.vn",
        &["a@example.com"],
        mail,
    )
    .unwrap_err();
    assert!(err.starts_with("expected 250"), "{err}");
}

#[test]
fn doveadm_save_puts_mail_in_a_mailbox_and_a_restart_keeps_it() {
    let mut d = Dovecot::start(&[("cttt@namdinh.edu.vn", "secret")]);
    d.save(
        "cttt@namdinh.edu.vn",
        "INBOX",
        b"From: a@b.c\r\nSubject: x\r\n\r\nx\r\n",
    );
    assert_eq!(d.messages("cttt@namdinh.edu.vn", "INBOX").len(), 1);
    d.restart();
    let s = TcpStream::connect(("127.0.0.1", d.imap_port)).unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    assert!(line.contains(&d.token), "{line}");
}
