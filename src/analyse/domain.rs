//! Each fact's domain cut into finitely many classes that no condition can tell apart.
//!
//! A number line is cut at every threshold a condition compares the fact with: the thresholds
//! themselves are classes of their own, and so is every open interval between two of them.
//! Integer facts drop the intervals that hold no integer (`> 5` and `< 6` leave nothing). The
//! physical range of a quantity bounds it: durations are never negative, and a percentage is
//! between 0 and 100.

use crate::ast::CmpOp;
use crate::types::{Num, Type, Unit};

/// One class of a numeric fact's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    /// Exactly this value.
    Point(Num),
    /// Strictly between the two values; `None` is unbounded.
    Between(Option<Num>, Option<Num>),
}

/// Whether `sample op value` holds. A region lies wholly inside or wholly outside every
/// threshold it was cut at, so its sample stands for all of it.
pub fn holds(sample: Num, op: CmpOp, value: Num) -> bool {
    match op {
        CmpOp::Eq => sample == value,
        CmpOp::Ne => sample != value,
        CmpOp::Lt => sample < value,
        CmpOp::Le => sample <= value,
        CmpOp::Gt => sample > value,
        CmpOp::Ge => sample >= value,
    }
}

/// The classes of a numeric fact, with a value to show for each.
#[derive(Debug, Clone)]
pub struct NumericDomain {
    pub regions: Vec<Region>,
    /// A value inside each region, chosen to read well (a whole number where one fits).
    pub samples: Vec<Num>,
}

/// The bounds a fact's type puts on its values.
fn bounds(ty: Type) -> (Option<Num>, Option<Num>) {
    match ty {
        Type::Quantity(Unit::Percent) => (Some(Num::from_int(0)), Some(Num::from_int(100))),
        Type::Quantity(_) => (Some(Num::from_int(0)), None),
        _ => (None, None),
    }
}

/// Cuts a numeric fact's domain at the given thresholds.
pub fn numeric(ty: Type, thresholds: &[Num]) -> NumericDomain {
    let integer = ty == Type::Int;
    let (low, high) = bounds(ty);
    let mut cuts: Vec<Num> = thresholds
        .iter()
        .copied()
        .filter(|v| low.is_none_or(|l| *v >= l) && high.is_none_or(|h| *v <= h))
        .collect();
    cuts.extend(low);
    cuts.extend(high);
    cuts.sort();
    cuts.dedup();
    let mut regions = Vec::new();
    let mut samples = Vec::new();
    let mut push = |r: Region| {
        if let Some(s) = sample(&r, integer) {
            regions.push(r);
            samples.push(s);
        }
    };
    let first = cuts.first().copied();
    if low.is_none() {
        push(Region::Between(None, first));
    }
    for (i, &c) in cuts.iter().enumerate() {
        push(Region::Point(c));
        let next = cuts.get(i + 1).copied();
        if next.is_some() || high.is_none() {
            push(Region::Between(Some(c), next));
        }
    }
    NumericDomain { regions, samples }
}

/// A value strictly inside the region (or the point), or `None` when the region is empty for
/// the fact's kind of number.
fn sample(r: &Region, integer: bool) -> Option<Num> {
    let one = Num::from_int(1);
    match r {
        Region::Point(v) => (!integer || v.is_integer()).then_some(*v),
        Region::Between(None, None) => Some(Num::from_int(0)),
        // The next whole number above, or below.
        Region::Between(Some(a), None) => add(a.floor(), one),
        Region::Between(None, Some(b)) => sub(b.ceil(), one),
        Region::Between(Some(a), Some(b)) => {
            let mid = add(*a, *b)?.checked_div(Num::from_int(2))?;
            let rounded = mid.floor();
            if rounded > *a && rounded < *b {
                return Some(rounded);
            }
            let up = mid.ceil();
            if up > *a && up < *b {
                return Some(up);
            }
            (!integer).then_some(mid)
        }
    }
}

fn add(a: Num, b: Num) -> Option<Num> {
    let (n1, d1, n2, d2) = (a.numer(), a.denom(), b.numer(), b.denom());
    let numer = n1.checked_mul(d2)?.checked_add(n2.checked_mul(d1)?)?;
    Num::ratio(numer, d1.checked_mul(d2)?)
}

fn sub(a: Num, b: Num) -> Option<Num> {
    add(a, Num::ratio(-b.numer(), b.denom())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(t: &str) -> Num {
        Num::parse(t).unwrap()
    }

    #[test]
    fn decimal_thresholds_leave_a_point_between_strict_comparisons() {
        let d = numeric(Type::Decimal, &[n("78.5")]);
        assert_eq!(d.regions.len(), 3);
        assert_eq!(d.regions[1], Region::Point(n("78.5")));
        assert_eq!(d.samples, vec![n("78"), n("78.5"), n("79")]);
    }

    #[test]
    fn integers_drop_empty_intervals() {
        // `<= 5` and `>= 6`: for integers nothing lies between them.
        let d = numeric(Type::Int, &[n("5"), n("6")]);
        assert_eq!(
            d.regions,
            vec![
                Region::Between(None, Some(n("5"))),
                Region::Point(n("5")),
                Region::Point(n("6")),
                Region::Between(Some(n("6")), None),
            ]
        );
        let dec = numeric(Type::Decimal, &[n("5"), n("6")]);
        assert_eq!(dec.regions.len(), 5, "decimals keep (5, 6)");
        assert_eq!(dec.samples[2], n("5.5"));
    }

    #[test]
    fn durations_start_at_zero_and_percentages_end_at_100() {
        let d = numeric(Type::Quantity(Unit::Week), &[n("6")]);
        assert_eq!(d.regions.first(), Some(&Region::Point(n("0"))));
        assert_eq!(d.samples, vec![n("0"), n("3"), n("6"), n("7")]);
        let p = numeric(Type::Quantity(Unit::Percent), &[n("28.5"), n("150")]);
        assert_eq!(p.regions.last(), Some(&Region::Point(n("100"))));
        assert_eq!(p.regions.len(), 5);
    }
}
