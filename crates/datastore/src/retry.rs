//! Retries with exponential backoff and jitter, for failures that a second
//! try can cure: throttling (503 SlowDown), other 5xx, 429, timeouts and
//! dropped connections. Authentication and other 4xx errors are final.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the second attempt, doubled for each further one.
    pub base_delay: Duration,
    /// The cap on one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): the exponential
    /// step, half of it fixed and half random ("equal jitter"), so many
    /// clients throttled at once do not retry in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// One failed attempt, as classified for retrying.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub transient: bool,
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// S3 error code (`SlowDown`, `AccessDenied`, ...), when given.
    pub code: Option<String>,
    pub detail: String,
}

/// Runs `attempt` until it succeeds, fails for good, or the policy's
/// attempts are used; returns the last failure and the attempts made.
pub(crate) async fn run<T, F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Result<T, (Failure, u32)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut made = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) if failure.transient && made < policy.max_attempts => {
                let wait = policy.delay(made);
                tracing::info!(
                    attempt = made,
                    status = ?failure.status,
                    code = ?failure.code,
                    detail = %failure.detail,
                    "S3 request failed, retrying in {wait:?}"
                );
                tokio::time::sleep(wait).await;
                made += 1;
            }
            Err(failure) => {
                tracing::debug!(attempt = made, status = ?failure.status, code = ?failure.code, detail = %failure.detail, "S3 request failed for good");
                return Err((failure, made));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let step = (p.base_delay * (1 << (attempt - 1))).min(p.max_delay);
            let d = p.delay(attempt);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?} vs {step:?}");
        }
        assert!(p.delay(40) <= p.max_delay);
    }

    #[tokio::test]
    async fn retries_only_transient_failures() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let fail = |transient| Failure {
            transient,
            status: None,
            code: None,
            detail: String::new(),
        };
        let mut calls = 0;
        let r = run(&policy, || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(fail(true)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        let mut calls = 0;
        let r: Result<(), _> = run(&policy, || {
            calls += 1;
            async { Err(fail(false)) }
        })
        .await;
        assert_eq!((r.unwrap_err().1, calls), (1, 1));
        let r: Result<(), _> = run(&policy, || async { Err(fail(true)) }).await;
        assert_eq!(r.unwrap_err().1, 4);
    }
}
