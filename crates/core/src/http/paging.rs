//! One pagination driver for every provider: [`paginate`] asks the provider for "the page at
//! this cursor" and owns everything else — the page cap, an optional item cap, refusing a cursor
//! the vendor already sent, stopping before the caller's deadline — and returns [`Paged`]: the
//! items read and, when it stopped early, why, rendered as a note for humans.
//!
//! A failure of the first page fails the call (nothing was learned). A failure of a later page
//! does not: the items read so far are returned with a note, because a partial figure that says
//! it is partial is worth more than an error.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::deadline;
use crate::error::Result;
use crate::status::FailureKind;

/// Time kept in hand when deciding whether another page fits before the deadline, on top of
/// twice the slowest page so far.
const DEADLINE_MARGIN: Duration = Duration::from_millis(200);

/// One page as the provider read it: its items and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<C>,
    /// How many things the page counts for in notes, when that is not `items.len()` (a page
    /// whose one item is a summary of 100 runs counts 100).
    pub count: Option<usize>,
    /// The vendor said more pages follow but sent no cursor to reach them.
    pub more_without_cursor: bool,
}

impl<T, C> Page<T, C> {
    /// A page with `items`, followed by the page at `next` (if any).
    pub fn new(items: Vec<T>, next: Option<C>) -> Self {
        Page {
            items,
            next,
            count: None,
            more_without_cursor: false,
        }
    }

    /// A page after which the vendor claims more results but gives no cursor.
    pub fn more_without_cursor(items: Vec<T>) -> Self {
        Page {
            items,
            next: None,
            count: None,
            more_without_cursor: true,
        }
    }

    /// Count the page as `n` things in notes.
    pub fn counting(mut self, n: usize) -> Self {
        self.count = Some(n);
        self
    }
}

/// Why paging stopped before the vendor's last page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The page cap was reached with more pages left.
    PageCap {
        /// The cap.
        max_pages: usize,
    },
    /// The item cap was reached with more items left.
    ItemCap {
        /// The cap.
        max_items: usize,
    },
    /// The vendor sent a cursor it had sent before; following it would loop.
    RepeatedCursor,
    /// The vendor said more results follow but sent no cursor.
    NoCursor,
    /// Another page would not have fitted before the caller's deadline.
    Deadline,
    /// A page after the first failed.
    PageFailed {
        /// The 1-based number of the page that failed.
        page: usize,
        /// How it failed.
        kind: FailureKind,
        /// The failure's message.
        message: String,
    },
}

/// How to page one listing: what the items are called (for notes) and the caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    what: Cow<'static, str>,
    max_pages: usize,
    max_items: Option<usize>,
}

impl Paging {
    /// Page through `what` (a plural noun for notes, e.g. "repositories" or "workflow runs of
    /// acme/api"), reading at most `max_pages` pages (at least one).
    pub fn new(what: impl Into<Cow<'static, str>>, max_pages: usize) -> Self {
        Paging {
            what: what.into(),
            max_pages: max_pages.max(1),
            max_items: None,
        }
    }

    /// Keep at most `n` items.
    pub fn max_items(mut self, n: usize) -> Self {
        self.max_items = Some(n);
        self
    }
}

/// What paging read, and why it stopped early (if it did).
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// Every item read, in order.
    pub items: Vec<T>,
    /// Pages read.
    pub pages: usize,
    /// How many things the items count for (see [`Page::counting`]).
    pub counted: usize,
    /// `None` when the vendor's last page was reached.
    pub stopped: Option<StopReason>,
    what: Cow<'static, str>,
}

impl<T> Paged<T> {
    /// Everything was read.
    pub fn is_complete(&self) -> bool {
        self.stopped.is_none()
    }

    /// The same outcome over other items (e.g. after filtering).
    pub fn map<U>(self, f: impl FnOnce(Vec<T>) -> Vec<U>) -> Paged<U> {
        Paged {
            items: f(self.items),
            pages: self.pages,
            counted: self.counted,
            stopped: self.stopped,
            what: self.what,
        }
    }

    /// A sentence for the operator when paging stopped early, e.g. "Stopped after 10 pages;
    /// figures cover 1,000 of more repositories."
    pub fn note(&self) -> Option<String> {
        let what = &self.what;
        let n = thousands(self.counted);
        let pages = plural(self.pages, "page", "pages");
        Some(match self.stopped.as_ref()? {
            StopReason::PageCap { .. } => {
                format!("Stopped after {pages}; figures cover {n} of more {what}.")
            }
            StopReason::ItemCap { max_items } => format!(
                "Stopped at the limit of {} {what}; there are more.",
                thousands(*max_items)
            ),
            StopReason::Deadline => format!(
                "Stopped after {pages} to answer within the time allowed; figures cover {n} of more {what}."
            ),
            StopReason::RepeatedCursor => format!(
                "Stopped after {pages}: the vendor sent a page cursor it had already sent; figures cover {n} of possibly more {what}."
            ),
            StopReason::NoCursor => format!(
                "Stopped after {pages}: the vendor said more results follow but sent no cursor; figures cover {n} of more {what}."
            ),
            StopReason::PageFailed {
                page,
                kind,
                message,
            } => format!(
                "Page {page} of {what} failed ({kind}): {} Figures cover the {n} read before it.",
                message.trim_end()
            ),
        })
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Read pages with `fetch` (given the cursor of the page to read, `None` for the first) until
/// the vendor's last page, a cap, a repeated cursor, the deadline, or a failed later page.
pub async fn paginate<T, C, F, Fut>(paging: &Paging, mut fetch: F) -> Result<Paged<T>>
where
    C: PartialEq + Clone,
    F: FnMut(Option<C>) -> Fut,
    Fut: Future<Output = Result<Page<T, C>>>,
{
    let mut out = Paged {
        items: Vec::new(),
        pages: 0,
        counted: 0,
        stopped: None,
        what: paging.what.clone(),
    };
    let mut seen: Vec<C> = Vec::new();
    let mut cursor: Option<C> = None;
    let mut slowest = Duration::ZERO;
    loop {
        if out.pages > 0 {
            let fits = deadline::remaining().is_none_or(|left| {
                slowest
                    .checked_mul(2)
                    .and_then(|d| d.checked_add(DEADLINE_MARGIN))
                    .is_some_and(|needed| left > needed)
            });
            if !fits {
                tracing::debug!(what = %paging.what, pages = out.pages, "paging stopped before the deadline");
                out.stopped = Some(StopReason::Deadline);
                return Ok(out);
            }
        }
        let started = Instant::now();
        let page = match fetch(cursor.clone()).await {
            Ok(page) => page,
            Err(e) if out.pages == 0 => return Err(e),
            Err(e) => {
                tracing::debug!(what = %paging.what, page = out.pages + 1, kind = %e.kind(), "a later page failed; keeping what was read");
                out.stopped = Some(StopReason::PageFailed {
                    page: out.pages + 1,
                    kind: e.kind(),
                    message: e.to_string(),
                });
                return Ok(out);
            }
        };
        slowest = slowest.max(started.elapsed());
        out.pages += 1;
        let count = page.count.unwrap_or(page.items.len());
        let mut items = page.items;
        if let Some(max) = paging.max_items {
            let room = max.saturating_sub(out.items.len());
            if items.len() > room {
                items.truncate(room);
                out.counted += room;
                out.items.extend(items);
                out.stopped = Some(StopReason::ItemCap { max_items: max });
                return Ok(out);
            }
        }
        out.counted = out.counted.saturating_add(count);
        out.items.extend(items);
        if page.more_without_cursor {
            out.stopped = Some(StopReason::NoCursor);
            return Ok(out);
        }
        let Some(next) = page.next else {
            return Ok(out);
        };
        if let Some(max) = paging.max_items
            && out.items.len() >= max
        {
            out.stopped = Some(StopReason::ItemCap { max_items: max });
            return Ok(out);
        }
        if seen.contains(&next) || cursor.as_ref() == Some(&next) {
            tracing::debug!(what = %paging.what, "the vendor repeated a page cursor");
            out.stopped = Some(StopReason::RepeatedCursor);
            return Ok(out);
        }
        if out.pages >= paging.max_pages {
            out.stopped = Some(StopReason::PageCap {
                max_pages: paging.max_pages,
            });
            return Ok(out);
        }
        if let Some(c) = cursor.take() {
            seen.push(c);
        }
        cursor = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::with_timeout;
    use crate::error::Error;

    /// A vendor with `total` pages of 10 numbers; page `n`'s cursor is `n`.
    async fn numbers(cursor: Option<u32>, total: u32) -> Result<Page<u32, u32>> {
        let page = cursor.unwrap_or(0);
        let items = (page * 10..page * 10 + 10).collect();
        Ok(Page::new(items, (page + 1 < total).then_some(page + 1)))
    }

    #[tokio::test]
    async fn reads_every_page_of_a_short_listing() {
        let p = paginate(&Paging::new("numbers", 10), |c| numbers(c, 3)).await;
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.items.len(), 30);
        assert_eq!(p.pages, 3);
        assert!(p.is_complete());
        assert_eq!(p.note(), None);
    }

    #[tokio::test]
    async fn stops_at_the_page_cap_and_says_so() {
        let p = paginate(&Paging::new("repositories", 10), |c| numbers(c, 1000))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.pages, 10);
        assert_eq!(p.stopped, Some(StopReason::PageCap { max_pages: 10 }));
        let p = p.map(|items| items.into_iter().chain(0..900).collect());
        let p = Paged { counted: 1000, ..p };
        assert_eq!(
            p.note().as_deref(),
            Some("Stopped after 10 pages; figures cover 1,000 of more repositories.")
        );
    }

    #[tokio::test]
    async fn a_repeated_cursor_stops_instead_of_looping() {
        let p = paginate(&Paging::new("models", 50), |c: Option<String>| async move {
            let next = match c.as_deref() {
                None => "a",
                Some("a") => "b",
                _ => "a",
            };
            Ok(Page::new(vec![1], Some(next.to_owned())))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.pages, 3);
        assert_eq!(p.stopped, Some(StopReason::RepeatedCursor));
        assert!(p.note().is_some_and(|n| n.contains("already sent")));
    }

    #[tokio::test]
    async fn a_later_failure_keeps_what_was_read() {
        let p = paginate(&Paging::new("charges", 50), |c: Option<u32>| async move {
            match c {
                None => Ok(Page::new(vec![1, 2], Some(1))),
                Some(_) => Err(Error::provider("Stripe had a server error (HTTP 500).")),
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.items, [1, 2]);
        assert!(matches!(
            p.stopped,
            Some(StopReason::PageFailed {
                page: 2,
                kind: FailureKind::ProviderError,
                ..
            })
        ));
        assert_eq!(
            p.note().as_deref(),
            Some(
                "Page 2 of charges failed (provider_error): Stripe had a server error (HTTP 500). Figures cover the 2 read before it."
            )
        );
        // The first page failing fails the call.
        let first: Result<Paged<u32>> =
            paginate(&Paging::new("charges", 5), |_: Option<u32>| async {
                Err(Error::provider("down"))
            })
            .await;
        assert!(first.is_err());
    }

    #[tokio::test]
    async fn the_item_cap_truncates_and_a_missing_cursor_is_noted() {
        let p = paginate(&Paging::new("repositories", 10).max_items(25), |c| {
            numbers(c, 10)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.items.len(), 25);
        assert_eq!(p.stopped, Some(StopReason::ItemCap { max_items: 25 }));
        let p = paginate(&Paging::new("models", 10), |_: Option<u32>| async {
            Ok(Page::more_without_cursor(vec![1]))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.stopped, Some(StopReason::NoCursor));
    }

    #[tokio::test(start_paused = true)]
    async fn paging_stops_before_the_deadline() {
        let started = Instant::now();
        let p = with_timeout(
            Duration::from_secs(2),
            paginate(
                &Paging::new("deployments", 100),
                |c: Option<u32>| async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let page = c.unwrap_or(0);
                    Ok(Page::new(vec![page], Some(page + 1)))
                },
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.stopped, Some(StopReason::Deadline));
        // 300 ms pages with 800 ms kept in hand: pages 1-4 end at 1.2 s, a fifth would not fit.
        assert_eq!(p.pages, 4);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(p.note().is_some_and(|n| n.contains("time allowed")));
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
