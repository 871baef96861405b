//! Rows into ClickHouse's Native format, byte for byte what clickhouse-connect writes for the same rows.
//!
//! `NativeBlock(names, types)` takes a table's column names and clickhouse-connect's type names (`insert_name`);
//! `encode(rows, block_rows)` gives the Native blocks of `rows` (tuples, one value per column), `block_rows` rows
//! each (clickhouse-connect's own split, which the caller asks it for), concatenated, as clickhouse-connect's
//! insert writes them after its `INSERT ... FORMAT Native` line. Only the types of the processor's tables are
//! compiled (a type name outside them raises ValueError), and only values that clickhouse-connect writes in one
//! way are taken: anything else raises TypeError, ValueError or OverflowError, and the caller lets
//! clickhouse-connect encode that insert. tests/unit/stream/test_native_block.py compares the bytes.

use std::collections::HashMap;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBytes, PyDate, PyDateAccess, PyDateTime, PyDict, PyInt, PyList, PyString, PyTuple,
    PyTzInfoAccess,
};

use crate::native_types::{fixed_size, parse_type, ColType};
use crate::native_values::{days_from_civil, decimal_units};

#[pyclass(frozen, module = "touchstream_native")]
pub struct NativeBlock {
    columns: Vec<(String, String, ColType)>,
    decimal: Py<PyAny>, // decimal.Decimal, the one class of money values taken
    utc: Py<PyAny>,     // datetime.timezone.utc: its offset is known without a call
}

#[pymethods]
impl NativeBlock {
    #[new]
    fn new(py: Python<'_>, names: Vec<String>, types: Vec<String>) -> PyResult<Self> {
        if names.len() != types.len() || names.is_empty() {
            return Err(PyValueError::new_err(
                "NativeBlock: one type per column, at least one column",
            ));
        }
        let mut columns = Vec::with_capacity(names.len());
        for (name, type_name) in names.into_iter().zip(types) {
            let Some(parsed) = parse_type(&type_name) else {
                return Err(PyValueError::new_err(format!(
                    "NativeBlock cannot encode the type {type_name} ({name})"
                )));
            };
            columns.push((name, type_name, parsed));
        }
        let decimal = py.import("decimal")?.getattr("Decimal")?.unbind();
        let utc = crate::utc(py)?;
        Ok(Self {
            columns,
            decimal,
            utc,
        })
    }

    /// The Native blocks of `rows`, `block_rows` rows each, concatenated.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyList>,
        block_rows: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let rows: Vec<Bound<'py, PyTuple>> = rows
            .iter()
            .map(|r| r.downcast_into::<PyTuple>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let width = self.columns.len();
        if rows.iter().any(|r| r.len() != width) {
            return Err(PyValueError::new_err(format!(
                "NativeBlock: every row must have {width} values"
            )));
        }
        let mut out = Vec::with_capacity(64 + rows.len() * width * 12);
        let ctx = Ctx {
            decimal: self.decimal.bind(py),
            utc: self.utc.bind(py),
        };
        for block in rows.chunks(block_rows.max(1)) {
            leb128(width as u64, &mut out);
            leb128(block.len() as u64, &mut out);
            for (i, (name, type_name, col_type)) in self.columns.iter().enumerate() {
                text(name.as_bytes(), &mut out);
                text(type_name.as_bytes(), &mut out);
                if *col_type == ColType::LowCardStr {
                    out.extend_from_slice(&1u64.to_le_bytes()); // the LowCardinality serialization version
                }
                let values: Vec<Bound<'py, PyAny>> = block
                    .iter()
                    .map(|row| row.get_item(i))
                    .collect::<PyResult<_>>()?;
                write(&ctx, col_type, &values, &mut out).map_err(|e| name_error(py, name, e))?;
            }
        }
        Ok(PyBytes::new(py, &out))
    }
}

struct Ctx<'a, 'py> {
    decimal: &'a Bound<'py, PyAny>,
    utc: &'a Bound<'py, PyAny>,
}

fn name_error(py: Python<'_>, column: &str, err: PyErr) -> PyErr {
    let message = format!("column {column}: {}", err.value(py));
    if err.is_instance_of::<PyOverflowError>(py) {
        PyOverflowError::new_err(message)
    } else if err.is_instance_of::<PyTypeError>(py) {
        PyTypeError::new_err(message)
    } else {
        PyValueError::new_err(message)
    }
}

fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn text(bytes: &[u8], out: &mut Vec<u8>) {
    leb128(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn write(
    ctx: &Ctx<'_, '_>,
    col_type: &ColType,
    values: &[Bound<'_, PyAny>],
    out: &mut Vec<u8>,
) -> PyResult<()> {
    if matches!(col_type, ColType::DateTime64Ms)
        || *col_type == ColType::Nullable(Box::new(ColType::DateTime64Ms))
    {
        one_kind_of_time(values)?;
    }
    match col_type {
        ColType::Nullable(inner) => {
            out.extend(values.iter().map(|v| u8::from(v.is_none())));
            for value in values {
                if value.is_none() {
                    out.extend(std::iter::repeat_n(0u8, fixed_size(inner)));
                } else {
                    scalar(ctx, inner, value, out)?;
                }
            }
            Ok(())
        }
        ColType::LowCardStr => low_cardinality(values, out),
        ColType::Array(item) => {
            let mut flat = Vec::new();
            let mut total = 0u64;
            for value in values {
                let list = value
                    .downcast::<PyList>()
                    .map_err(|_| PyTypeError::new_err("an Array value must be a list"))?;
                total += list.len() as u64;
                out.extend_from_slice(&total.to_le_bytes());
                flat.extend(list.iter());
            }
            write(ctx, item, &flat, out)
        }
        ColType::Map(key, item) => {
            let (mut keys, mut items) = (Vec::new(), Vec::new());
            let mut total = 0u64;
            for value in values {
                let dict = value
                    .downcast_exact::<PyDict>()
                    .map_err(|_| PyTypeError::new_err("a Map value must be a dict"))?;
                total += dict.len() as u64;
                out.extend_from_slice(&total.to_le_bytes());
                for (k, v) in dict.iter() {
                    keys.push(k);
                    items.push(v);
                }
            }
            write(ctx, key, &keys, out)?;
            write(ctx, item, &items, out)
        }
        _ => values
            .iter()
            .try_for_each(|value| scalar(ctx, col_type, value, out)),
    }
}

/// clickhouse-connect reads a DateTime64 column as ticks or as datetimes by its first value: a column of both
/// is refused here, as it is there.
fn one_kind_of_time(values: &[Bound<'_, PyAny>]) -> PyResult<()> {
    let mut present = values.iter().filter(|v| !v.is_none());
    let Some(first) = present.next() else {
        return Ok(());
    };
    let ticks = first.is_exact_instance_of::<PyInt>();
    if present.any(|v| v.is_exact_instance_of::<PyInt>() != ticks) {
        return Err(PyTypeError::new_err(
            "a DateTime64 column of both ticks and datetimes",
        ));
    }
    Ok(())
}

fn scalar(
    ctx: &Ctx<'_, '_>,
    col_type: &ColType,
    value: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
) -> PyResult<()> {
    match col_type {
        ColType::UInt(bytes) => {
            let n: u64 = value.extract()?;
            let size = *bytes as usize;
            if size < 8 && n >> (8 * size) != 0 {
                return Err(PyOverflowError::new_err(format!(
                    "{n} does not fit in {size} unsigned bytes"
                )));
            }
            out.extend_from_slice(&n.to_le_bytes()[..size]);
        }
        ColType::Int(bytes) => {
            let n: i64 = value.extract()?;
            let size = *bytes as usize;
            let bits = 8 * size as u32;
            if size < 8 && (n < -(1i64 << (bits - 1)) || n >= (1i64 << (bits - 1))) {
                return Err(PyOverflowError::new_err(format!(
                    "{n} does not fit in {size} signed bytes"
                )));
            }
            out.extend_from_slice(&n.to_le_bytes()[..size]);
        }
        ColType::Float64 => out.extend_from_slice(&value.extract::<f64>()?.to_le_bytes()),
        ColType::Str => {
            let text_value = value
                .downcast_exact::<PyString>()
                .map_err(|_| PyTypeError::new_err("a String value must be a str"))?;
            text(text_value.to_str()?.as_bytes(), out);
        }
        ColType::DateTime64Ms => {
            let ms = if value.is_exact_instance_of::<PyInt>() {
                value.extract::<i64>()? // ticks already, as clickhouse-connect writes them
            } else {
                let moment = value.downcast_exact::<PyDateTime>().map_err(|_| {
                    PyTypeError::new_err("a DateTime64 value must be a datetime or ticks")
                })?;
                datetime_ms(moment, ctx.utc)?
            };
            out.extend_from_slice(&ms.to_le_bytes());
        }
        ColType::Date => {
            let day = value
                .downcast::<PyDate>()
                .map_err(|_| PyTypeError::new_err("a Date value must be a date"))?;
            if !(value.is_exact_instance_of::<PyDate>()
                || value.is_exact_instance_of::<PyDateTime>())
            {
                return Err(PyTypeError::new_err(
                    "a Date value must be a date, not a subclass",
                ));
            }
            let days = days_from_civil(
                day.get_year().into(),
                day.get_month().into(),
                day.get_day().into(),
            );
            let days = u16::try_from(days)
                .map_err(|_| PyOverflowError::new_err("a Date before 1970 or after 2149"))?;
            out.extend_from_slice(&days.to_le_bytes());
        }
        ColType::Decimal {
            bytes,
            precision,
            scale,
        } => {
            let units = if value.is_exact_instance_of::<PyInt>() {
                let whole: i64 = value.extract()?;
                i128::from(whole).checked_mul(10i128.pow(*scale))
            } else if value.get_type().is(ctx.decimal) {
                decimal_units(value.str()?.to_str()?, *scale)
            } else {
                return Err(PyTypeError::new_err(
                    "a Decimal value must be a decimal.Decimal or an int",
                ));
            };
            let units = units
                .filter(|u| u.unsigned_abs() < 10u128.pow(*precision))
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{value} is not exactly a Decimal({precision}, {scale})"
                    ))
                })?;
            if *bytes == 4 {
                out.extend_from_slice(&(units as i32).to_le_bytes());
            } else {
                out.extend_from_slice(&(units as i64).to_le_bytes());
            }
        }
        _ => return Err(PyValueError::new_err("not a scalar type")),
    }
    Ok(())
}

/// As `(value - 1970-01-01T00:00Z) // 1 ms` in Python: aware datetimes only (a naive one depends on
/// clickhouse-connect's time zone settings).
fn datetime_ms(moment: &Bound<'_, PyDateTime>, utc: &Bound<'_, PyAny>) -> PyResult<i64> {
    let Some(tz) = moment.get_tzinfo() else {
        return Err(PyTypeError::new_err("a naive datetime"));
    };
    let offset_us: i64 = if tz.is(utc) {
        0
    } else {
        let offset = tz.call_method1("utcoffset", (moment,))?;
        if offset.is_none() {
            return Err(PyTypeError::new_err(
                "a datetime whose tzinfo gives no offset",
            ));
        }
        let days: i64 = offset.getattr("days")?.extract()?;
        let seconds: i64 = offset.getattr("seconds")?.extract()?;
        let micros: i64 = offset.getattr("microseconds")?.extract()?;
        (days * 86_400 + seconds) * 1_000_000 + micros
    };
    Ok((crate::wall_clock_us(moment) - offset_us).div_euclid(1_000))
}

fn low_cardinality(values: &[Bound<'_, PyAny>], out: &mut Vec<u8>) -> PyResult<()> {
    let mut index: Vec<&str> = Vec::new();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let mut keys: Vec<u32> = Vec::with_capacity(values.len());
    for value in values {
        let text_value = value
            .downcast_exact::<PyString>()
            .map_err(|_| PyTypeError::new_err("a LowCardinality(String) value must be a str"))?;
        let key = text_value.to_str()?;
        let next = index.len() as u32;
        let slot = *seen.entry(key).or_insert_with(|| {
            index.push(key);
            next
        });
        keys.push(slot);
    }
    if values.is_empty() {
        return Ok(());
    }
    // clickhouse-connect: int(log2(len(index))) >> 3, i.e. 1, 2, 4 or 8 bytes per key by the dictionary's size.
    let ix_type = (usize::BITS - 1 - index.len().leading_zeros()) >> 3;
    out.extend_from_slice(&((1u64 << 9) | (1u64 << 10) | u64::from(ix_type)).to_le_bytes());
    out.extend_from_slice(&(index.len() as u64).to_le_bytes());
    for key in &index {
        text(key.as_bytes(), out);
    }
    out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
    for key in keys {
        match ix_type {
            0 => out.push(key as u8),
            1 => out.extend_from_slice(&(key as u16).to_le_bytes()),
            2 => out.extend_from_slice(&key.to_le_bytes()),
            _ => out.extend_from_slice(&u64::from(key).to_le_bytes()),
        }
    }
    Ok(())
}
