//! Shape and type rules of [`Op::Custom`] nodes: the output shapes are the
//! ones recorded at compile time (checked against the fallback op when
//! there is one), tensors are float32 or int64 in NCHW/UNDEFINED order as
//! the custom-op callbacks expect them, and the attributes obey the limits
//! of [`crate::graph::custom`].

use std::collections::HashSet;

use super::{check_types, infer_given, GraphError};
use crate::graph::{
    AttrValue, CustomOp, DType, Layout, Op, TensorInfo, MAX_ATTRS, MAX_ATTR_ELEMS,
    MAX_ATTR_NAME_LEN, MAX_OP_TYPE_LEN,
};

fn err<T>(msg: String) -> Result<T, GraphError> {
    Err(GraphError(msg))
}

/// The output shapes of a custom node: the given ones, which must equal
/// what the fallback op (if any) computes from `inputs`.
pub(super) fn infer(
    c: &CustomOp,
    inputs: &[&TensorInfo],
    given: &[&[usize]],
) -> Result<Vec<Vec<usize>>, GraphError> {
    if let Some(fb) = &c.fallback {
        if matches!(**fb, Op::Custom(_)) {
            return err(format!(
                "custom op '{}' has a custom op as its fallback; the fallback must be a built-in op",
                c.op_type
            ));
        }
        let computed = infer_given(fb, inputs, given)
            .map_err(|e| GraphError(format!("fallback {}: {}", fb.type_name(), e.0)))?;
        if computed.len() != given.len() || computed.iter().zip(given).any(|(a, b)| a != b) {
            return err(format!(
                "outputs have shapes {given:?}, but the fallback {} computes {computed:?}",
                fb.type_name()
            ));
        }
    }
    Ok(given.iter().map(|s| s.to_vec()).collect())
}

/// Checks a text field: non-empty, at most `max` bytes, no NUL.
fn text(s: &str, what: &str, max: usize) -> Result<(), GraphError> {
    if s.is_empty() {
        return err(format!("{what} is empty"));
    }
    if s.len() > max {
        return err(format!(
            "{what} is {} bytes, more than the limit {max}",
            s.len()
        ));
    }
    if s.contains('\0') {
        return err(format!("{what} {s:?} contains a NUL byte"));
    }
    Ok(())
}

fn check_attrs(c: &CustomOp) -> Result<(), GraphError> {
    text(&c.op_type, "custom op type", MAX_OP_TYPE_LEN)?;
    if c.attrs.len() > MAX_ATTRS {
        return err(format!(
            "custom op '{}' has {} attributes, more than the limit {MAX_ATTRS}",
            c.op_type,
            c.attrs.len()
        ));
    }
    let mut names = HashSet::new();
    for a in &c.attrs {
        text(&a.name, "attribute name", MAX_ATTR_NAME_LEN)?;
        if !names.insert(a.name.as_str()) {
            return err(format!("attribute '{}' is given twice", a.name));
        }
        let n = a.value.elems();
        if n > MAX_ATTR_ELEMS {
            return err(format!(
                "attribute '{}' has {n} elements, more than the limit {MAX_ATTR_ELEMS}",
                a.name
            ));
        }
        let non_finite = match &a.value {
            AttrValue::Float(v) => (!v.is_finite()).then_some(*v),
            AttrValue::Floats(v) => v.iter().copied().find(|v| !v.is_finite()),
            _ => None,
        };
        if let Some(v) = non_finite {
            return err(format!(
                "attribute '{}' holds {v}; attribute values must be finite",
                a.name
            ));
        }
        if let AttrValue::String(s) = &a.value {
            if s.contains('\0') {
                return err(format!("attribute '{}' contains a NUL byte", a.name));
            }
        }
    }
    Ok(())
}

/// Checks one tensor of a custom node: unquantized, NCHW or UNDEFINED,
/// and of a type the callbacks take (float32 or int64; constant inputs
/// may also be int32 or bool).
fn check_tensor(t: &TensorInfo, role: &str) -> Result<(), GraphError> {
    let constant = t.is_weight();
    let allowed = match t.dtype {
        DType::F32 | DType::I64 => true,
        DType::I32 | DType::Bool => constant,
        _ => false,
    };
    if !allowed {
        return err(format!(
            "{role} '{}' is {:?}; custom ops take float32 or int64 tensors{}",
            t.name,
            t.dtype,
            if constant {
                " (constants also int32 or bool)"
            } else {
                ""
            }
        ));
    }
    if t.quant.is_some() {
        return err(format!(
            "{role} '{}' has quantization parameters; custom ops take real values",
            t.name
        ));
    }
    if !matches!(t.layout, Layout::Nchw | Layout::Undefined) {
        return err(format!(
            "{role} '{}' has layout {:?}; custom ops take NCHW or UNDEFINED tensors",
            t.name, t.layout
        ));
    }
    Ok(())
}

/// The type rules of a custom node, and its fallback's rules.
pub(super) fn check(
    c: &CustomOp,
    ins: &[&TensorInfo],
    outs: &[&TensorInfo],
) -> Result<(), GraphError> {
    check_attrs(c)?;
    for (k, t) in ins.iter().enumerate() {
        check_tensor(t, &format!("input {k}"))?;
    }
    for (k, t) in outs.iter().enumerate() {
        check_tensor(t, &format!("output {k}"))?;
    }
    if let Some(fb) = &c.fallback {
        if matches!(**fb, Op::Custom(_)) {
            return err(format!(
                "custom op '{}' has a custom op as its fallback",
                c.op_type
            ));
        }
        check_types(fb, ins, outs)
            .map_err(|e| GraphError(format!("fallback {}: {}", fb.type_name(), e.0)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{CustomAttr, Quant, Storage};

    fn t(shape: &[usize], dtype: DType) -> TensorInfo {
        TensorInfo::activation("t", shape.to_vec(), dtype)
    }

    fn op(attrs: Vec<CustomAttr>, fallback: Option<Op>) -> Op {
        Op::Custom(CustomOp {
            op_type: "cstX".into(),
            attrs,
            fallback: fallback.map(Box::new),
        })
    }

    fn a(name: &str, value: AttrValue) -> CustomAttr {
        CustomAttr {
            name: name.into(),
            value,
        }
    }

    fn types(op: &Op, ins: &[&TensorInfo], outs: &[&TensorInfo]) -> Result<(), String> {
        check_types(op, ins, outs).map_err(|e| e.0)
    }

    fn has(r: Result<impl std::fmt::Debug, String>, want: &str) {
        match r {
            Err(m) => assert!(m.contains(want), "want {want:?} in {m:?}"),
            Ok(v) => panic!("want error {want:?}, got {v:?}"),
        }
    }

    #[test]
    fn output_shapes_are_the_recorded_ones() {
        let x = t(&[1, 3, 4, 4], DType::F32);
        let o = op(vec![], None);
        let got = infer_given(&o, &[&x], &[&[2, 5], &[7]]).unwrap();
        assert_eq!(got, vec![vec![2, 5], vec![7]]);
        has(infer_given(&o, &[&x], &[]).map_err(|e| e.0), "at least 1");
        has(
            infer_given(&o, &[&x], &[&[0, 1]]).map_err(|e| e.0),
            "zero-length",
        );
        // No input at all is allowed (a generator).
        assert!(infer_given(&o, &[], &[&[3]]).is_ok());
    }

    #[test]
    fn a_fallback_must_agree() {
        let x = t(&[1, 3, 4, 4], DType::F32);
        let am = Op::ArgMax {
            axis: 1,
            keepdims: true,
            select_last_index: false,
        };
        let o = op(vec![], Some(am.clone()));
        assert!(infer_given(&o, &[&x], &[&[1, 1, 4, 4]]).is_ok());
        has(
            infer_given(&o, &[&x], &[&[1, 3, 4, 4]]).map_err(|e| e.0),
            "but the fallback ArgMax computes",
        );
        let nested = op(vec![], Some(op(vec![], None)));
        has(
            infer_given(&nested, &[&x], &[&[1]]).map_err(|e| e.0),
            "must be a built-in op",
        );
        let y = t(&[1, 1, 4, 4], DType::I64);
        assert!(types(&o, &[&x], &[&y]).is_ok());
        has(
            types(&o, &[&x], &[&t(&[1, 1, 4, 4], DType::F32)]),
            "fallback ArgMax",
        );
    }

    #[test]
    fn tensors_are_real_float_or_int64() {
        let o = op(vec![], None);
        let f = t(&[2, 2], DType::F32);
        assert!(types(&o, &[&f, &t(&[2], DType::I64)], &[&f]).is_ok());
        has(types(&o, &[&t(&[2], DType::I8)], &[&f]), "float32 or int64");
        has(types(&o, &[&f], &[&t(&[2], DType::F16)]), "F16");
        let mut w = t(&[2], DType::I32);
        assert!(types(&o, &[&w], &[&f]).is_err());
        w.storage = Storage::Weight { offset: 0, len: 8 };
        assert!(types(&o, &[&w], &[&f]).is_ok(), "int32 constants");
        let mut q = t(&[2], DType::F32);
        q.quant = Some(Quant::per_tensor(1.0, 0));
        has(types(&o, &[&q], &[&f]), "quantization");
        let mut nhwc = t(&[1, 2, 2, 2], DType::F32);
        nhwc.layout = crate::graph::Layout::Nhwc;
        has(types(&o, &[&nhwc], &[&f]), "NCHW or UNDEFINED");
    }

    #[test]
    fn attributes_obey_the_limits() {
        let f = t(&[2], DType::F32);
        let check = |attrs: Vec<CustomAttr>| types(&op(attrs, None), &[&f], &[&f]);
        assert!(check(vec![
            a("axis", AttrValue::Int(1)),
            a("s", AttrValue::String("x".into()))
        ])
        .is_ok());
        has(
            check(vec![a("k", AttrValue::Int(1)), a("k", AttrValue::Int(2))]),
            "given twice",
        );
        has(check(vec![a("", AttrValue::Int(1))]), "empty");
        has(
            check(vec![a("f", AttrValue::Floats(vec![1.0, f32::NAN]))]),
            "finite",
        );
        has(check(vec![a("s", AttrValue::String("a\0b".into()))]), "NUL");
        has(
            check(vec![a("big", AttrValue::Ints(vec![0; MAX_ATTR_ELEMS + 1]))]),
            "limit",
        );
        let mut long = op(vec![], None);
        if let Op::Custom(c) = &mut long {
            c.op_type = "c".repeat(MAX_OP_TYPE_LEN + 1);
        }
        has(types(&long, &[&f], &[&f]), "custom op type");
    }

    #[test]
    fn custom_ops_round_trip_through_json() {
        let o = op(
            vec![
                a("axis", AttrValue::Int(-1)),
                a("w", AttrValue::Floats(vec![0.5])),
                a("flags", AttrValue::Bools(vec![true])),
                a("ids", AttrValue::Int32s(vec![3])),
                a("mode", AttrValue::String("m".into())),
            ],
            Some(Op::Softmax { axis: 1 }),
        );
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""type":"custom""#), "{json}");
        assert!(json.contains(r#""op_type":"cstX""#), "{json}");
        let back: Op = serde_json::from_str(&json).unwrap();
        assert_eq!(back, o);
    }
}
