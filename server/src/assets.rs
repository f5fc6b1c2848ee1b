//! The client bundle (`/pkg/`: the WASM, its JS glue and the stylesheet, and the parts split
//! off the WASM that pages load when first used) and the service worker that keeps it. A release
//! build names each bundle file by its content hash (cargo-leptos's `hash-files`, listed in
//! `hash.txt` beside the executable), so a browser may keep those files for a year without
//! asking again, and a new release is new names, never a stale cache. The build also writes
//! each file brotli- and gzip-compressed at their best levels (`--precompress`), which the
//! static handler sends as they are instead of compressing per request.
//!
//! The service worker is served from here, not as a plain file: it is told the current bundle's
//! names, precaches them when it installs, and drops every older release's cache when it takes
//! over. Its bytes change with each release, which is how browsers find a new one.

use std::path::Path;

use leptos::prelude::LeptosOptions;

/// The bundle's file names, as pages and the service worker must ask for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// `/pkg/confab.<hash>.js`, `.wasm` and `.css` first (no hash when the build did not hash
    /// its files), then the split parts (`--split`: the loader, its manifest, and a WASM file
    /// per lazy route or panel, named by their hashes too).
    pub files: Vec<String>,
    /// Names this release's worker cache; it changes whenever any bundle file does.
    pub version: String,
    /// Whether the names carry content hashes, so the files may be cached for good.
    pub hashed: bool,
}

/// Turns on hashed names when the build left a hash list beside the executable (a release build
/// with `hash-files`), so the binary serves its own build whether or not it was started by
/// cargo-leptos. `LEPTOS_HASH_FILES=false` in the environment still turns it off.
pub fn detect_hashes(mut options: LeptosOptions) -> LeptosOptions {
    let explicit = std::env::var("LEPTOS_HASH_FILES").ok();
    if explicit.is_none() && hash_list_path(&options).is_some_and(|p| p.is_file()) {
        options.hash_files = true;
    }
    options
}

impl Bundle {
    /// The bundle `options` describes: hashed names from the hash list when hashing is on.
    pub fn of(options: &LeptosOptions) -> Self {
        let name = options.output_name.to_string();
        let hashes = if options.hash_files {
            hash_list_path(options)
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|text| parse_hash_list(&text))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let bundle = Self::from_hashes(&name, &options.site_pkg_dir, &hashes);
        if !bundle.hashed {
            return bundle;
        }
        let pkg = Path::new(&*options.site_root).join(options.site_pkg_dir.trim_matches('/'));
        let names = std::fs::read_dir(pkg)
            .map(|dir| {
                dir.filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        bundle.with_parts(&options.site_pkg_dir, names)
    }

    /// Adds the other code of the bundle's directory (the split parts of a hashed build: the
    /// loader and the WASM parts), each once and in name order. The compressed twins are the
    /// same files, and the build's type declarations and split manifest are for tools and the
    /// server, not for browsers.
    fn with_parts(mut self, pkg_dir: &str, names: impl IntoIterator<Item = String>) -> Self {
        let pkg = pkg_dir.trim_matches('/');
        let mut parts = names
            .into_iter()
            .filter(|name| {
                (name.ends_with(".wasm") || name.ends_with(".js")) && !name.ends_with(".d.ts")
            })
            .map(|name| format!("/{pkg}/{name}"))
            .filter(|path| !self.files.contains(path))
            .collect::<Vec<_>>();
        if parts.is_empty() {
            return self;
        }
        parts.sort();
        self.files.extend(parts);
        self.version = format!("{:016x}", fnv1a(self.files.join("\n").as_bytes()));
        self
    }

    fn from_hashes(name: &str, pkg_dir: &str, hashes: &[(String, String)]) -> Self {
        let hash_of = |ext: &str| {
            hashes
                .iter()
                .find(|(kind, _)| kind == ext)
                .map(|(_, h)| h.as_str())
        };
        let pkg = pkg_dir.trim_matches('/');
        let files = ["js", "wasm", "css"]
            .into_iter()
            .map(|ext| match hash_of(ext) {
                Some(hash) => format!("/{pkg}/{name}.{hash}.{ext}"),
                None => format!("/{pkg}/{name}.{ext}"),
            })
            .collect::<Vec<_>>();
        let hashed = ["js", "wasm", "css"]
            .iter()
            .all(|ext| hash_of(ext).is_some());
        let version = if hashed {
            // Short, but any change of any file changes it.
            let all = hashes
                .iter()
                .map(|(_, h)| h.as_str())
                .collect::<Vec<_>>()
                .join("");
            format!("{:016x}", fnv1a(all.as_bytes()))
        } else {
            // Unhashed (a development build): one cache, refreshed by the network as today.
            "dev".to_owned()
        };
        Self {
            files,
            version,
            hashed,
        }
    }

    /// The service worker's source: the bundle's names and version, then `template` (the
    /// worker's code, `sw.js` in the site root).
    pub fn service_worker(&self, template: &str) -> String {
        let files = self
            .files
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "// Written by the server for this release.\nconst BUNDLE = [{files}];\n\
             const RELEASE = {:?};\n\n{template}",
            self.version
        )
    }

    /// `Cache-Control` for a request to `path`: a year and immutable for a hashed bundle file,
    /// otherwise nothing (the default: revalidate by ETag and date).
    pub fn cache_control(&self, path: &str) -> Option<&'static str> {
        (self.hashed && self.files.iter().any(|f| f == path))
            .then_some("public, max-age=31536000, immutable")
    }
}

/// The hash list beside the running executable, where cargo-leptos writes it.
fn hash_list_path(options: &LeptosOptions) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(
        exe.parent()
            .unwrap_or(Path::new("."))
            .join(&*options.hash_file),
    )
}

/// `js: <hash>` lines, as (kind, hash) pairs; other lines are skipped.
fn parse_hash_list(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(kind, hash)| (kind.trim().to_owned(), hash.trim().to_owned()))
        .filter(|(kind, hash)| !kind.is_empty() && !hash.is_empty())
        .collect()
}

/// 64-bit FNV-1a: a stable digest for a cache name (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(text: &str) -> Vec<(String, String)> {
        parse_hash_list(text)
    }

    #[test]
    fn hashed_names_come_from_the_list() {
        let list = hashes("js: AAA\nwasm: BBB\ncss: CCC\n");
        let bundle = Bundle::from_hashes("confab", "pkg", &list);
        assert_eq!(
            bundle.files,
            [
                "/pkg/confab.AAA.js",
                "/pkg/confab.BBB.wasm",
                "/pkg/confab.CCC.css"
            ]
        );
        assert!(bundle.hashed);
        assert_eq!(
            bundle.cache_control("/pkg/confab.BBB.wasm"),
            Some("public, max-age=31536000, immutable")
        );
        // Anything else, even in /pkg/, is revalidated.
        assert_eq!(bundle.cache_control("/pkg/confab.wasm"), None);
        assert_eq!(bundle.cache_control("/sw.js"), None);
    }

    #[test]
    fn a_new_release_is_a_new_version() {
        let one = Bundle::from_hashes("confab", "pkg", &hashes("js: A\nwasm: B\ncss: C"));
        let two = Bundle::from_hashes("confab", "pkg", &hashes("js: A\nwasm: X\ncss: C"));
        assert_ne!(one.version, two.version);
        assert_eq!(
            one.version,
            Bundle::from_hashes("confab", "/pkg/", &hashes("js: A\nwasm: B\ncss: C")).version
        );
    }

    #[test]
    fn without_hashes_the_plain_names_are_never_immutable() {
        let bundle = Bundle::from_hashes("confab", "pkg", &[]);
        assert_eq!(
            bundle.files,
            ["/pkg/confab.js", "/pkg/confab.wasm", "/pkg/confab.css"]
        );
        assert!(!bundle.hashed);
        assert_eq!(bundle.cache_control("/pkg/confab.wasm"), None);
        // A partial list (a broken build) is not trusted either.
        let partial = Bundle::from_hashes("confab", "pkg", &hashes("wasm: B"));
        assert!(!partial.hashed);
    }

    #[test]
    fn split_parts_join_the_bundle() {
        let bundle = Bundle::from_hashes("confab", "pkg", &hashes("js: A\nwasm: B\ncss: C"));
        let before = bundle.version.clone();
        let names = [
            "confab.B.wasm",
            "confab.B.wasm.br",
            "search_route.D.wasm",
            "__wasm_split.E.js",
            "__wasm_split.E.js.gz",
            "__wasm_split_manifest.F.json",
            "confab.d.G.ts",
        ]
        .map(String::from);
        let bundle = bundle.with_parts("/pkg/", names);
        assert_eq!(
            bundle.files,
            [
                "/pkg/confab.A.js",
                "/pkg/confab.B.wasm",
                "/pkg/confab.C.css",
                "/pkg/__wasm_split.E.js",
                "/pkg/search_route.D.wasm",
            ]
        );
        assert_eq!(
            bundle.cache_control("/pkg/search_route.D.wasm"),
            Some("public, max-age=31536000, immutable")
        );
        // A part that changes alone still makes a new release for the worker.
        assert_ne!(bundle.version, before);
        let other = Bundle::from_hashes("confab", "pkg", &hashes("js: A\nwasm: B\ncss: C"))
            .with_parts("pkg", ["search_route.X.wasm".to_owned()]);
        assert_ne!(other.version, bundle.version);
    }

    #[test]
    fn the_worker_is_told_the_bundle() {
        let bundle = Bundle::from_hashes("confab", "pkg", &hashes("js: A\nwasm: B\ncss: C"));
        let source = bundle.service_worker("self.x = 1;");
        assert!(source.contains(
            r#"const BUNDLE = ["/pkg/confab.A.js", "/pkg/confab.B.wasm", "/pkg/confab.C.css"];"#
        ));
        assert!(source.contains(&format!("const RELEASE = {:?};", bundle.version)));
        assert!(source.ends_with("self.x = 1;"));
    }
}
