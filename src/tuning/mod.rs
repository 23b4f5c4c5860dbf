//! Measured conv tiles: the on-disk cache that `gpu-resnet tune` writes and every plan reads.
//! The table sits below the model and the plan that read it; the measurement that fills it
//! (compiling and timing plans) is [`crate::tune`], above them.
//!
//! A plan takes a conv layer's register tile from the model's [`TuneTable`] where it has an
//! entry for the layer's shape at the plan's batch, else from the [`shipped`] table measured on
//! the same implementation (embedded in the build), else from the heuristic
//! (`kernels::conv::tile_for`): [`TileSource`]. Tuning is explicit (`gpu-resnet tune`), never a
//! first-run stall. The table is one JSON file per adapter, backend and storage in the user's
//! cache directory, stamped with the adapter name, driver, backend, crate version and storage:
//! a file whose stamp differs (another driver or build) or that does not parse is ignored, and
//! the [`TuneStatus`] says why, for the app to warn about.

// Which tiles the tuner may offer, and what bounds its builds: the plan checks a table's tile
// against the same rules.
pub(crate) mod candidates;
pub mod shipped;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use candidates::{accumulators, candidates, fits, fits_rules, BuildBudget, TileRules};

use crate::arch::ConvLayer;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::conv::Tile;
use crate::kernels::winograd::Winograd;
use crate::kernels::Storage;

/// `TunedTile::winograd` on disk: the output tile's side, or the flag of older caches.
mod winograd_field {
    use super::Winograd;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(w: &Option<Winograd>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(w.map_or(0, |t| t.outputs() as u64))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Flag(bool),
        Side(u64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Winograd>, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Flag(false) | Raw::Side(0) => Ok(None),
            Raw::Flag(true) => Ok(Some(Winograd::F2)),
            Raw::Side(n) => Winograd::ALL
                .into_iter()
                .find(|t| t.outputs() as u64 == n)
                .map(Some)
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "winograd: {n} is not a Winograd output tile (0, 2 or 4)"
                    ))
                }),
        }
    }
}

/// What a conv's best tile depends on: its kernel, stride, vd pooled read, channels, input
/// size and batch (not its epilogue, which costs the same for every tile).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConvShape {
    pub kernel: usize,
    pub stride: usize,
    pub avg_pool: bool,
    pub cin: usize,
    pub cout: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub batch: usize,
}

impl ConvShape {
    pub fn of(layer: &ConvLayer, in_hw: (usize, usize), batch: usize) -> ConvShape {
        ConvShape {
            kernel: layer.kernel,
            stride: layer.stride,
            avg_pool: layer.avg_pool_input,
            cin: layer.cin,
            cout: layer.cout,
            in_h: in_hw.0,
            in_w: in_hw.1,
            batch,
        }
    }

    /// The cache's key, e.g. `3x3/1 64->64 56x56 b8` (` avgpool2` for the vd shortcut).
    pub fn key(&self) -> String {
        format!(
            "{k}x{k}/{}{} {}->{} {}x{} b{}",
            self.stride,
            if self.avg_pool { " avgpool2" } else { "" },
            self.cin,
            self.cout,
            self.in_h,
            self.in_w,
            self.batch,
            k = self.kernel,
        )
    }

    /// The shape a [`ConvShape::key`] names, if `key` is one.
    pub fn from_key(key: &str) -> Option<ConvShape> {
        let num = |s: &str| s.parse::<usize>().ok();
        let mut words = key.split(' ');
        let (kk, stride) = words.next()?.split_once('/')?;
        let (k1, k2) = kk.split_once('x')?;
        let mut next = words.next()?;
        let avg_pool = next == "avgpool2";
        if avg_pool {
            next = words.next()?;
        }
        let (cin, cout) = next.split_once("->")?;
        let (in_h, in_w) = words.next()?.split_once('x')?;
        let batch = words.next()?.strip_prefix('b')?;
        let shape = ConvShape {
            kernel: num(k1)?,
            stride: num(stride)?,
            avg_pool,
            cin: num(cin)?,
            cout: num(cout)?,
            in_h: num(in_h)?,
            in_w: num(in_w)?,
            batch: num(batch)?,
        };
        (words.next().is_none() && k1 == k2 && shape.key() == key).then_some(shape)
    }
}

/// Where a plan's conv took its tile from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileSource {
    /// The user's tuning cache (`gpu-resnet tune`).
    Cache,
    /// The table shipped for this implementation ([`shipped`]).
    Shipped,
    /// `kernels::conv::tile_for`.
    Heuristic,
}

impl TileSource {
    pub fn name(&self) -> &'static str {
        match self {
            TileSource::Cache => "cache",
            TileSource::Shipped => "shipped",
            TileSource::Heuristic => "heuristic",
        }
    }
}

/// The measured tile for `shape` in `entries` and whether it runs as Winograd, if there is an
/// entry and it fits the layer on this device (a hand-edited, foreign or stale entry falls
/// back to the next source rather than failing).
fn entry_tile(
    entries: &BTreeMap<String, TunedTile>,
    ctx: &GpuContext,
    shape: &ConvShape,
) -> Option<(Tile, Option<Winograd>)> {
    let entry = entries.get(&shape.key())?;
    let tile = entry.tile();
    candidates::fits(ctx, &tile, shape.cout).then_some((tile, entry.winograd))
}

/// One measured choice.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunedTile {
    pub tm: u32,
    pub tn4: u32,
    pub share: u32,
    /// The chosen tile's time for this shape, and the heuristic tile's, in ms (one dispatch).
    pub ms: f64,
    pub heuristic_ms: f64,
    /// Winograd with this tile for its GEMM instead of the direct conv: written as the output
    /// tile's side (`2`: F(2x2, 3x3), `4`: F(4x4, 3x3); `0`: the direct conv). Caches written
    /// before F(4x4) hold `true` (F(2x2)) or `false`, and read as such.
    #[serde(default, with = "winograd_field")]
    pub winograd: Option<Winograd>,
    /// The staged tile (workgroup memory). Absent in caches written before it existed, which
    /// hold register tiles only: they read as `false` and stay valid.
    #[serde(default)]
    pub staged: bool,
}

impl TunedTile {
    pub fn tile(&self) -> Tile {
        Tile {
            tm: self.tm,
            tn4: self.tn4,
            share: self.share,
            staged: self.staged,
        }
    }
}

/// Whose measurements a table holds: a file whose stamp differs is stale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuneStamp {
    pub adapter: String,
    pub driver: String,
    pub driver_info: String,
    pub backend: String,
    pub version: String,
    pub storage: String,
}

impl TuneStamp {
    pub fn of(ctx: &GpuContext, storage: Storage) -> TuneStamp {
        TuneStamp {
            adapter: ctx.info.name.clone(),
            driver: ctx.info.driver.clone(),
            driver_info: ctx.info.driver_info.clone(),
            backend: format!("{:?}", ctx.info.backend),
            version: env!("CARGO_PKG_VERSION").to_string(),
            storage: storage.name().to_string(),
        }
    }
}

/// The measured tiles of one adapter and storage, by [`ConvShape::key`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuneTable {
    pub stamp: TuneStamp,
    pub entries: BTreeMap<String, TunedTile>,
}

impl TuneTable {
    pub fn new(stamp: TuneStamp) -> TuneTable {
        TuneTable {
            stamp,
            entries: BTreeMap::new(),
        }
    }

    /// The measured tile for `shape` and whether it runs as Winograd (which tile), if the
    /// table has an entry and it fits the layer on this device (a hand-edited or foreign
    /// entry falls back to the heuristic rather than failing).
    pub fn tile(&self, ctx: &GpuContext, shape: &ConvShape) -> Option<(Tile, Option<Winograd>)> {
        entry_tile(&self.entries, ctx, shape)
    }

    /// Read `path`; a missing file is `Ok(None)`, an unreadable or unparsable one an error.
    pub fn read(path: &Path) -> Result<Option<TuneTable>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Format {
                path: path.to_path_buf(),
                format: "gpu-resnet tuning cache (JSON)",
                reason: e.to_string(),
            })
    }

    /// Write to `path` (its directory is created), through a temporary file and a rename so
    /// that a reader never sees half a file.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let text = serde_json::to_string_pretty(self).expect("plain data serialises");
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

/// Whether a model's plans use measured tiles.
#[derive(Clone, Debug, PartialEq)]
pub enum TuneStatus {
    /// The cache is switched off (`GPU_RESNET_TUNE=off` or `=shipped`) or the platform has no
    /// cache directory.
    Off,
    /// No cache file for this adapter and storage yet.
    Missing(PathBuf),
    /// Loaded from this file.
    Loaded(PathBuf),
    /// A file exists but is not used: why.
    Ignored(PathBuf, String),
}

impl TuneStatus {
    /// A warning to print, for a cache that exists but is ignored.
    pub fn warning(&self) -> Option<String> {
        match self {
            TuneStatus::Ignored(path, why) => Some(format!(
                "warning: ignoring the tuning cache {}: {why}; plans use the default tiles \
                 (run `gpu-resnet tune` to measure them again)",
                path.display()
            )),
            _ => None,
        }
    }
}

/// Which tables plans may take tiles from, by `GPU_RESNET_TUNE`: `off` (or `0`) neither (the
/// heuristic alone), `cache` the user's cache only, `shipped` the shipped table only; unset
/// or anything else both, the cache first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sources {
    pub cache: bool,
    pub shipped: bool,
}

pub fn sources() -> Sources {
    match std::env::var("GPU_RESNET_TUNE").as_deref() {
        Ok("off" | "0") => Sources {
            cache: false,
            shipped: false,
        },
        Ok("cache") => Sources {
            cache: true,
            shipped: false,
        },
        Ok("shipped") => Sources {
            cache: false,
            shipped: true,
        },
        _ => Sources {
            cache: true,
            shipped: true,
        },
    }
}

/// Where the tuning caches live: `$GPU_RESNET_TUNE_DIR`, else `$GPU_RESNET_CACHE`, else
/// `$XDG_CACHE_HOME/gpu-resnet`, else `~/.cache/gpu-resnet`; `None` when tuning is switched
/// off (`GPU_RESNET_TUNE=off`) or none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if sources()
        == (Sources {
            cache: false,
            shipped: false,
        })
    {
        return None;
    }
    env("GPU_RESNET_TUNE_DIR")
        .or_else(|| env("GPU_RESNET_CACHE"))
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("gpu-resnet")))
        .or_else(|| env("HOME").map(|p| p.join(".cache").join("gpu-resnet")))
}

/// The cache file of this adapter, backend and storage in `dir`.
pub fn cache_file(dir: &Path, stamp: &TuneStamp) -> PathBuf {
    let name: String = format!("{}-{}-{}", stamp.adapter, stamp.backend, stamp.storage)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut squeezed = String::new();
    for c in name.chars() {
        if !(c == '-' && squeezed.ends_with('-')) {
            squeezed.push(c);
        }
    }
    dir.join(format!("tune-{}.json", squeezed.trim_matches('-')))
}

/// The table for this adapter and storage from the cache directory, and how it went. Never
/// an error: a stale or damaged file is [`TuneStatus::Ignored`]. `GPU_RESNET_TUNE=shipped`
/// reads no cache ([`TuneStatus::Off`]), though `gpu-resnet tune` still writes one.
pub fn load(ctx: &GpuContext, storage: Storage) -> (Option<TuneTable>, TuneStatus) {
    let dir = cache_dir().filter(|_| sources().cache);
    load_from(dir.as_deref(), ctx, storage)
}

/// [`load`] from cache directory `dir` (`None`: tuning off).
pub fn load_from(
    dir: Option<&Path>,
    ctx: &GpuContext,
    storage: Storage,
) -> (Option<TuneTable>, TuneStatus) {
    let Some(dir) = dir else {
        return (None, TuneStatus::Off);
    };
    let stamp = TuneStamp::of(ctx, storage);
    let path = cache_file(dir, &stamp);
    match TuneTable::read(&path) {
        Ok(None) => (None, TuneStatus::Missing(path)),
        Err(e) => (None, TuneStatus::Ignored(path, e.to_string())),
        Ok(Some(t)) if t.stamp != stamp => {
            let why = format!(
                "it was measured for {} / {} / {} with gpu-resnet {} ({}), this is {} / {} / {} with {} ({})",
                t.stamp.adapter,
                t.stamp.driver_info,
                t.stamp.backend,
                t.stamp.version,
                t.stamp.storage,
                stamp.adapter,
                stamp.driver_info,
                stamp.backend,
                stamp.version,
                stamp.storage
            );
            (None, TuneStatus::Ignored(path, why))
        }
        Ok(Some(t)) => (Some(t), TuneStatus::Loaded(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> TuneStamp {
        TuneStamp {
            adapter: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            driver: "llvmpipe".into(),
            driver_info: "Mesa 22.3.6".into(),
            backend: "Vulkan".into(),
            version: "0.1.0".into(),
            storage: "fp32".into(),
        }
    }

    #[test]
    fn shape_keys_read_back() {
        for key in [
            "3x3/1 64->64 56x56 b8",
            "1x1/1 avgpool2 256->512 56x56 b1",
            "7x7/2 3->64 224x224 b4",
        ] {
            assert_eq!(ConvShape::from_key(key).unwrap().key(), key);
        }
        for bad in [
            "",
            "3x3/1 64->64 56x56",
            "3x3/1 64->64 56x56 b8 x",
            "3x5/1 64->64 56x56 b8",
            "3x3/1 64->-1 56x56 b8",
            "3x3/01 64->64 56x56 b8",
        ] {
            assert!(ConvShape::from_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cache_file_names_are_plain() {
        let p = cache_file(Path::new("/c"), &stamp());
        assert_eq!(
            p,
            Path::new("/c/tune-llvmpipe-llvm-15-0-6-256-bits-vulkan-fp32.json")
        );
    }

    #[test]
    fn tables_round_trip_and_damaged_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("gpu-resnet-tune-test-{}", std::process::id()));
        let path = dir.join("t.json");
        let mut t = TuneTable::new(stamp());
        t.entries.insert(
            "3x3/1 64->64 56x56 b1".into(),
            TunedTile {
                tm: 16,
                tn4: 4,
                share: 8,
                ms: 1.0,
                heuristic_ms: 2.0,
                winograd: Some(Winograd::F4),
                staged: false,
            },
        );
        t.write(&path).unwrap();
        let back = TuneTable::read(&path).unwrap().unwrap();
        assert_eq!(back.entries, t.entries);
        std::fs::write(&path, b"{ not json").unwrap();
        assert!(TuneTable::read(&path).is_err());
        assert!(TuneTable::read(&dir.join("none.json")).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cache_written_before_staged_tiles_still_reads_as_register_tiles() {
        let mut t = TuneTable::new(stamp());
        let entry = TunedTile {
            tm: 8,
            tn4: 2,
            share: 0,
            ms: 1.0,
            heuristic_ms: 2.0,
            winograd: None,
            staged: true,
        };
        t.entries.insert("1x1/1 64->64 8x8 b1".into(), entry);
        let mut json: serde_json::Value = serde_json::to_value(&t).unwrap();
        let back: TuneTable = serde_json::from_value(json.clone()).unwrap();
        assert!(back.entries["1x1/1 64->64 8x8 b1"].tile().staged);
        // An older file has no `staged` field.
        json["entries"]["1x1/1 64->64 8x8 b1"]
            .as_object_mut()
            .unwrap()
            .remove("staged");
        let old: TuneTable = serde_json::from_value(json).unwrap();
        assert_eq!(
            old.entries["1x1/1 64->64 8x8 b1"],
            TunedTile {
                staged: false,
                ..entry
            }
        );
    }

    #[test]
    fn a_cache_written_before_winograd4_reads_its_flag_as_f2() {
        let entry = |winograd: &str| {
            let json = format!(
                r#"{{"tm": 8, "tn4": 2, "share": 0, "ms": 1.0, "heuristic_ms": 2.0, "winograd": {winograd}}}"#
            );
            serde_json::from_str::<TunedTile>(&json).map(|t| t.winograd)
        };
        assert_eq!(entry("true").unwrap(), Some(Winograd::F2));
        assert_eq!(entry("false").unwrap(), None);
        assert_eq!(entry("0").unwrap(), None);
        assert_eq!(entry("2").unwrap(), Some(Winograd::F2));
        assert_eq!(entry("4").unwrap(), Some(Winograd::F4));
        let err = entry("3").unwrap_err().to_string();
        assert!(err.contains("3 is not a Winograd output tile"), "{err}");
        // Written as the side, and read back.
        let t = TunedTile {
            tm: 8,
            tn4: 2,
            share: 0,
            ms: 1.0,
            heuristic_ms: 2.0,
            winograd: Some(Winograd::F4),
            staged: false,
        };
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains(r#""winograd":4"#), "{json}");
        assert_eq!(serde_json::from_str::<TunedTile>(&json).unwrap(), t);
    }
}
