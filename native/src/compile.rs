//! A pydantic-core schema (the plain dicts of `pydantic_core.core_schema`) into a `Node` tree.
//!
//! Every kind and key is checked against what this crate implements: anything else raises ValueError naming
//! it, so a constraint the models gain can never be skipped here without a build-time error.

use std::collections::{HashMap, HashSet};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString};
use regex::Regex;

use crate::node::{Field, Missing, Node, StrRule, TypedDict};

fn unsupported(what: String) -> PyErr {
    PyValueError::new_err(format!("touchstream_native cannot compile {what}"))
}

/// The schema's keys, each of which must be one of `known`.
fn keys_within(schema: &Bound<'_, PyDict>, kind: &str, known: &[&str]) -> PyResult<()> {
    for key in schema.keys() {
        let key: String = key.extract()?;
        if key != "type" && !known.contains(&key.as_str()) {
            return Err(unsupported(format!("the key {key:?} of a {kind:?} schema")));
        }
    }
    Ok(())
}

fn get<'py>(schema: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(schema.get_item(key)?.filter(|v| !v.is_none()))
}

fn required<'py>(
    schema: &Bound<'py, PyDict>,
    key: &str,
    kind: &str,
) -> PyResult<Bound<'py, PyAny>> {
    get(schema, key)?.ok_or_else(|| unsupported(format!("a {kind:?} schema without {key:?}")))
}

fn sub(schema: &Bound<'_, PyDict>, key: &str, kind: &str) -> PyResult<Box<Node>> {
    Ok(Box::new(node(
        required(schema, key, kind)?.downcast::<PyDict>()?,
    )?))
}

fn flag(schema: &Bound<'_, PyDict>, key: &str) -> PyResult<bool> {
    Ok(get(schema, key)?
        .map(|v| v.extract::<bool>())
        .transpose()?
        .unwrap_or(false))
}

pub fn node(schema: &Bound<'_, PyDict>) -> PyResult<Node> {
    let kind: String = required(schema, "type", "any")?.extract()?;
    let kind = kind.as_str();
    // `strict`: this crate always checks strictly; a lax schema only accepts more, so strict is the careful side.
    match kind {
        "any" => {
            keys_within(schema, kind, &[])?;
            Ok(Node::Any)
        }
        "str" => {
            keys_within(
                schema,
                kind,
                &["min_length", "max_length", "pattern", "strict"],
            )?;
            let pattern = match get(schema, "pattern")? {
                None => None,
                Some(p) => {
                    let text: String = p.extract()?;
                    Some(
                        Regex::new(&text)
                            .map_err(|e| unsupported(format!("the pattern {text:?}: {e}")))?,
                    )
                }
            };
            Ok(Node::Str(StrRule {
                min_chars: get(schema, "min_length")?
                    .map(|v| v.extract())
                    .transpose()?,
                max_chars: get(schema, "max_length")?
                    .map(|v| v.extract())
                    .transpose()?,
                pattern,
            }))
        }
        "int" => {
            keys_within(schema, kind, &["ge", "le", "strict"])?;
            Ok(Node::Int {
                ge: get(schema, "ge")?.map(|v| v.extract()).transpose()?,
                le: get(schema, "le")?.map(|v| v.extract()).transpose()?,
            })
        }
        "literal" => {
            keys_within(schema, kind, &["expected"])?;
            let mut expected = Vec::new();
            for item in required(schema, "expected", kind)?
                .downcast::<PyList>()?
                .iter()
            {
                let text = item
                    .downcast_exact::<PyString>()
                    .map_err(|_| unsupported(format!("the literal {item}: only strings")))?;
                expected.push((text.to_str()?.to_owned(), text.clone().unbind()));
            }
            Ok(Node::Literal(expected))
        }
        "nullable" => {
            keys_within(schema, kind, &["schema"])?;
            Ok(Node::Nullable(sub(schema, "schema", kind)?))
        }
        "default" => {
            keys_within(schema, kind, &["schema", "default", "default_factory"])?;
            let missing = match (schema.get_item("default")?, get(schema, "default_factory")?) {
                (Some(value), None) => Missing::Value(immutable(value)?),
                (None, Some(factory)) => Missing::Factory(factory.unbind()),
                _ => {
                    return Err(unsupported(
                        "a default schema without exactly one of default, default_factory".into(),
                    ))
                }
            };
            Ok(Node::Default {
                inner: sub(schema, "schema", kind)?,
                missing,
            })
        }
        "union" => {
            keys_within(schema, kind, &["choices", "mode"])?;
            let mode: String = required(schema, "mode", kind)?.extract()?;
            if mode != "left_to_right" {
                return Err(unsupported(format!("a union in {mode:?} mode")));
            }
            let choices = required(schema, "choices", kind)?;
            let nodes: PyResult<Vec<Node>> = choices
                .downcast::<PyList>()?
                .iter()
                .map(|c| node(c.downcast::<PyDict>()?))
                .collect();
            Ok(Node::Union(nodes?))
        }
        "tagged-union" => {
            keys_within(schema, kind, &["choices", "discriminator"])?;
            let key = required(schema, "discriminator", kind)?;
            let key = key
                .downcast_exact::<PyString>()
                .map_err(|_| unsupported("a discriminator that is not a key".into()))?;
            let mut choices = HashMap::new();
            for (tag, choice) in required(schema, "choices", kind)?
                .downcast::<PyDict>()?
                .iter()
            {
                choices.insert(
                    tag.extract::<String>()?,
                    node(choice.downcast::<PyDict>()?)?,
                );
            }
            Ok(Node::Tagged {
                key: key.clone().unbind(),
                choices,
            })
        }
        "dict" => {
            keys_within(
                schema,
                kind,
                &["keys_schema", "values_schema", "max_length", "strict"],
            )?;
            Ok(Node::Dict {
                keys: sub(schema, "keys_schema", kind)?,
                values: sub(schema, "values_schema", kind)?,
                max_len: get(schema, "max_length")?
                    .map(|v| v.extract())
                    .transpose()?,
            })
        }
        "typed-dict" => typed_dict(schema),
        "list" => {
            keys_within(schema, kind, &["items_schema"])?;
            Ok(Node::List(sub(schema, "items_schema", kind)?))
        }
        other => Err(unsupported(format!("a {other:?} schema"))),
    }
}

fn typed_dict(schema: &Bound<'_, PyDict>) -> PyResult<Node> {
    let kind = "typed-dict";
    keys_within(
        schema,
        kind,
        &["fields", "extra_behavior", "extras_schema", "strict"],
    )?;
    let extras = match get(schema, "extra_behavior")?
        .map(|v| v.extract::<String>())
        .transpose()?
        .as_deref()
    {
        Some("forbid") => None,
        Some("allow") => Some(sub(schema, "extras_schema", kind)?),
        other => {
            return Err(unsupported(format!(
                "a typed dict with extra_behavior {other:?}"
            )))
        }
    };
    let mut fields = Vec::new();
    let mut names = HashSet::new();
    for (name, field) in required(schema, "fields", kind)?
        .downcast::<PyDict>()?
        .iter()
    {
        let field = field.downcast::<PyDict>()?;
        keys_within(field, "typed-dict-field", &["schema", "required"])?;
        let key = name.downcast_exact::<PyString>()?;
        names.insert(key.to_str()?.to_owned());
        fields.push(Field {
            key: key.clone().unbind(),
            node: *sub(field, "schema", "typed-dict-field")?,
            required: flag(field, "required")?,
        });
    }
    let template = template(schema.py(), &fields)?;
    Ok(Node::TypedDict(TypedDict {
        fields,
        names,
        extras,
        template,
    }))
}

/// The output dict before any value is known: defaults in place, None where the input's value (or a factory's
/// call) always goes. None when a field missing from the input is left out of the output.
fn template(py: Python<'_>, fields: &[Field]) -> PyResult<Option<Py<PyDict>>> {
    let out = PyDict::new(py);
    for field in fields {
        match &field.node {
            Node::Default {
                missing: Missing::Value(v),
                ..
            } => out.set_item(field.key.bind(py), v.bind(py))?,
            _ if field.required || matches!(field.node, Node::Default { .. }) => {
                out.set_item(field.key.bind(py), py.None())?
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(out.unbind()))
}

/// A default handed out as it is must be immutable (pydantic-core would copy anything else).
fn immutable(value: Bound<'_, PyAny>) -> PyResult<PyObject> {
    if value.is_none()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyBool>()
    {
        Ok(value.unbind())
    } else {
        Err(unsupported(format!(
            "the default {value}: only None, str, int and bool are handed out as they are"
        )))
    }
}
