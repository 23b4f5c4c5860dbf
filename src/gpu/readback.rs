//! Reading a GPU buffer back to the host: map, wait, copy out, unmap; or, without blocking,
//! map and poll or await (`PendingMaps`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// Map `buffer` (MAP_READ) after the submissions that fill it, and return its bytes.
pub fn read_mapped(ctx: &GpuContext, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
    let slice = buffer.slice(..size);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait()?;
    let mapped = rx.recv().map_err(|_| Error::Gpu {
        during: "read-back".into(),
        message: "the map callback never ran (device lost?)".into(),
    })?;
    mapped.map_err(|e| Error::Gpu {
        during: "read-back".into(),
        message: e.to_string(),
    })?;
    let bytes = {
        let view = slice.get_mapped_range().map_err(|e| Error::Gpu {
            during: "read-back".into(),
            message: e.to_string(),
        })?;
        view.to_vec()
    };
    buffer.unmap();
    Ok(bytes)
}

/// What a map callback reported: `None` until it runs.
type MapSlot = Arc<Mutex<Option<std::result::Result<(), wgpu::BufferAsyncError>>>>;

/// The task awaiting the maps (`PendingMaps::ready`), woken by each map callback.
type WakerSlot = Arc<Mutex<Option<Waker>>>;

/// MAP_READ buffers being mapped after a submission, without blocking the caller: `poll` lets
/// wgpu run the map callbacks, `take` copies the bytes out once every buffer is mapped. Dropped
/// before `take`, it unmaps (or cancels the pending maps of) its buffers so they can be reused.
pub struct PendingMaps {
    ctx: GpuContext,
    submission: wgpu::SubmissionIndex,
    buffers: Vec<(wgpu::Buffer, MapSlot)>,
    waker: WakerSlot,
    released: bool,
}

impl PendingMaps {
    /// Request the maps of `buffers` (call right after the `submit` that fills them, inside its
    /// error scope).
    pub fn start(
        ctx: &GpuContext,
        submission: wgpu::SubmissionIndex,
        buffers: &[&wgpu::Buffer],
    ) -> PendingMaps {
        let waker = WakerSlot::default();
        let buffers = buffers
            .iter()
            .map(|&buffer| {
                let slot = MapSlot::default();
                let seen = Arc::clone(&slot);
                let waiting = Arc::clone(&waker);
                buffer.map_async(wgpu::MapMode::Read, .., move |r| {
                    *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    if let Some(w) = waiting.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        w.wake();
                    }
                });
                (buffer.clone(), slot)
            })
            .collect();
        PendingMaps {
            ctx: ctx.clone(),
            submission,
            buffers,
            waker,
            released: false,
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Whether every map callback has run (successfully or not).
    pub fn is_ready(&self) -> bool {
        self.buffers
            .iter()
            .all(|(_, slot)| slot.lock().map(|s| s.is_some()).unwrap_or(true))
    }

    /// Let wgpu make progress and run callbacks, without blocking; true once ready.
    pub fn poll(&self) -> Result<bool> {
        self.ctx
            .device
            .poll(wgpu::PollType::Poll)
            .map_err(|e| Error::Gpu {
                during: "polling for a read-back".into(),
                message: e.to_string(),
            })?;
        Ok(self.is_ready())
    }

    /// Block until the submission has run and the maps are done.
    pub fn wait(&self) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(self.submission.clone()),
                timeout: None,
            })
            .map_err(|e| Error::Gpu {
                during: "waiting for a read-back".into(),
                message: e.to_string(),
            })?;
        // Another thread polling the same device may have taken this submission's map
        // callbacks and be running them right now: the wait above then returns before they
        // ran here. Poll until they have (they are due: the submission is done), bounded.
        let start = web_time::Instant::now();
        while !self.poll()? {
            self.ctx.ensure_alive()?;
            if start.elapsed() > std::time::Duration::from_secs(60) {
                return Err(Error::Gpu {
                    during: "waiting for a read-back".into(),
                    message: "the submission finished but its map callbacks did not run \
                              within 60 s"
                        .into(),
                });
            }
            std::thread::yield_now();
        }
        Ok(())
    }

    /// Resolves once every map callback has run. In the browser the callbacks come from the
    /// browser's event loop, which wakes this future; natively wgpu runs them only inside
    /// `Device::poll`, so the first poll of this future waits for the submission (as `wait`).
    pub fn ready(&self) -> MapsReady<'_> {
        MapsReady { maps: self }
    }

    /// The bytes of every buffer, in order, then unmapped: once ready (`poll` or `wait`), once.
    pub fn take(&mut self) -> Result<Vec<Vec<u8>>> {
        if self.released {
            return Err(Error::Input("this read-back was already taken".into()));
        }
        if !self.is_ready() {
            // A loss makes the callbacks never run: say so rather than "not mapped".
            self.ctx.ensure_alive()?;
            return Err(Error::Gpu {
                during: "read-back".into(),
                message: "the buffers are not mapped yet (the map callbacks have not run)".into(),
            });
        }
        let mut out = Vec::with_capacity(self.buffers.len());
        for (buffer, slot) in &self.buffers {
            let status = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(Err(e)) = status {
                self.ctx.ensure_alive()?;
                return Err(Error::Gpu {
                    during: "read-back".into(),
                    message: e.to_string(),
                });
            }
            let bytes = buffer
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Gpu {
                    during: "read-back".into(),
                    message: e.to_string(),
                })?
                .to_vec();
            out.push(bytes);
        }
        self.release();
        Ok(out)
    }

    /// Unmap what is mapped or being mapped (a pending map is cancelled), inside an error scope
    /// of our own so nothing reaches a host's error handler. Idempotent.
    pub fn release(&mut self) {
        if std::mem::replace(&mut self.released, true) {
            return;
        }
        // In the browser a scope cannot be popped without awaiting it; there unmapping a
        // buffer whose map is pending is valid (the map is aborted), so no scope is needed.
        #[cfg(not(target_arch = "wasm32"))]
        let scope = self
            .ctx
            .device
            .push_error_scope(wgpu::ErrorFilter::Validation);
        for (buffer, slot) in &self.buffers {
            // A failed map left the buffer unmapped: unmapping it would be an error.
            let failed = matches!(
                *slot.lock().unwrap_or_else(|e| e.into_inner()),
                Some(Err(_))
            );
            if !failed {
                buffer.unmap();
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = pollster::block_on(scope.pop());
    }
}

/// The future of `PendingMaps::ready`.
pub struct MapsReady<'a> {
    maps: &'a PendingMaps,
}

impl Future for MapsReady<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.maps.is_ready() {
            return Poll::Ready(Ok(()));
        }
        *self.maps.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        // A callback may have run between the check and storing the waker.
        if self.maps.is_ready() {
            return Poll::Ready(Ok(()));
        }
        #[cfg(not(target_arch = "wasm32"))]
        return Poll::Ready(self.maps.wait());
        #[cfg(target_arch = "wasm32")]
        Poll::Pending
    }
}

impl Drop for PendingMaps {
    fn drop(&mut self) {
        self.release();
    }
}
