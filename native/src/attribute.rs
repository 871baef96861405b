//! `Attribution`: `stream.attribution.credits.attribute_journey` compiled, for the journey engine.
//!
//! One call takes a person's touches (the `Touch` objects), a conversion's time, revenue and currency and its
//! lookback windows, and returns what the Python function returns: the eligible touches in credit order (the
//! same objects) and, per model, its name, the shares and the revenue parts (Decimals built by the `decimal`
//! module, as the reference builds them). It returns None wherever it is not sure it would answer exactly as
//! the reference does (a naive or non-UTC time, a non-str field, a revenue of 10**28 minor units or more, a
//! product past 128 bits, any input the reference would raise for): the caller then runs the reference.
//! tests/unit/stream/attribution/test_native_attribution.py compares both on random journeys and models.

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyFloat, PyInt, PyList, PyString, PyTuple, PyTzInfoAccess};

use crate::credit_math::{
    apply_multipliers, base_weights, largest_remainder, shares_valid, Kind, Spec,
};

const EXACT_INT: i64 = 1 << 53;
const SMALL_UNITS: u128 = 10_000_000_000_000_000_000_000_000_000; // 10**28: scaleb is exact below it

struct Model {
    name: Py<PyString>,
    spec: Spec,
    multipliers: HashMap<String, f64>,
}

/// The models of one attribution config, compiled (see the module doc).
#[pyclass(frozen, module = "touchstream_native")]
pub struct Attribution {
    models: Vec<Model>,
    decimal: Py<PyAny>,     // decimal.Decimal
    minor_units: Py<PyAny>, // credits._minor_units: (exponent, units) of a revenue in a currency
    zero: Py<PyAny>,        // credits._zero: the shared Decimal 0 of an exponent
    utc: Py<PyAny>,
}

/// A number that is a float, or an int a float holds exactly (Python's mixed arithmetic then agrees).
fn exact_number(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(number) = value.downcast_exact::<PyFloat>() {
        return Ok(number.value());
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(whole) = value.extract::<i64>() {
            if whole.unsigned_abs() <= EXACT_INT as u64 {
                return Ok(whole as f64);
            }
        }
    }
    Err(PyValueError::new_err(
        "not compiled: a number that is not a float",
    ))
}

fn compile_model(spec: &Bound<'_, PyAny>) -> PyResult<Model> {
    let kind_name: String = spec.getattr("kind")?.extract()?;
    let kind =
        Kind::of(&kind_name).ok_or_else(|| PyValueError::new_err("not compiled: a model kind"))?;
    let weights = spec.getattr("weights")?;
    let weights = if weights.is_none() {
        None
    } else {
        Some(
            weights
                .try_iter()?
                .map(|w| exact_number(&w?))
                .collect::<PyResult<Vec<f64>>>()?,
        )
    };
    let mut multipliers = HashMap::new();
    for (channel, factor) in spec
        .getattr("channel_multipliers")?
        .call_method0("items")?
        .try_iter()?
        .map(|item| {
            let item = item?;
            Ok::<_, PyErr>((item.get_item(0)?, item.get_item(1)?))
        })
        .collect::<PyResult<Vec<_>>>()?
    {
        let channel = channel
            .downcast_exact::<PyString>()
            .map_err(|_| PyValueError::new_err("not compiled: a channel that is not a str"))?;
        multipliers.insert(channel.to_str()?.to_owned(), exact_number(&factor)?);
    }
    let two_touch: String = spec.getattr("two_touch")?.extract()?;
    Ok(Model {
        name: spec
            .getattr("name")?
            .downcast_into_exact::<PyString>()?
            .unbind(),
        spec: Spec {
            kind,
            half_life_seconds: exact_number(&spec.getattr("half_life_seconds")?)?,
            first: exact_number(&spec.getattr("first")?)?,
            middle: exact_number(&spec.getattr("middle")?)?,
            last: exact_number(&spec.getattr("last")?)?,
            split_middle: two_touch == "split_middle",
            age_granularity_seconds: exact_number(&spec.getattr("age_granularity_seconds")?)?,
            weights,
        },
        multipliers,
    })
}

/// A touch as read for eligibility and order: its time in µs and the str fields of `touch_order_key`.
struct Read<'py> {
    touch: Bound<'py, PyAny>,
    us: i64,
    click: bool,
    key: [Bound<'py, PyString>; 6], // touchpoint_id, kind, channel, channel_type, campaign, creative
}

const KEY_FIELDS: [&str; 6] = [
    "touchpoint_id",
    "kind",
    "channel",
    "channel_type",
    "campaign",
    "creative",
];

/// Microseconds since the epoch of a datetime whose tzinfo is UTC itself (None otherwise).
fn utc_us(value: &Bound<'_, PyAny>, utc: &Bound<'_, PyAny>) -> Option<i64> {
    let moment = value.downcast_exact::<PyDateTime>().ok()?;
    if !moment.get_tzinfo()?.is(utc) {
        return None;
    }
    Some(crate::wall_clock_us(moment)) // in UTC itself, the wall clock is the instant
}

fn read_touch<'py>(
    touch: Bound<'py, PyAny>,
    utc: &Bound<'py, PyAny>,
) -> PyResult<Option<Read<'py>>> {
    let Some(us) = utc_us(&touch.getattr("time")?, utc) else {
        return Ok(None);
    };
    let mut key = Vec::with_capacity(6);
    for name in KEY_FIELDS {
        let Ok(text) = touch.getattr(name)?.downcast_into_exact::<PyString>() else {
            return Ok(None);
        };
        text.to_str()?; // lone surrogates: their order is not UTF-8's
        key.push(text);
    }
    let click = key[1].to_str()? == "click";
    let key: [Bound<'py, PyString>; 6] =
        key.try_into().map_err(|_| PyValueError::new_err("key"))?;
    Ok(Some(Read {
        touch,
        us,
        click,
        key,
    }))
}

fn key_str<'a>(text: &'a Bound<'_, PyString>) -> &'a str {
    text.to_str().unwrap_or_default() // checked in read_touch
}

#[pymethods]
impl Attribution {
    #[new]
    fn new(
        py: Python<'_>,
        models: &Bound<'_, PyAny>,
        minor_units: Py<PyAny>,
        zero: Py<PyAny>,
        decimal: Py<PyAny>,
    ) -> PyResult<Self> {
        let models = models
            .try_iter()?
            .map(|spec| compile_model(&spec?))
            .collect::<PyResult<Vec<_>>>()?;
        let mut names: Vec<&str> = Vec::new();
        for model in &models {
            let name = model.name.bind(py).to_str()?;
            if names.contains(&name) {
                return Err(PyValueError::new_err(
                    "not compiled: model names must be unique",
                ));
            }
            names.push(name);
        }
        drop(names);
        let utc = crate::utc(py)?;
        Ok(Self {
            models,
            decimal,
            minor_units,
            zero,
            utc,
        })
    }

    /// `attribute_journey(ConversionFacts(_, at, revenue, currency), touches, models, windows)`, or None.
    fn journey<'py>(
        &self,
        py: Python<'py>,
        touches: &Bound<'py, PyAny>,
        at: &Bound<'py, PyAny>,
        revenue: &Bound<'py, PyAny>,
        currency: &Bound<'py, PyAny>,
        windows: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyTuple>> {
        // Any error on the way (a getattr, a call into Python) declines: the reference then raises or answers.
        let attribute = || -> PyResult<Option<Bound<'py, PyTuple>>> {
            let utc = self.utc.bind(py);
            let (Ok(touches), true) = (
                touches.downcast_exact::<PyList>(),
                currency.is_exact_instance_of::<PyString>(),
            ) else {
                return Ok(None);
            };
            let Some(at_us) = utc_us(at, utc) else {
                return Ok(None);
            };
            if !revenue.get_type().is(self.decimal.bind(py))
                || !revenue.call_method0("is_finite")?.is_truthy()?
            {
                return Ok(None);
            }
            let click_seconds = exact_number(&windows.getattr("click_seconds")?)?;
            let view_seconds = exact_number(&windows.getattr("view_seconds")?)?;
            let (mut clicks, mut views) = (Vec::new(), Vec::new());
            for touch in touches.iter() {
                let Some(read) = read_touch(touch, utc)? else {
                    return Ok(None);
                };
                let age_us = at_us - read.us;
                if age_us < 0 {
                    continue;
                }
                let seconds = age_us as f64 / 1e6;
                if read.click {
                    if seconds <= click_seconds {
                        clicks.push(read);
                    }
                } else if seconds <= view_seconds {
                    views.push(read);
                }
            }
            let mut journey = if clicks.is_empty() { views } else { clicks };
            journey.sort_by(|a, b| {
                a.us.cmp(&b.us).then_with(|| {
                    a.key
                        .iter()
                        .zip(&b.key)
                        .map(|(x, y)| key_str(x).cmp(key_str(y)))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
            });
            let ordered = PyList::new(py, journey.iter().map(|r| &r.touch))?;
            let per_model = PyList::empty(py);
            if journey.is_empty() {
                for model in &self.models {
                    let whole = (
                        model.name.bind(py),
                        PyList::new(py, [1.0])?,
                        PyList::new(py, [revenue])?,
                    );
                    per_model.append(whole)?;
                }
                return Ok(Some(PyTuple::new(
                    py,
                    [ordered.into_any(), per_model.into_any()],
                )?));
            }
            let ages: Vec<i64> = journey.iter().map(|r| at_us - r.us).collect();
            let (exponent, units): (i64, u128) = self
                .minor_units
                .bind(py)
                .call1((revenue, currency))?
                .extract()?;
            if units >= SMALL_UNITS {
                return Ok(None);
            }
            let negative = revenue.lt(0)?;
            let mut made: Vec<(u128, Bound<'py, PyAny>)> = Vec::new(); // equal parts share one Decimal
            let zero = self.zero.bind(py).call1((exponent,))?;
            for model in &self.models {
                let Some(mut shares) = base_weights(&model.spec, &ages) else {
                    return Ok(None);
                };
                if !model.multipliers.is_empty() {
                    let factors: Vec<f64> = journey
                        .iter()
                        .map(|r| {
                            model
                                .multipliers
                                .get(key_str(&r.key[2]))
                                .copied()
                                .unwrap_or(1.0)
                        })
                        .collect();
                    let Some(weighted) = apply_multipliers(&shares, &factors) else {
                        return Ok(None);
                    };
                    shares = weighted;
                }
                if !shares_valid(&shares) {
                    return Ok(None);
                }
                let Some(parts) = largest_remainder(units, &shares) else {
                    return Ok(None);
                };
                let values = PyList::empty(py);
                for part in parts {
                    if part == 0 {
                        values.append(&zero)?;
                        continue;
                    }
                    if let Some((_, value)) = made.iter().find(|(p, _)| *p == part) {
                        values.append(value)?;
                        continue;
                    }
                    let signed = if negative {
                        -(part as i128)
                    } else {
                        part as i128
                    };
                    let value = self
                        .decimal
                        .bind(py)
                        .call1((signed,))?
                        .call_method1("scaleb", (exponent,))?;
                    values.append(&value)?;
                    made.push((part, value));
                }
                per_model.append((model.name.bind(py), PyList::new(py, shares)?, values))?;
            }
            Ok(Some(PyTuple::new(
                py,
                [ordered.into_any(), per_model.into_any()],
            )?))
        };
        attribute().ok().flatten()
    }
}
