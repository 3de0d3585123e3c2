//! `librkcst_*.so` plugins: shared objects exporting
//! `rknn_custom_op* get_rknn_custom_op(void)`, one op each, loaded from
//! `RKNNRT_OP_PLUGIN_DIR` or the vendor's default directory. A broken
//! plugin is skipped with a warning that names the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::def::{OpDef, Origin};
use super::ffi::dl::Library;

/// File name prefix of plugins (the vendor's `RKNN_CSTOP_PLUGIN_PREFIX`).
pub const PREFIX: &str = "librkcst_";
/// Environment variable naming the plugin directory.
pub const DIR_VAR: &str = "RKNNRT_OP_PLUGIN_DIR";

/// The vendor's plugin directory for this system: `/vendor/lib64/`
/// (Android, 64-bit), `/vendor/lib/` (Android, 32-bit) or
/// `/usr/lib/rknpu/op_plugins/` (Linux).
pub fn default_dir() -> &'static Path {
    Path::new(if cfg!(target_os = "android") {
        if cfg!(target_pointer_width = "64") {
            "/vendor/lib64/"
        } else {
            "/vendor/lib/"
        }
    } else {
        "/usr/lib/rknpu/op_plugins/"
    })
}

/// Where plugins are searched: [`DIR_VAR`] when set and non-empty, else
/// [`default_dir`].
pub fn plugin_dir() -> PathBuf {
    std::env::var_os(DIR_VAR)
        .filter(|d| !d.is_empty())
        .map_or_else(|| default_dir().to_path_buf(), PathBuf::from)
}

/// The plugin files in `dir` (`librkcst_*.so`, regular files or links to
/// them), sorted by name so the first of two plugins for one op type is
/// always the same.
fn plugin_files(dir: &Path) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!("custom op plugins: cannot read {}: {e}", dir.display());
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.len() > PREFIX.len() + 3 && name.starts_with(PREFIX) && name.ends_with(".so")
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Loads the op of one plugin file.
fn load(path: &Path) -> Result<OpDef, String> {
    let lib = Arc::new(Library::open(path)?);
    let op = lib.plugin_op()?;
    OpDef::from_c(
        &op,
        Origin::Plugin {
            path: path.to_path_buf(),
            lib,
        },
    )
}

/// Loads every plugin of `dir`, skipping (with a warning naming the file)
/// those that fail to open, lack `get_rknn_custom_op`, return NULL or an
/// invalid op, or register an op type an earlier plugin already has.
pub fn load_all(dir: &Path) -> Vec<OpDef> {
    let mut ops: Vec<OpDef> = Vec::new();
    for path in plugin_files(dir) {
        match load(&path) {
            Ok(def) => {
                if let Some(first) = ops.iter().find(|d| d.op_type == def.op_type) {
                    tracing::warn!(
                        "custom op plugin {} skipped: op type '{}' is already provided by {}",
                        path.display(),
                        def.op_type,
                        first.origin.describe()
                    );
                    continue;
                }
                tracing::info!(
                    "custom op plugin {} provides '{}' ({})",
                    path.display(),
                    def.op_type,
                    def.target_name()
                );
                ops.push(def);
            }
            Err(e) => tracing::warn!("custom op plugin {} skipped: {e}", path.display()),
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plugin_names_are_considered() {
        let dir = std::env::temp_dir().join(format!("rkcst-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("librkcst_dir.so")).unwrap();
        for f in [
            "librkcst_a.so",
            "librkcst_.so",
            "librkcst_b.so.1",
            "libother.so",
            "librkcst_c.so",
        ] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let names: Vec<String> = plugin_files(&dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["librkcst_a.so", "librkcst_c.so"]);
        // Empty files are not shared objects: skipped, nothing loaded.
        assert!(load_all(&dir).is_empty());
        assert!(load_all(&dir.join("missing")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
