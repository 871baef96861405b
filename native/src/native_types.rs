//! The column types `NativeBlock` compiles, from clickhouse-connect's type names (`insert_name`): the types of
//! the processor's tables, and nothing else.

#[derive(Clone, Debug, PartialEq)]
pub enum ColType {
    UInt(u8), // bytes
    Int(u8),
    Float64,
    Str,
    LowCardStr,
    DateTime64Ms,
    Date,
    Decimal {
        bytes: u8,
        precision: u32,
        scale: u32,
    },
    Nullable(Box<ColType>),
    Array(Box<ColType>),
    Map(Box<ColType>, Box<ColType>),
}

pub fn parse_type(name: &str) -> Option<ColType> {
    let name = name.trim();
    if let Some(inner) = wrapped(name, "Nullable") {
        let inner = parse_type(inner)?;
        return matches!(
            inner,
            ColType::UInt(_) | ColType::Int(_) | ColType::DateTime64Ms | ColType::Decimal { .. }
        )
        .then(|| ColType::Nullable(Box::new(inner)));
    }
    if let Some(inner) = wrapped(name, "Array") {
        return Some(ColType::Array(Box::new(
            parse_type(inner).filter(|t| *t == ColType::Str)?,
        )));
    }
    if let Some(inner) = wrapped(name, "Map") {
        let (key, value) = inner.split_once(',')?;
        let key = parse_type(key).filter(|t| *t == ColType::Str)?;
        let value = parse_type(value).filter(|t| matches!(t, ColType::Str | ColType::UInt(_)))?;
        return Some(ColType::Map(Box::new(key), Box::new(value)));
    }
    if let Some(args) = wrapped(name, "Decimal") {
        let (precision, scale) = args.split_once(',')?;
        let (precision, scale): (u32, u32) =
            (precision.trim().parse().ok()?, scale.trim().parse().ok()?);
        let bytes = match precision {
            1..=9 => 4,
            10..=18 => 8,
            _ => return None,
        };
        return (scale <= precision).then_some(ColType::Decimal {
            bytes,
            precision,
            scale,
        });
    }
    match name {
        "UInt8" => Some(ColType::UInt(1)),
        "UInt16" => Some(ColType::UInt(2)),
        "UInt32" => Some(ColType::UInt(4)),
        "UInt64" => Some(ColType::UInt(8)),
        "Int8" => Some(ColType::Int(1)),
        "Int16" => Some(ColType::Int(2)),
        "Int32" => Some(ColType::Int(4)),
        "Int64" => Some(ColType::Int(8)),
        "Float64" => Some(ColType::Float64),
        "String" => Some(ColType::Str),
        "LowCardinality(String)" => Some(ColType::LowCardStr),
        "DateTime64(3, 'UTC')" | "DateTime64(3)" => Some(ColType::DateTime64Ms),
        "Date" => Some(ColType::Date),
        _ => None,
    }
}

fn wrapped<'a>(name: &'a str, wrapper: &str) -> Option<&'a str> {
    name.strip_prefix(wrapper)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// The bytes of one value of a fixed-width type (what a NULL's placeholder takes).
pub fn fixed_size(col_type: &ColType) -> usize {
    match col_type {
        ColType::UInt(n) | ColType::Int(n) => *n as usize,
        ColType::Decimal { bytes, .. } => *bytes as usize,
        _ => 8, // DateTime64, Float64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_processors_types() {
        assert_eq!(
            parse_type("LowCardinality(String)"),
            Some(ColType::LowCardStr)
        );
        assert_eq!(
            parse_type("Nullable(DateTime64(3, 'UTC'))"),
            Some(ColType::Nullable(Box::new(ColType::DateTime64Ms)))
        );
        assert_eq!(
            parse_type("Decimal(18, 8)"),
            Some(ColType::Decimal {
                bytes: 8,
                precision: 18,
                scale: 8
            })
        );
        assert_eq!(
            parse_type("Map(String, UInt64)"),
            Some(ColType::Map(
                Box::new(ColType::Str),
                Box::new(ColType::UInt(8))
            ))
        );
        assert_eq!(
            parse_type("Array(String)"),
            Some(ColType::Array(Box::new(ColType::Str)))
        );
    }

    #[test]
    fn others_are_refused() {
        for name in [
            "Nullable(String)",
            "DateTime64(6, 'UTC')",
            "Decimal(38, 2)",
            "Array(UInt8)",
            "Map(UInt8, String)",
            "Float32",
            "Tuple(String)",
        ] {
            assert_eq!(parse_type(name), None, "{name}");
        }
    }
}
