//! Password hashing with Argon2id (the `argon2` crate's defaults: 19 MiB,
//! 2 passes, 1 lane), and no password is ever logged. Each hash holds
//! 19 MiB while it runs, so [`Hashing`] bounds the memory it can take: hashes
//! run on a few threads of their own (never on the async workers), as many
//! as may run at once, so the allocator keeps at most that many 19 MiB
//! blocks between hashes (the blocking pool's hundreds of threads would each
//! keep one); and only so many more may wait: past that an anonymous flood
//! of sign-ins gets 503 with `Retry-After` instead of growing the server.

use crate::error::AppError;
use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, PasswordHasher, Salt, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use tokio::sync::{oneshot, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// The password hashing of one server process: its threads, and its line.
pub struct Hashing {
    /// Hashes computing or waiting to (a permit goes with each job, so one
    /// whose client left still counts until it is done or skipped).
    admitted: Arc<Semaphore>,
    /// To the hashing threads (they stop when it is dropped).
    jobs: mpsc::Sender<Job>,
}

impl Hashing {
    /// `concurrent` hashing threads, and `waiting` more hashes in line.
    pub fn new(concurrent: usize, waiting: usize) -> Self {
        let concurrent = concurrent.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrent {
            let queue = queue.clone();
            let worker = move || loop {
                // The lock is held only while waiting for the next job.
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                match job {
                    // A panic ends that hash (its caller gets a 500), not the thread.
                    Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                    Err(_) => return,
                }
            };
            if let Err(error) = std::thread::Builder::new().name(format!("password-hash-{n}")).spawn(worker) {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Self { admitted: Arc::new(Semaphore::new(concurrent + waiting)), jobs }
    }

    /// Runs `work` on a hashing thread; 503 at once when the line is full.
    /// A job whose caller has gone (the client hung up) is skipped.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let Ok(admitted) = self.admitted.clone().try_acquire_owned() else {
            tracing::warn!("password hashing is saturated; answering 503");
            return Err(AppError::Unavailable);
        };
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _admitted = admitted;
            if !done.is_closed() {
                let _ = done.send(work());
            }
        });
        if self.jobs.send(job).is_err() {
            tracing::error!("the password hashing threads are gone");
            return Err(AppError::Internal);
        }
        result.await.map_err(|_| {
            tracing::error!("a password hash was dropped unfinished");
            AppError::Internal
        })?
    }
}

impl Default for Hashing {
    fn default() -> Self {
        let settings = crate::backend::Settings::default();
        Self::new(settings.hashes_at_once, settings.hashes_waiting)
    }
}

pub async fn hash(hashing: &Hashing, password: String) -> Result<String, AppError> {
    hashing
        .run(move || {
            let salt = SaltString::generate(&mut OsRng);
            let argon2 = Argon2::default();
            let output = compute(&argon2, password.as_bytes(), salt.as_salt(), Params::DEFAULT_OUTPUT_LEN)?;
            let hash = PasswordHash {
                algorithm: Algorithm::default().ident(),
                version: Some(Version::default().into()),
                params: ParamsString::try_from(argon2.params()).map_err(broken)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            };
            Ok(hash.to_string())
        })
        .await
}

/// Checks `password` against a stored hash; with `None` (no such account)
/// it checks against a dummy hash, so both failures take the same time.
pub async fn verify(hashing: &Hashing, password: String, stored: Option<String>) -> Result<bool, AppError> {
    hashing
        .run(move || {
            let found = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let parsed = PasswordHash::new(&stored).map_err(broken)?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return Err(broken("the stored hash has no salt or output"));
            };
            let algorithm = Algorithm::try_from(parsed.algorithm).map_err(broken)?;
            let version = parsed.version.map(Version::try_from).transpose().map_err(broken)?.unwrap_or_default();
            let params = Params::try_from(&parsed).map_err(broken)?;
            let computed =
                compute(&Argon2::new(algorithm, version, params), password.as_bytes(), salt, expected.len())?;
            // `Output`'s comparison takes constant time.
            Ok(found && computed == expected)
        })
        .await
}

thread_local! {
    /// The hashing thread's Argon2 memory, allocated once and reused: large
    /// aligned allocations freed and made again grow glibc's heaps without
    /// bound (measured: 19.5 MiB more RSS per sign-up).
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The raw Argon2 output for `password` and `salt`, in this thread's memory.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: Salt<'_>, len: usize) -> Result<Output, AppError> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(broken)?;
    MEMORY.with_borrow_mut(|memory| {
        let blocks = argon2.params().block_count();
        if memory.len() < blocks {
            *memory = vec![Block::default(); blocks];
        }
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(broken)
    })
}

fn broken(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "password hashing failed");
    AppError::Internal
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a password anyone has", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn right_password_verifies_and_wrong_one_does_not() {
        let hashing = Hashing::default();
        let stored = hash(&hashing, "correct horse".into()).await.unwrap();
        assert!(!stored.contains("correct horse"));
        assert!(verify(&hashing, "correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify(&hashing, "wrong horse".into(), Some(stored)).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings() {
        use argon2::PasswordVerifier;
        let hashing = Hashing::default();
        let stored = hash(&hashing, "correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        // Whoever else reads them (the argon2 crate itself) agrees.
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"old horse", &salt).unwrap();
        assert!(verify(&hashing, "old horse".into(), Some(theirs.to_string())).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        assert!(!verify(&Hashing::default(), "not a password anyone has".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_line_is_refused_at_once_rather_than_queued() {
        let hashing = std::sync::Arc::new(Hashing::new(1, 1));
        // One computing, one waiting: a third finds the line full.
        let (started, wait) = std::sync::mpsc::channel::<()>();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Mutex::new(gate);
        let first = tokio::spawn({
            let hashing = hashing.clone();
            async move {
                hashing
                    .run(move || {
                        started.send(()).unwrap();
                        gate.lock().unwrap().recv().unwrap();
                        Ok(())
                    })
                    .await
            }
        });
        tokio::task::spawn_blocking(move || wait.recv().unwrap()).await.unwrap();
        let second = tokio::spawn({
            let hashing = hashing.clone();
            async move { hashing.run(|| Ok(())).await }
        });
        tokio::task::yield_now().await;
        while hashing.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hashing.run(|| Ok(())).await, Err(AppError::Unavailable));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await.unwrap(), Ok(()));
    }
}
