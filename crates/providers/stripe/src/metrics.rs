//! Revenue and MRR arithmetic, kept pure so it is tested without HTTP.
//!
//! Every amount stays in Stripe's minor units (cents; yen for zero-decimal currencies) as
//! integers. MRR normalises each item to a month by its price's interval as an exact fraction
//! (a weekly price is ×52/12, a daily one ×365/12) and rounds once, half away from zero, at the
//! end — summing already-rounded per-item figures would drift by up to a cent per item.

use std::collections::BTreeMap;

use crate::client::{Charge, Subscription};

/// An exact fraction with a positive denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Ratio {
    const ZERO: Ratio = Ratio { num: 0, den: 1 };

    fn new(num: i128, den: i128) -> Ratio {
        let g = gcd(num, den);
        let sign = if den < 0 { -1 } else { 1 };
        Ratio {
            num: sign * num / g,
            den: sign * den / g,
        }
    }

    fn add(self, other: Ratio) -> Ratio {
        Ratio::new(
            self.num * other.den + other.num * self.den,
            self.den * other.den,
        )
    }

    /// Round half away from zero to an integer.
    fn round(self) -> i128 {
        let q = self.num / self.den;
        let r = self.num % self.den;
        if 2 * r.abs() >= self.den {
            q + self.num.signum()
        } else {
            q
        }
    }
}

/// Months per interval as a fraction of one interval: amount per month =
/// amount × num / (den × interval_count).
fn per_month(interval: &str) -> Option<(i128, i128)> {
    match interval {
        "day" => Some((365, 12)),
        "week" => Some((52, 12)),
        "month" => Some((1, 1)),
        "year" => Some((1, 12)),
        _ => None,
    }
}

/// MRR of a set of subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MrrBreakdown {
    /// MRR per lowercase currency code, in minor units.
    pub by_currency: BTreeMap<String, i64>,
    /// Subscriptions counted (status `active`).
    pub active_subscriptions: u64,
    /// Items without a fixed monthly amount (metered, tiered, custom or unknown interval).
    pub excluded_items: u64,
    /// Subscriptions whose embedded item list Stripe truncated (over 10 items).
    pub truncated_item_lists: u64,
}

/// MRR from subscriptions: Σ unit_amount × quantity normalised to a month, per currency.
/// Only `active` subscriptions count; the caller asks Stripe for those, this re-checks.
pub fn monthly_recurring_revenue(subscriptions: &[Subscription]) -> MrrBreakdown {
    let mut sums: BTreeMap<String, Ratio> = BTreeMap::new();
    let mut out = MrrBreakdown::default();
    for sub in subscriptions.iter().filter(|s| s.status == "active") {
        out.active_subscriptions += 1;
        if sub.items.has_more {
            out.truncated_item_lists += 1;
        }
        for item in &sub.items.data {
            let Some(price) = &item.price else {
                out.excluded_items += 1;
                continue;
            };
            let (Some(unit), Some(recurring)) = (price.unit_amount, &price.recurring) else {
                out.excluded_items += 1;
                continue;
            };
            let metered = recurring.usage_type.as_deref() == Some("metered");
            let count = recurring.interval_count.unwrap_or(1);
            let Some((num, den)) = per_month(&recurring.interval) else {
                out.excluded_items += 1;
                continue;
            };
            if metered || count == 0 {
                out.excluded_items += 1;
                continue;
            }
            let quantity = i128::from(item.quantity.unwrap_or(1));
            let monthly = Ratio::new(i128::from(unit) * quantity * num, den * i128::from(count));
            let entry = sums
                .entry(price.currency.to_ascii_lowercase())
                .or_insert(Ratio::ZERO);
            *entry = entry.add(monthly);
        }
    }
    out.by_currency = sums
        .into_iter()
        .map(|(c, r)| (c, i64::try_from(r.round()).unwrap_or(i64::MAX)))
        .collect();
    out
}

/// Totals over a set of charges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargeTotals {
    /// Σ captured amount of succeeded charges, per currency (minor units).
    pub gross_volume: BTreeMap<String, i64>,
    /// Σ amount_refunded, per currency (minor units).
    pub refunded: BTreeMap<String, i64>,
    /// Charges per status (`succeeded`, `pending`, `failed`).
    pub by_status: BTreeMap<String, u64>,
    /// Charges with any refund.
    pub refunds: u64,
}

impl ChargeTotals {
    /// Successful charges.
    pub fn succeeded(&self) -> u64 {
        self.by_status.get("succeeded").copied().unwrap_or(0)
    }

    /// Failed payments.
    pub fn failed(&self) -> u64 {
        self.by_status.get("failed").copied().unwrap_or(0)
    }
}

/// Sum charges. Gross volume counts what was captured: an authorisation that was never
/// captured is `succeeded` but moved no money.
pub fn charge_totals(charges: &[Charge]) -> ChargeTotals {
    let mut t = ChargeTotals::default();
    for c in charges {
        let currency = c.currency.to_ascii_lowercase();
        *t.by_status.entry(c.status.clone()).or_default() += 1;
        if c.status == "succeeded" {
            let captured = match c.amount_captured {
                Some(a) => a,
                None if c.captured != Some(false) => c.amount,
                None => 0,
            };
            *t.gross_volume.entry(currency.clone()).or_default() += captured;
        }
        if c.amount_refunded > 0 {
            t.refunds += 1;
            *t.refunded.entry(currency).or_default() += c.amount_refunded;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ItemList, Price, Recurring, SubscriptionItem};

    fn item(
        unit: Option<i64>,
        qty: u64,
        interval: &str,
        count: u64,
        cur: &str,
    ) -> SubscriptionItem {
        SubscriptionItem {
            quantity: Some(qty),
            price: Some(Price {
                currency: cur.into(),
                unit_amount: unit,
                recurring: Some(Recurring {
                    interval: interval.into(),
                    interval_count: Some(count),
                    usage_type: Some("licensed".into()),
                }),
            }),
        }
    }

    fn sub(items: Vec<SubscriptionItem>) -> Subscription {
        Subscription {
            id: "sub".into(),
            status: "active".into(),
            items: ItemList {
                data: items,
                has_more: false,
            },
        }
    }

    #[test]
    fn normalises_every_interval_exactly() {
        let subs = vec![
            sub(vec![item(Some(2000), 1, "month", 1, "usd")]), // 2000
            sub(vec![item(Some(24000), 2, "year", 1, "usd")]), // 4000
            sub(vec![item(Some(500), 3, "week", 1, "usd")]),   // 1500*52/12 = 6500
            sub(vec![item(Some(9000), 1, "month", 3, "usd")]), // 3000
            sub(vec![item(Some(100), 1, "day", 1, "eur")]),    // 100*365/12 = 3041.67
        ];
        let mrr = monthly_recurring_revenue(&subs);
        assert_eq!(mrr.by_currency.get("usd"), Some(&15500));
        assert_eq!(mrr.by_currency.get("eur"), Some(&3042));
        assert_eq!(mrr.active_subscriptions, 5);
        assert_eq!(mrr.excluded_items, 0);
    }

    #[test]
    fn rounds_once_at_the_end() {
        // Three weekly items of 1 cent: 3*52/12 = 13 exactly; rounding each (4.33 → 4) would
        // give 12.
        let subs = vec![sub(vec![
            item(Some(1), 1, "week", 1, "usd"),
            item(Some(1), 1, "week", 1, "usd"),
            item(Some(1), 1, "week", 1, "usd"),
        ])];
        assert_eq!(
            monthly_recurring_revenue(&subs).by_currency.get("usd"),
            Some(&13)
        );
    }

    #[test]
    fn excludes_what_has_no_fixed_amount() {
        let mut metered = item(Some(10), 1, "month", 1, "usd");
        if let Some(p) = metered.price.as_mut()
            && let Some(r) = p.recurring.as_mut()
        {
            r.usage_type = Some("metered".into());
        }
        let subs = vec![sub(vec![
            item(None, 1, "month", 1, "usd"),
            metered,
            item(Some(10), 1, "fortnight", 1, "usd"),
            item(Some(700), 1, "month", 1, "usd"),
        ])];
        let mrr = monthly_recurring_revenue(&subs);
        assert_eq!(mrr.excluded_items, 3);
        assert_eq!(mrr.by_currency.get("usd"), Some(&700));
    }

    #[test]
    fn ratio_rounding_is_half_away_from_zero() {
        assert_eq!(Ratio::new(5, 2).round(), 3);
        assert_eq!(Ratio::new(-5, 2).round(), -3);
        assert_eq!(Ratio::new(7, 3).round(), 2);
        assert_eq!(Ratio::new(0, 7).round(), 0);
    }

    #[test]
    fn charge_totals_count_captured_money() {
        let ch = |amount, captured: Option<i64>, refunded, status: &str, cur: &str| Charge {
            id: "ch".into(),
            amount,
            amount_captured: captured,
            amount_refunded: refunded,
            currency: cur.into(),
            status: status.into(),
            captured: None,
        };
        let t = charge_totals(&[
            ch(1000, Some(1000), 0, "succeeded", "usd"),
            ch(500, Some(0), 0, "succeeded", "usd"), // uncaptured authorisation
            ch(300, None, 100, "succeeded", "usd"),  // old API version: no amount_captured
            ch(900, Some(0), 0, "failed", "usd"),
            ch(200, Some(200), 200, "succeeded", "EUR"),
        ]);
        assert_eq!(t.gross_volume.get("usd"), Some(&1300));
        assert_eq!(t.gross_volume.get("eur"), Some(&200));
        assert_eq!(t.refunded.get("usd"), Some(&100));
        assert_eq!(t.refunds, 2);
        assert_eq!(t.succeeded(), 4);
        assert_eq!(t.failed(), 1);
    }
}
