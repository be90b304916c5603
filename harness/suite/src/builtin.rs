//! The conformance features compiled into the binary, so an installed `recproof check`
//! runs its own suite from any directory.
//!
//! # What this module owns
//!
//! The embedded copy of the repository's `features/` directory (taken at build time; the
//! crate's build script rebuilds it when a feature file changes), listing it, and writing
//! it out: into a run directory (the exact features a run used are part of its evidence)
//! or into a directory a user exports to, edits and passes back as arguments.
//!
//! # What it must not touch
//!
//! It does not parse or run features (cucumber does, from the files it writes).

use include_dir::{Dir, include_dir};
use std::path::{Path, PathBuf};

static FEATURES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../features");

/// One built-in feature file.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinFeature {
    /// Its path inside the feature set (`announcements.feature`,
    /// `recorder/answer.feature`).
    pub path: &'static Path,
    /// Its Gherkin text.
    pub text: &'static str,
}

impl BuiltinFeature {
    /// The `Feature:` line's title.
    pub fn title(&self) -> &'static str {
        self.text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Feature:"))
            .map_or("", str::trim)
    }

    /// How many scenarios it has (outline examples counted once per outline).
    pub fn scenarios(&self) -> usize {
        self.text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("Scenario:") || l.starts_with("Scenario Outline:"))
            .count()
    }

    /// The requirement tags (`@POL-04`, `@SRS-12`...) it carries, sorted, once each.
    pub fn requirements(&self) -> Vec<&'static str> {
        let mut tags: Vec<&str> = self
            .text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('@'))
            .flat_map(str::split_whitespace)
            .filter_map(|t| t.strip_prefix('@'))
            .filter(|t| {
                ["POL-", "SRC-", "SRS-", "MD-", "RP-"]
                    .iter()
                    .any(|p| t.starts_with(p))
            })
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }
}

/// Every built-in feature file, sorted by path.
pub fn features() -> Vec<BuiltinFeature> {
    let mut out = Vec::new();
    collect(&FEATURES, &mut out);
    out.sort_by_key(|f| f.path);
    out
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<BuiltinFeature>) {
    for f in dir.files() {
        if f.path().extension().is_some_and(|e| e == "feature")
            && let Some(text) = f.contents_utf8()
        {
            out.push(BuiltinFeature {
                path: f.path(),
                text,
            });
        }
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}

/// Why the features could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file is already there (nothing is overwritten unless asked).
    #[error("`{0}` exists; export into an empty directory, or pass --force to overwrite")]
    Exists(PathBuf),
    /// The file system refused.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Writes every built-in feature under `dir` (sub-directories kept), creating it;
/// refuses to overwrite an existing file unless `overwrite`. Returns the files written.
pub fn export(dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, ExportError> {
    let all = features();
    if !overwrite && let Some(f) = all.iter().map(|f| dir.join(f.path)).find(|p| p.exists()) {
        return Err(ExportError::Exists(f));
    }
    let mut written = Vec::new();
    for f in all {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ExportError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, f.text).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded set is the repository's `features/`, file for file and byte for
    /// byte (the build script keeps it so).
    #[test]
    fn the_builtin_set_is_the_features_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../features");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("features/").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "feature") {
                    on_disk.push(p);
                }
            }
        }
        let builtin = features();
        assert_eq!(builtin.len(), on_disk.len());
        for f in &builtin {
            let disk = std::fs::read_to_string(root.join(f.path)).expect("on disk");
            assert_eq!(disk, f.text, "{}", f.path.display());
            assert!(!f.title().is_empty(), "{}", f.path.display());
            assert!(f.scenarios() > 0, "{}", f.path.display());
        }
        assert!(builtin.iter().any(|f| f.path.starts_with("recorder")));
    }

    #[test]
    fn export_writes_them_all_and_never_overwrites_unasked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = export(dir.path(), false).expect("export");
        assert_eq!(written.len(), features().len());
        assert!(dir.path().join("recorder").is_dir());
        match export(dir.path(), false) {
            Err(ExportError::Exists(p)) => assert!(p.starts_with(dir.path())),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(
            export(dir.path(), true).expect("forced").len(),
            written.len()
        );
    }
}
