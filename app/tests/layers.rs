//! The layers only point down: no two modules of `app` that sit side by side (the top-level
//! modules, or the files of one folder such as `store/` or `ui/room/`) use each other, directly
//! or round a longer loop. A loop means a change to either end reaches into the other; the
//! order the code keeps is in `docs/architecture.md` ("Layers").
//!
//! The check reads the sources, not the compiler: every `crate::…` and `super::…` path outside
//! comments and outside a file's trailing `#[cfg(test)]` module names a module, and each such
//! use between two different modules of one folder is an edge. A module using its own parent
//! (`super::StoreError` in `store/sqlite.rs`) is not an edge: the parent declares its children.
#![expect(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path below the crate root: `["store", "sqlite"]`; the root itself is empty.
type ModPath = Vec<String>;

/// One source file's module, read from where it lies: `a/b.rs` and `a/b/mod.rs` are `a::b`.
fn module_of(relative: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    match stem {
        "mod" => {}
        "lib" | "main" if parts.is_empty() => {}
        _ => parts.push(stem.to_owned()),
    }
    Some(parts)
}

/// The source without comments (line and block), without string literals' contents, and
/// without a trailing test module.
fn code_of(source: &str) -> String {
    let cut = source
        .find("#[cfg(test)]\nmod ")
        .or_else(|| source.find("#[cfg(test)]\n#[expect("))
        .unwrap_or(source.len());
    let source = &source[..cut];
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push('"');
            }
            c => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `crate::` or `super::` (as many `super::` as written),
/// made absolute for a file of module `here`. A braced group (`crate::{a::B, c}`) gives one
/// path per item.
fn paths_named(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let at_word_start = i == 0 || !is_ident(bytes[i - 1] as char);
        let base = if !at_word_start {
            None
        } else if rest.starts_with("crate::") {
            Some((Vec::new(), "crate::".len()))
        } else if rest.starts_with("super::") {
            let mut base: Vec<String> = here.to_vec();
            let mut used = 0;
            while rest[used..].starts_with("super::") {
                base.pop();
                used += "super::".len();
            }
            Some((base, used))
        } else {
            None
        };
        let Some((base, used)) = base else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let tail = &rest[used..];
        if let Some(group) = tail.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segments = segments_of(item.trim());
                if !segments.is_empty() {
                    found.push([base.clone(), segments].concat());
                }
            }
        } else {
            found.push([base, segments_of(tail)].concat());
        }
        i += used;
    }
    found
}

/// The leading `a::b::c` of `text`.
fn segments_of(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        segments.push(rest[..len].to_owned());
        match rest[len..].strip_prefix("::") {
            Some(more) if more.starts_with(is_ident) => rest = more,
            _ => break,
        }
    }
    segments
}

/// Edges between sibling modules: (from, to) → a file that makes it.
type Edges = BTreeMap<(ModPath, ModPath), PathBuf>;

/// Reads every `.rs` file under `root` and the uses between sibling modules.
fn sibling_uses(root: &Path) -> Edges {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let modules: Vec<(PathBuf, ModPath)> = files
        .into_iter()
        .filter_map(|f| Some((f.clone(), module_of(f.strip_prefix(root).ok()?)?)))
        .collect();
    let known: BTreeSet<&ModPath> = modules.iter().map(|(_, m)| m).collect();
    let mut edges = Edges::new();
    for (file, here) in &modules {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for path in paths_named(&code, here) {
            // The longest leading part of the path that is a module: the rest is an item.
            let Some(target) = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains(p))
            else {
                continue;
            };
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < here.len() && common < target.len() {
                let from = here[..=common].to_vec();
                let to = target[..=common].to_vec();
                edges.entry((from, to)).or_insert_with(|| file.clone());
            }
        }
    }
    edges
}

/// The loops among `edges`: each strongly connected group of two or more modules, with the
/// edges inside it.
fn loops(edges: &Edges) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&ModPath, Vec<&ModPath>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    // Two modules are in one loop when each reaches the other.
    let reach = |start: &ModPath| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(m) = todo.pop() {
            for n in next.get(m).into_iter().flatten() {
                if seen.insert(*n) {
                    todo.push(n);
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&ModPath, BTreeSet<&ModPath>> =
        next.keys().map(|m| (*m, reach(m))).collect();
    let mut grouped = BTreeSet::new();
    let mut found = Vec::new();
    for (m, from_m) in &reached {
        if grouped.contains(m) || !from_m.contains(m) {
            continue;
        }
        let group: BTreeSet<&ModPath> = from_m
            .iter()
            .filter(|n| reached.get(*n).is_some_and(|r| r.contains(m)))
            .copied()
            .collect();
        let mut lines = Vec::new();
        for ((from, to), file) in edges {
            if group.contains(from) && group.contains(to) {
                lines.push(format!(
                    "{} uses {} (in {})",
                    from.join("::"),
                    to.join("::"),
                    file.display()
                ));
            }
        }
        grouped.extend(group);
        found.push(lines);
    }
    found
}

#[test]
fn no_module_of_app_is_in_an_import_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = sibling_uses(&root);
    // The check sees the real tree: the write path uses the store, the store does not use it.
    let edge = |a: &str, b: &str| edges.contains_key(&(vec![a.to_owned()], vec![b.to_owned()]));
    assert!(
        edge("chat", "store") && edge("ui", "api"),
        "the reader lost the tree"
    );
    let found = loops(&edges);
    assert!(
        found.is_empty(),
        "modules that use each other (move the shared part below both):\n{}",
        found
            .iter()
            .map(|lines| format!("  - {}", lines.join("\n    ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_loop_is_found_however_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n");
    // a → b by a braced `crate::` group, b → c by `super::` from a nested file, c → a inline.
    write("a.rs", "use crate::{b::Thing, d};\n");
    write("b/mod.rs", "mod inner;\n");
    write(
        "b/inner.rs",
        "use super::super::c::f; // crate::d is only a comment\n",
    );
    write(
        "c.rs",
        "fn f() { crate::a::g(); let _ = \"crate::d\"; }\n#[cfg(test)]\nmod tests { use crate::d; }\n",
    );
    // d uses its own child and nothing else: no edge, no loop.
    write("d/mod.rs", "mod x;\nuse self::x::Y;\n");
    write("d/x.rs", "use super::Z;\n");
    let edges = sibling_uses(dir.path());
    let names: Vec<String> = edges
        .keys()
        .map(|(a, b)| format!("{}>{}", a.join("::"), b.join("::")))
        .collect();
    assert_eq!(names, ["a>b", "a>d", "b>c", "c>a"]);
    let found = loops(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].len(), 3, "{found:?}");
}
