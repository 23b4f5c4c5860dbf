//! include/gpu_resnet.h and the Rust exports in step: the same `gr_*` functions with the same
//! number of parameters. (scripts/test-capi.sh also compares the header with what the built
//! libgpu_resnet.so exports, `nm -D`.)

use std::collections::BTreeMap;
use std::path::Path;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `text` without `/* */` and `//` comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                out.push_str(&rest[..b]);
                let end = rest[b..].find("*/").expect("unterminated comment") + b + 2;
                rest = &rest[end..];
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |e| &rest[l + e..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// Parameters in a parenthesised list (`void` or empty: none).
fn arity(params: &str) -> usize {
    let p = params.trim().trim_end_matches(',').trim();
    if p.is_empty() || p == "void" {
        0
    } else {
        p.split(',').count()
    }
}

/// `gr_*` function declarations in the header: name -> parameter count.
fn header_functions() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(crate_dir().join("include/gpu_resnet.h")).unwrap();
    let text = strip_comments(&text);
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeMap::new();
    for decl in code.split([';', '{', '}']) {
        let decl = decl.trim();
        if decl.starts_with("typedef") || !decl.contains('(') {
            continue;
        }
        let open = decl.find('(').unwrap();
        let name = decl[..open]
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap();
        if name.starts_with("gr_") {
            let close = decl.rfind(')').expect("declaration without ')'");
            let previous = found.insert(name.to_string(), arity(&decl[open + 1..close]));
            assert!(previous.is_none(), "{name} declared twice");
        }
    }
    found
}

/// `extern "C" fn gr_*` in src/: name -> parameter count.
fn rust_exports() -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(crate_dir().join("src")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let text = strip_comments(&text);
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let open = after.find('(').unwrap();
            let close = after.find(')').unwrap();
            let name = after[..open].trim();
            assert!(name.starts_with("gr_"), "export {name} is not gr_*");
            let before = &rest[..at];
            assert!(
                before.trim_end().ends_with("pub unsafe") || before.trim_end().ends_with("pub"),
                "{name} is not pub"
            );
            let window = &before[before.len().saturating_sub(200)..];
            assert!(window.contains("#[no_mangle]"), "{name} lacks #[no_mangle]");
            found.insert(name.to_string(), arity(&after[open + 1..close]));
            rest = &after[close..];
        }
    }
    found
}

#[test]
fn header_declares_exactly_the_exports() {
    let header = header_functions();
    let rust = rust_exports();
    assert!(header.len() >= 20, "only {} functions parsed", header.len());
    assert_eq!(
        header, rust,
        "gpu_resnet.h (left) and src/*.rs (right) differ"
    );
}

#[test]
fn the_issue_signatures_are_declared() {
    let header = header_functions();
    for (name, params) in [
        ("gr_model_open", 3),
        ("gr_model_run", 7),
        ("gr_model_classes", 1),
        ("gr_model_free", 1),
        ("gr_last_error", 0),
    ] {
        assert_eq!(header.get(name), Some(&params), "{name}");
    }
}

/// `gr_version()` is this crate's version, which must be the engine's (the C library is the
/// engine; the install script names the .so and the CMake/pkg-config versions after it).
#[test]
fn the_version_is_the_engines() {
    let engine = std::fs::read_to_string(crate_dir().join("../Cargo.toml")).unwrap();
    let version = engine
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("the engine's version");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}
