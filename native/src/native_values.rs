//! The arithmetic of Native values: civil dates to days, local times to epoch microseconds, decimal text to
//! scaled integers. Pure functions, unit-tested here and, through `NativeBlock`, against clickhouse-connect.

/// Days from 1970-01-01 to the proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Microseconds since the epoch of a local date and time at a UTC offset.
pub fn epoch_us(days: i64, clock_seconds: i64, microseconds: i64, offset_us: i64) -> i64 {
    (days * 86_400 + clock_seconds) * 1_000_000 + microseconds - offset_us
}

/// `str(decimal.Decimal)` as an integer of `10^-scale` units, when exact: None for NaN and infinities, for more
/// digits than 38, and for a value with nonzero digits past `scale` (clickhouse-connect would truncate it).
pub fn decimal_units(text: &str, scale: u32) -> Option<i128> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (number, exponent) = match rest.split_once(['E', 'e']) {
        Some((number, exponent)) => (number, exponent.parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = whole.len() + fraction.len();
    if digits > 38
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut mantissa: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa * 10 + i128::from(b - b'0');
    }
    let shift = exponent - fraction.len() as i64 + i64::from(scale);
    let units = if shift >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-shift).ok()?);
        match divisor {
            Some(d) if mantissa % d == 0 => mantissa / d,
            Some(_) => return None,
            None if mantissa == 0 => 0,
            None => return None,
        }
    };
    Some(if negative { -units } else { units })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(2149, 6, 6), 65_535);
    }

    #[test]
    fn epoch_microseconds_and_their_millisecond_floor() {
        assert_eq!(epoch_us(0, 0, 999, 0).div_euclid(1_000), 0);
        assert_eq!(epoch_us(-1, 86_399, 999_999, 0).div_euclid(1_000), -1); // 1969-12-31T23:59:59.999999Z
        assert_eq!(epoch_us(0, 8 * 3_600, 0, 8 * 3_600 * 1_000_000), 0); // 08:00 at +08:00
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal_units("19.90", 4), Some(199_000));
        assert_eq!(decimal_units("-0.5", 4), Some(-5_000));
        assert_eq!(decimal_units("1.50000", 4), Some(15_000));
        assert_eq!(decimal_units("1E+2", 4), Some(1_000_000));
        assert_eq!(decimal_units("0E-8", 4), Some(0));
        assert_eq!(decimal_units("1.23456", 4), None);
        assert_eq!(decimal_units("NaN", 4), None);
        assert_eq!(decimal_units("Infinity", 4), None);
        assert_eq!(decimal_units(".", 4), None);
        assert_eq!(decimal_units("7.19990000", 8), Some(719_990_000));
    }
}
