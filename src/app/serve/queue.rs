//! A model's request queue, shared by its GPU workers (one per adapter). Requests enter whole;
//! a worker takes rows from the front in arrival order, across request boundaries, up to its
//! largest plan: at once when that many rows wait, else when the oldest request has waited
//! `max_delay` (or the server is draining). A request larger than the largest plan is taken in
//! several slices. Each slice's logits go back into its own request's rows (`Reply`), which
//! answers once all of its rows are in: no row is lost, mixed or duplicated.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use image::RgbaImage;
use tokio::sync::oneshot;

use super::metrics::ModelMetrics;
use super::protocol::ApiError;

/// Rows ready for a plan's input.
pub enum Rows {
    /// NCHW float32, `3 * h * w` values per row.
    Tensor(Vec<f32>),
    /// Decoded images, preprocessed on the GPU.
    Images(Vec<RgbaImage>),
}

/// The logits of a finished request, and where its time went.
pub struct Answer {
    pub logits: Vec<f32>,
    pub queue_us: u64,
    pub compute_us: u64,
}

/// A request's rows and its reply channel.
pub struct Job {
    pub rows: Rows,
    pub count: usize,
    pub allow_non_finite: bool,
    enqueued: Instant,
    reply: Mutex<Reply>,
}

struct Reply {
    tx: Option<oneshot::Sender<Result<Answer, ApiError>>>,
    logits: Vec<f32>,
    remaining: usize,
    queue_us: Option<u64>,
    compute_us: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Job {
    pub fn new(
        rows: Rows,
        count: usize,
        classes: usize,
        allow_non_finite: bool,
    ) -> (Arc<Job>, oneshot::Receiver<Result<Answer, ApiError>>) {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            rows,
            count,
            allow_non_finite,
            enqueued: Instant::now(),
            reply: Mutex::new(Reply {
                tx: Some(tx),
                logits: vec![0.0; count * classes],
                remaining: count,
                queue_us: None,
                compute_us: 0,
            }),
        };
        (Arc::new(job), rx)
    }

    /// Whether nobody waits for the answer any more (the client went away or timed out).
    fn abandoned(&self) -> bool {
        lock(&self.reply)
            .tx
            .as_ref()
            .is_none_or(|tx| tx.is_closed())
    }

    /// The moment a batch holding some of its rows starts.
    pub fn started(&self, at: Instant) {
        let mut r = lock(&self.reply);
        if r.queue_us.is_none() {
            r.queue_us = Some(at.duration_since(self.enqueued).as_micros() as u64);
        }
    }

    /// Store the logits of `rows` (this job's row indices); answers once every row is in.
    pub fn deliver(&self, rows: Range<usize>, logits: &[f32], compute_us: u64) {
        let mut r = lock(&self.reply);
        if r.tx.is_none() {
            return;
        }
        let classes = r.logits.len() / self.count.max(1);
        r.logits[rows.start * classes..rows.end * classes].copy_from_slice(logits);
        r.remaining -= rows.len();
        r.compute_us += compute_us;
        if r.remaining == 0 {
            let answer = Answer {
                logits: std::mem::take(&mut r.logits),
                queue_us: r.queue_us.unwrap_or(0),
                compute_us: r.compute_us,
            };
            if let Some(tx) = r.tx.take() {
                let _ = tx.send(Ok(answer));
            }
        }
    }

    /// Answer with an error (once; later rows of the job are then ignored).
    pub fn fail(&self, error: ApiError) {
        if let Some(tx) = lock(&self.reply).tx.take() {
            let _ = tx.send(Err(error));
        }
    }
}

/// Rows `range` of `job`, part of one batch.
pub struct Slice {
    pub job: Arc<Job>,
    pub range: Range<usize>,
}

struct State {
    jobs: VecDeque<Arc<Job>>,
    /// Rows of the front job already taken.
    front_taken: usize,
    /// Rows waiting, over all jobs.
    rows: usize,
    draining: bool,
    /// Shutting down: run what is queued without waiting for fuller batches.
    hurry: bool,
    workers_alive: usize,
}

pub struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    max_requests: usize,
    max_delay: Duration,
    metrics: Arc<ModelMetrics>,
}

impl Queue {
    pub fn new(
        max_requests: usize,
        max_delay: Duration,
        workers: usize,
        metrics: Arc<ModelMetrics>,
    ) -> Self {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                front_taken: 0,
                rows: 0,
                draining: false,
                hurry: false,
                workers_alive: workers,
            }),
            wake: Condvar::new(),
            max_requests,
            max_delay,
            metrics,
        }
    }

    fn publish(&self, s: &State) {
        self.metrics
            .pending
            .store(s.jobs.len() as u64, Ordering::Relaxed);
    }

    /// Queue a job, or refuse it: 503 (with Retry-After) when full, draining or without a
    /// working device.
    pub fn push(&self, job: Arc<Job>) -> Result<(), ApiError> {
        let mut s = lock(&self.state);
        if s.workers_alive == 0 {
            return Err(ApiError::unavailable(
                "the model is not ready: its GPU device was lost",
            ));
        }
        if s.draining {
            return Err(ApiError::unavailable("the server is shutting down"));
        }
        if s.jobs.len() >= self.max_requests {
            let mut e = ApiError::unavailable(format!(
                "the queue is full ({} requests waiting, --max-queue {}); retry later",
                s.jobs.len(),
                self.max_requests
            ));
            e.retry_after = Some(1);
            return Err(e);
        }
        s.rows += job.count;
        s.jobs.push_back(job);
        self.publish(&s);
        drop(s);
        self.wake.notify_one();
        Ok(())
    }

    /// Whether any worker can still run the model.
    pub fn alive(&self) -> bool {
        lock(&self.state).workers_alive > 0
    }

    /// Shutdown began: stop waiting for fuller batches (requests are still accepted until the
    /// listeners have closed, so none already sent is refused).
    pub fn hurry(&self) {
        lock(&self.state).hurry = true;
        self.wake.notify_all();
    }

    /// Stop accepting; workers finish what is queued, then `take` gives None.
    pub fn drain(&self) {
        lock(&self.state).draining = true;
        self.wake.notify_all();
    }

    /// A worker's device is gone: when it was the last one, fail everything queued with 503.
    pub fn worker_lost(&self, reason: &str) {
        let mut s = lock(&self.state);
        s.workers_alive = s.workers_alive.saturating_sub(1);
        if s.workers_alive == 0 {
            for job in s.jobs.drain(..) {
                job.fail(ApiError::unavailable(format!(
                    "the model is not ready: {reason}"
                )));
            }
            s.rows = 0;
            s.front_taken = 0;
            self.publish(&s);
        }
        drop(s);
        self.wake.notify_all();
    }

    /// The next batch of at most `max_rows` rows, in arrival order; None once draining and
    /// empty. Blocks (this is a worker's own thread, never the async runtime).
    pub fn take(&self, max_rows: usize) -> Option<Vec<Slice>> {
        let mut s = lock(&self.state);
        loop {
            // Skip jobs nobody waits for any more.
            while let Some(front) = s.jobs.front() {
                if !front.abandoned() {
                    break;
                }
                let left = front.count - s.front_taken;
                s.rows -= left;
                s.front_taken = 0;
                s.jobs.pop_front();
                self.publish(&s);
            }
            let Some(front) = s.jobs.front() else {
                if s.draining {
                    return None;
                }
                s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let due = front.enqueued + self.max_delay;
            let now = Instant::now();
            if s.rows < max_rows && !s.draining && !s.hurry && now < due {
                s = self
                    .wake
                    .wait_timeout(s, due - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            let mut slices = Vec::new();
            let mut want = max_rows;
            while want > 0 {
                let Some(front) = s.jobs.front().cloned() else {
                    break;
                };
                let start = s.front_taken;
                let n = (front.count - start).min(want);
                want -= n;
                s.rows -= n;
                if start + n == front.count {
                    s.jobs.pop_front();
                    s.front_taken = 0;
                } else {
                    s.front_taken += n;
                }
                slices.push(Slice {
                    job: front,
                    range: start..start + n,
                });
            }
            self.publish(&s);
            // Rows remain: another worker may take them now.
            if s.rows > 0 {
                self.wake.notify_one();
            }
            return Some(slices);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(count: usize) -> (Arc<Job>, oneshot::Receiver<Result<Answer, ApiError>>) {
        Job::new(Rows::Tensor(vec![0.0; count]), count, 1, false)
    }

    #[test]
    fn rows_split_across_batches_return_to_their_requests() {
        let q = Queue::new(16, Duration::ZERO, 1, Arc::default());
        let (a, mut ra) = job(3);
        let (b, mut rb) = job(6);
        q.push(a).unwrap();
        q.push(b).unwrap();
        let mut batches = Vec::new();
        q.drain();
        while let Some(slices) = q.take(4) {
            batches.push(slices.iter().map(|s| s.range.clone()).collect::<Vec<_>>());
            for s in &slices {
                // Each row's "logit" is its request's own row index plus a tag per request.
                let tag = if s.job.count == 3 { 100.0 } else { 200.0 };
                let rows: Vec<f32> = s.range.clone().map(|r| tag + r as f32).collect();
                s.job.deliver(s.range.clone(), &rows, 1);
            }
        }
        assert_eq!(batches, vec![vec![0..3, 0..1], vec![1..5], vec![5..6]]);
        assert_eq!(
            ra.try_recv().unwrap().unwrap().logits,
            [100.0, 101.0, 102.0]
        );
        let b = rb.try_recv().unwrap().unwrap().logits;
        assert_eq!(b, [200.0, 201.0, 202.0, 203.0, 204.0, 205.0]);
    }

    #[test]
    fn full_queue_refuses_with_retry_after() {
        let q = Queue::new(1, Duration::ZERO, 1, Arc::default());
        let (a, _ra) = job(1);
        let (b, _rb) = job(1);
        q.push(a).unwrap();
        let e = q.push(b).err().unwrap();
        assert_eq!((e.status, e.retry_after), (503, Some(1)));
    }

    #[test]
    fn abandoned_requests_are_skipped_and_a_lost_device_fails_the_rest() {
        let q = Queue::new(8, Duration::ZERO, 1, Arc::default());
        let (a, ra) = job(2);
        let (b, mut rb) = job(1);
        q.push(a).unwrap();
        q.push(b).unwrap();
        drop(ra);
        q.worker_lost("device lost");
        assert_eq!(rb.try_recv().unwrap().err().unwrap().status, 503);
        let (c, _rc) = job(1);
        assert_eq!(q.push(c).err().unwrap().status, 503);
    }
}
