//! Typed access to a node's attributes. Every attribute a converter does
//! not read is reported by [`Attrs::finish`], so an attribute this
//! importer does not understand is refused instead of ignored.

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::proto::{attribute_proto::AttributeType, AttributeProto, TensorProto};

/// The attributes of one node.
pub struct Attrs<'a> {
    list: &'a [AttributeProto],
    used: RefCell<BTreeSet<&'a str>>,
}

impl<'a> Attrs<'a> {
    /// Wraps `list`; fails on duplicate names or function references.
    pub fn new(list: &'a [AttributeProto]) -> Result<Attrs<'a>, String> {
        let mut seen = BTreeSet::new();
        for a in list {
            if !seen.insert(a.name()) {
                return Err(format!("attribute '{}' is given twice", a.name()));
            }
            if a.ref_attr_name.is_some() {
                return Err(format!(
                    "attribute '{}' refers to a function attribute",
                    a.name()
                ));
            }
        }
        Ok(Attrs {
            list,
            used: RefCell::new(BTreeSet::new()),
        })
    }

    fn get(&self, name: &str, want: AttributeType) -> Result<Option<&'a AttributeProto>, String> {
        let Some(a) = self.list.iter().find(|a| a.name() == name) else {
            return Ok(None);
        };
        self.used.borrow_mut().insert(a.name());
        // Old exporters leave `type` unset; accept the field being present.
        let ok = match a.r#type() {
            AttributeType::Undefined => true,
            t => t == want,
        };
        if !ok {
            return Err(format!(
                "attribute '{name}' has type {}, expected {}",
                a.r#type().as_str_name(),
                want.as_str_name()
            ));
        }
        Ok(Some(a))
    }

    /// True when the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|a| a.name() == name)
    }

    /// An integer attribute.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        Ok(self.get(name, AttributeType::Int)?.map(|a| a.i()))
    }

    /// An integer attribute with a default.
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, String> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// A 0/1 attribute with a default.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.int_or(name, default as i64)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!("attribute '{name}' must be 0 or 1, got {v}")),
        }
    }

    /// A float attribute with a default.
    pub fn float_or(&self, name: &str, default: f32) -> Result<f32, String> {
        Ok(self
            .get(name, AttributeType::Float)?
            .map_or(default, |a| a.f()))
    }

    /// A list of integers.
    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        Ok(self.get(name, AttributeType::Ints)?.map(|a| a.ints.clone()))
    }

    /// A list of floats.
    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, String> {
        Ok(self
            .get(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    /// A string attribute (UTF-8).
    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name, AttributeType::String)? {
            None => Ok(None),
            Some(a) => String::from_utf8(a.s().to_vec())
                .map(Some)
                .map_err(|_| format!("attribute '{name}' is not UTF-8")),
        }
    }

    /// A string attribute with a default.
    pub fn string_or(&self, name: &str, default: &str) -> Result<String, String> {
        Ok(self.string(name)?.unwrap_or_else(|| default.to_string()))
    }

    /// A tensor attribute.
    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, String> {
        Ok(self
            .get(name, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }

    /// Marks attributes that do not change the result of an inference
    /// graph as read.
    pub fn ignore(&self, names: &[&str]) {
        for a in self.list {
            if names.contains(&a.name()) {
                self.used.borrow_mut().insert(a.name());
            }
        }
    }

    /// Fails on the first attribute nobody read.
    pub fn finish(&self) -> Result<(), String> {
        let used = self.used.borrow();
        match self.list.iter().find(|a| !used.contains(a.name())) {
            Some(a) => Err(format!("attribute '{}' is not supported", a.name())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Int as i32),
            i: Some(v),
            ..Default::default()
        }
    }

    #[test]
    fn unread_attributes_are_reported() {
        let list = [int("axis", 2), int("mystery", 1)];
        let a = Attrs::new(&list).unwrap();
        assert_eq!(a.int_or("axis", 0).unwrap(), 2);
        assert_eq!(a.int_or("keepdims", 1).unwrap(), 1);
        assert!(a.finish().unwrap_err().contains("'mystery'"));
        a.ignore(&["mystery"]);
        a.finish().unwrap();
    }

    #[test]
    fn types_flags_and_duplicates_are_checked() {
        let list = [int("alpha", 1), int("flag", 2)];
        let a = Attrs::new(&list).unwrap();
        assert!(a
            .float_or("alpha", 0.5)
            .unwrap_err()
            .contains("expected FLOAT"));
        assert!(a.flag("flag", false).unwrap_err().contains("0 or 1"));
        assert!(Attrs::new(&[int("x", 1), int("x", 2)]).is_err());
    }
}
