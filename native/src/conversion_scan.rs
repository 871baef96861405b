//! `ConversionScan`: what `PartitionProcessor.questions` reads of an events record, without building it.
//!
//! Before a range is processed, the processor asks ClickHouse which of its conversion and refund events are
//! stored already. For that it needs, of each such event, only `(app_id, event_id)` and, for a refund, its order
//! id; decoding the whole record into Python objects for it was ~6% of the processor's CPU. This scans the JSON
//! and returns exactly those, as `stream.processor.conversion_events` (the reference) reads them from the decoded
//! record. It returns None (the caller then decodes the record and runs the reference) for JSON it cannot read,
//! a top level that is not an array, an item that is not an object or a `properties` that is neither an object
//! nor null (the collector writes only those: the reference's rules for the rest stay in one place), an id that is not a string, and an order id
//! whose text the reference would make with `str()` of something else than a string. tests/unit/stream/test_conversion_scan.py compares both.

use std::collections::HashSet;
use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON value as far as the reference's reading of it goes.
enum Seen {
    Text(String),
    Falsy,  // null, false, 0, "", [] or {}: `or ""` makes it ""
    Truthy, // anything else that is not a string
}

/// The fields of one item that matter, the last of duplicate keys winning as in a Python dict.
#[derive(Default)]
struct Item {
    kind: Option<Seen>,
    app_id: Option<Seen>,
    event_id: Option<Seen>,
    order_id: Option<Seen>, // of `properties`, when it is a non-empty object holding one
}

/// An object key, compared without copying it (escaped keys arrive decoded).
#[derive(PartialEq)]
enum Key {
    Type,
    AppId,
    EventId,
    Properties,
    OrderId,
    Other,
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "type" => Key::Type,
            "app_id" => Key::AppId,
            "event_id" => Key::EventId,
            "properties" => Key::Properties,
            "order_id" => Key::OrderId,
            _ => Key::Other,
        })
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct ValueVisitor;

// Read with `next_value_seed`: the visitor is its own seed.
impl<'de> DeserializeSeed<'de> for ValueVisitor {
    type Value = Seen;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Seen;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Seen, E> {
        Ok(if v.is_empty() {
            Seen::Falsy
        } else {
            Seen::Text(v.to_owned())
        })
    }
    fn visit_bool<E>(self, v: bool) -> Result<Seen, E> {
        Ok(if v { Seen::Truthy } else { Seen::Falsy })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Seen, E> {
        Ok(if v == 0 { Seen::Falsy } else { Seen::Truthy })
    }
    fn visit_i64<E>(self, v: i64) -> Result<Seen, E> {
        Ok(if v == 0 { Seen::Falsy } else { Seen::Truthy })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Seen, E> {
        Ok(if v == 0.0 { Seen::Falsy } else { Seen::Truthy })
    }
    fn visit_unit<E>(self) -> Result<Seen, E> {
        Ok(Seen::Falsy)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        let mut any = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(if any { Seen::Truthy } else { Seen::Falsy })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        let mut any = false;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(if any { Seen::Truthy } else { Seen::Falsy })
    }
}

/// `properties`: its `order_id` (none for null). Any other JSON there is a serde error: the record is declined.
struct PropertiesVisitor;

// Read with `next_value_seed`: the visitor is its own seed.
impl<'de> DeserializeSeed<'de> for PropertiesVisitor {
    type Value = Seen;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PropertiesVisitor {
    type Value = Seen;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        let mut order_id = Seen::Falsy;
        while let Some(key) = map.next_key::<Key>()? {
            if key == Key::OrderId {
                order_id = map.next_value_seed(ValueVisitor)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(order_id)
    }
    fn visit_unit<E>(self) -> Result<Seen, E> {
        Ok(Seen::Falsy) // null: `None or {}`
    }
}

struct ItemVisitor;

// Read with `next_value_seed`: the visitor is its own seed.
impl<'de> DeserializeSeed<'de> for ItemVisitor {
    type Value = Item;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut item = Item::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Type => item.kind = Some(map.next_value_seed(ValueVisitor)?),
                Key::AppId => item.app_id = Some(map.next_value_seed(ValueVisitor)?),
                Key::EventId => item.event_id = Some(map.next_value_seed(ValueVisitor)?),
                Key::Properties => item.order_id = Some(map.next_value_seed(PropertiesVisitor)?),
                Key::OrderId | Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(item)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Vec<Item>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Item>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ItemVisitor)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// What one event contributes: `Some(None)` nothing, `Some(Some(..))` a key and maybe an order id, `None` decline.
type Asked = Option<Option<(String, String, Option<String>)>>;

fn asked(item: Item, conversions: &HashSet<String>, refunds: &HashSet<String>) -> Asked {
    let Some(Seen::Text(kind)) = item.kind else {
        return Some(None); // no type, or a type that is not a string: not a conversion
    };
    let refund = refunds.contains(&kind);
    if !refund && !conversions.contains(&kind) {
        return Some(None);
    }
    let (Some(app_id), Some(event_id)) = (item.app_id, item.event_id) else {
        return Some(None); // a missing id: KeyError, skipped
    };
    let (Seen::Text(app_id), Seen::Text(event_id)) = (app_id, event_id) else {
        return None; // an id that is not a non-empty string: the reference decides
    };
    let order_id = if refund {
        match item.order_id {
            None | Some(Seen::Falsy) => Some(String::new()),
            Some(Seen::Text(t)) => Some(t),
            Some(Seen::Truthy) => return None, // str() of a number, list or object: the reference's text
        }
    } else {
        None
    };
    Some(Some((app_id, event_id, order_id)))
}

/// The conversion and refund types a scan looks for, compiled once.
#[pyclass(frozen, module = "touchstream_native")]
pub struct ConversionScan {
    conversion_types: HashSet<String>,
    refund_types: HashSet<String>,
}

#[pymethods]
impl ConversionScan {
    #[new]
    fn new(conversion_types: HashSet<String>, refund_types: HashSet<String>) -> Self {
        Self {
            conversion_types,
            refund_types,
        }
    }

    /// The `((app_id, event_id), order id or None)` pairs `conversion_events` gives for this record, or None.
    fn keys<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyBytes>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let mut de = serde_json::Deserializer::from_slice(value.as_bytes());
        let Ok(items) = de.deserialize_seq(RecordVisitor) else {
            return Ok(None);
        };
        if de.end().is_err() {
            return Ok(None);
        }
        let out = PyList::empty(py);
        for item in items {
            match asked(item, &self.conversion_types, &self.refund_types) {
                None => return Ok(None),
                Some(None) => {}
                Some(Some((app_id, event_id, order_id))) => {
                    let key = PyTuple::new(py, [app_id, event_id])?;
                    out.append((key, order_id))?;
                }
            }
        }
        Ok(Some(out))
    }
}
