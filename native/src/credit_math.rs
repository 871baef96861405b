//! The arithmetic of `stream/attribution/models.py` and of `credits._largest_remainder`, step for step, so
//! that every float and every unit comes out bit for bit as the Python reference computes it.
//!
//! `None` means "the reference would raise here, or this code is not sure": the caller then asks the Python
//! reference, which raises its own error or answers.
//! tests/unit/stream/attribution/test_native_attribution.py compares both on random journeys and models.

pub const SUM_TOLERANCE: f64 = 1e-12;

/// `math.fsum` of finite values: Shewchuk's exact partial sums, then CPython's correctly rounded total.
pub fn fsum(values: &[f64]) -> f64 {
    let mut partials: Vec<f64> = Vec::with_capacity(4);
    for &value in values {
        let mut x = value;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    let mut n = partials.len();
    if n == 0 {
        return 0.0;
    }
    n -= 1;
    let mut hi = partials[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // Half-even rounding across partials, as CPython's math_fsum ends.
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        let yr = x - hi;
        if y == yr {
            hi = x;
        }
    }
    hi
}

fn valid_weight(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

/// Python's `max` of floats: the first of equal values, `default` when empty.
fn max_of(values: &[f64], default: f64) -> f64 {
    let mut it = values.iter();
    let Some(&first) = it.next() else {
        return default;
    };
    it.fold(first, |best, &v| if v > best { v } else { best })
}

pub fn settle(mut out: Vec<f64>) -> Vec<f64> {
    if (fsum(&out) - 1.0).abs() <= SUM_TOLERANCE {
        return out;
    }
    let last = out.iter().rposition(|w| *w > 0.0).unwrap_or(out.len() - 1);
    let others: Vec<f64> = (0..out.len())
        .filter(|i| *i != last)
        .map(|i| out[i])
        .collect();
    out[last] = 1.0 - fsum(&others);
    out
}

pub fn normalise(raw: &[f64]) -> Option<Vec<f64>> {
    if !raw.iter().all(|w| valid_weight(*w)) {
        return None;
    }
    let top = max_of(raw, 0.0);
    if top <= 0.0 {
        return None;
    }
    let scaled: Vec<f64> = raw.iter().map(|w| w / top).collect();
    let total = fsum(&scaled);
    Some(settle(scaled.iter().map(|w| w / total).collect()))
}

/// A model's parameters, as `ModelSpec` holds them (numbers already checked to convert exactly).
pub struct Spec {
    pub kind: Kind,
    pub half_life_seconds: f64,
    pub first: f64,
    pub middle: f64,
    pub last: f64,
    pub split_middle: bool,
    pub age_granularity_seconds: f64,
    pub weights: Option<Vec<f64>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    FirstTouch,
    LastTouch,
    Linear,
    TimeDecay,
    PositionBased,
    Custom,
}

impl Kind {
    pub fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "first_touch" => Kind::FirstTouch,
            "last_touch" => Kind::LastTouch,
            "linear" => Kind::Linear,
            "time_decay" => Kind::TimeDecay,
            "position_based" => Kind::PositionBased,
            "custom" => Kind::Custom,
            _ => return None,
        })
    }
}

/// `WEIGHTS[spec.kind](spec, touches, at)`, before channel multipliers; `ages_us` are conversion time minus
/// each touch's time, in microseconds (what `timedelta.total_seconds` divides by 10**6).
pub fn base_weights(spec: &Spec, ages_us: &[i64]) -> Option<Vec<f64>> {
    let n = ages_us.len();
    if n == 0 {
        return None;
    }
    match spec.kind {
        Kind::FirstTouch => Some(one_hot(n, 0)),
        Kind::LastTouch => Some(one_hot(n, n - 1)),
        Kind::Linear => normalise(&vec![1.0; n]),
        Kind::TimeDecay => time_decay(&ages(spec, ages_us), spec.half_life_seconds),
        Kind::PositionBased => {
            if !valid_weight(spec.first) || !valid_weight(spec.last) {
                return None;
            }
            if spec.first + spec.last > 1.0 + SUM_TOLERANCE {
                return None;
            }
            let rest = 1.0 - spec.first - spec.last;
            let middle = if rest > 0.0 { rest } else { 0.0 };
            let raw = layout(n, spec.first, middle, spec.last, spec.split_middle);
            if max_of(&raw, 0.0) > 0.0 {
                normalise(&raw)
            } else {
                normalise(&vec![1.0; n])
            }
        }
        Kind::Custom => custom(spec, n),
    }
}

fn one_hot(n: usize, at: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    out[at] = 1.0;
    out
}

fn ages(spec: &Spec, ages_us: &[i64]) -> Vec<f64> {
    // An integer count of microseconds over 10**6, correctly rounded: exact below 2**53 µs (285 years).
    let seconds = ages_us.iter().map(|us| *us as f64 / 1e6);
    let step = spec.age_granularity_seconds;
    if step > 0.0 {
        seconds.map(|a| (a / step).floor() * step).collect()
    } else {
        seconds.collect()
    }
}

fn time_decay(ages: &[f64], half_life: f64) -> Option<Vec<f64>> {
    if !half_life.is_finite() || half_life <= 0.0 || !ages.iter().all(|a| valid_weight(*a)) {
        return None;
    }
    let youngest = ages.iter().copied().fold(f64::INFINITY, f64::min);
    // The base through black_box: LLVM may otherwise turn pow(2, x) into exp2(x), which can round differently
    // from the libm `pow` CPython's float power calls.
    let two = std::hint::black_box(2.0_f64);
    let raw: Vec<f64> = ages
        .iter()
        .map(|age| two.powf(-(age - youngest) / half_life))
        .collect();
    normalise(&raw)
}

fn layout(n: usize, first: f64, middle: f64, last: f64, split_middle: bool) -> Vec<f64> {
    match n {
        1 => vec![1.0],
        2 if split_middle => vec![first + middle / 2.0, last + middle / 2.0],
        2 => vec![first, last],
        _ => {
            let mut out = vec![middle / (n - 2) as f64; n];
            out[0] = first;
            out[n - 1] = last;
            out
        }
    }
}

fn custom(spec: &Spec, n: usize) -> Option<Vec<f64>> {
    let raw = match &spec.weights {
        Some(weights) => {
            if weights.is_empty() {
                return None;
            }
            (0..n).map(|i| weights[i.min(weights.len() - 1)]).collect()
        }
        None => {
            let (first, middle, last) = (spec.first, spec.middle, spec.last);
            if !valid_weight(first) || !valid_weight(middle) || !valid_weight(last) {
                return None;
            }
            if first + middle + last <= 0.0 {
                return None;
            }
            layout(n, first, middle, last, false)
        }
    };
    if !raw.iter().all(|w| valid_weight(*w)) {
        return None;
    }
    let base = if max_of(&raw, 0.0) > 0.0 {
        normalise(&raw)?
    } else {
        vec![0.0; n]
    };
    apply_multipliers(&base, &vec![1.0; n])
}

pub fn apply_multipliers(weights: &[f64], multipliers: &[f64]) -> Option<Vec<f64>> {
    if multipliers.len() != weights.len() || !multipliers.iter().all(|m| valid_weight(*m)) {
        return None;
    }
    let scaled: Vec<f64> = weights
        .iter()
        .zip(multipliers)
        .map(|(w, m)| w * m)
        .collect();
    if max_of(&scaled, 0.0) > 0.0 {
        return normalise(&scaled);
    }
    if max_of(multipliers, 0.0) > 0.0 {
        return normalise(multipliers);
    }
    normalise(&vec![1.0; weights.len()])
}

/// `split_revenue`'s checks of the shares: the reference raises for any of these.
pub fn shares_valid(shares: &[f64]) -> bool {
    !shares.is_empty() && shares.iter().all(|s| valid_weight(*s)) && max_of(shares, 0.0) > 0.0
}

/// A finite float in [0, 1] as `mantissa * 2**-shift` exactly, reduced (`float.as_integer_ratio`).
fn binary_fraction(value: f64) -> Option<(u64, u32)> {
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1_u64 << 52) - 1);
    let (mantissa, power) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1_u64 << 52), exponent - 1075)
    };
    if mantissa == 0 {
        return Some((0, 0));
    }
    if power > 0 {
        return None; // not a share
    }
    let zeros = mantissa.trailing_zeros().min(power.unsigned_abs());
    Some((mantissa >> zeros, power.unsigned_abs() - zeros))
}

/// `credits._largest_remainder`: whole units per share, the floor of each exact quota and the units left to
/// the largest remainders, ties to the earlier share. None when a product would not fit 128 bits.
pub fn largest_remainder(units: u128, shares: &[f64]) -> Option<Vec<u128>> {
    let k = shares.len();
    if shares.iter().all(|s| *s == shares[0]) {
        let (part, left) = (units / k as u128, (units % k as u128) as usize);
        return Some(
            (0..k)
                .map(|i| if i < left { part + 1 } else { part })
                .collect(),
        );
    }
    if shares.iter().filter(|s| **s != 0.0).count() == 1 {
        let only = shares.iter().position(|s| *s != 0.0)?;
        return Some((0..k).map(|i| if i == only { units } else { 0 }).collect());
    }
    // Each share over one common power-of-two denominator: a scaled copy of the reference's fractions, so the
    // same floors and the same order of remainders.
    let fractions: Vec<(u64, u32)> = shares
        .iter()
        .map(|s| binary_fraction(*s))
        .collect::<Option<_>>()?;
    let common = fractions.iter().map(|(_, shift)| *shift).max()?;
    let mut numerators = Vec::with_capacity(k);
    for (mantissa, shift) in &fractions {
        let up = common - shift;
        if up >= 64 {
            return None;
        }
        numerators.push(u128::from(*mantissa).checked_mul(1_u128 << up)?);
    }
    let total = numerators
        .iter()
        .try_fold(0_u128, |sum, n| sum.checked_add(*n))?;
    let mut parts = Vec::with_capacity(k);
    let mut remainders = Vec::with_capacity(k);
    for n in &numerators {
        let product = units.checked_mul(*n)?;
        parts.push(product / total);
        remainders.push(product % total);
    }
    let left = units - parts.iter().sum::<u128>();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|a, b| remainders[*b].cmp(&remainders[*a])); // stable: ties keep the earlier share first
    for i in order.into_iter().take(usize::try_from(left).ok()?) {
        parts[i] += 1;
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsum_is_exact() {
        assert_eq!(fsum(&[0.1; 10]), 1.0);
        assert_eq!(fsum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(fsum(&[]), 0.0);
    }

    #[test]
    fn linear_thirds_settle_to_one() {
        let w = normalise(&[1.0, 1.0, 1.0]).unwrap();
        assert!((fsum(&w) - 1.0).abs() <= SUM_TOLERANCE);
    }

    #[test]
    fn remainder_goes_to_largest_then_earliest() {
        assert_eq!(
            largest_remainder(10, &[0.5, 0.25, 0.25]),
            Some(vec![5, 3, 2])
        );
        assert_eq!(
            largest_remainder(100, &[1.0 / 3.0; 3]),
            Some(vec![34, 33, 33])
        );
        assert_eq!(largest_remainder(7, &[0.0, 1.0]), Some(vec![0, 7]));
    }

    #[test]
    fn fractions_are_exact() {
        assert_eq!(binary_fraction(0.5), Some((1, 1)));
        assert_eq!(binary_fraction(1.0), Some((1, 0)));
        assert_eq!(binary_fraction(0.375), Some((3, 3)));
        assert_eq!(binary_fraction(0.0), Some((0, 0)));
        assert_eq!(binary_fraction(4.0), Some((4, 0)));
        assert_eq!(binary_fraction(2.0_f64.powi(60)), None);
    }
}
