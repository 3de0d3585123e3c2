//! `rknn-convert`: the command line of the offline compiler
//! (`docs/convert.md`).
//!
//! ```text
//! rknn-convert build model.onnx -t rk3588 [--dataset d.txt | --fp16] [--mean ..] [--std ..]
//!              [--algorithm normal|kl_divergence|mmse] [--method layer|channel]
//!              [--custom-string ..] [--input-shape name=1,3,224,224]
//!              [--dynamic-input "1,3,224,224;1,3,160,160"]
//!              [--custom-op TYPE=same-as-input|builtin|1x10:float32] -o model.rknn
//! rknn-convert -t rk3588 -i model_config.yml -o out_dir/
//! rknn-convert infer model.rknn --input a.npy [--input b.npy] --out-dir dir/
//! rknn-convert accuracy model.onnx --rknn model.rknn --input a.npy .. --out-dir snapshot/
//! rknn-convert inspect model.rknn
//! ```
//!
//! Every failure is one line on stderr (`rknn-convert: error: ...`) and
//! exit status 1; usage errors are clap's (status 2).

mod commands;
mod dynamic;
pub mod infer;
pub mod inspect;
pub mod pipeline;
pub mod summary;
pub mod yml;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::BuildError;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "rknn-convert",
    version,
    about = "Convert ONNX models to .rknn, run them on the PC and analyse their accuracy",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Subcommand; without one, convert the models of a yml config.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Target platform (yml mode): rk3588, rk3576, rk3566, rk3568, rk3562.
    #[arg(short = 't', long = "target-platform")]
    pub target: Option<String>,
    /// The vendor-style model_config.yml (yml mode).
    #[arg(short = 'i', long = "input", required = true)]
    pub config: Option<PathBuf>,
    /// Output directory (yml mode).
    #[arg(short = 'o', long = "output", required = true)]
    pub output: Option<PathBuf>,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert an ONNX model to .rknn.
    Build(BuildArgs),
    /// Run a .rknn file on the PC and write its outputs as .npy.
    Infer(InferArgs),
    /// Compare a .rknn file with its ONNX model, tensor by tensor.
    Accuracy(AccuracyArgs),
    /// Print what a .rknn file holds (ours or a vendor RK35xx Toolkit2 file).
    Inspect(InspectArgs),
}

/// `rknn-convert inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The .rknn model.
    pub model: PathBuf,
}

/// `rknn-convert build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Target platform: rk3588, rk3576, rk3566, rk3568, rk3562.
    #[arg(short = 't', long = "target-platform")]
    pub target: String,
    /// Calibration dataset (one sample per line): builds an int8 model.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Build an fp16 model (the default without --dataset).
    #[arg(long, conflicts_with = "dataset")]
    pub fp16: bool,
    /// Means, comma-separated; once for every input or once per input.
    #[arg(long)]
    pub mean: Vec<String>,
    /// Standard deviations, like --mean.
    #[arg(long)]
    pub std: Vec<String>,
    /// Calibration algorithm: normal, kl_divergence or mmse.
    #[arg(long, default_value = "normal")]
    pub algorithm: String,
    /// Weight quantization: channel or layer.
    #[arg(long, default_value = "channel")]
    pub method: String,
    /// Swap R and B of calibration images (quant_img_RGB2BGR).
    #[arg(long)]
    pub rgb2bgr: bool,
    /// String returned by RKNN_QUERY_CUSTOM_STRING.
    #[arg(long)]
    pub custom_string: Option<String>,
    /// rknn_batch_size: batches per run (the model's batch dimension must
    /// be 1; inputs and outputs become this many times larger).
    #[arg(long, default_value_t = 1)]
    pub batch_size: u32,
    /// Fix an input's shape: name=1,3,224,224 (repeatable).
    #[arg(long)]
    pub input_shape: Vec<String>,
    /// Dynamic input shapes: shape sets separated by ';', the input shapes
    /// of a set by '#' ("1,3,224,224;1,3,160,160"), or the vendor's nested
    /// list ("[[[1,3,224,224]],[[1,3,160,160]]]").
    #[arg(long, conflicts_with = "input_shape")]
    pub dynamic_input: Option<String>,
    /// Output rule of a custom op type: TYPE=same-as-input, TYPE=builtin
    /// or TYPE=1x10:float32,1x10:int64 (repeatable; docs/custom_ops.md).
    #[arg(long)]
    pub custom_op: Vec<String>,
    /// Output .rknn file.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Do not print the summary table.
    #[arg(long)]
    pub quiet: bool,
}

/// `rknn-convert infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// The .rknn model.
    pub model: PathBuf,
    /// One input file (.npy or image) per model input, in order.
    #[arg(long = "input", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Directory for the output .npy files.
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// `rknn-convert accuracy`.
#[derive(Debug, Args)]
pub struct AccuracyArgs {
    /// The float ONNX model.
    pub model: PathBuf,
    /// The .rknn model built from it.
    #[arg(long)]
    pub rknn: PathBuf,
    /// One input file (.npy or image) per model input, in order.
    #[arg(long = "input", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Directory for error_analysis.txt.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Means for the float model (default: the .rknn's), like build --mean.
    #[arg(long)]
    pub mean: Vec<String>,
    /// Standard deviations for the float model, like build --std.
    #[arg(long)]
    pub std: Vec<String>,
}

/// Runs the parsed command line; the error is the one-line message.
pub fn run(cli: Cli) -> Result<(), BuildError> {
    match cli.command {
        Some(Command::Build(a)) => commands::build(&a),
        Some(Command::Infer(a)) => commands::infer(&a),
        Some(Command::Accuracy(a)) => commands::accuracy(&a),
        Some(Command::Inspect(a)) => inspect::inspect(&a.model),
        None => commands::convert_yml(&cli),
    }
}

/// Entry point of the binary: parses `std::env::args`, runs, prints the
/// error as one line, and returns the exit status.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.to_string().replace('\n', "; ");
            eprintln!("rknn-convert: error: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
