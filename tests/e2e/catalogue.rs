//! The web catalogue through the real binaries (issue 12): a node filled
//! through the real API and client (several organisations; approved,
//! pending, yanked and revoked releases; a package mirrored from another
//! node; adoptions and support), then every page type loaded in headless
//! Chromium by `tests/browser/check.mjs`: axe-core finds no WCAG 2.2 AA
//! violation at 1280 and 375 pixels wide, no Content-Security-Policy
//! violation, the pages show what they must with JavaScript off, and
//! screenshots land in `target/catalogue-screenshots/`.

use serde_json::{json, Value};
use shire_e2e::club::account;
use shire_e2e::{Club, Node, Project};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A README carrying each attack the catalogue must defuse.
const HOSTILE_README: &str = "# CRM Lite\n\nCustomer records for small councils.\n\n\
<script>document.title='pwned-script'</script>\n\n\
<img src=x onerror=\"document.title='pwned-img'\">\n\n\
[Click for help](javascript:document.title='pwned-link')\n\n\
<svg onload=\"document.title='pwned-svg'\"><script>document.title='pwned-svg2'</script></svg>\n\n\
<a href=\"#\" onclick=\"document.title='pwned-click'\">harmless words</a>\n\n\
## Setting up\n\nRun `shire install braintree/crm-lite` and read [the guide](https://example.org/guide).\n";

/// The node under test, its mirror source, and what the test made.
struct Filled {
    club: Club,
    _home: Node,
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fills a node the way a club would, through the real binaries.
fn fill() -> Filled {
    // Another node, home of `tendring`, whose approved release is mirrored.
    let home = Node::start_with(&["--origin", "tendring.test"]);
    let home_admin = home.admin();
    for org in ["tendring", "essex-audit"] {
        home_admin.ok(&["admin", "org", "create", org]);
    }
    let t_pub = account(&home, &home_admin, "td-dev", "tendring", "publisher");
    let t_ver = account(&home, &home_admin, "essex-rev", "essex-audit", "verifier");
    let bins =
        Project::new("tendring/bin-days", "2.0.0").description("Bin collection days by postcode");
    t_pub.ok(&["publish", bins.write(t_pub.cwd.path()).to_str().unwrap()]);
    t_ver.ok(&[
        "approve",
        "tendring/bin-days@2.0.0",
        "--note",
        "Reviewed the postcode lookup",
    ]);
    let note_key = home.get_json("/api/v1/node")["note_key"]
        .as_str()
        .unwrap()
        .to_string();
    let cfg = tempfile::tempdir().unwrap();
    let cfg_path = cfg.path().join("club.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "poll_interval_ms = 150\nretry_min_ms = 100\nretry_max_ms = 1000\n\n[[peer]]\nname = \"tendring\"\nurl = \"{}\"\norigin = \"tendring.test\"\nnode_key = \"{note_key}\"\nhome_of = [\"tendring\", \"essex-audit\"]\n",
            home.url
        ),
    )
    .unwrap();
    let club = Club::with_node(Node::start_with(&[
        "--origin",
        "club.test",
        "--config",
        cfg_path.to_str().unwrap(),
    ]));
    for org in ["delt", "kent"] {
        club.admin.ok(&["admin", "org", "create", org]);
    }
    let publiccode = "[publiccode]\nplatforms = [\"web\", \"linux\"]\ncategories = [\"customer-relationship-management\"]\ndevelopment-status = \"stable\"\nmaintenance-type = \"contract\"\nlanguages = [\"en\", \"cy\"]\nlong-description = \"Keeps **case notes** for every resident. <script>document.title='pwned-long'</script><img src=x onerror=alert(1)>\"\n\n[[publiccode.contacts]]\nname = \"Jo Bloggs\"\nemail = \"jo@example.org\"\n";

    club.publish(&Project::new("braintree/common", "1.0.0").description("Shared helpers"));
    club.approve("braintree/common@1.0.0");
    for v in ["1.0.0", "1.0.1"] {
        club.publish(
            &Project::new("braintree/crm-lite", v)
                .description("Customer records for small councils")
                .manifest(publiccode)
                .contractor("Delt Shared Services", "2027-03-31")
                .dep("braintree/common", "^1")
                .file("README.md", HOSTILE_README),
        );
        club.verifier.ok(&[
            "approve",
            &format!("braintree/crm-lite@{v}"),
            "--note",
            "Checked the data-protection impact assessment",
        ]);
    }
    club.verifier.ok(&[
        "revoke",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "SQL injection in the search form",
        "--severity",
        "critical",
        "--fixed-in",
        "1.0.1",
    ]);
    club.publish(&Project::new("braintree/forms", "0.1.0").description("Online forms"));
    club.approve("braintree/forms@0.1.0");
    club.publisher.ok(&[
        "yank",
        "braintree/forms@0.1.0",
        "--reason",
        "Sends the wrong confirmation email",
    ]);
    club.publish(
        &Project::new("braintree/rates", "0.1.0").description("Business rates calculator"),
    );
    club.approve("braintree/rates@0.1.0");
    club.publish(
        &Project::new("braintree/rates", "0.2.0")
            .description("Business rates calculator")
            .file("src/relief.py", "RELIEF = 0.75\n"),
    );

    let colchester = account(&club.node, &club.admin, "col-it", "colchester", "publisher");
    colchester.ok(&["adopt", "braintree/crm-lite@1.0.1"]);
    let delt = account(&club.node, &club.admin, "delt-it", "delt", "publisher");
    delt.ok(&[
        "support",
        "offer",
        "braintree/crm-lite",
        "--versions",
        "^1",
        "--until",
        "2028-03-31",
    ]);
    club.publisher.ok(&[
        "support",
        "accept",
        "braintree/crm-lite",
        "--supporter",
        "delt",
        "--versions",
        "^1",
        "--until",
        "2028-03-31",
    ]);

    // A local verifier with the same name as the mirrored one: its page must
    // not claim the other log's verdicts, nor lend them its key.
    account(&club.node, &club.admin, "essex-rev", "socitm", "verifier");
    wait_until("the club node mirrors tendring/bin-days", || {
        reqwest::blocking::get(format!(
            "{}/api/v1/packages/tendring/bin-days",
            club.node.url
        ))
        .map(|r| r.status().is_success())
        .unwrap_or(false)
    });
    Filled { club, _home: home }
}

fn page(name: &str, path: &str, expect: &[&str], expect_not: &[&str]) -> Value {
    json!({"name": name, "path": path, "expect": expect, "expect_not": expect_not})
}

/// The workspace's `target` folder.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Runs `tests/browser/check.mjs` on `pages`; panics with its report on any
/// failure. What it needs (Debian's Chromium, Node.js, the locked npm
/// packages) is installed by `tests/browser/setup.sh` when missing; where that
/// cannot be done the test fails saying so, unless `SHIRE_SKIP_BROWSER_TESTS=1`
/// says to skip it.
fn browser_check(base: &str, pages: Vec<Value>) {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let chromium = std::env::var("SHIRE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = || {
        Path::new(&chromium).exists()
            && Command::new("node").arg("--version").output().is_ok()
            && browser_dir
                .join("node_modules/axe-core/axe.min.js")
                .exists()
            && browser_dir.join("node_modules/puppeteer-core").exists()
    };
    if !ready() {
        if std::env::var("SHIRE_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
            eprintln!(
                "SKIPPED: the browser check's tools are missing and SHIRE_SKIP_BROWSER_TESTS=1"
            );
            return;
        }
        let status = Command::new("bash")
            .arg(browser_dir.join("setup.sh"))
            .status()
            .expect("bash runs");
        assert!(
            status.success() && ready(),
            "the browser tests need Node.js, Debian's chromium and tests/browser's npm packages; \
             tests/browser/setup.sh could not install them (it needs root or sudo)"
        );
    }
    let shots = target_dir().join("catalogue-screenshots");
    let spec_dir = tempfile::tempdir().unwrap();
    let spec = spec_dir.path().join("spec.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&json!({"base": base, "shots": shots, "pages": pages})).unwrap(),
    )
    .unwrap();
    let out = Command::new("node")
        .arg(browser_dir.join("check.mjs"))
        .arg(&spec)
        .env("SHIRE_CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser check failed:\n{report}");
    eprintln!("{report}");
}

#[test]
fn every_page_passes_axe_and_shows_what_it_must_in_chromium() {
    let filled = fill();
    let node = &filled.club.node;
    let before = node.checkpoint();
    let pages = vec![
        page(
            "home",
            "/",
            &[
                "Recently approved",
                "braintree/crm-lite",
                "SQL injection in the search form",
                "Sends the wrong confirmation email",
                "packages",
                "verifiers",
            ],
            &[],
        ),
        page(
            "search",
            "/search?q=council",
            &[
                "Search results",
                "braintree/crm-lite",
                "Organisation",
                "Release state",
                "Development status",
                "Maintenance",
                "Licence",
                "Home node",
            ],
            &[],
        ),
        page(
            "search-facet",
            "/search?state=yanked",
            &["braintree/forms", "1 package"],
            &["braintree/crm-lite"],
        ),
        page(
            "search-mirrored",
            "/search?origin=tendring.test",
            &["tendring/bin-days", "1 package"],
            &["braintree/"],
        ),
        json!({
            "name": "package", "path": "/packages/braintree/crm-lite",
            "expect": ["Customer records for small councils", "shire install braintree/crm-lite@=1.0.1",
                       "revoked", "SQL injection in the search form", "Severity critical",
                       "Fixed in 1.0.1", "socitm-rev", "Checked the data-protection impact assessment",
                       "harmless words", "Setting up", "case notes for every resident", "colchester", "Delt Shared Services",
                       "delt", "supports ^1 until 2028-03-31", "braintree/common", "README.md",
                       "customer-relationship-management", "Jo Bloggs", "log index"],
            "expect_not": ["shire install braintree/crm-lite@=1.0.0", "pwned"],
            "selectors": [
                {"css": "a[href='/verifiers/socitm-rev']", "text": "socitm-rev"},
                {"css": "a[href^='/api/v1/log/proof/inclusion?index=']"},
                {"css": "a[href='https://example.org/guide']", "text": "the guide"},
                {"css": "#install-line", "text": "@=1.0.1"}
            ]
        }),
        json!({
            "name": "version-revoked", "path": "/packages/braintree/crm-lite/1.0.0",
            "expect": ["Version 1.0.0 is revoked and cannot be installed", "shire install braintree/crm-lite@=1.0.1"],
            "expect_not": ["shire install braintree/crm-lite@=1.0.0"],
        }),
        page(
            "package-yanked",
            "/packages/braintree/forms",
            &[
                "yanked",
                "Sends the wrong confirmation email",
                "No version of this package can be installed",
            ],
            &["shire install braintree/forms"],
        ),
        page(
            "package-dependency",
            "/packages/braintree/common",
            &["Depended on by", "braintree/crm-lite"],
            &[],
        ),
        json!({
            "name": "package-mirrored", "path": "/packages/tendring/bin-days",
            "expect": ["Mirrored from node tendring.test", "essex-rev", "Reviewed the postcode lookup",
                       "shire install tendring/bin-days@=2.0.0"],
            "selectors": [
                {"css": "a[href^='/api/v1/mirrors/tendring.test/log/proof/inclusion?index=']"},
                {"css": "a[href='/verifiers/essex-rev?origin=tendring.test']", "text": "essex-rev"}
            ]
        }),
        page(
            "verifier-mirrored",
            "/verifiers/essex-rev?origin=tendring.test",
            &[
                "essex-rev",
                "essex-audit",
                "tendring.test",
                "Reviewed the postcode lookup",
                "keys are registered in the log of node tendring.test",
            ],
            &["ed25519:"],
        ),
        page(
            "verifier-same-name",
            "/verifiers/essex-rev",
            &["essex-rev", "socitm", "ed25519:", "No verdict yet"],
            &["Reviewed the postcode lookup", "essex-audit"],
        ),
        page(
            "org",
            "/orgs/braintree",
            &[
                "braintree/crm-lite",
                "braintree/rates",
                "bt-dev",
                "Home node: club.test",
            ],
            &[],
        ),
        page(
            "org-mirrored",
            "/orgs/tendring",
            &["tendring/bin-days", "tendring.test"],
            &[],
        ),
        page(
            "verifier",
            "/verifiers/socitm-rev",
            &[
                "socitm-rev",
                "socitm",
                "Key id",
                "ed25519:",
                "revoked",
                "approved",
                "SQL injection in the search form",
            ],
            &[],
        ),
        page(
            "review",
            "/review",
            &[
                "Review queue",
                "braintree/rates",
                "0.2.0",
                "Files added",
                "src/relief.py",
                "compared with 0.1.0",
            ],
            &["braintree/crm-lite"],
        ),
        page(
            "log",
            "/log",
            &[
                "Current checkpoint",
                "club.test",
                "tendring.test",
                "Peers followed",
                "ok",
            ],
            &[],
        ),
        json!({
            "name": "not-found", "path": "/packages/braintree/crm-lit", "status": 404,
            "expect": ["Page not found", "Did you mean", "braintree/crm-lite"],
        }),
    ];
    browser_check(&node.url, pages);
    // Reading pages changed nothing stored.
    assert_eq!(node.checkpoint(), before);
}

/// The README's attacks, checked in the HTML itself (whatever a browser
/// makes of it) and in the headers every page carries.
#[test]
fn hostile_readmes_are_defused_and_pages_carry_a_strict_policy() {
    let club = Club::new();
    club.publish(
        &Project::new("braintree/crm-lite", "1.0.0")
            .description("<script>alert('description')</script> & more")
            .file("README.md", HOSTILE_README),
    );
    let before = club.node.checkpoint();
    let resp =
        reqwest::blocking::get(format!("{}/packages/braintree/crm-lite", club.node.url)).unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let body = resp.text().unwrap();
    let lower = body.to_lowercase();
    for bad in [
        "pwned",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "<svg",
        "<script>alert",
    ] {
        assert!(!lower.contains(bad), "{bad:?} reached the page:\n{body}");
    }
    // The description is escaped, not dropped.
    assert!(
        body.contains("&#60;script&#62;alert(&#39;description&#39;)&#60;/script&#62; &#38; more"),
        "the description is not escaped as expected"
    );
    // The only scripts are the node's own file.
    assert_eq!(lower.matches("<script").count(), 1, "{body}");
    assert!(body.contains("<script src=\"/static/shire.js\" defer></script>"));
    assert!(body.contains("harmless words") && body.contains("<h4>Setting up</h4>"));
    assert_eq!(
        club.node.checkpoint(),
        before,
        "reading a page changed the log"
    );
}

/// Unknown pages are HTML 404s with suggestions; the API keeps its JSON.
#[test]
fn unknown_pages_suggest_and_the_api_keeps_json_errors() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    let get = |path: &str| reqwest::blocking::get(format!("{}{path}", club.node.url)).unwrap();
    let r = get("/packages/braintree/crm-lit");
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().unwrap();
    assert!(
        body.contains("Did you mean") && body.contains("href=\"/packages/braintree/crm-lite\""),
        "{body}"
    );
    let r = get("/no/such/page/<script>");
    assert_eq!(r.status(), 404);
    assert!(!r.text().unwrap().contains("<script>"));
    let r = get("/api/v1/nothing");
    assert_eq!(r.status(), 404);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "not_found");
}

/// Search pages: facets with counts, sorting, and paging by address.
#[test]
fn search_pages_filter_sort_and_page_by_address() {
    let club = Club::new();
    for i in 0..23 {
        club.publish(
            &Project::new(&format!("braintree/tool-{i:02}"), "1.0.0")
                .description("Council tool for staff"),
        );
    }
    club.approve("braintree/tool-07@1.0.0");
    let get = |path: &str| {
        let r = reqwest::blocking::get(format!("{}{path}", club.node.url)).unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().unwrap()
    };
    let first = get("/search?q=tool&sort=name");
    assert!(first.contains("23 packages, showing 1 to 20."), "{first}");
    assert!(first.contains("braintree/tool-00") && !first.contains("braintree/tool-20"));
    assert!(
        first.contains("href=\"/search?q=tool&#38;sort=name&#38;page=2\""),
        "{first}"
    );
    let second = get("/search?q=tool&sort=name&page=2");
    assert!(second.contains("showing 21 to 23.") && second.contains("braintree/tool-22"));
    // Facet counts, and a chosen facet filters.
    assert!(
        first.contains("pending</a> <span class=\"hint\">(22)</span>"),
        "{first}"
    );
    assert!(
        first.contains("approved</a> <span class=\"hint\">(1)</span>"),
        "{first}"
    );
    let approved = get("/search?q=tool&state=approved");
    assert!(
        approved.contains("1 package, showing 1 to 1.") && approved.contains("braintree/tool-07")
    );
    // A page past the end shows the last one; a bad page number the first.
    assert!(get("/search?q=tool&sort=name&page=99").contains("showing 21 to 23."));
    assert!(get("/search?q=tool&sort=name&page=x").contains("showing 1 to 20."));
    // Recently updated first: the approval made tool-07 the latest change.
    let updated = get("/search?q=tool&sort=updated");
    let first_hit = updated
        .split("<h2 class=\"heading-s\"><a href=\"/packages/braintree/")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    assert_eq!(first_hit, Some("tool-07"), "{updated}");
}

/// Pages follow every logged change: nothing cached outlives a write.
#[test]
fn pages_follow_each_change() {
    let club = Club::new();
    let get = |path: &str| {
        let r = reqwest::blocking::get(format!("{}{path}", club.node.url)).unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().unwrap()
    };
    assert!(get("/").contains("No release has been approved yet"));
    club.publish(&Project::new("braintree/crm-lite", "1.0.0").description("Customer records"));
    assert!(get("/search?state=pending").contains("braintree/crm-lite"));
    assert!(get("/review").contains("braintree/crm-lite"));
    club.approve("braintree/crm-lite@1.0.0");
    let home = get("/");
    assert!(
        home.contains("Recently approved") && home.contains("braintree/crm-lite"),
        "{home}"
    );
    assert!(get("/search?state=approved").contains("braintree/crm-lite"));
    assert!(!get("/review").contains("braintree/crm-lite"));
    assert_eq!(get("/feeds/yanks.atom").matches("<entry>").count(), 0);
    club.publisher.ok(&[
        "yank",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "wrong licence file",
    ]);
    assert!(get("/").contains("wrong licence file"));
    assert_eq!(get("/feeds/yanks.atom").matches("<entry>").count(), 1);
    assert!(get("/search?state=yanked").contains("braintree/crm-lite"));
}

/// Feeds are Atom documents for the node, an organisation and a package.
#[test]
fn feeds_carry_approvals_revocations_and_yanks() {
    let club = Club::new();
    for v in ["1.0.0", "1.0.1"] {
        club.publish(&Project::new("braintree/crm-lite", v));
        club.approve(&format!("braintree/crm-lite@{v}"));
    }
    club.verifier.ok(&[
        "revoke",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "SQL injection",
        "--severity",
        "high",
        "--fixed-in",
        "1.0.1",
    ]);
    club.publisher.ok(&[
        "yank",
        "braintree/crm-lite@1.0.1",
        "--reason",
        "wrong build",
    ]);
    let get = |path: &str| {
        let r = reqwest::blocking::get(format!("{}{path}", club.node.url)).unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml"));
        r.text().unwrap()
    };
    for scope in ["", "/orgs/braintree", "/packages/braintree/crm-lite"] {
        let approvals = get(&format!("{scope}/feeds/approvals.atom"));
        assert!(
            approvals.starts_with("<?xml") && approvals.contains("<feed"),
            "{approvals}"
        );
        assert_eq!(approvals.matches("<entry>").count(), 2, "{approvals}");
        let revocations = get(&format!("{scope}/feeds/revocations.atom"));
        assert_eq!(revocations.matches("<entry>").count(), 1, "{revocations}");
        assert!(revocations.contains("SQL injection") && revocations.contains("Severity high"));
        let yanks = get(&format!("{scope}/feeds/yanks.atom"));
        assert!(yanks.contains("wrong build"), "{yanks}");
    }
    let other = get("/orgs/socitm/feeds/approvals.atom");
    assert_eq!(other.matches("<entry>").count(), 0);
    let r = reqwest::blocking::get(format!("{}/feeds/everything.atom", club.node.url)).unwrap();
    assert_eq!(r.status(), 404);
}

/// A publisher's newer release awaiting review, or one rejected, never
/// becomes what a package is shown by; taken-down and unresolvable releases
/// are never offered; feed links ignore crafted proxy headers.
#[test]
fn only_installable_releases_front_a_package() {
    let club = Club::new();
    club.publish(&Project::new("braintree/half", "1.0.0").description("Half-term planner"));
    club.approve("braintree/half@1.0.0");
    club.publish(
        &Project::new("braintree/half", "9.0.0")
            .description("URGENT: download the fix from https://evil.example")
            .file(
                "README.md",
                "Get it from [here](https://evil.example/half.tar.gz)\n",
            ),
    );
    club.publish(&Project::new("braintree/half", "9.1.0").description("URGENT again"));
    club.verifier
        .ok(&["reject", "braintree/half@9.1.0", "--reason", "phishing"]);
    // A package whose dependency has no installable release.
    club.publish(&Project::new("braintree/gone", "1.0.0"));
    club.approve("braintree/gone@1.0.0");
    club.publish(&Project::new("braintree/needy", "1.0.0").dep("braintree/gone", "^1"));
    club.approve("braintree/needy@1.0.0");
    club.publisher
        .ok(&["yank", "braintree/gone@1.0.0", "--reason", "broken"]);
    // A taken-down release.
    club.publish(&Project::new("braintree/leak", "1.0.0").description("Leaky"));
    club.approve("braintree/leak@1.0.0");
    club.admin.ok(&[
        "admin",
        "takedown",
        "braintree/leak@1.0.0",
        "--reason",
        "held a password",
    ]);
    let before = club.node.checkpoint();

    let get = |path: &str| {
        let r = reqwest::blocking::get(format!("{}{path}", club.node.url)).unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().unwrap()
    };
    let half = get("/packages/braintree/half");
    assert!(half.contains("Half-term planner"), "{half}");
    assert!(
        !half.contains("URGENT") && !half.contains("evil.example"),
        "{half}"
    );
    assert!(half.contains("shire install braintree/half@=1.0.0"));
    assert!(
        half.contains("9.0.0") && half.contains("9.1.0"),
        "every version is listed"
    );
    let search = get("/search?q=half");
    assert!(
        search.contains("Half-term planner") && !search.contains("URGENT"),
        "{search}"
    );
    assert!(search.contains("version 1.0.0"), "{search}");

    let needy = get("/packages/braintree/needy");
    assert!(!needy.contains("shire install braintree/needy"), "{needy}");
    assert!(needy.contains("No version of this package can be installed"));

    let leak = get("/search?q=leak");
    assert!(
        leak.contains("taken down") && !leak.contains(">approved<"),
        "{leak}"
    );
    assert!(!get("/packages/braintree/leak").contains("shire install braintree/leak"));

    // Crafted proxy headers do not reach a feed's links.
    let feed = reqwest::blocking::Client::new()
        .get(format!("{}/feeds/approvals.atom", club.node.url))
        .header("X-Forwarded-Proto", "javascript")
        .header("X-Forwarded-Host", "evil.example\"><x")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        !feed.contains("javascript") && !feed.contains("evil.example"),
        "{feed}"
    );
    assert!(feed.contains("href=\"http://localhost/"), "{feed}");
    // An organisation nobody knows has no feed.
    let r = reqwest::blocking::get(format!(
        "{}/orgs/nobody/feeds/approvals.atom",
        club.node.url
    ))
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        club.node.checkpoint(),
        before,
        "reading pages changed the log"
    );
}
