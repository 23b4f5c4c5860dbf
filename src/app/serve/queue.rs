//! A model's request queue, shared by its GPU workers (one per adapter). Requests enter whole;
//! a free worker takes rows from the front in arrival order, across request boundaries, as the
//! batching policy (`policy::decide`, on the worker's measured plan costs) says: run some now in
//! a given plan, or wait a little for rows on their way, never longer than `max_delay` of extra
//! wait for the oldest row (counted from when the worker became free). Draining or hurrying
//! never waits. A request larger than a plan is taken in several slices. Each slice's logits go back into its own request's rows (`Reply`), which
//! answers once all of its rows are in: no row is lost, mixed or duplicated.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use image::RgbaImage;
use tokio::sync::oneshot;

use super::metrics::ModelMetrics;
use super::policy::{decide, CostModel, Decision};
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
    /// Rows answered lately whose clients have not sent another row since: a closed-loop
    /// client sends its next request as soon as it has its answer.
    returning: usize,
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
                returning: 0,
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
        s.returning = s.returning.saturating_sub(job.count);
        s.jobs.push_back(job);
        self.publish(&s);
        drop(s);
        self.wake.notify_one();
        Ok(())
    }

    /// Requests queued before new ones are refused (`--max-queue`).
    pub fn max_requests(&self) -> usize {
        self.max_requests
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

    /// A worker answered `rows` rows: their clients may be about to send more.
    pub fn answered(&self, rows: usize) {
        lock(&self.state).returning += rows;
    }

    /// The next batch and the plan (batch size) to run it in, in arrival order, as the policy
    /// decides on `costs`; `free_since`: when this worker finished its last batch. None once
    /// draining and empty. Blocks (this is a worker's own thread, never the async runtime).
    pub fn take(&self, costs: &dyn CostModel, free_since: Instant) -> Option<(Vec<Slice>, usize)> {
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
            // The oldest row's extra wait: from when it arrived or the worker freed, if later.
            let now = Instant::now();
            let since = front.enqueued.max(free_since);
            let budget = if s.draining || s.hurry {
                Duration::ZERO
            } else {
                self.max_delay
                    .saturating_sub(now.saturating_duration_since(since))
            };
            let (want, plan) = match decide(costs, s.rows, budget, s.returning) {
                Decision::Run { rows, plan } => (rows, plan),
                Decision::Wait(t) => {
                    let rows = s.rows;
                    s = self
                        .wake
                        .wait_timeout(s, t)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if s.rows == rows && now.elapsed() >= t {
                        // Nobody came back in time: stop expecting them.
                        s.returning = 0;
                    }
                    continue;
                }
            };
            let mut slices = Vec::new();
            let mut want = want;
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
            return Some((slices, plan));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::app::serve::policy::MeasuredCosts;

    /// Plans 1, 4 with costs that make every split take the largest run first.
    fn plans_1_4() -> MeasuredCosts {
        MeasuredCosts::new(vec![1, 4], vec![1.0, 2.0])
    }

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
        while let Some((slices, _)) = q.take(&plans_1_4(), Instant::now()) {
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

    /// Random request sizes, pushes interleaved with takes under random plan costs (so splits and
    /// pads vary), batches delivered out of order as two workers would: every request gets
    /// exactly its own rows, in order.
    #[test]
    fn rows_return_in_order_under_random_interleavings() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rng = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as usize
        };
        for round in 0..50 {
            let costs = MeasuredCosts::new(
                vec![1, 2, 4, 8],
                (0..4).map(|_| 1.0 + rng(100) as f64).collect(),
            );
            let q = Queue::new(1000, Duration::ZERO, 2, Arc::default());
            let mut pending = Vec::new();
            let mut receivers = Vec::new();
            for id in 0..30 {
                let count = 1 + rng(11);
                let (j, rx) = Job::new(Rows::Tensor(vec![id as f32]), count, 2, false);
                q.push(j).unwrap();
                receivers.push((id, count, rx));
                // Sometimes a worker takes a batch now, and sometimes one finishes.
                while rng(3) == 0 && lock(&q.state).rows > 0 {
                    if let Some((slices, plan)) = q.take(&costs, Instant::now()) {
                        let rows: usize = slices.iter().map(|s| s.range.len()).sum();
                        assert!(
                            rows <= plan,
                            "round {round}: {rows} rows in the {plan}-plan"
                        );
                        pending.push(slices);
                    }
                }
                if !pending.is_empty() && rng(2) == 0 {
                    let batch = pending.swap_remove(rng(pending.len() as u64));
                    deliver_tagged(&batch);
                }
            }
            q.drain();
            while let Some((slices, _)) = q.take(&costs, Instant::now()) {
                pending.push(slices);
            }
            while !pending.is_empty() {
                let batch = pending.swap_remove(rng(pending.len() as u64));
                deliver_tagged(&batch);
            }
            for (id, count, mut rx) in receivers {
                let got = rx.try_recv().expect("answered").unwrap().logits;
                let want: Vec<f32> = (0..count).flat_map(|r| [id as f32, r as f32]).collect();
                assert_eq!(got, want, "round {round}: request {id}");
            }
        }
    }

    /// Each row's two "logits": its request's id (the job's one tensor value) and its row index
    /// in that request.
    fn deliver_tagged(slices: &[Slice]) {
        for s in slices {
            let Rows::Tensor(tag) = &s.job.rows else {
                unreachable!()
            };
            let rows: Vec<f32> = s.range.clone().flat_map(|r| [tag[0], r as f32]).collect();
            s.job.deliver(s.range.clone(), &rows, 1);
        }
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
