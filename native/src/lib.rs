//! touchstream's compiled hot path: the collector's strict check of a batch of events.
//!
//! `StrictValidator(schema)` takes the pydantic-core schema that `schemas/fast_events.py` generates from the
//! event models (plain dicts: typed dicts, strings with their limits and patterns, integers with bounds,
//! literals, nullable, defaults, dicts, left-to-right and tagged unions, lists) and checks inputs against it as
//! pydantic-core's `SchemaValidator(schema).validate_python` does, giving the same output, several times
//! faster: the walk is a plain tree of Rust values, with no per-field error state or validation context.
//!
//! It may only ever be *more* careful than pydantic-core: where this code is not sure (a subclass of str,
//! dict or int, a string with lone surrogates, any key of the schema it does not know), it declines, and the
//! caller's pydantic path decides. A schema key it does not implement is an error when the validator is
//! built, so a new constraint in the models can never be skipped silently.
//! tests/unit/schemas/test_native_validator.py compares the two on a fuzz corpus.

mod attribute;
mod compile;
mod conversion_scan;
mod credit_math;
mod native_block;
mod native_types;
mod native_values;
mod node;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use node::Node;

/// A compiled strict schema (see the module doc).
#[pyclass(frozen, module = "touchstream_native")]
struct StrictValidator {
    root: Node,
}

#[pymethods]
impl StrictValidator {
    #[new]
    fn new(schema: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(Self {
            root: compile::node(schema)?,
        })
    }

    /// The validated value, or ValueError when the input does not surely pass (the caller asks pydantic).
    fn validate_python(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        match self.root.check(py, value) {
            Some(out) => Ok(out),
            None => Err(PyValueError::new_err(
                "declined: not surely valid under the strict schema",
            )),
        }
    }
}

/// `datetime.timezone.utc`, the tzinfo of every aware time the processor reads and writes: compared by identity.
pub(crate) fn utc(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(py
        .import("datetime")?
        .getattr("timezone")?
        .getattr("utc")?
        .unbind())
}

/// Microseconds from 1970-01-01T00:00 to a datetime's own fields (its wall clock, whatever its tzinfo).
pub(crate) fn wall_clock_us(moment: &Bound<'_, pyo3::types::PyDateTime>) -> i64 {
    use pyo3::types::{PyDateAccess, PyTimeAccess};
    let days = native_values::days_from_civil(
        moment.get_year().into(),
        moment.get_month().into(),
        moment.get_day().into(),
    );
    let clock = i64::from(moment.get_hour()) * 3_600
        + i64::from(moment.get_minute()) * 60
        + i64::from(moment.get_second());
    native_values::epoch_us(days, clock, i64::from(moment.get_microsecond()), 0)
}

#[pymodule]
fn touchstream_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StrictValidator>()?;
    m.add_class::<native_block::NativeBlock>()?;
    m.add_class::<attribute::Attribution>()?;
    m.add_class::<conversion_scan::ConversionScan>()?;
    Ok(())
}
