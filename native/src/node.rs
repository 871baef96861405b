//! The compiled schema and its check. `check` returns the validated value, or None when the input does not
//! surely pass; None is never an error of the input, only "not sure" (the caller asks pydantic).

use std::collections::{HashMap, HashSet};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString};
use regex::Regex;

pub enum Node {
    /// Any value, as it is.
    Any,
    Str(StrRule),
    Int {
        ge: Option<i64>,
        le: Option<i64>,
    },
    /// One of these strings (the expected objects are what pydantic-core gives back).
    Literal(Vec<(String, Py<PyString>)>),
    Nullable(Box<Node>),
    /// A field's value with a default for when the field is missing (`check` sees present values only).
    Default {
        inner: Box<Node>,
        missing: Missing,
    },
    /// The first choice that passes.
    Union(Vec<Node>),
    Tagged {
        key: Py<PyString>,
        choices: HashMap<String, Node>,
    },
    Dict {
        keys: Box<Node>,
        values: Box<Node>,
        max_len: Option<usize>,
    },
    TypedDict(TypedDict),
    List(Box<Node>),
}

pub struct StrRule {
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    pub pattern: Option<Regex>,
}

pub enum Missing {
    Value(PyObject), // immutable (None, str, int, bool): handed out as it is, as pydantic-core does
    Factory(PyObject),
}

pub struct Field {
    pub key: Py<PyString>,
    pub node: Node,
    pub required: bool,
}

pub struct TypedDict {
    pub fields: Vec<Field>,
    pub names: HashSet<String>, // the fields' keys, to tell an unknown key
    /// None: an unknown key declines (`extra_behavior="forbid"`); Some: unknown keys are kept, after the fields.
    pub extras: Option<Box<Node>>,
    /// Every field in order, with its default or a placeholder; None when a field may be left out.
    pub template: Option<Py<PyDict>>,
}

impl Node {
    pub fn check(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> Option<PyObject> {
        match self {
            Node::Any => Some(value.clone().unbind()),
            Node::Str(rule) => rule.check(value).then(|| value.clone().unbind()),
            Node::Int { ge, le } => int_in(value, *ge, *le).then(|| value.clone().unbind()),
            Node::Literal(expected) => {
                let text = exact_str(value)?;
                expected
                    .iter()
                    .find(|(s, _)| s == text)
                    .map(|(_, obj)| obj.clone_ref(py).into_any())
            }
            Node::Nullable(inner) => {
                if value.is_none() {
                    Some(py.None())
                } else {
                    inner.check(py, value)
                }
            }
            Node::Default { inner, .. } => inner.check(py, value),
            Node::Union(choices) => choices.iter().find_map(|choice| choice.check(py, value)),
            Node::Tagged { key, choices } => {
                let dict = value.downcast_exact::<PyDict>().ok()?;
                let tag = dict.get_item(key.bind(py)).ok()??;
                choices.get(exact_str(&tag)?)?.check(py, value)
            }
            Node::Dict {
                keys,
                values,
                max_len,
            } => {
                let dict = value.downcast_exact::<PyDict>().ok()?;
                if max_len.is_some_and(|most| dict.len() > most) {
                    return None;
                }
                let out = PyDict::new(py);
                for (k, v) in dict.iter() {
                    let key = keys.check(py, &k)?;
                    let item = values.check(py, &v)?;
                    out.set_item(key, item).ok()?;
                }
                Some(out.into_any().unbind())
            }
            Node::TypedDict(typed) => typed.check(py, value),
            Node::List(items) => {
                let list = value.downcast_exact::<PyList>().ok()?;
                let mut out = Vec::with_capacity(list.len());
                for item in list.iter() {
                    out.push(items.check(py, &item)?);
                }
                PyList::new(py, out).ok().map(|l| l.into_any().unbind())
            }
        }
    }
}

impl StrRule {
    fn check(&self, value: &Bound<'_, PyAny>) -> bool {
        if !value.is_exact_instance_of::<PyString>() {
            return false;
        }
        if self.min_chars.is_some() || self.max_chars.is_some() {
            // Code points, as Python's len() and pydantic-core count them.
            let Ok(chars) = value.len() else { return false };
            if self.min_chars.is_some_and(|least| chars < least)
                || self.max_chars.is_some_and(|most| chars > most)
            {
                return false;
            }
        }
        match &self.pattern {
            None => true,
            // A string with lone surrogates has no UTF-8 form: declined.
            Some(pattern) => exact_str(value).is_some_and(|text| pattern.is_match(text)),
        }
    }
}

impl TypedDict {
    fn check(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> Option<PyObject> {
        let dict = value.downcast_exact::<PyDict>().ok()?;
        // A copy of the template is one allocation of the final size: building the dict key by key resizes it
        // twice for an event's dozen fields. Its values are then replaced in place, in the template's order.
        let out = match &self.template {
            Some(template) => template.bind(py).copy().ok()?,
            None => PyDict::new(py),
        };
        let mut present = 0usize;
        for field in &self.fields {
            let key = field.key.bind(py);
            match dict.get_item(key).ok()? {
                Some(item) => {
                    present += 1;
                    out.set_item(key, field.node.check(py, &item)?).ok()?;
                }
                None => match &field.node {
                    // Already in the copy of the template, when there is one.
                    Node::Default {
                        missing: Missing::Value(v),
                        ..
                    } if self.template.is_none() => {
                        out.set_item(key, v.clone_ref(py)).ok()?;
                    }
                    Node::Default {
                        missing: Missing::Value(_),
                        ..
                    } => {}
                    Node::Default {
                        missing: Missing::Factory(f),
                        ..
                    } => {
                        out.set_item(key, f.bind(py).call0().ok()?).ok()?;
                    }
                    _ if field.required => return None,
                    _ => {} // optional without a default: left out (never in a template)
                },
            }
        }
        if present == dict.len() {
            return Some(out.into_any().unbind());
        }
        let extras = self.extras.as_ref()?; // forbid: an unknown key declines
        for (k, v) in dict.iter() {
            let name = exact_str(&k)?;
            if !self.names.contains(name) {
                out.set_item(k, extras.check(py, &v)?).ok()?;
            }
        }
        Some(out.into_any().unbind())
    }
}

fn exact_str<'a>(value: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    value.downcast_exact::<PyString>().ok()?.to_str().ok()
}

/// An int (not a bool, not a subclass) within the bounds, however large it is.
fn int_in(value: &Bound<'_, PyAny>, ge: Option<i64>, le: Option<i64>) -> bool {
    if !value.is_exact_instance_of::<PyInt>() {
        return false;
    }
    if ge.is_none() && le.is_none() {
        return true;
    }
    match value.extract::<i64>() {
        Ok(n) => ge.is_none_or(|least| n >= least) && le.is_none_or(|most| n <= most),
        // Past 64 bits: above every upper bound when positive, below every lower bound when negative.
        Err(_) => match value.gt(0) {
            Ok(true) => le.is_none(),
            Ok(false) => ge.is_none(),
            Err(_) => false,
        },
    }
}
