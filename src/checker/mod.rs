//! The linearizability checker: exact, P-compositional, with unknown outcomes.
//!
//! A history is split by key (P-compositionality: a history of independent objects is
//! linearizable iff each object's is) and each key is checked on its own, in parallel
//! across cores, by [`search`]: Lowe's just-in-time linearization as a graph search over
//! *configurations* (model state, set of pending operations already linearized), with the
//! set of configurations deduplicated — the WGL cache of (linearized set, state) restricted
//! to the operations still pending, so memory does not grow with the history's length.
//!
//! Operations whose outcome is unknown (`info`) may take effect at any time after their
//! invocation, or never: they have no return event, so nothing forces them. One that can no
//! longer be observed (no later operation could see its effect) is retired, and one whose
//! effect is never observed at all is dropped before the search ([`Model::effect`] and
//! [`Model::observes`] tell which). A time limit gives [`Verdict::Unknown`], never a guess.
//!
//! Models live one per file in [`models`]; a new one implements [`Model`].

pub mod etcd;
pub mod explain;
pub mod gen;
pub mod html;
pub mod input;
pub mod models;
mod search;
pub mod watch;
mod wgl;

pub use search::check_key;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a completed operation can see of the effects of operations with unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// Nothing (e.g. a write).
    Nothing,
    /// The effect with this token.
    Token(u64),
    /// Any effect but the one with this token (a cas whose compare failed is made legal by
    /// any value other than its `from`).
    AnyBut(u64),
}

/// A sequential specification of one object (one key).
pub trait Model: Sync {
    /// The object's state; compared and hashed to deduplicate configurations.
    type State: Clone + Eq + Hash + Debug;
    /// What an operation asked for.
    type Input: Clone + Debug + Send + Sync;
    /// What it returned.
    type Output: Clone + Debug + Send + Sync;

    /// The model's name (`register`, `kv`).
    fn name(&self) -> &'static str;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// Apply an operation to a state: the next state, or `None` when the operation could not
    /// have returned `output` in `state`. `output` is `None` for an unknown outcome: the
    /// operation took effect (and any result is acceptable).
    fn step(&self, state: &Self::State, input: &Self::Input, output: Option<&Self::Output>) -> Option<Self::State>;
    /// An operation in words (`write 5`, `cas 3→5 failed`, `read → 9`).
    fn describe(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;
    /// A state in words.
    fn describe_state(&self, state: &Self::State) -> String;
    /// For an operation with unknown outcome: the token of the effect it would have (e.g. the
    /// value a write stores), so it can be dropped or retired once nothing can observe it.
    /// `None` = cannot tell: keep it for the whole history.
    fn effect(&self, _input: &Self::Input) -> Option<u64> {
        None
    }
    /// What a completed operation observes of earlier effects: a token (the value a read
    /// returned, the `from` of a successful cas), any change but one (a cas whose compare
    /// failed is helped by any write of a value other than its `from`), or nothing.
    ///
    /// The search relies on this contract: the legality and result of an operation depend on
    /// the state only through what it declares here (and, for an unknown operation, through
    /// [`Model::observes_if_unknown`]). Then an unknown operation whose effect no later
    /// operation observes by token is either removable from a legal order, or can be moved to
    /// just before an [`Observation::AnyBut`] operation that is illegal without it — so the
    /// search links it to such an operation and never tries it anywhere else.
    fn observes(&self, _input: &Self::Input, _output: &Self::Output) -> Observation {
        Observation::Nothing
    }
    /// What an operation with unknown outcome depends on to have its effect (e.g. a cas
    /// with unknown outcome needs the value `from`): it keeps alive the unknown operations
    /// that could produce it, for as long as it is alive itself. An operation that declares
    /// `Token(t)` here must leave every state whose token is not `t` unchanged.
    fn observes_if_unknown(&self, _input: &Self::Input) -> Observation {
        Observation::Nothing
    }
    /// Whether a completed operation never changes the state (a read, a cas whose compare
    /// failed): the search linearizes such an operation as soon as it is legal, alone.
    fn read_only(&self, _input: &Self::Input, _output: &Self::Output) -> bool {
        false
    }
    /// The token of the effect a state consists of, when a state is nothing but the effect
    /// of the last operation (a register's value is the value last written). With
    /// [`Model::anonymous`], it lets the search treat every state whose token no operation
    /// observes (no read returns it, no cas expects it, no failed cas is hindered by it) as
    /// one state: by the contract of [`Model::observes`] no operation can tell them apart.
    fn state_token(&self, _state: &Self::State) -> Option<u64> {
        None
    }
    /// The state that stands for every state whose token nobody observes.
    fn anonymous(&self) -> Option<Self::State> {
        None
    }
    /// Whether an unknown operation has its effect in every state (a write does; a cas only
    /// when its compare holds). Unconditional effects whose tokens nobody observes are
    /// interchangeable, so the search tries one of them where any would do.
    fn unconditional(&self, _input: &Self::Input) -> bool {
        false
    }
    /// Whether an operation with unknown outcome can be ignored entirely (e.g. a read).
    fn unknown_is_noop(&self, _input: &Self::Input) -> bool {
        false
    }
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation<I, O> {
    /// Logical client (process).
    pub client: u64,
    /// The object it acts on (the partition key).
    pub key: String,
    /// Invocation time (any monotonic unit: ns, or a line number).
    pub call: u64,
    /// Return time; `None` when the outcome is unknown (it returns "at infinity").
    pub ret: Option<u64>,
    /// What it asked.
    pub input: I,
    /// What it returned; `None` when unknown.
    pub output: Option<O>,
    /// Where it came from, for messages (`history.jsonl:17`, an op id).
    pub origin: String,
}

/// The verdict of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Some order of the operations, consistent with real time, is legal for the model.
    Linearizable,
    /// No such order exists.
    NotLinearizable,
    /// The time limit ran out first (or the check was cancelled).
    Unknown,
}

impl Verdict {
    /// As in `--json` and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not-linearizable",
            Verdict::Unknown => "unknown",
        }
    }

    /// `Some(true|false)`, or `None` for unknown (docs/formats.md §3's `linearizable`).
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Verdict::Linearizable => Some(true),
            Verdict::NotLinearizable => Some(false),
            Verdict::Unknown => None,
        }
    }
}

/// One operation as shown in an explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpView {
    /// Index among the key's operations.
    pub index: usize,
    /// Logical client.
    pub client: u64,
    /// Invocation time.
    pub call: u64,
    /// Return time (`None` = unknown outcome).
    pub ret: Option<u64>,
    /// The operation in words.
    pub text: String,
    /// Where it came from.
    pub origin: String,
}

/// Why a key is not linearizable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The key.
    pub key: String,
    /// Every operation of the key (for drawing the timeline).
    pub ops: Vec<OpView>,
    /// The operation that could not be linearized: at its return, no order of the
    /// operations so far that includes it is legal.
    pub culprit: usize,
    /// The operations that matter: those concurrent with the culprit and the ones just
    /// before it (indices into `ops`).
    pub window: Vec<usize>,
    /// The longest legal order found before the culprit (indices into `ops`).
    pub partial: Vec<usize>,
    /// The states reachable just before the culprit returned, in words.
    pub states_before: Vec<String>,
    /// When the culprit starved: the operation at whose return every legal order had
    /// overwritten, for good, the value the culprit returns (the states above are then the
    /// ones just before that return).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced_by: Option<usize>,
}

/// The result for one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyResult {
    /// The key.
    pub key: String,
    /// Operations checked (after dropping those that cannot matter).
    pub ops: usize,
    /// Operations dropped before the search (unknown reads, unobservable unknown writes).
    pub dropped: usize,
    /// The verdict for this key.
    pub verdict: Verdict,
    /// Seconds spent.
    pub seconds: f64,
    /// Most configurations held at once (a measure of the search's width).
    pub peak_configs: usize,
}

/// The result of checking a whole history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Not linearizable if any key is not; else unknown if any key is unknown.
    pub verdict: Verdict,
    /// Per key, sorted by key.
    pub keys: Vec<KeyResult>,
    /// The first failure found (by key order).
    pub failure: Option<Failure>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The check was cancelled before every key was decided ([`check_cancellable`]): an
    /// unknown verdict means interrupted, not out of time.
    pub interrupted: bool,
}

impl CheckResult {
    /// Total operations checked.
    pub fn ops(&self) -> usize {
        self.keys.iter().map(|k| k.ops + k.dropped).sum()
    }
}

/// A model's operations.
type Ops<M> = Vec<Operation<<M as Model>::Input, <M as Model>::Output>>;

/// Check a history: split by key, check keys in parallel (up to the machine's cores), each
/// bounded by `timeout` overall.
pub fn check<M: Model>(model: &M, ops: Vec<Operation<M::Input, M::Output>>, timeout: Duration) -> CheckResult {
    check_cancellable(model, ops, timeout, &AtomicBool::new(false))
}

/// How often a check looks at its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// [`check`] that can also be cancelled: soon after `cancel` is set (it is looked at every
/// 20 ms, and the searches stop at their next time-limit check), it returns with
/// [`CheckResult::interrupted`] set and an unknown verdict — or not linearizable, when a
/// key was already shown to be.
pub fn check_cancellable<M: Model>(model: &M, ops: Vec<Operation<M::Input, M::Output>>, timeout: Duration, cancel: &AtomicBool) -> CheckResult {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut by_key: BTreeMap<String, Ops<M>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.clone()).or_default().push(op);
    }
    let parts: Vec<(String, Ops<M>)> = by_key.into_iter().collect();
    // Set when the verdict is decided (a key failed) or the check is cancelled: every search
    // stops at its next time-limit check.
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let (keys, failure) = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if cancel.load(Ordering::Relaxed) {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                std::thread::sleep(CANCEL_POLL);
            }
        });
        // Set however the check ends (a panic too), or the scope would wait for the watcher.
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _done = Done(&done);
        check_parts(model, &parts, deadline, &stop)
    });
    let mut r = finish(keys, failure, started);
    r.interrupted = cancel.load(Ordering::Relaxed) && r.keys.iter().any(|k| k.verdict == Verdict::Unknown);
    r
}

/// Check each key, in parallel up to the machine's cores; the results by key order, and the
/// first failure.
fn check_parts<M: Model>(model: &M, parts: &[(String, Ops<M>)], deadline: Instant, stop: &AtomicBool) -> (Vec<KeyResult>, Option<Failure>) {
    // One key (a Jepsen register log): no thread to start.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(parts.len().max(1));
    if threads <= 1 {
        let mut keys = Vec::new();
        let mut failure = None;
        for (key, ops) in parts {
            let (r, f) = check_key(model, key, ops, deadline, stop);
            let failed = r.verdict == Verdict::NotLinearizable;
            keys.push(r);
            if failure.is_none() {
                failure = f;
            }
            if failed {
                stop.store(true, Ordering::Relaxed);
            }
        }
        return (keys, failure);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Slot = Option<(KeyResult, Option<Failure>)>;
    let results: std::sync::Mutex<Vec<Slot>> = std::sync::Mutex::new(vec![None; parts.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= parts.len() {
                    break;
                }
                let (key, ops) = &parts[i];
                let r = check_key(model, key, ops, deadline, stop);
                if r.0.verdict == Verdict::NotLinearizable {
                    // Other keys may stop early: the verdict is decided.
                    stop.store(true, Ordering::Relaxed);
                }
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    let mut keys = Vec::new();
    let mut failure = None;
    for r in results.into_inner().unwrap_or_default().into_iter().flatten() {
        if failure.is_none() {
            failure = r.1;
        }
        keys.push(r.0);
    }
    (keys, failure)
}

/// The verdict over all keys.
fn finish(keys: Vec<KeyResult>, failure: Option<Failure>, started: Instant) -> CheckResult {
    let verdict = if keys.iter().any(|k| k.verdict == Verdict::NotLinearizable) {
        Verdict::NotLinearizable
    } else if keys.iter().any(|k| k.verdict == Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Linearizable
    };
    CheckResult { verdict, keys, failure, seconds: started.elapsed().as_secs_f64(), interrupted: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model whose state is the order the operations took effect in, and whose last
    /// operation is never legal: the search has to try every order of the others.
    struct Orders;

    impl Model for Orders {
        type State = u64;
        type Input = u64;
        type Output = ();
        fn name(&self) -> &'static str {
            "orders"
        }
        fn init(&self) -> u64 {
            1
        }
        fn step(&self, state: &u64, input: &u64, _: Option<&()>) -> Option<u64> {
            (*input != u64::MAX).then(|| state.wrapping_mul(1_000_003).wrapping_add(*input))
        }
        fn describe(&self, input: &u64, _: Option<&()>) -> String {
            format!("op {input}")
        }
        fn describe_state(&self, state: &u64) -> String {
            state.to_string()
        }
    }

    /// Twenty operations, all concurrent, then one that no order makes legal.
    fn hard() -> Vec<Operation<u64, ()>> {
        let mut ops: Vec<Operation<u64, ()>> = (0..20)
            .map(|i| Operation { client: i, key: "k".into(), call: i, ret: Some(100 + i), input: i, output: Some(()), origin: format!("op {i}") })
            .collect();
        ops.push(Operation { client: 99, key: "k".into(), call: 0, ret: Some(1000), input: u64::MAX, output: Some(()), origin: "poison".into() });
        ops
    }

    #[test]
    fn a_cancelled_check_returns_promptly_with_an_unknown_verdict_that_says_interrupted() {
        let cancel = std::sync::Arc::new(AtomicBool::new(false));
        let c2 = cancel.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            c2.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        let r = check_cancellable(&Orders, hard(), Duration::from_secs(60), &cancel);
        setter.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "the check took {:?} after being cancelled at 0.3 s", started.elapsed());
        assert_eq!(r.verdict, Verdict::Unknown);
        assert!(r.interrupted);
    }

    #[test]
    fn a_check_that_runs_out_of_time_is_unknown_but_not_interrupted() {
        let r = check_cancellable(&Orders, hard(), Duration::from_millis(200), &AtomicBool::new(false));
        assert_eq!(r.verdict, Verdict::Unknown);
        assert!(!r.interrupted);
        // Not cancelled and decided: not interrupted either.
        let easy: Vec<Operation<u64, ()>> = hard().into_iter().take(3).collect();
        let r = check(&Orders, easy, Duration::from_secs(10));
        assert_eq!((r.verdict, r.interrupted), (Verdict::Linearizable, false));
    }
}
