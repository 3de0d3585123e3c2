//! Dynamic input shapes in the compiler (`docs/dynamic_shapes.md`): the
//! vendor's `dynamic_input` option (a list of shape sets, one shape per
//! input in each), its checks against the ONNX model's declared inputs,
//! the largest set, and the file that holds a model converted once per
//! set.
//!
//! The model is converted at every set with the same passes and the same
//! quantization parameters (calibrated on the largest set). The file
//! holds the largest set's model plus, per set, what differs
//! ([`ShapeSet`]); conversions whose graphs differ in anything but shapes
//! and shape-dependent attributes (a constant computed from the input
//! shape, a pass that fires at one size only) are refused.

use rknnrt::graph::{Graph, ShapeSet};
use rknnrt::model::MAX_SHAPE_SETS;

use crate::error::BuildError;
use crate::model::BuiltModel;
use crate::onnx::{DimDecl, InputDecl};

/// Shape sets: `sets[s][i]` is input `i`'s shape in set `s`, in the
/// model's own layout (NCHW for ONNX images), as the vendor's
/// `rknn.config(dynamic_input=...)` takes them.
pub type DynamicInput = Vec<Vec<Vec<usize>>>;

fn cfg(msg: impl Into<String>) -> BuildError {
    BuildError::Config(msg.into())
}

fn dim(text: &str, whole: &str) -> Result<usize, BuildError> {
    match text.trim().parse::<usize>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(cfg(format!(
            "dynamic_input '{whole}': '{}' is not a positive dimension",
            text.trim()
        ))),
    }
}

/// Parses the text of `--dynamic-input`: either the vendor's nested list
/// (`[[[1,3,224,224]],[[1,3,160,160]]]`, sets of input shapes), or sets
/// separated by `;` whose input shapes are separated by `#`
/// (`1,3,224,224;1,3,160,160`, or `1,3,224,224#1,40;1,3,112,112#1,80`
/// for two inputs).
pub fn parse(text: &str) -> Result<DynamicInput, BuildError> {
    let t = text.trim();
    if t.starts_with('[') {
        let nested: Vec<Vec<Vec<i64>>> = serde_yaml::from_str(t).map_err(|e| {
            cfg(format!(
                "dynamic_input '{t}' is not a list of shape sets ([[[1,3,224,224]], ...]): {}",
                e.to_string().replace('\n', " ")
            ))
        })?;
        return from_nested(nested, "dynamic_input");
    }
    t.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|set| {
            set.split('#')
                .map(|shape| shape.split(',').map(|d| dim(d, t)).collect())
                .collect()
        })
        .collect()
}

/// Checks the dimensions of a nested list (yml or the bracket form) and
/// converts them (`at` names the option in messages).
pub fn from_nested(nested: Vec<Vec<Vec<i64>>>, at: &str) -> Result<DynamicInput, BuildError> {
    nested
        .into_iter()
        .enumerate()
        .map(|(s, set)| {
            set.into_iter()
                .map(|shape| {
                    shape
                        .iter()
                        .map(|&d| {
                            usize::try_from(d).ok().filter(|&v| v > 0).ok_or_else(|| {
                                cfg(format!(
                                    "{at} set {s}: shape {shape:?} has the non-positive dimension {d}"
                                ))
                            })
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn decl_text(dims: &[DimDecl]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            DimDecl::Fixed(v) => v.to_string(),
            DimDecl::Dynamic(Some(p)) => format!("'{p}'"),
            DimDecl::Dynamic(None) => "?".to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Checks `sets` against the model's inputs: at least one set and at most
/// [`MAX_SHAPE_SETS`], one shape per input in every set, each input's rank
/// the same in every set and equal to its declared rank, fixed (static)
/// dimensions unchanged, and no two sets alike.
pub fn check(sets: &DynamicInput, inputs: &[InputDecl]) -> Result<(), BuildError> {
    if sets.is_empty() {
        return Err(cfg("dynamic_input has no shape sets"));
    }
    if sets.len() > MAX_SHAPE_SETS {
        return Err(cfg(format!(
            "dynamic_input has {} shape sets, more than the limit {MAX_SHAPE_SETS}",
            sets.len()
        )));
    }
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    for (s, set) in sets.iter().enumerate() {
        if set.len() != inputs.len() {
            return Err(cfg(format!(
                "dynamic_input set {s} has {} shapes, the model has {} inputs {names:?} (give one shape per input in every set)",
                set.len(),
                inputs.len()
            )));
        }
        for (i, (shape, decl)) in set.iter().zip(inputs).enumerate() {
            let at = format!(
                "dynamic_input set {s}: input '{}' shape {shape:?}",
                decl.name
            );
            let first = &sets[0][i];
            if shape.len() != first.len() {
                return Err(cfg(format!(
                    "{at} has rank {}, set 0 gives rank {}",
                    shape.len(),
                    first.len()
                )));
            }
            let Some(dims) = &decl.dims else { continue };
            if dims.len() != shape.len() {
                return Err(cfg(format!(
                    "{at} has rank {}, the model declares {} (rank {})",
                    shape.len(),
                    decl_text(dims),
                    dims.len()
                )));
            }
            for (axis, (&v, d)) in shape.iter().zip(dims).enumerate() {
                if let DimDecl::Fixed(f) = d {
                    if *f != v {
                        return Err(cfg(format!(
                            "{at} changes dimension {axis} to {v}, but the model declares {} where it is fixed at {f} (only dynamic axes may change)",
                            decl_text(dims)
                        )));
                    }
                }
            }
        }
        if let Some(j) = sets[..s].iter().position(|o| o == set) {
            return Err(cfg(format!(
                "dynamic_input sets {j} and {s} are the same {set:?}"
            )));
        }
    }
    Ok(())
}

/// The largest set, as the vendor picks it for quantization: the one whose
/// inputs have the most elements in all (the first of equals).
pub fn largest(sets: &DynamicInput) -> usize {
    let elems = |set: &Vec<Vec<usize>>| -> u128 {
        set.iter()
            .map(|s| s.iter().map(|&d| d as u128).product::<u128>())
            .sum()
    };
    let mut best = 0;
    for (s, set) in sets.iter().enumerate() {
        if elems(set) > elems(&sets[best]) {
            best = s;
        }
    }
    best
}

/// Checks that `at` (the model converted at another set) is `base` with
/// other shapes: the same tensors (names, types, layouts, quantization),
/// the same constants, the same nodes (names, kinds of op, inputs,
/// outputs, placement) and pre-processing. The error says what differs.
pub fn same_structure(base: &BuiltModel, at: &BuiltModel) -> Result<(), String> {
    let (g, h) = (&base.graph, &at.graph);
    if g.tensors.len() != h.tensors.len() || g.nodes.len() != h.nodes.len() {
        return Err(format!(
            "the converted graph has {} nodes and {} tensors, the largest set's has {} and {}",
            h.nodes.len(),
            h.tensors.len(),
            g.nodes.len(),
            g.tensors.len()
        ));
    }
    if g.inputs != h.inputs || g.outputs != h.outputs {
        return Err("the graph's inputs or outputs differ from the largest set's".into());
    }
    for (id, (a, b)) in g.tensors.iter().zip(&h.tensors).enumerate() {
        if a.name != b.name
            || a.dtype != b.dtype
            || a.layout != b.layout
            || a.quant != b.quant
            || a.is_weight() != b.is_weight()
        {
            return Err(format!(
                "tensor {id} is '{}' ({:?}) here and '{}' ({:?}) at the largest set",
                b.name, b.dtype, a.name, a.dtype
            ));
        }
        if a.is_weight() {
            let bytes = |m: &BuiltModel| m.const_data(id).map(|d| d.to_le_bytes());
            let what = if a.shape != b.shape {
                format!(
                    "has shape {:?} here, {:?} at the largest set",
                    b.shape, a.shape
                )
            } else if bytes(base) != bytes(at) {
                "has other values here than at the largest set".to_string()
            } else {
                continue;
            };
            return Err(format!(
                "constant '{}' {what}: it depends on the input shape, and the model must not compute constants from its input shapes",
                a.name
            ));
        }
    }
    for (a, b) in g.nodes.iter().zip(&h.nodes) {
        if a.name != b.name
            || a.inputs != b.inputs
            || a.outputs != b.outputs
            || a.target != b.target
            || std::mem::discriminant(&a.op) != std::mem::discriminant(&b.op)
        {
            return Err(format!(
                "node '{}' ({}) here is '{}' ({}) at the largest set (a pass or an op depends on the input shape)",
                b.name,
                b.op.type_name(),
                a.name,
                a.op.type_name()
            ));
        }
    }
    if base.preprocess != at.preprocess {
        return Err("the input pre-processing differs from the largest set's".into());
    }
    Ok(())
}

/// The `.rknn` bytes of a dynamic-shape model: `base` (the largest set's
/// model) with `sets` (one [`ShapeSet`] per set, in set order), the
/// internal size planned for the largest of them. Every set is checked
/// the way the runtime checks it.
pub fn write(base: &BuiltModel, sets: Vec<ShapeSet>) -> Result<Vec<u8>, BuildError> {
    let (mut meta, weights) = base.to_meta()?;
    meta.shape_sets = sets;
    let graphs: Vec<Graph> = meta
        .shape_set_graphs(weights.len() as u64)
        .map_err(|e| BuildError::Invalid(e.to_string()))?;
    meta.internal_size = graphs
        .iter()
        .map(|g| rknnrt::runtime::plan::plan(g).arena_size as u64)
        .max()
        .unwrap_or(meta.internal_size);
    meta.validate(weights.len() as u64)
        .map_err(|e| BuildError::Invalid(e.to_string()))?;
    Ok(rknnrt::model::write(&meta, &weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, dims: Vec<DimDecl>) -> InputDecl {
        InputDecl {
            name: name.into(),
            dims: Some(dims),
        }
    }

    #[test]
    fn both_text_forms_parse() {
        let one = parse("1,3,224,224; 1,3,160,160").unwrap();
        assert_eq!(
            one,
            vec![vec![vec![1, 3, 224, 224]], vec![vec![1, 3, 160, 160]]]
        );
        assert_eq!(parse("[[[1,3,224,224]],[[1,3,160,160]]]").unwrap(), one);
        let two = parse("1,3,8,8#1,40;1,3,4,4#1,80;").unwrap();
        assert_eq!(two[1], vec![vec![1, 3, 4, 4], vec![1, 80]]);
        assert_eq!(
            parse("[[[1,3,8,8],[1,40]],[[1,3,4,4],[1,80]]]").unwrap()[0][1],
            vec![1, 40]
        );
        for bad in [
            "1,3,0,8",
            "1,-3,8,8",
            "1,x",
            "[[[1,0]]]",
            "[[1,2]]",
            "[[[1, -2]]]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse("1,3,0,8").unwrap_err().to_string();
        assert!(e.contains("'0' is not a positive dimension"), "{e}");
    }

    #[test]
    fn sets_are_checked_against_the_declared_inputs() {
        let x = || {
            decl(
                "x",
                vec![
                    DimDecl::Fixed(1),
                    DimDecl::Fixed(3),
                    DimDecl::Dynamic(Some("h".into())),
                    DimDecl::Dynamic(None),
                ],
            )
        };
        let ok = parse("1,3,8,8;1,3,4,6").unwrap();
        check(&ok, &[x()]).unwrap();
        let msg = |sets: &str, inputs: &[InputDecl]| {
            check(&parse(sets).unwrap(), inputs)
                .unwrap_err()
                .to_string()
        };
        let e = msg("1,3,8,8;1,4,8,8", &[x()]);
        assert!(e.contains("changes dimension 1 to 4"), "{e}");
        assert!(e.contains("[1, 3, 'h', ?]"), "{e}");
        let e = msg("1,3,8,8;1,3,8", &[x()]);
        assert!(
            e.contains("set 1: input 'x' shape [1, 3, 8] has rank 3, set 0 gives rank 4"),
            "{e}"
        );
        let e = msg("1,3,8;1,3,4", &[x()]);
        assert!(
            e.contains("the model declares [1, 3, 'h', ?] (rank 4)"),
            "{e}"
        );
        let e = msg("1,3,8,8#1,2", &[x()]);
        assert!(
            e.contains("set 0 has 2 shapes, the model has 1 inputs [\"x\"]"),
            "{e}"
        );
        let e = msg("1,3,8,8;1,3,4,6;1,3,8,8", &[x()]);
        assert!(e.contains("sets 0 and 2 are the same"), "{e}");
        let undeclared = InputDecl {
            name: "y".into(),
            dims: None,
        };
        check(&parse("1,5;1,7").unwrap(), &[undeclared]).unwrap();
        assert!(check(&Vec::new(), &[x()]).is_err());
    }

    #[test]
    fn the_largest_set_has_the_most_input_elements() {
        // The vendor's example: 224 + 40 beats 112 + 80.
        let sets = parse("1,112#1,80;1,224#1,40;1,100#1,100").unwrap();
        assert_eq!(largest(&sets), 1);
        assert_eq!(
            largest(&parse("1,4;1,2;1,4").unwrap()),
            0,
            "the first of equals"
        );
    }
}
