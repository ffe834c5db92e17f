//! Fitting tables to the terminal: how wide the output may be, whether it may be coloured, and
//! how each column gives way when a table is too wide — without ever breaking a word.
//!
//! Columns say how they may shrink ([`Fit`]). Short values (ids, statuses, numbers) never wrap;
//! only their headers may wrap between words. Free text wraps between words. One long message
//! per row is kept in the table only while it fits in a few lines; otherwise the column is left
//! out and the messages are listed under the table at full width, where a sentence reads as a
//! sentence instead of a one-word-wide column. Values that are single long tokens (identities)
//! are cut with `…` as a last resort. `-o wide` and output that is not a terminal are never
//! fitted (unless `COLUMNS` says how wide to be).

use std::io::IsTerminal as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use textwrap::core::display_width;
use textwrap::{Options, WordSeparator, WordSplitter, WrapAlgorithm};

/// The narrowest message column worth wrapping a sentence into.
const MIN_MESSAGE_WIDTH: usize = 24;
/// The most lines one message may take inside a table before it moves under the table.
pub const MAX_MESSAGE_LINES: usize = 3;
/// The narrowest a cut column gets.
const MIN_CUT_WIDTH: usize = 8;

/// Where the output goes: how wide it may be and whether to colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Columns available; `None` means no limit (`-o wide`, or not a terminal).
    pub width: Option<usize>,
    /// ANSI colours (a terminal, and `NO_COLOR` unset).
    pub color: bool,
}

impl Layout {
    /// The layout for stdout. `COLUMNS` wins over the terminal's size so that scripts and tests
    /// can ask for a width; `wide` turns fitting off.
    pub fn detect(wide: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let width = if wide {
            None
        } else {
            columns_env().or_else(|| {
                // comfy-table asks the terminal (it already depends on crossterm for this).
                tty.then(|| Table::new().width().map(usize::from)).flatten()
            })
        };
        Layout {
            width,
            color: tty && color_allowed(),
        }
    }

    /// Plain text at a given width.
    #[cfg(test)]
    pub const fn plain(width: Option<usize>) -> Self {
        Layout {
            width,
            color: false,
        }
    }
}

fn columns_env() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|w| *w > 0)
}

/// `NO_COLOR` (https://no-color.org): set and non-empty means no colour anywhere.
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How a column may shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Values never wrap (ids, statuses, numbers, times); the header may wrap between words.
    Keep,
    /// Free text, wrapped between words.
    Wrap,
    /// The row's long message: wrapped in the table while every message fits in
    /// [`MAX_MESSAGE_LINES`] lines, otherwise listed under the table. At most one per table.
    Message,
    /// A single long token (an identity, an ARN): cut with `…` when nothing else helps.
    Cut,
}

/// A column: its header and how it shrinks.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header text.
    pub header: &'static str,
    /// How it shrinks.
    pub fit: Fit,
}

impl Column {
    /// A column.
    pub const fn new(header: &'static str, fit: Fit) -> Self {
        Column { header, fit }
    }
}

/// A cell's text and colour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    /// The text; may hold newlines.
    pub text: String,
    /// Foreground colour on terminals.
    pub color: Option<Color>,
}

impl Text {
    /// Coloured text.
    pub fn colored(text: impl Into<String>, color: Color) -> Self {
        Text {
            text: text.into(),
            color: Some(color),
        }
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text { text, color: None }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::from(text.to_owned())
    }
}

/// One table row.
#[derive(Debug, Clone)]
pub struct Row {
    /// What the row is called when its message is listed under the table (the service name).
    pub key: String,
    /// One cell per column.
    pub cells: Vec<Text>,
    /// Whether the message is worth listing under the table when the column is left out
    /// (a failure's message is; "Authenticated as octocat" next to the identity is not).
    pub list_message: bool,
}

impl Row {
    /// A row whose message is listed under the table when it does not fit.
    pub fn new(key: impl Into<String>, cells: Vec<Text>) -> Self {
        Row {
            key: key.into(),
            cells,
            list_message: true,
        }
    }

    /// Do not list this row's message under the table.
    pub fn quiet(mut self) -> Self {
        self.list_message = false;
        self
    }
}

/// A table fitted to a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The table.
    pub table: String,
    /// Messages moved out of the table: `key: message`, wrapped to the width.
    pub below: Vec<String>,
    /// Something was cut or left out: the caller says how to see everything.
    pub shortened: bool,
}

impl Fitted {
    /// The table, then the messages under it.
    pub fn render(&self) -> String {
        let mut out = self.table.clone();
        for line in &self.below {
            out.push('\n');
            out.push_str(line);
        }
        out
    }
}

/// The hint shown after anything shortened to fit `width` columns.
pub fn wide_hint(width: Option<usize>) -> String {
    format!(
        "(shortened to fit {} columns: -o wide shows everything, --json is for scripts)",
        width.unwrap_or_default()
    )
}

fn words_widest(text: &str) -> usize {
    text.split_whitespace()
        .map(display_width)
        .max()
        .unwrap_or(0)
}

fn text_width(text: &str) -> usize {
    text.lines().map(display_width).max().unwrap_or(0)
}

/// Wrapping between words only: no hyphenation ("rate-limited" stays whole), and a word longer
/// than the width stays whole too.
pub fn options(width: usize) -> Options<'static> {
    Options::new(width.max(1))
        .break_words(false)
        .word_splitter(WordSplitter::NoHyphenation)
        .word_separator(WordSeparator::AsciiSpace)
        .wrap_algorithm(WrapAlgorithm::FirstFit)
}

/// `text` wrapped between words to `width` (a word longer than the width stays whole).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    textwrap::wrap(text, options(width))
        .into_iter()
        .map(|l| l.into_owned())
        .collect()
}

/// `text` shortened to `width` display columns, ending in `…` when cut.
pub fn cut(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = display_width(c.encode_utf8(&mut [0; 4]));
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `key: text`, wrapped to `width` with continuation lines indented, or on one line.
pub fn list_item(key: &str, text: &str, width: Option<usize>) -> String {
    let line = format!("{key}: {text}");
    match width {
        Some(w) => textwrap::fill(&line, options(w).subsequent_indent("  ")),
        None => line,
    }
}

/// Width of a table whose shown columns have `widths`: two padding spaces and one border per
/// column, plus the closing border.
fn table_width(widths: &[usize], shown: &[bool]) -> usize {
    let cols: Vec<usize> = widths
        .iter()
        .zip(shown)
        .filter(|(_, s)| **s)
        .map(|(w, _)| *w)
        .collect();
    cols.iter().sum::<usize>() + 3 * cols.len() + 1
}

/// Narrow the columns in `which` toward their floors, widest first, until `excess` is gone.
/// Returns what is left of the excess.
fn shrink(widths: &mut [usize], floors: &[usize], which: &[usize], mut excess: usize) -> usize {
    while excess > 0 {
        let Some(&c) = which
            .iter()
            .filter(|&&c| widths[c] > floors[c])
            .max_by_key(|&&c| (widths[c] - floors[c], std::cmp::Reverse(c)))
        else {
            break;
        };
        widths[c] -= 1;
        excess -= 1;
    }
    excess
}

/// The narrowest width (from `from` up to `natural`) at which every text wraps into at most
/// [`MAX_MESSAGE_LINES`] lines, if any.
fn message_width<'a>(
    texts: impl Iterator<Item = &'a str> + Clone,
    from: usize,
    natural: usize,
) -> Option<usize> {
    let longest = texts.clone().map(display_width).max().unwrap_or(0);
    // No width below a third of the longest message can work: start there.
    let start = from.max(longest.div_ceil(MAX_MESSAGE_LINES));
    (start..=natural.max(start)).find(|&w| {
        texts
            .clone()
            .all(|t| t.is_empty() || wrap(t, w).len() <= MAX_MESSAGE_LINES)
    })
}

/// Lay `rows` out under `columns` for `layout`.
pub fn fit(columns: &[Column], rows: &[Row], layout: Layout) -> Fitted {
    let n = columns.len();
    fn cell(r: &Row, c: usize) -> &str {
        r.cells.get(c).map_or("", |t| t.text.as_str())
    }
    let natural: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .map(|r| text_width(cell(r, c)))
                .chain([display_width(columns[c].header)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // How narrow each column may get without breaking a word or cutting a value.
    let floors: Vec<usize> = (0..n)
        .map(|c| {
            let header = words_widest(columns[c].header);
            let cells = rows.iter().map(|r| cell(r, c));
            match columns[c].fit {
                Fit::Keep => cells.map(text_width).chain([header]).max().unwrap_or(0),
                Fit::Wrap | Fit::Message => {
                    cells.map(words_widest).chain([header]).max().unwrap_or(0)
                }
                Fit::Cut => natural[c].min(header.max(MIN_CUT_WIDTH)),
            }
        })
        .collect();
    let mut widths = natural.clone();
    let mut shown = vec![true; n];
    let mut below = Vec::new();
    let mut shortened = false;
    let message = columns.iter().position(|c| c.fit == Fit::Message);

    if let Some(limit) = layout.width
        && table_width(&widths, &shown) > limit
    {
        let soft: Vec<usize> = (0..n)
            .filter(|&c| matches!(columns[c].fit, Fit::Keep | Fit::Wrap))
            .collect();
        let cuttable: Vec<usize> = (0..n).filter(|&c| columns[c].fit == Fit::Cut).collect();
        if let Some(m) = message {
            // Keep the message in the table only if, with everything else as narrow as it
            // may get, every message still fits in a few lines.
            let mut others = floors.clone();
            others[m] = 0;
            let room = limit.saturating_sub(table_width(&others, &shown));
            let texts = rows.iter().map(|r| cell(r, m));
            let needed = message_width(texts, MIN_MESSAGE_WIDTH.max(floors[m]), natural[m])
                .filter(|w| *w <= room);
            match needed {
                Some(w) => {
                    // Give the others back what the message does not need.
                    widths[m] = w;
                    let excess = table_width(&widths, &shown).saturating_sub(limit);
                    let excess = shrink(&mut widths, &floors, &soft, excess);
                    shrink(&mut widths, &floors, &cuttable, excess);
                    widths[m] += limit.saturating_sub(table_width(&widths, &shown));
                    widths[m] = widths[m].min(natural[m]);
                }
                None => {
                    shown[m] = false;
                    for r in rows {
                        let text = cell(r, m);
                        if text.is_empty() {
                            continue;
                        }
                        if r.list_message {
                            below.push(list_item(&r.key, text, Some(limit)));
                        } else {
                            shortened = true;
                        }
                    }
                }
            }
        }
        let excess = table_width(&widths, &shown).saturating_sub(limit);
        let excess = shrink(&mut widths, &floors, &soft, excess);
        shrink(&mut widths, &floors, &cuttable, excess);
        // Still too wide: a column of cut values says little anyway; leave it out.
        for &c in cuttable.iter().rev() {
            if table_width(&widths, &shown) <= limit {
                break;
            }
            shown[c] = false;
            shortened |= rows.iter().any(|r| !cell(r, c).is_empty());
        }
    }

    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if layout.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let lay = |text: &str, c: usize, shortened: &mut bool| -> String {
        if widths[c] >= natural[c] {
            return text.to_owned();
        }
        match columns[c].fit {
            Fit::Cut => text
                .lines()
                .map(|l| {
                    let out = cut(l, widths[c]);
                    *shortened |= out != l;
                    out
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Fit::Keep => text.to_owned(),
            _ => wrap(text, widths[c]).join("\n"),
        }
    };
    let header: Vec<Cell> = (0..n)
        .filter(|&c| shown[c])
        .map(|c| {
            let h = columns[c].header;
            // Headers wrap between words even in Keep columns ("INPUT TOKENS").
            Cell::new(if widths[c] < display_width(h) {
                wrap(h, widths[c]).join("\n")
            } else {
                h.to_owned()
            })
        })
        .collect();
    table.set_header(header);
    for r in rows {
        let cells: Vec<Cell> = (0..n)
            .filter(|&c| shown[c])
            .map(|c| {
                let t = r.cells.get(c).cloned().unwrap_or_default();
                let cell = Cell::new(lay(&t.text, c, &mut shortened));
                match t.color {
                    Some(color) => cell.fg(color),
                    None => cell,
                }
            })
            .collect();
        table.add_row(cells);
    }
    Fitted {
        table: table.to_string(),
        below,
        shortened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[Column] = &[
        Column::new("NAME", Fit::Keep),
        Column::new("WHO", Fit::Cut),
        Column::new("MESSAGE", Fit::Message),
    ];

    fn rows(message: &str) -> Vec<Row> {
        vec![
            Row::new(
                "unreachable-service",
                vec![
                    "unreachable-service".into(),
                    "arn:aws:iam::123456789012:user/ci-deployer".into(),
                    message.into(),
                ],
            ),
            Row::new("b", vec!["b".into(), "".into(), "ok".into()]).quiet(),
        ]
    }

    fn max_line(s: &str) -> usize {
        s.lines().map(display_width).max().unwrap_or(0)
    }

    #[test]
    fn a_table_that_fits_is_left_alone() {
        let f = fit(COLS, &rows("short"), Layout::plain(Some(200)));
        assert!(f.below.is_empty() && !f.shortened);
        assert!(
            f.table
                .contains("arn:aws:iam::123456789012:user/ci-deployer")
        );
        let unlimited = fit(COLS, &rows("short"), Layout::plain(None));
        assert_eq!(f, unlimited);
    }

    #[test]
    fn a_long_message_moves_under_the_table_and_no_word_is_broken() {
        let message = "The vendor rejected the credentials (HTTP 401 Bad credentials). Check that \
                       they are correct and have not expired or been revoked.";
        let f = fit(COLS, &rows(message), Layout::plain(Some(60)));
        assert!(max_line(&f.table) <= 60, "{}", f.table);
        assert!(!f.table.contains("MESSAGE"), "{}", f.table);
        assert_eq!(f.below.len(), 1, "{:?}", f.below);
        assert!(f.below[0].starts_with("unreachable-service: The vendor"));
        assert!(f.below[0].lines().all(|l| display_width(l) <= 60));
        // Every word of the message survives whole.
        let joined = f.below[0].split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            joined.ends_with(
                message
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .as_str()
            )
        );
        // The value never wraps; the identity is cut with an ellipsis rather than broken.
        assert!(f.table.contains("unreachable-service"));
        assert_eq!(
            wrap("a rate-limited check", 8),
            ["a", "rate-limited", "check"]
        );
        assert!(f.table.contains('…'));
        assert!(f.shortened);
    }

    #[test]
    fn a_message_that_fits_in_three_lines_stays_in_the_table() {
        let message = "Rate limited by the vendor; retry after 30 seconds.";
        let f = fit(COLS, &rows(message), Layout::plain(Some(100)));
        assert!(f.below.is_empty(), "{:?}", f.below);
        assert!(f.table.contains("MESSAGE"));
        assert!(max_line(&f.table) <= 100, "{}", f.table);
        for word in message.split_whitespace() {
            assert!(f.table.contains(word), "{word} broken in\n{}", f.table);
        }
    }

    #[test]
    fn wrap_columns_wrap_between_words_only() {
        let cols = [
            Column::new("ID", Fit::Keep),
            Column::new("DESCRIPTION", Fit::Wrap),
        ];
        let rows = vec![Row::new(
            "x",
            vec![
                "github".into(),
                "Token check (login, scopes, expiry), open issues and pull requests, Actions runs"
                    .into(),
            ],
        )];
        let f = fit(&cols, &rows, Layout::plain(Some(40)));
        assert!(max_line(&f.table) <= 40, "{}", f.table);
        for word in ["(login,", "expiry),", "requests,", "Actions"] {
            assert!(f.table.contains(word), "{word} broken in\n{}", f.table);
        }
    }

    #[test]
    fn cut_counts_display_columns_and_marks_the_cut() {
        assert_eq!(cut("octocat", 10), "octocat");
        assert_eq!(cut("octocat", 5), "octo…");
        assert_eq!(display_width(&cut("日本語のテキスト", 7)), 7);
    }

    #[test]
    fn no_colour_codes_without_colour() {
        let rows = vec![Row::new(
            "a",
            vec![Text::colored("failed", Color::Red), "".into(), "x".into()],
        )];
        let plain = fit(COLS, &rows, Layout::plain(Some(80)));
        assert!(!plain.table.contains('\u{1b}'), "{}", plain.table);
        let colored = fit(
            COLS,
            &rows,
            Layout {
                width: Some(80),
                color: true,
            },
        );
        assert!(colored.table.contains('\u{1b}'));
    }
}
