//! Decoding image files on CPU threads ahead of the GPU: workers decode in any order into a
//! bounded channel, so at most `ahead` decoded images wait while the GPU runs a batch, and the
//! consumer forms batches of whatever is ready.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use image::RgbaImage;

use crate::decode::decode_file;
use crate::error::Result;

/// One file's outcome, with its index in the list given.
pub struct Decoded {
    pub index: usize,
    pub image: Result<RgbaImage>,
}

/// Start `threads` decoders over `paths`; they stop when every file is done or the receiver
/// is dropped.
pub fn decode_ahead(paths: Vec<PathBuf>, threads: usize, ahead: usize) -> mpsc::Receiver<Decoded> {
    let (tx, rx) = mpsc::sync_channel(ahead.max(1));
    let paths = Arc::new(paths);
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..threads.clamp(1, paths.len().max(1)) {
        let (tx, paths, next) = (tx.clone(), paths.clone(), next.clone());
        std::thread::spawn(move || loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(path) = paths.get(index) else { break };
            let image = decode_file(path);
            if tx.send(Decoded { index, image }).is_err() {
                break;
            }
        });
    }
    rx
}

/// Decoder threads to use by default: every core (the GPU thread mostly waits).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Feed `paths` through `run` in batches of up to `batch` decoded images (any order), while
/// the next images decode. `accept` may refuse a decoded image (e.g. too large for the device);
/// refused and unreadable files go to `failed`. Stops at the first error `run` returns.
pub fn in_batches(
    paths: Vec<PathBuf>,
    batch: usize,
    threads: usize,
    accept: impl Fn(usize, &RgbaImage) -> Result<()>,
    mut failed: impl FnMut(usize, crate::Error),
    mut run: impl FnMut(Vec<(usize, RgbaImage)>) -> Result<()>,
) -> Result<()> {
    let batch = batch.max(1);
    let mut ready = Vec::with_capacity(batch);
    // One batch decodes ahead while the GPU runs the current one: bounded memory.
    for d in decode_ahead(paths, threads, batch) {
        match d.image.and_then(|img| accept(d.index, &img).map(|_| img)) {
            Ok(img) => ready.push((d.index, img)),
            Err(e) => failed(d.index, e),
        }
        if ready.len() == batch {
            run(std::mem::take(&mut ready))?;
        }
    }
    if !ready.is_empty() {
        run(ready)?;
    }
    Ok(())
}
