//! Writes the generated CRD YAML (see `ade_operator::crdgen`) under the
//! repository root: the current directory, or the path given as the only argument.

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    for file in ade_operator::crdgen::files()? {
        let path = root.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &file.contents).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", file.path.display());
    }
    Ok(())
}
