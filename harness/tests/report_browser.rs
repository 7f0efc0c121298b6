//! The report in a real browser: `paxos-bench run` writes index.html and its plots, a loopback HTTP server
//! serves the directory, and headless Chromium loads the page inside a checker page of the same origin that
//! counts the images that loaded. A deliberately deleted plot must be reported broken, so the check can fail.
//!
//! Needs Debian's `chromium`. On a machine without it (a new user's, say) the test says on the terminal that it
//! was skipped and why, and passes, so that the rest of `cargo test --workspace` still runs. `.ci/run` installs
//! Chromium and sets `PAXOS_BENCH_REQUIRE_BROWSER=1`, under which a missing browser is a failure: CI never
//! passes on a skipped browser test.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CHECKER: &str = r#"<!DOCTYPE html>
<html><body>
<pre id="result">pending</pre>
<iframe id="report" src="/index.html" width="1200" height="800"></iframe>
<script>
document.getElementById('report').addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(this.contentDocument.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return i.getAttribute('src'); });
  document.getElementById('result').textContent =
    'IMAGES ' + imgs.length + ' BROKEN ' + broken.length + ' [' + broken.join(' ') + ']';
});
</script>
</body></html>"#;

/// Measures the report's first screen, as a reader at 1280 x 800 sees it: the findings must be the first
/// section, hold 3 to 6 sentences each with a figure, and end above the fold.
const FIRST_SCREEN: &str = r#"<!DOCTYPE html>
<html><body style="margin:0">
<pre id="result">pending</pre>
<iframe id="report" src="/index.html" width="1280" height="800" style="border:0"></iframe>
<script>
document.getElementById('report').addEventListener('load', function () {
  var d = this.contentDocument;
  var sec = d.getElementById('findings');
  var firstH2 = d.querySelector('h2');
  var items = sec ? Array.prototype.slice.call(sec.querySelectorAll('li')) : [];
  var withFigure = items.filter(function (li) { return /[0-9]/.test(li.textContent); }).length;
  var bottom = sec ? Math.ceil(sec.getBoundingClientRect().bottom) : -1;
  document.getElementById('result').textContent =
    'FIRST ' + (firstH2 ? firstH2.textContent.replace(/\s+/g, '_') : 'none') +
    ' SENTENCES ' + items.length + ' WITH_FIGURE ' + withFigure +
    ' BOTTOM ' + bottom + ' VIEW ' + this.contentWindow.innerHeight;
});
</script>
</body></html>"#;

/// Serves `dir` (and the checker pages) on 127.0.0.1 until dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(dir: PathBuf) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            let Ok(conn) = conn else { continue };
            let dir = dir.clone();
            std::thread::spawn(move || answer(conn, &dir));
        }
    });
    Server { port, stop }
}

fn answer(mut conn: TcpStream, dir: &Path) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut first = String::new();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    if reader.read_line(&mut first).is_err() {
        return;
    }
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body, kind) = if path == "/__check.html" {
        ("200 OK", CHECKER.as_bytes().to_vec(), "text/html")
    } else if path == "/__first_screen.html" {
        ("200 OK", FIRST_SCREEN.as_bytes().to_vec(), "text/html")
    } else {
        let rel = path.trim_start_matches('/');
        let file = dir.join(rel);
        match (rel.contains(".."), std::fs::read(&file)) {
            (false, Ok(b)) => {
                let kind = match file.extension().and_then(|e| e.to_str()) {
                    Some("html") => "text/html",
                    Some("png") => "image/png",
                    Some("svg") => "image/svg+xml",
                    _ => "application/octet-stream",
                };
                ("200 OK", b, kind)
            }
            _ => ("404 Not Found", b"not found".to_vec(), "text/plain"),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

/// Chromium, headless, with nothing that reaches beyond loopback.
fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Loads one of the served checker pages and returns its `marker` line.
fn checker_line(server: &Server, page: &str, profile: &Path, marker: &str) -> String {
    let out = chromium(profile)
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{}/{page}", server.port))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start chromium ({e}); install Debian's chromium package, as .ci/run does"
            )
        });
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    dom.lines()
        .find_map(|l| {
            l.split_once(marker)
                .map(|(_, r)| format!("{marker}{}", r.split('<').next().unwrap_or("")))
        })
        .unwrap_or_else(|| {
            panic!(
                "the checker page did not report (chromium exit {:?}):\n{dom}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Loads the checker page in headless Chromium and returns (images, broken).
fn check_in_browser(dir: &Path, profile: &Path) -> (usize, usize, String) {
    let server = serve(dir.to_path_buf());
    let line = checker_line(&server, "__check.html", profile, "IMAGES ");
    let mut it = line.split_whitespace().skip(1);
    let images: usize = it.next().unwrap().parse().unwrap();
    assert_eq!(it.next(), Some("BROKEN"));
    let broken: usize = it.next().unwrap().parse().unwrap();
    (images, broken, line)
}

/// Whether `chromium --version` runs. When it does not, either skip (saying so where a person sees it: libtest
/// captures `eprintln!` of passing tests, but not writes to the stderr handle) or, under CI's flag, fail.
fn chromium_available() -> bool {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    let required = std::env::var_os("PAXOS_BENCH_REQUIRE_BROWSER").is_some_and(|v| v != "0");
    assert!(
        !required,
        "PAXOS_BENCH_REQUIRE_BROWSER is set but `chromium --version` does not run: install Debian's \
         chromium package (apt-get install chromium)"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED report_browser: `chromium --version` does not run on this machine, so the report was not \
         loaded in a browser. Install Debian's chromium (apt-get install chromium) to run this test; every \
         other test ran as usual.\n"
    );
    false
}

#[test]
fn every_image_of_the_report_loads_in_headless_chromium() {
    if !chromium_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("failover");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-configs/failover.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let expected = html.matches("<img ").count();
    // failover.toml has faults and five variants: CDF, profile, model, timeline, messages, bytes.
    assert!(expected >= 6, "only {expected} images in the page");

    let (images, broken, line) = check_in_browser(&out, &dir.path().join("profile-a"));
    assert_eq!(images, expected, "{line}");
    assert_eq!(broken, 0, "{line}");

    // The check can fail: without one plot, the browser reports exactly that image.
    std::fs::remove_file(out.join("plots/failover-timeline-sim.png")).unwrap();
    let (images, broken, line) = check_in_browser(&out, &dir.path().join("profile-b"));
    assert_eq!((images, broken), (expected, 1), "{line}");
    assert!(line.contains("plots/failover-timeline-sim.png"), "{line}");
}

/// The built-in default config's report opens with its findings: Chromium at 1280 x 800 measures that the
/// findings are the first section, that they are 3 to 6 sentences each with a figure, and that they end
/// above the fold; it also takes the screenshot of that first screen (kept in PAXOS_BENCH_SCREENSHOT_DIR when
/// set). Without the findings section the same measurement fails, so it can.
#[test]
fn the_default_report_opens_with_its_findings_on_the_first_screen() {
    if !chromium_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("default");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/default.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
        .arg("run")
        .arg(&config)
        .args(["--mode", "sim", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");

    let server = serve(out.clone());
    let line = checker_line(
        &server,
        "__first_screen.html",
        &dir.path().join("p1"),
        "FIRST ",
    );
    let field = |name: &str| -> i64 {
        let mut it = line.split_whitespace();
        it.find(|w| *w == name);
        it.next().unwrap().parse().unwrap()
    };
    assert!(line.starts_with("FIRST Findings "), "{line}");
    let sentences = field("SENTENCES");
    assert!((3..=6).contains(&sentences), "{line}");
    assert_eq!(field("WITH_FIGURE"), sentences, "{line}");
    assert!(
        field("BOTTOM") <= field("VIEW"),
        "the findings run below the fold: {line}"
    );

    let shot = dir.path().join("first-screen.png");
    let status = chromium(&dir.path().join("p2"))
        .arg("--window-size=1280,800")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://127.0.0.1:{}/index.html", server.port))
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("PAXOS_BENCH_SCREENSHOT_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&shot, Path::new(&keep).join("default-first-screen.png")).unwrap();
    }

    // The measurement can fail: the same page without its findings section.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let start = html.find("<section id=\"findings\">").unwrap();
    let end = html.find("</section>").unwrap() + "</section>".len();
    std::fs::write(
        out.join("index.html"),
        format!("{}{}", &html[..start], &html[end..]),
    )
    .unwrap();
    let line = checker_line(
        &server,
        "__first_screen.html",
        &dir.path().join("p3"),
        "FIRST ",
    );
    assert!(line.contains("SENTENCES 0"), "{line}");
    assert!(!line.starts_with("FIRST Findings "), "{line}");
}
