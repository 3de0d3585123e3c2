//! The vendor `rknn_convert` yml (`model_config.yml`) as a conversion
//! [`Plan`]. Keys and values are documented in `docs/convert.md`.
//!
//! Every key is accounted for: supported keys are used; keys of the vendor
//! schema that rknn-convert does not implement give a warning when their
//! value asks for nothing (null, false, 0, empty) and an error otherwise;
//! unknown keys are errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rknnrt::platform::Platform;
use serde_yaml::{Mapping, Value};

use crate::calibrate::{parse_method, Algorithm};
use crate::cli::pipeline::{Plan, Precision};
use crate::dynamic::DynamicInput;
use crate::error::BuildError;
use crate::onnx::CustomRule;
use crate::quantize::WeightGranularity;

/// A parsed config: the plan, the output model name and the warnings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Output name (`<name>.rknn`).
    pub name: String,
    /// The conversion.
    pub plan: Plan,
    /// Keys that were accepted but have no effect.
    pub warnings: Vec<String>,
}

/// Vendor `rknn.config()` keys rknn-convert does not implement.
const UNSUPPORTED_CONFIGS: &[&str] = &[
    "single_core_mode",
    "model_pruning",
    "op_target",
    "quantize_weight",
    "remove_weight",
    "compress_weight",
    "inputs_yuv_fmt",
    "remove_reshape",
    "sparse_infer",
    "enable_flash_attention",
    "quantized_hybrid_level",
    "auto_hybrid",
    "custom_hybrid",
];

fn err(msg: impl Into<String>) -> BuildError {
    BuildError::Config(msg.into())
}

fn is_nothing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        Value::Tagged(_) => false,
    }
}

fn key_str(k: &Value, at: &str) -> Result<String, BuildError> {
    k.as_str()
        .map(str::to_string)
        .ok_or_else(|| err(format!("{at}: key {k:?} is not a string")))
}

fn mapping<'v>(v: &'v Value, at: &str) -> Result<&'v Mapping, BuildError> {
    v.as_mapping()
        .ok_or_else(|| err(format!("'{at}' must be a mapping")))
}

fn string(v: &Value, at: &str) -> Result<String, BuildError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(err(format!("'{at}' must be a string"))),
    }
}

fn boolean(v: &Value, at: &str) -> Result<bool, BuildError> {
    v.as_bool()
        .ok_or_else(|| err(format!("'{at}' must be true or false")))
}

fn number(v: &Value, at: &str) -> Result<f64, BuildError> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| err(format!("'{at}': {v:?} is not a number")))
}

/// A list of numbers: `[1, 2]` or `"1,2"` / `"1 2"`.
fn numbers(v: &Value, at: &str) -> Result<Vec<f64>, BuildError> {
    match v {
        Value::Sequence(s) => s.iter().map(|x| number(x, at)).collect(),
        Value::String(s) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<f64>()
                    .map_err(|_| err(format!("'{at}': '{p}' is not a number")))
            })
            .collect(),
        Value::Number(_) => Ok(vec![number(v, at)?]),
        _ => Err(err(format!("'{at}' must be a list of numbers"))),
    }
}

/// A list of number lists: `[[1, 2], [3]]`, or one flat list for one input.
fn lists(v: &Value, at: &str) -> Result<Vec<Vec<f64>>, BuildError> {
    match v {
        Value::Sequence(s) if s.iter().any(|x| x.is_sequence() || x.is_string()) => {
            s.iter().map(|x| numbers(x, at)).collect()
        }
        Value::Null => Ok(Vec::new()),
        _ => Ok(vec![numbers(v, at)?]),
    }
}

fn strings(v: &Value, at: &str) -> Result<Vec<String>, BuildError> {
    match v {
        Value::Sequence(s) => s.iter().map(|x| string(x, at)).collect(),
        Value::Null => Ok(Vec::new()),
        _ => Ok(vec![string(v, at)?]),
    }
}

fn to_f32(v: Vec<Vec<f64>>) -> Vec<Vec<f32>> {
    v.into_iter()
        .map(|l| l.into_iter().map(|x| x as f32).collect())
        .collect()
}

fn dims(v: Vec<Vec<f64>>, at: &str) -> Result<Vec<Vec<usize>>, BuildError> {
    v.into_iter()
        .map(|l| {
            l.into_iter()
                .map(|x| {
                    if x >= 1.0 && x.fract() == 0.0 {
                        Ok(x as usize)
                    } else {
                        Err(err(format!(
                            "'{at}': dimension {x} is not a positive integer"
                        )))
                    }
                })
                .collect()
        })
        .collect()
}

/// `dynamic_input`: the vendor's nested list of shape sets, or the text
/// form of `--dynamic-input`; null or empty for none.
fn shape_sets(v: &Value, at: &str) -> Result<DynamicInput, BuildError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => crate::dynamic::parse(s),
        _ => {
            let nested: Vec<Vec<Vec<i64>>> = serde_yaml::from_value(v.clone()).map_err(|_| {
                err(format!(
                    "'{at}' must be a list of shape sets, each a list of input shapes ([[[1,3,224,224]], [[1,3,160,160]]])"
                ))
            })?;
            crate::dynamic::from_nested(nested, at)
        }
    }
}

/// A `custom_ops` rule: a string (`same-as-input`, `builtin`, or
/// `--custom-op` shapes) or `{outputs: [{shape: [..], dtype: ..}, ..]}`.
fn custom_rule(v: &Value, at: &str) -> Result<CustomRule, BuildError> {
    if let Value::String(s) = v {
        return s.parse().map_err(|e: String| err(format!("{at}: {e}")));
    }
    let mut outputs = None;
    for (k, v) in mapping(v, at)? {
        match key_str(k, at)?.as_str() {
            "outputs" => outputs = Some(v),
            other => {
                return Err(err(format!(
                    "unknown key '{at}.{other}' (expected 'outputs')"
                )))
            }
        }
    }
    let list = outputs
        .and_then(Value::as_sequence)
        .ok_or_else(|| err(format!("{at}: give a rule string or 'outputs:' as a list")))?;
    let mut rule = Vec::with_capacity(list.len());
    for (i, o) in list.iter().enumerate() {
        let at = format!("{at}.outputs[{i}]");
        let (mut shape, mut ty) = (None, "float32".to_string());
        for (k, v) in mapping(o, &at)? {
            match key_str(k, &at)?.as_str() {
                "shape" => shape = Some(dims(vec![numbers(v, &at)?], &at)?.remove(0)),
                "dtype" => ty = string(v, &at)?,
                other => return Err(err(format!("unknown key '{at}.{other}' (shape, dtype)"))),
            }
        }
        let shape = shape.ok_or_else(|| err(format!("{at}: 'shape' is missing")))?;
        let dims_text: Vec<String> = shape.iter().map(usize::to_string).collect();
        let one: CustomRule = format!("{}:{ty}", dims_text.join("x"))
            .parse()
            .map_err(|e: String| err(format!("{at}: {e}")))?;
        if let CustomRule::Outputs(mut o) = one {
            rule.append(&mut o);
        }
    }
    Ok(CustomRule::Outputs(rule))
}

/// Parses the yml text of `path`; `target` is the `-t` option.
pub fn parse(path: &Path, text: &str, target: Option<Platform>) -> Result<Config, BuildError> {
    let root: Value = serde_yaml::from_str(text).map_err(|e| {
        err(format!(
            "{}: {}",
            path.display(),
            e.to_string().replace('\n', " ")
        ))
    })?;
    let root = mapping(&root, "top level")?;
    let mut models = None;
    for (k, v) in root {
        match key_str(k, "top level")?.as_str() {
            "models" => models = Some(v),
            other => {
                return Err(err(format!(
                    "unknown top-level key '{other}' (expected 'models')"
                )))
            }
        }
    }
    let models = mapping(models.ok_or_else(|| err("no 'models' section"))?, "models")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut warnings = Vec::new();

    let mut name = None;
    let mut model_file = None;
    let mut quantize = false;
    let mut dataset: Option<PathBuf> = None;
    let mut subgraphs = None;
    let mut configs = None;
    let mut batch_size = 1u32;
    let mut custom_ops = BTreeMap::new();
    for (k, v) in models {
        let key = key_str(k, "models")?;
        match key.as_str() {
            "name" => name = Some(string(v, "models.name")?),
            "platform" => {
                let p = string(v, "models.platform")?;
                if p != "onnx" {
                    return Err(err(format!(
                        "models.platform '{p}' is not supported (rknn-convert converts onnx models)"
                    )));
                }
            }
            "model_file_path" => model_file = Some(dir.join(string(v, "models.model_file_path")?)),
            "quantize" => quantize = boolean(v, "models.quantize")?,
            "dataset" => {
                if !is_nothing(v) {
                    dataset = Some(dir.join(string(v, "models.dataset")?));
                }
            }
            "subgraphs" => subgraphs = Some(v),
            "configs" => configs = Some(v),
            "rknn_batch_size" => {
                let n = number(v, "models.rknn_batch_size")?;
                batch_size = u32::try_from(n as u64)
                    .ok()
                    .filter(|&b| b >= 1 && b as f64 == n)
                    .ok_or_else(|| {
                        err(format!(
                            "models.rknn_batch_size {n} is not a positive integer"
                        ))
                    })?;
            }
            "custom_ops" if !v.is_null() => {
                for (t, r) in mapping(v, "models.custom_ops")? {
                    let ty = key_str(t, "models.custom_ops")?;
                    let rule = custom_rule(r, &format!("models.custom_ops.{ty}"))?;
                    custom_ops.insert(ty, rule);
                }
            }
            "custom_ops" => {}
            "prototxt_file_path" | "caffemodel_file_path" => {
                return Err(err(format!(
                "models.{key}: caffe models are not supported (rknn-convert converts onnx models)"
            )))
            }
            other => return Err(err(format!("unknown key 'models.{other}'"))),
        }
    }

    let mut input_sizes: Vec<Vec<usize>> = Vec::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    if let Some(s) = subgraphs.filter(|v| !v.is_null()) {
        for (k, v) in mapping(s, "models.subgraphs")? {
            match key_str(k, "models.subgraphs")?.as_str() {
                "input_size_list" => {
                    input_sizes = dims(lists(v, "input_size_list")?, "input_size_list")?
                }
                "inputs" => inputs = strings(v, "subgraphs.inputs")?,
                "outputs" => outputs = strings(v, "subgraphs.outputs")?,
                other => return Err(err(format!("unknown key 'models.subgraphs.{other}'"))),
            }
        }
    }

    let mut mean = Vec::new();
    let mut std = Vec::new();
    let mut rgb2bgr = false;
    let mut algorithm = Algorithm::Normal;
    let mut method = WeightGranularity::PerChannel;
    let mut custom_string = String::new();
    let mut dynamic_input = Vec::new();
    let mut platform = target;
    if let Some(c) = configs.filter(|v| !v.is_null()) {
        for (k, v) in mapping(c, "models.configs")? {
            let key = key_str(k, "models.configs")?;
            let at = format!("configs.{key}");
            match key.as_str() {
                "quantized_dtype" => {
                    let d = string(v, &at)?;
                    if d != "asymmetric_quantized-8" {
                        return Err(err(format!(
                            "{at} '{d}' is not supported (only asymmetric_quantized-8)"
                        )));
                    }
                }
                "mean_values" => mean = to_f32(lists(v, &at)?),
                "std_values" => std = to_f32(lists(v, &at)?),
                "quant_img_RGB2BGR" => {
                    rgb2bgr = match v {
                        Value::Sequence(s) => s
                            .iter()
                            .map(|b| boolean(b, &at))
                            .collect::<Result<Vec<_>, _>>()?
                            .into_iter()
                            .any(|b| b),
                        _ => boolean(v, &at)?,
                    }
                }
                "quantized_algorithm" => {
                    algorithm = string(v, &at)?.parse().map_err(|e: String| err(e))?
                }
                "quantized_method" => method = parse_method(&string(v, &at)?).map_err(err)?,
                "optimization_level" => {
                    number(v, &at)?;
                    warnings.push(format!(
                        "{at} has no effect: rknn-convert always runs all of its passes"
                    ));
                }
                "float_dtype" => {
                    let d = string(v, &at)?;
                    if d != "float16" {
                        return Err(err(format!("{at} '{d}' is not supported (only float16)")));
                    }
                }
                "custom_string" => custom_string = string(v, &at)?,
                "dynamic_input" => dynamic_input = shape_sets(v, &at)?,
                "target_platform" => {
                    let p = string(v, &at)?;
                    let p = Platform::from_name(&p.to_ascii_lowercase())
                        .ok_or_else(|| err(format!("{at}: unknown platform '{p}'")))?;
                    match target {
                        Some(t) if t != p => {
                            return Err(err(format!(
                                "{at} is {} but -t says {}",
                                p.name(),
                                t.name()
                            )))
                        }
                        _ => platform = Some(p),
                    }
                }
                k if UNSUPPORTED_CONFIGS.contains(&k) => {
                    if is_nothing(v) {
                        warnings.push(format!(
                            "{at} is not supported by rknn-convert and is ignored"
                        ));
                    } else {
                        return Err(err(format!("{at}: {v:?} is not supported by rknn-convert")));
                    }
                }
                other => return Err(err(format!("unknown key 'models.configs.{other}'"))),
            }
        }
    }

    let model = model_file.ok_or_else(|| err("models.model_file_path is missing"))?;
    let name = match name {
        Some(n) => n,
        None => model
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model")
            .to_string(),
    };
    let platform =
        platform.ok_or_else(|| err("no target platform (give -t or configs.target_platform)"))?;
    let precision = if quantize {
        Precision::Int8 {
            dataset: dataset
                .ok_or_else(|| err("models.quantize is true but models.dataset is missing"))?,
            algorithm,
            method,
            rgb2bgr,
        }
    } else {
        if dataset.is_some() {
            warnings
                .push("models.dataset is not used: models.quantize is false (fp16 build)".into());
        }
        Precision::Fp16
    };
    let mut input_shapes = BTreeMap::new();
    if !input_sizes.is_empty() && !dynamic_input.is_empty() {
        return Err(err(
            "subgraphs.input_size_list and configs.dynamic_input both give input shapes: use one",
        ));
    }
    if !input_sizes.is_empty() {
        if inputs.is_empty() {
            return Err(err(
                "subgraphs.input_size_list needs subgraphs.inputs (the input names) in rknn-convert",
            ));
        }
        if inputs.len() != input_sizes.len() {
            return Err(err(format!(
                "{} input sizes for {} inputs",
                input_sizes.len(),
                inputs.len()
            )));
        }
        for (n, s) in inputs.iter().zip(input_sizes) {
            input_shapes.insert(n.clone(), s);
        }
    }
    Ok(Config {
        name,
        plan: Plan {
            model,
            platform,
            input_shapes,
            inputs,
            outputs,
            mean,
            std,
            precision,
            custom_string,
            batch_size,
            custom_ops,
            progress: true,
            dynamic_input,
        },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENDOR: &str = "
models:
    name: yolov5s
    platform: onnx
    model_file_path: ./yolov5s_relu.onnx
    subgraphs:
      input_size_list:
        - 1,3,640,640
      inputs: [images]
    quantize: true
    dataset: ./dataset.txt
    configs:
      quantized_dtype: asymmetric_quantized-8
      mean_values: [0,0,0]
      std_values: [255,255,255]
      quant_img_RGB2BGR: false
      quantized_algorithm: kl_divergence
      quantized_method: layer
      optimization_level: 3
";

    #[test]
    fn vendor_example_parses() {
        let c = parse(
            Path::new("/m/model_config.yml"),
            VENDOR,
            Some(Platform::Rk3588),
        )
        .unwrap();
        assert_eq!(c.name, "yolov5s");
        assert_eq!(c.plan.model, Path::new("/m/./yolov5s_relu.onnx"));
        assert_eq!(c.plan.input_shapes["images"], vec![1, 3, 640, 640]);
        assert_eq!(c.plan.mean, vec![vec![0.0; 3]]);
        assert_eq!(c.plan.std, vec![vec![255.0; 3]]);
        assert_eq!(
            c.plan.precision,
            Precision::Int8 {
                dataset: PathBuf::from("/m/./dataset.txt"),
                algorithm: Algorithm::KlDivergence,
                method: WeightGranularity::PerLayer,
                rgb2bgr: false,
            }
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("optimization_level"));
    }

    #[test]
    fn unknown_and_unsupported_keys_are_reported() {
        let p = Path::new("c.yml");
        let typo = VENDOR.replace("quantized_method", "quantised_method");
        let e = parse(p, &typo, Some(Platform::Rk3588))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key 'models.configs.quantised_method'"),
            "{e}"
        );
        let dynamic = format!("{VENDOR}      dynamic_input: [[[1,3,320,320]]]\n");
        let e = parse(p, &dynamic, Some(Platform::Rk3588))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input_size_list and configs.dynamic_input"),
            "{e}"
        );
        let off = format!("{VENDOR}      single_core_mode: false\n");
        let c = parse(p, &off, Some(Platform::Rk3588)).unwrap();
        assert!(c.warnings.iter().any(|w| w.contains("single_core_mode")));
        let tflite = VENDOR.replace("platform: onnx", "platform: tflite");
        let e = parse(p, &tflite, Some(Platform::Rk3588))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'tflite' is not supported"), "{e}");
        let int16 = VENDOR.replace("asymmetric_quantized-8", "asymmetric_quantized-16");
        assert!(parse(p, &int16, Some(Platform::Rk3588)).is_err());
        let no_target = parse(p, VENDOR, None).unwrap_err().to_string();
        assert!(no_target.contains("no target platform"), "{no_target}");
        let top = format!("{VENDOR}extra: 1\n");
        let e = parse(p, &top, Some(Platform::Rk3588))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown top-level key 'extra'"), "{e}");
    }

    #[test]
    fn rknn_batch_size_key() {
        let p = Path::new("c.yml");
        let with = |v: &str| {
            VENDOR.replacen(
                "models:\n",
                &format!("models:\n    rknn_batch_size: {v}\n"),
                1,
            )
        };
        let c = parse(p, &with("3"), Some(Platform::Rk3588)).unwrap();
        assert_eq!(c.plan.batch_size, 3);
        assert_eq!(
            parse(p, VENDOR, Some(Platform::Rk3588))
                .unwrap()
                .plan
                .batch_size,
            1
        );
        for bad in ["0", "-2", "1.5", "x"] {
            assert!(
                parse(p, &with(bad), Some(Platform::Rk3588)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn fp16_config_with_nested_lists() {
        let text = "
models:
  platform: onnx
  model_file_path: net.onnx
  quantize: false
  configs:
    mean_values: [[0, 0, 0], [1]]
    std_values: [[1, 2, 3], [4]]
    target_platform: RK3566
";
        let c = parse(Path::new("dir/c.yml"), text, None).unwrap();
        assert_eq!(c.name, "net");
        assert_eq!(c.plan.platform, Platform::Rk3566);
        assert_eq!(c.plan.precision, Precision::Fp16);
        assert_eq!(c.plan.mean, vec![vec![0.0, 0.0, 0.0], vec![1.0]]);
        assert_eq!(c.plan.std[1], vec![4.0]);
    }
}
