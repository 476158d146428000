//! The numbers zfs and zpool print: sizes (`-p` integers and human units), percentages and
//! ratios.

use infrastructor_sdk::text::parse_human_size;

/// Whether a value is one of zfs' "no value" spellings (`-`, `none`, empty).
fn is_no_value(text: &str) -> bool {
    matches!(text, "" | "-" | "none")
}

/// A size as zfs prints it, in bytes: a `-p` integer (`10741741326336`, exact), or a human
/// size with a 1024-based unit (`512`, `8.5K`, `1.50G`, `0B`, `16.0E`), rounded to a byte.
/// `None` for `-`, `none`, an empty value and anything else.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    if is_no_value(text) {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    if !text.starts_with(|c: char| c.is_ascii_digit()) || text.contains(',') {
        return None;
    }
    parse_human_size(text)
}

/// A counter as zpool prints it (`0`, `1.05K` errors, `2.03K` checksum errors): as
/// [`parse_size`]. The human forms are rounded, so `1.05K` is 1075.
pub fn parse_count(text: &str) -> Option<u64> {
    parse_size(text)
}

/// A percentage: `45%`, or `45` as `-p` prints it, or `0.98%`. `None` for `-` and anything
/// that is not a finite, non-negative number.
pub fn parse_percent(text: &str) -> Option<f64> {
    let text = text.trim();
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    parse_plain_number(number)
}

/// A whole percentage (`45%`, `45`): [`parse_percent`] when it has no fraction.
pub fn parse_whole_percent(text: &str) -> Option<u32> {
    let value = parse_percent(text)?;
    if value.fract() != 0.0 || value > f64::from(u32::MAX) {
        return None;
    }
    Some(value as u32)
}

/// A ratio: `1.00x`, `27.87x`, or `1.00` as `-p` prints it. `None` for `-`.
pub fn parse_ratio(text: &str) -> Option<f64> {
    let text = text.trim();
    let number = text.strip_suffix('x').unwrap_or(text);
    parse_plain_number(number)
}

/// A plain, finite, non-negative decimal number (digits and at most one `.`).
fn parse_plain_number(text: &str) -> Option<f64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || !text.starts_with(|c: char| c.is_ascii_digit())
        || text.matches('.').count() > 1
    {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10741741326336"), Some(10_741_741_326_336));
        assert_eq!(parse_size("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_size("18446744073709551616"), None);
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("8.5K"), Some(8704));
        assert_eq!(parse_size("1.50G"), Some(1_610_612_736));
        assert_eq!(parse_size("28.7M"), Some(30_094_131));
        assert_eq!(parse_size("1.03T"), Some(1_132_496_976_609));
        for none in ["-", "none", "", "abc", "-5", "1,5G", "1.5Q", "G"] {
            assert_eq!(parse_size(none), None, "{none}");
        }
        assert_eq!(parse_count("1.05K"), Some(1075));
        assert_eq!(parse_count("2.03K"), Some(2079));
    }

    #[test]
    fn percents_and_ratios() {
        assert_eq!(parse_percent("45%"), Some(45.0));
        assert_eq!(parse_percent("0.98%"), Some(0.98));
        assert_eq!(parse_percent("17"), Some(17.0));
        assert_eq!(parse_percent("-"), None);
        assert_eq!(parse_percent("1e3"), None);
        assert_eq!(parse_whole_percent("11%"), Some(11));
        assert_eq!(parse_whole_percent("1.5%"), None);
        assert_eq!(parse_ratio("1.00x"), Some(1.0));
        assert_eq!(parse_ratio("27.87x"), Some(27.87));
        assert_eq!(parse_ratio("1.83"), Some(1.83));
        assert_eq!(parse_ratio("-"), None);
        assert_eq!(parse_ratio("x"), None);
        assert_eq!(parse_ratio("NaN"), None);
    }
}
