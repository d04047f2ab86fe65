//! A release's README, read from its archive, rendered from Markdown
//! (`pulldown-cmark`) and sanitised (`ammonia`): a README is hostile input,
//! so what reaches a page carries no script, no `on*` attribute, no
//! `javascript:` or relative URL, no image, SVG, form or frame. Rendered
//! READMEs are cached by artifact digest: a release's bytes never change.

use crate::store::Store;
use ammonia::UrlRelative;
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use shire_core::archive::{self, ArchiveError, ArchiveLimits, ArchiveSummary, EntryKind};
use shire_core::Digest;
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read};
use std::sync::{Arc, Mutex};

/// The README files looked for at the archive's top, best first.
const NAMES: &[&str] = &["readme.md", "readme.markdown", "readme", "readme.txt"];
/// Most README bytes rendered; the rest is cut.
pub const MAX_README_BYTES: u64 = 256 << 10;
/// Most rendered bytes kept in the cache before it is emptied.
const CACHE_BYTES: usize = 16 << 20;

/// Rendered READMEs by artifact digest (`None`: the release has none).
#[derive(Default)]
pub struct Readmes {
    cache: Mutex<Cache>,
}

/// The rendered READMEs and their total size.
#[derive(Default)]
struct Cache {
    bytes: usize,
    html: HashMap<Digest, Option<Arc<str>>>,
    long_descriptions: HashMap<Digest, Arc<str>>,
}

impl Cache {
    /// Makes room for `size` more bytes, emptying the cache when full.
    fn room(&mut self, size: usize) {
        if self.bytes + size > CACHE_BYTES {
            self.html.clear();
            self.long_descriptions.clear();
            self.bytes = 0;
        }
        self.bytes += size;
    }
}

impl Readmes {
    /// The README of the release with artifact `digest` as already
    /// rendered: `Some(None)` when it is known to have none, `None` when it
    /// has not been rendered yet ([`Readmes::html`]).
    pub fn cached(&self, digest: &Digest) -> Option<Option<Arc<str>>> {
        self.lock().html.get(digest).cloned()
    }

    /// The sanitised HTML of the README at `path` (see [`readme_path`]) in
    /// the archive with `digest`, if its bytes are held. Blocking: reads and
    /// unpacks the archive the first time.
    pub fn html(
        &self,
        store: &Store,
        digest: &Digest,
        path: Option<&str>,
        limits: &ArchiveLimits,
    ) -> Option<Arc<str>> {
        if let Some(hit) = self.cached(digest) {
            return hit;
        }
        let html = path
            .and_then(|path| read_file(store, digest, path, limits))
            .map(|text| Arc::<str>::from(render(&text)));
        let mut cache = self.lock();
        cache.room(html.as_ref().map_or(0, |h| h.len()) + 64);
        cache.html.insert(*digest, html.clone());
        html
    }

    /// The sanitised HTML of the publiccode long description (Markdown) of
    /// the release with artifact `digest`.
    pub fn long_description(&self, digest: &Digest, markdown: &str) -> Arc<str> {
        if let Some(hit) = self.lock().long_descriptions.get(digest) {
            return hit.clone();
        }
        let cut = match markdown.char_indices().nth(MAX_README_BYTES as usize) {
            Some((i, _)) => &markdown[..i],
            None => markdown,
        };
        let html = Arc::<str>::from(render(cut));
        let mut cache = self.lock();
        cache.room(html.len() + 64);
        cache.long_descriptions.insert(*digest, html.clone());
        html
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The archive path of the README, if the archive's top holds one.
pub fn readme_path(files: &ArchiveSummary) -> Option<String> {
    NAMES.iter().find_map(|wanted| {
        files
            .files
            .iter()
            .find(|f| f.kind == EntryKind::File && f.path.to_lowercase() == *wanted)
            .map(|f| f.path.clone())
    })
}

/// The first [`MAX_README_BYTES`] of `path` in the stored archive, as text.
fn read_file(store: &Store, digest: &Digest, path: &str, limits: &ArchiveLimits) -> Option<String> {
    let blob = store.blobs.read(digest).ok()??;
    let mut found: Option<Vec<u8>> = None;
    // Stops the walk once the file is read (the error is ours, not the archive's).
    let walked = archive::walk(BufReader::new(blob), limits, |entry, body| {
        if entry.path == path && entry.kind == EntryKind::File {
            let mut bytes = Vec::new();
            body.take(MAX_README_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| ArchiveError::Format(e.to_string()))?;
            found = Some(bytes);
            return Err(ArchiveError::Empty);
        }
        Ok(())
    });
    if found.is_none() {
        if let Err(e) = walked {
            tracing::warn!(%digest, error = %e, "README not read");
        }
    }
    found.map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Deepest nesting of Markdown blocks and raw HTML elements rendered; a
/// deeper README is shown as plain text. The sanitiser's HTML parser takes
/// time that grows faster than the square of the nesting, so a few
/// kilobytes of `>` or `<div>` could otherwise hold a core for minutes.
pub const MAX_NESTING: usize = 32;
/// Most raw HTML tags a README may hold before it is shown as plain text.
const MAX_RAW_TAGS: usize = 4096;

/// Markdown to sanitised HTML. Headings move down two levels (a README's
/// `#` sits under the page's own `h1` and `h2`); task-list boxes become
/// text (`[x]`, `[ ]`), since the sanitiser drops form controls. A README
/// nested deeper than [`MAX_NESTING`] is shown as escaped text instead.
pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events = Vec::new();
    let (mut depth, mut html_depth, mut raw_tags) = (0usize, 0usize, 0usize);
    for event in Parser::new_ext(markdown, options) {
        let mut deepest_html = html_depth;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Html(raw) | Event::InlineHtml(raw) => {
                deepest_html = raw_html_depth(raw, &mut html_depth, &mut raw_tags);
            }
            _ => {}
        }
        if depth + deepest_html > MAX_NESTING || raw_tags > MAX_RAW_TAGS {
            return plain(markdown);
        }
        events.push(match event {
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Event::Start(Tag::Heading {
                level: lower(level),
                id,
                classes,
                attrs,
            }),
            Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level))),
            Event::TaskListMarker(done) => Event::Text(if done { "[x] " } else { "[ ] " }.into()),
            other => other,
        });
    }
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    sanitise(&html)
}

/// Walks the tags of `raw` in order, moving `depth` (an opening tag adds
/// one, a closing tag takes one, never below zero; void and self-closing
/// tags count as opening: an upper bound) and counting them in `tags`.
/// Returns the deepest `depth` reached.
fn raw_html_depth(raw: &str, depth: &mut usize, tags: &mut usize) -> usize {
    let bytes = raw.as_bytes();
    let mut deepest = *depth;
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'<' {
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'/') => {
                *tags += 1;
                *depth = depth.saturating_sub(1);
            }
            Some(c) if c.is_ascii_alphabetic() => {
                *tags += 1;
                *depth += 1;
                deepest = deepest.max(*depth);
            }
            _ => {}
        }
    }
    deepest
}

/// `text` as one escaped, preformatted block.
fn plain(text: &str) -> String {
    format!("<pre>{}</pre>", ammonia::clean_text(text))
}

fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// Keeps only ammonia's safe tags, minus images (a page's policy would
/// refuse to load them, and they need alternative text), with absolute
/// `http`, `https` and `mailto` links only.
fn sanitise(html: &str) -> String {
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    ammonia::Builder::default()
        .rm_tags(["img"])
        .rm_tag_attributes("blockquote", ["cite"])
        .rm_tag_attributes("q", ["cite"])
        .rm_tag_attributes("del", ["cite"])
        .rm_tag_attributes("ins", ["cite"])
        .url_schemes(schemes)
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    /// Each hostile README the catalogue must defuse: nothing executable
    /// survives, the harmless text does.
    #[test]
    fn hostile_markdown_is_defused() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<svg onload=alert(1)><script>alert(1)</script></svg>",
            "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<form action=\"https://evil.example\"><input></form>",
            "<div style=\"background:url(javascript:alert(1))\" onclick=\"alert(1)\">d</div>",
            "<object data=\"x\"></object><embed src=\"x\">",
            "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
            "<base href=\"https://evil.example/\">",
            "[rel](../../api/v1/admin)",
            "<blockquote cite=\"javascript:alert(1)\">q</blockquote><q cite=\"javascript:x\">q</q>",
            "<del cite=\"javascript:x\">d</del><ins cite=\"javascript:x\">i</ins>",
        ];
        for attack in attacks {
            let html = render(&format!("# Title\n\nsafe words\n\n{attack}\n"));
            let lower = html.to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "onclick",
                "javascript:",
                "<svg",
                "<iframe",
                "<form",
                "<input",
                "<object",
                "<embed",
                "<meta",
                "<base",
                "<img",
                "style=",
                "href=\"../",
            ] {
                assert!(!lower.contains(bad), "{attack:?} left {bad:?} in {html}");
            }
            assert!(html.contains("safe words"), "{html}");
            assert!(html.contains("<h3>Title</h3>"), "{html}");
        }
    }

    #[test]
    fn ordinary_markdown_renders() {
        let html = render("## Install\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.org/x) `code`\n");
        assert!(html.contains("<h4>Install</h4>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(
            html.contains(
                "<a href=\"https://example.org/x\" rel=\"noopener noreferrer nofollow\">docs</a>"
            ),
            "{html}"
        );
        assert!(html.contains("<code>code</code>"), "{html}");
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::{render, MAX_NESTING};

    /// Deep nesting, in Markdown or raw HTML, is shown as text at once
    /// instead of reaching the sanitiser's parser.
    #[test]
    fn deeply_nested_readmes_become_plain_text() {
        for attack in [
            "> ".repeat(200_000) + "x",
            "* ".repeat(40_000) + "x",
            "<div>".repeat(50_000),
            "<div><span>".repeat(MAX_NESTING),
            // Closing tags first cannot buy depth for the opening ones after.
            format!("{}\n\n{}", "</x>".repeat(2_000), "<div>".repeat(2_000)),
        ] {
            let html = render(&attack);
            assert!(html.starts_with("<pre>"), "{}", &html[..80.min(html.len())]);
            assert!(!html.contains("<div"), "raw tags are escaped");
        }
        // Ordinary nesting still renders.
        let ok = render("> quoted\n>\n> * item\n>   * inner\n");
        assert!(ok.contains("<blockquote>") && ok.contains("<li>"), "{ok}");
        let tasks = render("- [x] done\n- [ ] to do\n");
        assert!(
            tasks.contains("[x] done") && tasks.contains("[ ] to do"),
            "{tasks}"
        );
    }
}
