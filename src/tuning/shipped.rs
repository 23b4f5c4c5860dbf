//! The shipped table: tiles that `gpu-resnet tune` measured on the software adapters the
//! project tests on, embedded in the library (`defaults.json`), so that a first run on one of
//! them is tuned without running the tuner. A plan takes a layer's tile from the user's own
//! cache first, then from here, then from the heuristic.
//!
//! A table is keyed by the implementation, not by the build: the device (the adapter name up to
//! its first parenthesis), the vector width and LLVM version in the adapter name (llvmpipe's
//! "LLVM 15.0.6, 256 bits": LLVM's SIMD width changes which tile is fastest), the driver and its
//! version string (lavapipe: `Mesa 22.3.6 (LLVM 15.0.6)`, llvmpipe GL: `4.5 (Core Profile) Mesa
//! 22.3.6`; SwiftShader reports none), the backend and the storage. An entry stores the choice as the
//! cache does ([`TunedTile`]), so the format does not care which kernel variants exist; an entry
//! that no longer fits the current rules ([`candidates::fits`]) is skipped like a cache entry.
//! `scripts/tune-defaults.sh` regenerates the file (`gpu-resnet tune --export-defaults`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::candidates::{fits_rules, TileRules};
use super::{ConvShape, TuneStamp, TuneTable, TunedTile};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::conv::Tile;
use crate::kernels::winograd::Winograd;
use crate::kernels::Storage;

/// The shipped table, as generated.
const DEFAULTS_JSON: &str = include_str!("defaults.json");

/// The version of the file's layout (not of its contents).
const FORMAT: u32 = 1;

/// What a shipped table's measurements hold for: another implementation matches none.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Implementation {
    /// The adapter name up to its first " (": `llvmpipe`, `SwiftShader Device`.
    pub device: String,
    /// The vector width the adapter name states (`... 256 bits)`), if it states one.
    pub vector_bits: Option<u32>,
    /// The LLVM version the adapter name states (`LLVM 15.0.6`; lavapipe's driver version says
    /// it too, GL's (`4.5 (Core Profile) Mesa 22.3.6`) does not).
    pub llvm: Option<String>,
    pub driver: String,
    /// The driver's version string (wgpu's `driver_info`): `Mesa 22.3.6 (LLVM 15.0.6)`.
    pub driver_version: String,
    pub backend: String,
    pub storage: String,
}

impl Implementation {
    pub fn of(stamp: &TuneStamp) -> Implementation {
        let name = stamp.adapter.trim();
        let device = name.split(" (").next().unwrap_or(name).trim().to_string();
        Implementation {
            device,
            vector_bits: word_before(name, "bits").and_then(|w| w.parse().ok()),
            llvm: word_after(name, "LLVM").map(str::to_string),
            driver: stamp.driver.clone(),
            driver_version: stamp.driver_info.clone(),
            backend: stamp.backend.clone(),
            storage: stamp.storage.clone(),
        }
    }

    /// `llvmpipe 256 bits, llvmpipe Mesa 22.3.6 (LLVM 15.0.6), Vulkan, fp32` (the LLVM version
    /// only where the driver's does not say it: `llvmpipe 256 bits LLVM 15.0.6, 4.5 (Core
    /// Profile) Mesa 22.3.6, Gl, fp32`).
    pub fn describe(&self) -> String {
        let bits = self
            .vector_bits
            .map_or(String::new(), |b| format!(" {b} bits"));
        let llvm = match &self.llvm {
            Some(v) if !self.driver_version.contains(v.as_str()) => format!(" LLVM {v}"),
            _ => String::new(),
        };
        let driver = format!("{} {}", self.driver, self.driver_version);
        let driver = match driver.trim() {
            "" => String::new(),
            d => format!(", {d}"),
        };
        format!(
            "{}{bits}{llvm}{driver}, {}, {}",
            self.device, self.backend, self.storage
        )
    }
}

/// The words of an adapter name (`llvmpipe (LLVM 15.0.6, 256 bits)`), without punctuation.
fn words(name: &str) -> Vec<&str> {
    name.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|w| !w.is_empty())
        .collect()
}

/// The word before `word` in an adapter name: `256` before `bits`.
fn word_before<'a>(name: &'a str, word: &str) -> Option<&'a str> {
    let w = words(name);
    w.windows(2).find(|p| p[1] == word).map(|p| p[0])
}

/// The word after `word` in an adapter name: `15.0.6` after `LLVM`.
fn word_after<'a>(name: &'a str, word: &str) -> Option<&'a str> {
    let w = words(name);
    w.windows(2).find(|p| p[0] == word).map(|p| p[1])
}

/// The tiles measured on one implementation, by [`super::ConvShape::key`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShippedTable {
    pub implementation: Implementation,
    /// The full adapter name and the gpu-resnet version it was measured with (for people).
    pub measured_on: String,
    pub measured_with: String,
    /// The measuring device's tile rules, so that a test can check every entry still fits.
    pub rules: TileRules,
    pub entries: BTreeMap<String, TunedTile>,
}

impl ShippedTable {
    /// The table of a tuning cache's measurements.
    pub fn of(cache: &TuneTable, rules: TileRules) -> ShippedTable {
        ShippedTable {
            implementation: Implementation::of(&cache.stamp),
            measured_on: cache.stamp.adapter.clone(),
            measured_with: cache.stamp.version.clone(),
            rules,
            entries: cache.entries.clone(),
        }
    }

    /// The tile for `shape` and whether it runs as Winograd, if there is an entry and it fits
    /// the layer on this device (as a cache entry: [`TuneTable::tile`]).
    pub fn tile(&self, ctx: &GpuContext, shape: &ConvShape) -> Option<(Tile, Option<Winograd>)> {
        super::entry_tile(&self.entries, ctx, shape)
    }

    /// The entries that do not fit their own device's rules, or whose key does not read as a
    /// conv shape: what a regeneration would drop.
    pub fn stale_entries(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(key, entry)| {
                ConvShape::from_key(key)
                    .is_none_or(|shape| !fits_rules(&self.rules, &entry.tile(), shape.cout))
            })
            .map(|(key, _)| key.clone())
            .collect()
    }
}

/// The whole file: one table per implementation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShippedDefaults {
    pub format: u32,
    pub tables: Vec<ShippedTable>,
}

impl ShippedDefaults {
    /// Parse the file's text; `what` names it in the error.
    pub fn parse(text: &str, what: &Path) -> Result<ShippedDefaults> {
        let bad = |reason: String| Error::Format {
            path: what.to_path_buf(),
            format: "gpu-resnet shipped tuning defaults (JSON)",
            reason,
        };
        let parsed: ShippedDefaults = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if parsed.format != FORMAT {
            return Err(bad(format!(
                "layout version {}, this build reads {FORMAT}",
                parsed.format
            )));
        }
        Ok(parsed)
    }

    /// The table embedded in this build (empty if it did not parse, which a unit test rules
    /// out).
    pub fn embedded() -> &'static ShippedDefaults {
        static PARSED: OnceLock<ShippedDefaults> = OnceLock::new();
        PARSED.get_or_init(|| {
            ShippedDefaults::parse(DEFAULTS_JSON, Path::new("src/tuning/defaults.json"))
                .unwrap_or_default()
        })
    }

    pub fn find(&self, implementation: &Implementation) -> Option<&ShippedTable> {
        self.tables
            .iter()
            .find(|t| &t.implementation == implementation)
    }

    /// Add `table`'s entries to the table of its implementation (an entry of the same shape key
    /// is replaced, so that tuning models one at a time adds up), or add it as a new table;
    /// tables stay sorted by implementation so that a regenerated file diffs by table.
    pub fn insert(&mut self, table: ShippedTable) {
        match self
            .tables
            .iter_mut()
            .find(|t| t.implementation == table.implementation)
        {
            Some(old) => {
                old.entries.extend(table.entries);
                old.measured_on = table.measured_on;
                old.measured_with = table.measured_with;
                old.rules = table.rules;
            }
            None => self.tables.push(table),
        }
        self.tables
            .sort_by(|a, b| a.implementation.cmp(&b.implementation));
    }

    /// Merge `table` into the file at `path` (created if missing; [`ShippedDefaults::insert`]),
    /// written through a temporary file and a rename.
    pub fn export(path: &Path, table: ShippedTable) -> Result<()> {
        let mut file = match std::fs::read_to_string(path) {
            Ok(text) => ShippedDefaults::parse(&text, path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ShippedDefaults {
                format: FORMAT,
                tables: Vec::new(),
            },
            Err(e) => return Err(Error::io(path, e)),
        };
        file.insert(table);
        let text = serde_json::to_string_pretty(&file).expect("plain data serialises") + "\n";
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

/// Whether plans use a shipped table, and which.
#[derive(Clone, Debug, PartialEq)]
pub enum ShippedStatus {
    /// Switched off (`GPU_RESNET_TUNE=off` or `=cache`).
    Off,
    /// No shipped table for this implementation.
    None(Implementation),
    /// This implementation's table, with this many entries.
    Loaded(Implementation, usize),
}

impl ShippedStatus {
    pub fn describe(&self) -> String {
        match self {
            ShippedStatus::Off => "shipped defaults off".to_string(),
            ShippedStatus::None(i) => format!("no shipped defaults for {}", i.describe()),
            ShippedStatus::Loaded(i, n) => {
                format!("shipped defaults for {} ({n} entries)", i.describe())
            }
        }
    }
}

/// This adapter's and storage's shipped table, if plans may use it and one is shipped.
pub fn load(ctx: &GpuContext, storage: Storage) -> (Option<ShippedTable>, ShippedStatus) {
    if !super::sources().shipped {
        return (None, ShippedStatus::Off);
    }
    lookup(ShippedDefaults::embedded(), &TuneStamp::of(ctx, storage))
}

/// The table in `defaults` for the implementation of `stamp`.
pub fn lookup(
    defaults: &ShippedDefaults,
    stamp: &TuneStamp,
) -> (Option<ShippedTable>, ShippedStatus) {
    let implementation = Implementation::of(stamp);
    match defaults.find(&implementation) {
        Some(t) => (
            Some(t.clone()),
            ShippedStatus::Loaded(implementation, t.entries.len()),
        ),
        None => (None, ShippedStatus::None(implementation)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(adapter: &str, driver_info: &str) -> TuneStamp {
        TuneStamp {
            adapter: adapter.into(),
            driver: "llvmpipe".into(),
            driver_info: driver_info.into(),
            backend: "Vulkan".into(),
            version: "0.1.0".into(),
            storage: "fp32".into(),
        }
    }

    fn entry(tm: u32, tn4: u32) -> TunedTile {
        TunedTile {
            tm,
            tn4,
            share: 0,
            ms: 1.0,
            heuristic_ms: 2.0,
            winograd: None,
            staged: false,
        }
    }

    const RULES: TileRules = TileRules {
        fixed_subgroup_size: Some(8),
        workgroup_storage_bytes: 32768,
    };

    fn defaults_for(s: &TuneStamp) -> ShippedDefaults {
        let mut cache = TuneTable::new(s.clone());
        cache
            .entries
            .insert("3x3/1 64->64 56x56 b1".into(), entry(16, 16));
        let mut d = ShippedDefaults {
            format: FORMAT,
            tables: Vec::new(),
        };
        d.insert(ShippedTable::of(&cache, RULES));
        d
    }

    #[test]
    fn the_implementation_is_parsed_from_the_adapter_name() {
        let i = Implementation::of(&stamp(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "Mesa 22.3.6 (LLVM 15.0.6)",
        ));
        assert_eq!(i.device, "llvmpipe");
        assert_eq!(i.vector_bits, Some(256));
        assert_eq!(i.llvm.as_deref(), Some("15.0.6"));
        assert_eq!(i.driver_version, "Mesa 22.3.6 (LLVM 15.0.6)");
        let s = Implementation::of(&stamp("SwiftShader Device (Subzero) (0x0000C0DE)", ""));
        assert_eq!(s.device, "SwiftShader Device");
        assert_eq!(s.vector_bits, None);
        assert_eq!(s.llvm, None);
    }

    #[test]
    fn only_the_same_implementation_matches() {
        let ours = stamp(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "Mesa 22.3.6 (LLVM 15.0.6)",
        );
        let d = defaults_for(&ours);
        // Another build of gpu-resnet on the same implementation matches.
        let rebuilt = TuneStamp {
            version: "9.9.9".into(),
            ..ours.clone()
        };
        assert!(matches!(
            lookup(&d, &rebuilt),
            (Some(_), ShippedStatus::Loaded(_, 1))
        ));
        let others = [
            stamp(
                "llvmpipe (LLVM 15.0.6, 128 bits)",
                "Mesa 22.3.6 (LLVM 15.0.6)",
            ),
            stamp(
                "llvmpipe (LLVM 15.0.6, 512 bits)",
                "Mesa 22.3.6 (LLVM 15.0.6)",
            ),
            stamp(
                "llvmpipe (LLVM 19.1.7, 256 bits)",
                "Mesa 25.0.7 (LLVM 19.1.7)",
            ),
            // Another LLVM under the same driver string.
            stamp(
                "llvmpipe (LLVM 16.0.6, 256 bits)",
                "Mesa 22.3.6 (LLVM 15.0.6)",
            ),
            TuneStamp {
                backend: "Gl".into(),
                ..ours.clone()
            },
            TuneStamp {
                storage: "f16-packed".into(),
                ..ours.clone()
            },
            TuneStamp {
                driver: "SwiftShader driver".into(),
                ..ours.clone()
            },
        ];
        for other in others {
            let (table, status) = lookup(&d, &other);
            assert!(table.is_none(), "{other:?} matched");
            assert!(matches!(status, ShippedStatus::None(_)), "{status:?}");
        }
    }

    #[test]
    fn export_merges_into_its_implementations_table_and_keeps_the_others() {
        let dir = std::env::temp_dir().join(format!("gpu-resnet-shipped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("defaults.json");
        let a = stamp(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "Mesa 22.3.6 (LLVM 15.0.6)",
        );
        let b = TuneStamp {
            storage: "f16-packed".into(),
            ..a.clone()
        };
        let table = |s: &TuneStamp, key: &str, tm| {
            let mut t = TuneTable::new(s.clone());
            t.entries.insert(key.into(), entry(tm, 4));
            ShippedTable::of(&t, RULES)
        };
        let (k1, k2) = ("1x1/1 64->256 56x56 b8", "1x1/1 64->256 56x56 b1");
        ShippedDefaults::export(&path, table(&a, k1, 8)).unwrap();
        ShippedDefaults::export(&path, table(&b, k1, 8)).unwrap();
        ShippedDefaults::export(&path, table(&a, k1, 16)).unwrap();
        ShippedDefaults::export(&path, table(&a, k2, 4)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let back = ShippedDefaults::parse(&text, &path).unwrap();
        assert_eq!(back.tables.len(), 2);
        let a_table = back.find(&Implementation::of(&a)).unwrap();
        assert_eq!(a_table.entries.len(), 2);
        assert_eq!(
            a_table.entries[k1].tm, 16,
            "a new measurement replaces the old"
        );
        assert_eq!(a_table.entries[k2].tm, 4);
        assert_eq!(
            back.find(&Implementation::of(&b)).unwrap().entries[k1].tm,
            8
        );
        // A damaged file is an error naming it, not overwritten.
        std::fs::write(&path, b"{\"format\": 1, \"tables\": [3]}").unwrap();
        let err = ShippedDefaults::export(&path, table(&a, k1, 8)).unwrap_err();
        assert!(err.to_string().contains("defaults.json"), "{err}");
        std::fs::write(&path, b"{\"format\": 7, \"tables\": []}").unwrap();
        let err = ShippedDefaults::parse(&std::fs::read_to_string(&path).unwrap(), &path);
        assert!(err.unwrap_err().to_string().contains("layout version 7"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unfitting_and_unreadable_entries_are_found_stale() {
        let mut t = defaults_for(&stamp("llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa"))
            .tables
            .remove(0);
        assert!(t.stale_entries().is_empty());
        // 64 output channels are 16 groups of 4: a 5-group tile does not divide them.
        t.entries
            .insert("3x3/1 64->64 56x56 b8".into(), entry(8, 5));
        // A subgroup size the device does not have.
        t.entries.insert(
            "1x1/1 64->64 56x56 b8".into(),
            TunedTile {
                share: 16,
                ..entry(8, 4)
            },
        );
        t.entries.insert("not a shape".into(), entry(8, 4));
        let mut stale = t.stale_entries();
        stale.sort();
        assert_eq!(
            stale,
            [
                "1x1/1 64->64 56x56 b8",
                "3x3/1 64->64 56x56 b8",
                "not a shape"
            ]
        );
    }

    /// The embedded table parses, and every entry fits the rules of the device it was
    /// measured on: a change to the tile rules or to the shape keys that strands an entry
    /// fails here until the table is regenerated (`scripts/tune-defaults.sh`).
    #[test]
    fn the_embedded_table_parses_and_every_entry_still_fits() {
        let parsed =
            ShippedDefaults::parse(DEFAULTS_JSON, Path::new("src/tuning/defaults.json")).unwrap();
        assert!(!parsed.tables.is_empty(), "the shipped table has no tables");
        for table in &parsed.tables {
            assert!(!table.entries.is_empty(), "{table:?}");
            let stale = table.stale_entries();
            assert!(
                stale.is_empty(),
                "{}: stale entries {stale:?}",
                table.implementation.describe()
            );
            for key in table.entries.keys() {
                let shape = ConvShape::from_key(key).unwrap();
                assert_eq!(&shape.key(), key, "keys read back as themselves");
            }
        }
        let mut seen: Vec<_> = parsed.tables.iter().map(|t| &t.implementation).collect();
        seen.dedup();
        assert_eq!(
            seen.len(),
            parsed.tables.len(),
            "one table per implementation"
        );
    }
}
