//! The subcommands behind [`super::run`].

use std::collections::BTreeMap;
use std::path::Path;

use rknnrt::model::InputPreprocess;
use rknnrt::platform::Platform;

use super::pipeline::{self, Plan, Precision};
use super::{infer, summary, yml, AccuracyArgs, BuildArgs, Cli, InferArgs};
use crate::accuracy;
use crate::calibrate::interp::{self, Program};
use crate::calibrate::{method_name, parse_method, Algorithm};
use crate::dataset::{self, ImageOptions, RawInput};
use crate::error::BuildError;
use crate::npy::NpyArray;
use crate::onnx::ImportOptions;
use crate::passes;

fn cfg(msg: impl Into<String>) -> BuildError {
    BuildError::Config(msg.into())
}

/// Parses a platform name.
pub fn platform(name: &str) -> Result<Platform, BuildError> {
    Platform::from_name(&name.to_ascii_lowercase()).ok_or_else(|| {
        cfg(format!(
            "unknown target platform '{name}' (rk3588, rk3576, rk3566, rk3568 or rk3562)"
        ))
    })
}

/// Parses comma-separated numbers of option `what`.
fn floats(text: &str, what: &str) -> Result<Vec<f32>, BuildError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f32>()
                .map_err(|_| cfg(format!("--{what}: '{s}' is not a number")))
        })
        .collect()
}

fn float_lists(items: &[String], what: &str) -> Result<Vec<Vec<f32>>, BuildError> {
    items.iter().map(|s| floats(s, what)).collect()
}

/// Parses `name=1,3,224,224`.
fn input_shape(text: &str) -> Result<(String, Vec<usize>), BuildError> {
    let (name, dims) = text
        .split_once('=')
        .ok_or_else(|| cfg(format!("--input-shape '{text}': expected name=d0,d1,...")))?;
    let dims = dims
        .split(',')
        .map(|d| match d.trim().parse::<usize>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(cfg(format!(
                "--input-shape '{text}': '{d}' is not a positive dimension"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.to_string(), dims))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| BuildError::Io {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    std::fs::write(path, bytes).map_err(|e| BuildError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn run_plan(plan: &Plan, output: &Path, quiet: bool) -> Result<(), BuildError> {
    if !plan.model.is_file() {
        return Err(BuildError::Data(format!(
            "{}: file not found",
            plan.model.display()
        )));
    }
    let out = pipeline::convert(plan)?;
    write_file(output, &out.bytes)?;
    if !quiet {
        let precision = match &plan.precision {
            Precision::Fp16 => "fp16".to_string(),
            Precision::Int8 {
                algorithm, method, ..
            } => format!(
                "int8, quantized_algorithm {}, quantized_method {}",
                algorithm.name(),
                method_name(*method)
            ),
        };
        println!(
            "{} -> {} ({}, {precision})",
            plan.model.display(),
            output.display(),
            plan.platform.name()
        );
        for change in &out.passes.changes {
            println!("pass: {change}");
        }
        if !plan.dynamic_input.is_empty() {
            println!("{}", super::dynamic::note(&plan.dynamic_input));
        }
        print!(
            "{}",
            summary::summary(&out.model, out.bytes.len(), out.seconds)?
        );
    }
    Ok(())
}

/// `rknn-convert build`.
pub fn build(a: &BuildArgs) -> Result<(), BuildError> {
    let precision = match &a.dataset {
        Some(d) => Precision::Int8 {
            dataset: d.clone(),
            algorithm: a.algorithm.parse::<Algorithm>().map_err(cfg)?,
            method: parse_method(&a.method).map_err(cfg)?,
            rgb2bgr: a.rgb2bgr,
        },
        None => {
            if !a.fp16 && !a.quiet {
                println!("no --dataset: building an fp16 model");
            }
            Precision::Fp16
        }
    };
    let input_shapes = a
        .input_shape
        .iter()
        .map(|s| input_shape(s))
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let plan = Plan {
        model: a.model.clone(),
        platform: platform(&a.target)?,
        input_shapes,
        inputs: Vec::new(),
        outputs: Vec::new(),
        mean: float_lists(&a.mean, "mean")?,
        std: float_lists(&a.std, "std")?,
        precision,
        custom_string: a.custom_string.clone().unwrap_or_default(),
        batch_size: a.batch_size,
        custom_ops: a
            .custom_op
            .iter()
            .map(|s| crate::onnx::custom::parse_assignment(s).map_err(cfg))
            .collect::<Result<_, _>>()?,
        progress: !a.no_progress,
        dynamic_input: match &a.dynamic_input {
            Some(text) => crate::dynamic::parse(text)?,
            None => Vec::new(),
        },
    };
    run_plan(&plan, &a.output, a.quiet)
}

/// `rknn-convert -t .. -i config.yml -o dir/`.
pub fn convert_yml(cli: &Cli) -> Result<(), BuildError> {
    let (Some(path), Some(out_dir)) = (&cli.config, &cli.output) else {
        return Err(cfg(
            "give a subcommand, or -i model_config.yml and -o out_dir/",
        ));
    };
    let target = cli.target.as_deref().map(platform).transpose()?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| BuildError::Data(format!("{}: {e}", path.display())))?;
    let mut config = yml::parse(path, &text, target)?;
    config.plan.progress = !cli.no_progress;
    for w in &config.warnings {
        eprintln!("rknn-convert: warning: {w}");
    }
    let output = out_dir.join(format!("{}.rknn", config.name));
    run_plan(&config.plan, &output, false)
}

fn load_inputs(
    files: &[std::path::PathBuf],
    infos: &[&rknnrt::graph::TensorInfo],
) -> Result<Vec<RawInput>, BuildError> {
    if files.len() != infos.len() {
        return Err(BuildError::Data(format!(
            "{} input file(s) for a model with {} input(s)",
            files.len(),
            infos.len()
        )));
    }
    files
        .iter()
        .zip(infos)
        .map(|(f, info)| {
            dataset::load_file(f, info, ImageOptions::default())
                .map_err(|e| BuildError::Data(format!("{}: {e}", f.display())))
        })
        .collect()
}

/// `rknn-convert infer`.
pub fn infer(a: &InferArgs) -> Result<(), BuildError> {
    let model = infer::load(&a.model)?;
    let set = infer::shape_set_for(&model, &a.inputs)?;
    let g = set.as_ref().map_or(&model.meta.graph, |(_, g)| g);
    let infos: Vec<_> = g.inputs.iter().map(|&t| &g.tensors[t]).collect();
    let raw = load_inputs(&a.inputs, &infos)?;
    if let Some((s, _)) = &set {
        println!("shape set {s}: {:?}", model.meta.shape_sets[*s].inputs);
    }
    let outputs = infer::run_at(model, set.map(|(s, _)| s), &raw)?;
    std::fs::create_dir_all(&a.out_dir).map_err(|e| BuildError::Io {
        path: a.out_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for o in outputs {
        let path = a.out_dir.join(infer::file_name(&o.name));
        NpyArray::from_f32(&o.shape, &o.values)
            .write(&path)
            .map_err(BuildError::Data)?;
        println!("{}: {:?} -> {}", o.name, o.shape, path.display());
    }
    Ok(())
}

/// `rknn-convert accuracy`.
pub fn accuracy(a: &AccuracyArgs) -> Result<(), BuildError> {
    let model = infer::load(&a.rknn)?;
    let meta = &model.meta;
    let g = &meta.graph;
    let q_infos: Vec<_> = g.inputs.iter().map(|&t| &g.tensors[t]).collect();
    let raw = load_inputs(&a.inputs, &q_infos)?;
    let quant = Program::from_meta(meta, model.weights())?;

    if !a.model.is_file() {
        return Err(BuildError::Data(format!(
            "{}: file not found",
            a.model.display()
        )));
    }
    let mut opts = ImportOptions::new(meta.platform);
    for info in &q_infos {
        opts.input_shapes
            .insert(info.name.clone(), info.shape.clone());
    }
    let mut float = pipeline::import(&a.model, &opts)?;
    let (mean, std) = (float_lists(&a.mean, "mean")?, float_lists(&a.std, "std")?);
    if mean.is_empty() && std.is_empty() {
        // The .rknn's pre-processing, matched by input name.
        float.preprocess = float
            .graph
            .inputs
            .iter()
            .map(|&t| {
                let name = &float.graph.tensors[t].name;
                q_infos
                    .iter()
                    .position(|i| &i.name == name)
                    .and_then(|k| meta.preprocess.get(k).cloned())
                    .unwrap_or_default()
            })
            .collect();
    } else {
        pipeline::apply_mean_std(&mut float, &mean, &std)?;
    }
    let (float, _) = passes::optimize(float)?;

    let default = InputPreprocess::default();
    let mut float_inputs = Vec::new();
    for (k, &t) in float.graph.inputs.iter().enumerate() {
        let info = &float.graph.tensors[t];
        let j = q_infos
            .iter()
            .position(|i| i.name == info.name)
            .ok_or_else(|| {
                BuildError::Data(format!(
                    "float input '{}' is not an input of {}",
                    info.name,
                    a.rknn.display()
                ))
            })?;
        let pre = float.preprocess.get(k).unwrap_or(&default);
        let values = dataset::to_graph_values(&raw[j], info, pre)
            .map_err(|e| BuildError::Data(format!("{}: {e}", a.inputs[j].display())))?;
        float_inputs.push(interp::from_f32(info, &values)?);
    }
    let quant_inputs = raw
        .iter()
        .zip(&q_infos)
        .enumerate()
        .map(|(k, (r, info))| {
            infer::runtime_input(r, info, meta.preprocess.get(k).unwrap_or(&default))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let report = accuracy::analyze(
        &Program::from_built(&float),
        float_inputs,
        &quant,
        quant_inputs,
    )?;
    let text = report.to_text();
    let path = a.out_dir.join("error_analysis.txt");
    write_file(&path, text.as_bytes())?;
    print!("{text}");
    println!("written to {}", path.display());
    Ok(())
}
