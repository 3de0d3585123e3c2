//! Graph passes on a float [`BuiltModel`] before quantization.

use crate::error::BuildError;
use crate::model::BuiltModel;

/// What the passes did, for the build summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// One line per change ("folded BatchNormalization 'bn1' into 'conv1'").
    pub changes: Vec<String>,
}

/// Runs every pass on `model`.
pub fn optimize(model: BuiltModel) -> Result<(BuiltModel, PassReport), BuildError> {
    Ok((model, PassReport::default()))
}
