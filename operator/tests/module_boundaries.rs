//! The seam between controllers and providers: nothing under `src/providers/`
//! uses the controllers, and a controller reaches a provider only through the
//! types at `providers/` (the `ComputeProvider` and `PoolCapacity` traits,
//! attempts, errors, the `Providers` registry), never through a provider's own
//! modules (a folder per provider: `providers::emr::…`,
//! `providers::kubernetes::…`).

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as paths relative to `src/`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(src()).expect("under src").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The file's code: comment lines dropped, so docs may name anything.
fn code(file: &Path) -> String {
    fs::read_to_string(src().join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments after each `providers::` in `code`, looking into
/// `providers::{a, b::{…}, …}` groups.
fn provider_segments(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("providers::") {
        let rest = &code[at + "providers::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut segment_start = true;
            let mut word = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => segment_start = true,
                    c if depth == 0 && (c.is_alphanumeric() || c == '_') && segment_start => word.push(c),
                    _ if depth == 0 && !word.is_empty() => {
                        found.insert(std::mem::take(&mut word));
                        segment_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.insert(word);
        }
    }
    found
}

#[test]
fn providers_do_not_use_the_controllers() {
    let offenders: Vec<_> = rust_files(&src().join("providers"))
        .into_iter()
        .filter(|f| {
            code(f)
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == "controllers")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "providers must not use the controllers (move what both need out of controllers/): {offenders:?}"
    );
}

#[test]
fn controllers_use_providers_only_through_their_shared_types() {
    // A provider is a folder; the files beside them are the shared seam.
    let providers: BTreeSet<String> = fs::read_dir(src().join("providers"))
        .expect("src/providers")
        .filter_map(|e| {
            let path = e.expect("directory entry").path();
            path.is_dir().then(|| path.file_name()?.to_str().map(str::to_owned))?
        })
        .collect();
    assert!(
        providers.contains("emr") && providers.contains("kubernetes"),
        "{providers:?}"
    );
    let leaking: BTreeSet<String> = rust_files(&src().join("controllers"))
        .into_iter()
        .filter(|f| provider_segments(&code(f)).iter().any(|s| providers.contains(s)))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        leaking.is_empty(),
        "controllers reach into a provider's modules; use the ComputeProvider and PoolCapacity traits instead: {leaking:?}"
    );
}

#[test]
fn provider_segments_reads_paths_and_groups() {
    let code = "use crate::providers::{ComputeProvider, emr::{AwsEmr, EmrProvider}, kubernetes::JobSettings};\n\
                let r: crate::providers::emr::capacity::PoolReport;\n\
                use crate::providers::AttemptHandle;";
    let got: Vec<_> = provider_segments(code).into_iter().collect();
    assert_eq!(got, ["AttemptHandle", "ComputeProvider", "emr", "kubernetes"]);
}
