//! Pretrained weights by name: the registry in `weights/registry.tsv`, a cache directory, and
//! a download that verifies what it got before it enters the cache (never a half file).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::arch;
use crate::error::{Error, Result};
use crate::weights;

const REGISTRY: &str = include_str!("../../weights/registry.tsv");

/// One registered model: its name and where PaddleClas publishes its `.pdparams`.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub url: String,
    pub url_source: String,
}

pub fn registry() -> Vec<Entry> {
    REGISTRY
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some(Entry {
                name: f.next()?.to_string(),
                url: f.next()?.to_string(),
                url_source: f.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

pub fn find(name: &str) -> Option<Entry> {
    registry()
        .into_iter()
        .find(|e| e.name.eq_ignore_ascii_case(name))
}

/// `--cache-dir`, else `$GPU_RESNET_CACHE`, else `$XDG_CACHE_HOME/gpu-resnet`, else
/// `~/.cache/gpu-resnet`.
pub fn cache_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("GPU_RESNET_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("gpu-resnet")))
        .or_else(|| env("HOME").map(|p| p.join(".cache").join("gpu-resnet")))
        .unwrap_or_else(|| PathBuf::from(".gpu-resnet-cache"))
}

/// Where a registered model's weights live in the cache.
pub fn cached_path(entry: &Entry, cache: &Path) -> PathBuf {
    cache.join(format!("{}.pdparams", entry.name))
}

/// What `--weights X` means: an existing file, or a registered model name whose weights are in
/// the cache. A registered name not yet downloaded is an error saying how to get it.
pub fn resolve_weights(arg: &Path, cache: Option<&Path>) -> Result<PathBuf> {
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    let Some(entry) = arg.to_str().and_then(find) else {
        // Neither a file nor a registered name: let the reader report the path.
        return Ok(arg.to_path_buf());
    };
    let path = cached_path(&entry, &cache_dir(cache));
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Input(format!(
            "weights `{}` are not downloaded: run `gpu-resnet fetch {}` (needs the network), or put the file from {} at {}",
            entry.name,
            entry.name,
            entry.url,
            path.display()
        )))
    }
}

/// Bytes a checkpoint of this model plausibly has: every parameter and BN statistic as f32
/// (protocol-2 pickles store raw bytes as UTF-8 text, up to twice that).
pub fn expected_bytes(name: &str) -> Result<(u64, u64)> {
    let spec = arch::resolve(name)?;
    let layers = spec.arch.conv_layers(arch::Stage1Shortcut::Projection);
    let stats: u64 = layers.iter().map(|l| 2 * l.cout as u64).sum();
    let floats = spec.arch.params(1000) + stats;
    Ok((floats * 4, floats * 4 * 2 + (1 << 20)))
}

/// Download `entry` (from `mirror` + the file name when given) into `cache`, verify it, and
/// return the cached path. The download goes to a `.part` file that is renamed only after the
/// size matches and the checkpoint loads against its architecture; on any failure it is removed.
pub fn fetch(
    entry: &Entry,
    cache: &Path,
    mirror: Option<&str>,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<PathBuf> {
    let url = match mirror {
        Some(base) => {
            let file = entry.url.rsplit('/').next().unwrap_or(&entry.name);
            format!("{}/{file}", base.trim_end_matches('/'))
        }
        None => entry.url.clone(),
    };
    std::fs::create_dir_all(cache).map_err(|e| Error::io(cache, e))?;
    let dest = cached_path(entry, cache);
    let part = dest.with_extension("pdparams.part");
    let (_, most) = expected_bytes(&entry.name)?;
    let result = download(&url, &part, most, progress).and_then(|_| verify(entry, &part));
    match result {
        Ok(()) => {
            std::fs::rename(&part, &dest).map_err(|e| Error::io(&dest, e))?;
            Ok(dest)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// Download `url` into `to`, refusing (before writing it) anything past `most` bytes: an
/// announced length over it, or a body that runs past it.
fn download(
    url: &str,
    to: &Path,
    most: u64,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<()> {
    let net = |message: String| {
        Error::Input(format!("download of {url} failed: {message} (offline? put the file in the cache by hand; see `gpu-resnet fetch --help`)"))
    };
    let mut response = ureq::get(url).call().map_err(|e| net(e.to_string()))?;
    let declared: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let too_large = |bytes: String| {
        Error::Input(format!(
            "download of {url} is {bytes}; no checkpoint of this model has more than {most} bytes (the wrong file, or a hostile server?)"
        ))
    };
    if let Some(d) = declared.filter(|d| *d > most) {
        return Err(too_large(format!("announced as {d} bytes")));
    }
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut file = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| net(format!("after {got} bytes: {e}")))?;
        if n == 0 {
            break;
        }
        got += n as u64;
        if got > most {
            return Err(too_large(format!("over {most} bytes and still going")));
        }
        file.write_all(&buf[..n]).map_err(|e| Error::io(to, e))?;
        progress(got, declared);
    }
    file.flush().map_err(|e| Error::io(to, e))?;
    if let Some(d) = declared {
        if got != d {
            return Err(net(format!(
                "the server announced {d} bytes but sent {got}"
            )));
        }
    }
    Ok(())
}

/// The file must be of a plausible size and load as its model's checkpoint.
fn verify(entry: &Entry, path: &Path) -> Result<()> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let (lo, hi) = expected_bytes(&entry.name)?;
    if size < lo * 95 / 100 || size > hi {
        return Err(Error::Input(format!(
            "download of {} has {size} bytes; a {} checkpoint has {lo}..{hi}",
            entry.name, entry.name
        )));
    }
    let spec = arch::resolve(&entry.name)?;
    weights::load_weights(path, &spec.arch).map(|_| ())
}
