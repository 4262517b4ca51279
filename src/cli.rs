//! The command line: clap definitions only (parsing, no I/O).

use crate::scenario::BackendChoice;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// faultline: chaos and fault injection for etcd clusters.
///
/// It brings up a real etcd cluster, drives a recorded workload through an etcd client,
/// injects faults on a schedule (partitions, kills, pauses), checks the members agree
/// afterwards, and reports leader changes, unavailability and tail latency, with gates
/// that decide the exit code.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Exit codes of `run` (and of `faultline --help`): a run's verdict.
pub const EXIT_CODES: &str = "Exit codes:
  0  every gate passed
  1  a gate failed (etcd misbehaved)
  2  bad input (scenario, flags)
  3  environment (missing etcd, not root, no Docker engine)
  4  faultline itself failed
  5  the run is invalid: the test did not test (cluster never healthy, a fault not shown to take effect, too few operations)
Several scenarios: the worst, ranked 4 > 3 > 2 > 5 > 1 > 0.";

/// Exit codes of `replay`.
pub const REPLAY_EXIT_CODES: &str = "Exit codes (as `run`, for the replay's own verdict):
  0  every gate passed
  1  a gate failed (etcd misbehaved)
  2  bad input (flags, a run directory without scenario.yaml or events.jsonl)
  3  environment (missing etcd, not root, no Docker engine)
  4  faultline itself failed
  5  the replay is invalid or was interrupted";

/// Exit codes of `compare`.
pub const COMPARE_EXIT_CODES: &str = "Exit codes:
  0  every run of both variants passed its gates
  1  a run failed a gate (and none was worse)
  2  bad input (scenario, a variant's KEY=VALUE)
  3  environment (missing etcd or image, not root, no Docker engine)
  4  faultline itself failed
  5  a run was invalid or interrupted
The worst run's, ranked 4 > 3 > 2 > 5 > 1 > 0.";

/// Exit codes of `hunt`.
pub const HUNT_EXIT_CODES: &str = "Exit codes:
  1  a run failed its gates (the seed and its run directory are printed)
  0  no run failed, and every run was valid
  5  no run failed, and a run was invalid, undecided (a check past its time limit) or interrupted
  2  bad input (scenario, a --set KEY=VALUE)
  3  environment (missing etcd or image, not root, no Docker engine)
  4  faultline itself failed";

/// Exit codes of `shrink`.
pub const SHRINK_EXIT_CODES: &str = "Exit codes:
  1  a shrunk scenario that still fails was written (scenario.yaml; its run directory printed)
  5  the written-out schedule did not fail again in --tries runs: nothing to shrink (the original scenario is written, unshrunk)
  2  bad input (not a run directory, a run that did not fail its gates)
  3  environment (missing etcd or image, not root, no Docker engine)
  4  faultline itself failed";

/// Exit codes of `validate`.
pub const VALIDATE_EXIT_CODES: &str = "Exit codes:
  0  every scenario parsed and is explained above
  2  a scenario does not parse or asks for something impossible (file:line:col on stderr)
  4  faultline itself failed";

/// Exit codes of `check`.
pub const CHECK_EXIT_CODES: &str = "Exit codes:
  0  every history is linearizable
  1  a history is not linearizable (whatever the other files give)
  2  bad input: a file that cannot be read or parsed, or that breaks the pairing of invocations and completions (file:line on stderr), or a --model that does not fit it
  4  faultline itself failed
  5  a history could not be decided (within --timeout; the etcd model's checker says why), or has no operations to check
Several files, none not linearizable: the worst of the rest, ranked 4 > 2 > 5 > 0.";

/// Exit codes of `report`.
pub const REPORT_EXIT_CODES: &str = "Exit codes:
  0  report.html written
  2  not a run directory, or its summary.json / events.jsonl / history.jsonl cannot be read
  4  report.html could not be written, or faultline itself failed";

/// Exit codes of `doctor`.
pub const DOCTOR_EXIT_CODES: &str = "Exit codes:
  0  the table was printed (a capability this machine lacks is a NO row, not an error)
  4  faultline itself failed";

/// Exit codes of `clean`.
pub const CLEAN_EXIT_CODES: &str = "Exit codes:
  0  everything found was removed or healed (or, with --dry-run, listed), or nothing was left
  2  --run ID matches nothing faultline left behind
  3  not root
  4  something could not be removed (named on stderr)";

/// Exit codes of `image build`.
pub const IMAGE_EXIT_CODES: &str = "Exit codes:
  0  the image was built (or was already there)
  2  bad input (an --etcd PATH that does not exist, a malformed --tag)
  3  environment: no etcd on PATH, no Docker engine, an etcd that cannot run here
  4  faultline itself failed";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: cluster up, workload, faults, checks, report.
    ///
    /// Each run writes a directory (reports/<name>-<UTC time>/) with scenario.yaml,
    /// history.jsonl, events.jsonl, summary.json and logs/. Several scenarios run one after
    /// the other; the exit code is the worst of them.
    ///
    /// Example: faultline run scenarios/leader-partition.yaml --seed 42
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Run a recorded run again: the same scenario and seed (the same schedule and per-client
    /// operations), every fault pinned to the members the original hit, by name; then say how
    /// the replay differs from the original.
    ///
    /// Example: faultline replay reports/leader-partition-20261130T194023Z --until 12s
    #[command(after_help = REPLAY_EXIT_CODES)]
    Replay(ReplayArgs),
    /// Compare two versions or settings of etcd on one scenario (pre-upgrade, tuning).
    ///
    /// Runs SCENARIO --runs times under variant a and under variant b, alternating
    /// (a-1, b-1, a-2, ...) with the same seed for run i of both, into DIR/a-1, DIR/b-1, ...
    /// (default reports/compare-<scenario>-<UTC time>/). Prints one table: per metric
    /// (leader changes, longest unavailability, p50/p99/p99.9 per operation kind, ok/fail/info
    /// counts, throughput, verdicts) the median [min–max] of a and of b, b − a, b / a, and
    /// whether the runs separate the variants (ranges that do not overlap) or overlap.
    /// Writes DIR/compare.json and DIR/compare.html (the table and dot plots of the runs).
    ///
    /// Variant keys: version (an etcd version of faultline's store, `faultline doctor` lists
    /// them; either backend), binary (etcd path, process backend), image (docker backend),
    /// heartbeat_interval, election_timeout, snapshot_count, quota_backend_bytes,
    /// extra_args (comma separated), backend. The exit code is 0 when every run passed
    /// its gates, else the worst run's.
    ///
    /// Example: faultline compare scenarios/tuning-heartbeat.yaml --a heartbeat_interval=100ms election_timeout=1s --b heartbeat_interval=20ms election_timeout=100ms --runs 3
    ///
    /// Example (upgrade): faultline compare scenarios/leader-kill.yaml --a version=3.4.23 --b version=3.5.1
    #[command(after_help = COMPARE_EXIT_CODES)]
    Compare(CompareArgs),
    /// Hunt a failing seed: run SCENARIO with seeds S, S+1, ... until a run fails its gates
    /// (or --runs runs), one line per run; then runs, failures, the failure rate with its 95%
    /// confidence interval (Wilson), the time to the first failure, the failing seeds, their
    /// run directories and what caught each (the gate; for watch, the guarantee). Runs go to
    /// DIR/seed-S (default reports/hunt-<scenario>-<UTC time>/), the result to DIR/hunt.json.
    ///
    /// --keep-going runs all N to measure the rate; --set overrides scenario keys: etcd's
    /// settings as `compare` names them (cluster.etcd.version=3.5.1, heartbeat_interval=...),
    /// any other key by its dotted path (workload.duration=10s, cluster.size=1, faults.0.for=2s).
    ///
    /// Example: faultline hunt scenarios/bugs/etcd-15220-progress-ahead.yaml --runs 10 --keep-going
    ///
    /// Example: faultline hunt scenarios/leader-kill.yaml --set cluster.etcd.version=3.5.1 --runs 5
    #[command(after_help = HUNT_EXIT_CODES)]
    Hunt(HuntArgs),
    /// Shrink a failing run to its cause: its schedule written out as plain faults (each
    /// nemesis draw and `every:` repetition one entry, drawn targets pinned to the member the
    /// original hit), then delta debugging over the faults and ops, then shorter faults and a
    /// shorter workload. Each candidate runs with the original seed up to --tries times; it
    /// still fails when a run fails a gate the original failed. The result is run once more
    /// to confirm it (else the failing candidate before it).
    ///
    /// Writes DIR/scenario.yaml (the shrunk scenario, a plain scenario with its seed, that
    /// failed as written), DIR/shrink.json and the candidates' runs in DIR/steps/ (default
    /// DIR: reports/shrink-<scenario>-<UTC time>/), and prints the steps: what was removed,
    /// runs tried, still failing.
    ///
    /// Example: faultline shrink reports/hunt-leader-kill-20261206T101500Z/seed-43 --tries 2
    #[command(after_help = SHRINK_EXIT_CODES)]
    Shrink(ShrinkArgs),
    /// Check scenarios and explain them (resolved settings and fault schedule) without running.
    ///
    /// Example: faultline validate scenarios/*.yaml --seed 7
    #[command(after_help = VALIDATE_EXIT_CODES)]
    Validate(ValidateArgs),
    /// Check histories for linearizability: faultline's history.jsonl (or a run directory),
    /// Jepsen etcd logs, Porcupine kv logs.
    ///
    /// Prints each file's verdict, per-key counts and time, and for a violation the key and
    /// the window of operations that cannot be ordered. A history of the etcd or kubernetes
    /// workload is checked with the etcd model, against the whole store (its revisions,
    /// ranges, transactions, leases and compaction). A file that cannot be checked is named
    /// on stderr beside the others' verdicts.
    ///
    /// Example: faultline check reports/leader-partition-20261123T170512Z/
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// (Re)write report.html in a run directory from its summary.json, events.jsonl and
    /// history.jsonl: faults per member, leaders, throughput, latency and unavailability on
    /// one time axis. Self-contained; open it in any browser.
    ///
    /// Example: faultline report reports/leader-partition-20261123T170512Z/
    #[command(after_help = REPORT_EXIT_CODES)]
    Report(ReportArgs),
    /// Show what this machine can do: root, namespaces, iptables/nft, netem, NFQUEUE, FUSE,
    /// cgroups, Docker, etcd. Each row says what it enables and how to get it when missing.
    #[command(after_help = DOCTOR_EXIT_CODES)]
    Doctor,
    /// Remove what crashed or killed runs left behind: etcd processes, network namespaces (and
    /// the links and rules inside them), cgroups, Docker containers and networks labelled
    /// faultline.run, and run state. Containers of an attached cluster are healed (unpaused,
    /// started, the run's rules removed), never removed. Runs whose faultline process is still
    /// alive are left alone unless --force.
    #[command(after_help = CLEAN_EXIT_CODES)]
    Clean(CleanArgs),
    /// Internal: a CPU burner or memory holder that a cpu-stress / mem-stress fault starts
    /// inside a member's cgroup. Not for direct use.
    #[command(hide = true)]
    StressWorker(StressWorkerArgs),
    /// The etcd image the docker backend runs: build it from this machine's etcd.
    Image(ImageArgs),
    /// Turn another tool's fault definitions into a faultline scenario.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a scenario's faults for another tool.
    #[command(subcommand)]
    Export(ExportCommand),
}

/// Exit codes of `export`.
pub const EXPORT_EXIT_CODES: &str = "Exit codes:
  0  the workflow was printed (approximations and faultline-only steps on stderr and in its header)
  2  bad input: a scenario that does not parse, a malformed --selector or --pods
  4  faultline itself failed";

/// `faultline export` subcommands.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print a Chaos Mesh Workflow that injects the scenario's faults on a Kubernetes etcd:
    /// every fault in parallel, each a Serial of a Suspend (its offset) and its chaos (its
    /// length), a Schedule (`@every`) where it repeats. io-latency/io-error/io-mistake →
    /// IOChaos, latency/bandwidth/partition → NetworkChaos, kill/stop → PodChaos (pod-kill,
    /// pod-failure), cpu-stress/mem-stress → StressChaos. Members nK → pods (`etcd-K-1`, or
    /// --pods); `leader`/`follower` → `mode: one` (Chaos Mesh cannot select them: said on
    /// stderr and in the header), minority/majority → `mode: fixed`. Ops, triggered faults,
    /// power-loss kills, fsync lies, corruption and CPU quotas have no Chaos Mesh kind: they are
    /// listed as steps for faultline's own runner.
    ///
    /// Example: faultline export chaos-mesh scenarios/leader-partition.yaml --namespace etcd --pods n1=etcd-0,n2=etcd-1,n3=etcd-2
    #[command(name = "chaos-mesh", after_help = EXPORT_EXIT_CODES)]
    ChaosMesh(ExportChaosMeshArgs),
}

/// The flags of `faultline export chaos-mesh`.
#[derive(Debug, Args)]
pub struct ExportChaosMeshArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// The namespace of etcd's pods (and of the workflow).
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// The label that selects etcd's pods.
    #[arg(long, default_value = "app=etcd", value_name = "KEY=VALUE")]
    pub selector: String,
    /// Members to pods, e.g. n1=etcd-0,n2=etcd-1 (default nK = etcd-K-1).
    #[arg(long, value_name = "nK=POD,...")]
    pub pods: Option<String>,
    /// Where etcd's data directory is mounted in its pods (IOChaos's volumePath).
    #[arg(long, default_value = "/var/lib/etcd", value_name = "PATH")]
    pub volume_path: String,
}

/// Exit codes of `import`.
pub const IMPORT_EXIT_CODES: &str = "Exit codes:
  0  the scenario was printed
  2  bad input: a manifest that does not parse, or a field faultline cannot map (named, with the reason; nothing is printed)
  4  faultline itself failed";

/// `faultline import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Print a faultline scenario equivalent to Chaos Mesh manifests: IOChaos (latency, fault
    /// with errno, mistake; methods, path under volumePath, percent), NetworkChaos (delay with
    /// jitter, correlation and reorder, loss, duplicate, bandwidth, partition by direction),
    /// PodChaos (pod-kill, container-kill, pod-failure), StressChaos (cpu workers and load,
    /// memory size), Schedule (`@every`, with its chaos's duration) and Workflow (Serial,
    /// Parallel, Suspend; chaos templates with their deadline). Selectors become targets:
    /// `mode: one` a random member, `all` every member, `fixed` N members (1: random; named
    /// pods etcd-K: nK+1), `fixed-percent` / `random-max-percent` a minority. A field that
    /// cannot be mapped (TimeChaos, DNS, HTTP, JVM, cloud kinds, a corrupt action, a cron time
    /// of day, a selector that names pods other than etcd's) is refused with the field and the
    /// reason; Chaos Mesh's bookkeeping (historyLimit, containerNames, ...) is named in a
    /// `# note:` line. The result is checked as a scenario before it is printed; `faultline
    /// validate` shows its schedule.
    ///
    /// Example: faultline import chaos-mesh io-latency.yaml > scenarios/io-latency.yaml
    ///
    /// Example: faultline import chaos-mesh partition.yaml --into scenarios/smoke.yaml
    #[command(name = "chaos-mesh", after_help = IMPORT_EXIT_CODES)]
    ChaosMesh(ImportChaosMeshArgs),
}

/// The flags of `faultline import chaos-mesh`.
#[derive(Debug, Args)]
pub struct ImportChaosMeshArgs {
    /// Chaos Mesh manifests (YAML; several documents a file, separated by `---`).
    #[arg(required = true, value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,
    /// Add the faults to this scenario instead (printed whole; its comments are not kept).
    #[arg(long, value_name = "SCENARIO")]
    pub into: Option<PathBuf>,
}

/// `faultline image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build faultline/etcd:<version> locally (no registry) from an etcd binary: FROM scratch,
    /// the binary at /usr/local/bin/etcd, the libraries it links (as ldd finds them),
    /// etcdctl when installed, an empty /var/lib/etcd. Rebuilding the same binary is quick
    /// (the engine caches the layers).
    ///
    /// Example: faultline image build --etcd /usr/bin/etcd
    #[command(after_help = IMAGE_EXIT_CODES)]
    Build(ImageBuildArgs),
}

/// The flags of `faultline run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (YAML, see README "Scenario reference").
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Where the members run: auto (docker if an engine answers, else process), process
    /// (local etcd processes in network namespaces; needs root) or docker (containers through the
    /// Docker engine; the etcd image is built from the local etcd when missing).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Seed for the fault schedule and the workload (overrides the scenario's); the same
    /// seed gives the same schedule.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run directory (with several scenarios: the directory that holds one per scenario).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress bar and no report table (summary.json is still written).
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write JUnit XML to FILE: a test suite per scenario, a test case per gate (a
    /// failed gate is a failure with its figures and the run directory), for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print each run's summary (summary.json) on stdout as JSON Lines — one object per
    /// scenario, on one line, as its run ends — instead of the table and progress lines
    /// (which would mix with it). `check --json` follows the same convention.
    #[arg(long)]
    pub json: bool,
}

/// The flags of `faultline replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The original run's directory (it holds scenario.yaml and events.jsonl).
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Stop at this offset from workload start (e.g. 12s), for bisecting a failure; faults
    /// from then on are dropped, earlier ones keep their places.
    #[arg(long, value_name = "OFFSET", value_parser = parse_span)]
    pub until: Option<std::time::Duration>,
    /// Where the replay's run directory goes (default: reports/<name>-<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Backend for the replay (default: the scenario's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// No progress bar and no report table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The flags of `faultline compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The scenario file (before --a and --b).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Variant a: KEY=VALUE settings (e.g. heartbeat_interval=100ms election_timeout=1s).
    #[arg(long = "a", value_name = "KEY=VALUE", num_args = 1.., required = true)]
    pub a: Vec<String>,
    /// Variant b: KEY=VALUE settings.
    #[arg(long = "b", value_name = "KEY=VALUE", num_args = 1.., required = true)]
    pub b: Vec<String>,
    /// Runs per variant.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The first run's seed (run i uses SEED + i - 1); default the scenario's, else drawn and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The comparison directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Backend for variants that do not set `backend=`.
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
}

/// The flags of `faultline hunt`.
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Runs at most.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Go on after the first failure: run all --runs to measure the failure rate.
    #[arg(long)]
    pub keep_going: bool,
    /// The first seed (run i uses SEED + i - 1); default the scenario's, else drawn and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The hunt's directory (runs in DIR/seed-S, the result in DIR/hunt.json).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where the members run (default: the scenario's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Override a scenario key (repeatable): cluster.etcd.version=3.5.1, workload.duration=10s.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// The flags of `faultline shrink`.
#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// The failing run's directory (from `run`, `hunt` or `replay`).
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Runs of each candidate at most before it counts as not failing.
    #[arg(long, default_value_t = 3)]
    pub tries: usize,
    /// The shrink's directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Stop trying new candidates after this long (e.g. 20m); the best so far is written.
    #[arg(long, value_name = "SPAN", default_value = "30m", value_parser = parse_span)]
    pub budget: std::time::Duration,
    /// Where the members run (default: the original's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
}

/// The flags of `faultline validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Seed used to draw the schedule shown (nemesis and target choices).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The flags of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History files or run directories.
    #[arg(required = true, value_name = "HISTORY")]
    pub histories: Vec<PathBuf>,
    /// The model: register (read/write/cas per key), kv (get/put/append per key), or etcd
    /// (etcd's API over the whole store: every answer's revision, ranges with limits and past
    /// revisions, multi-key transactions, leases, compaction). Default: picked from the
    /// history — etcd for a history.jsonl of the etcd or kubernetes workload, kv for kv logs,
    /// register otherwise.
    #[arg(long, value_parser = ["register", "kv", "etcd"])]
    pub model: Option<String>,
    /// Input format.
    #[arg(long, default_value = "auto", value_parser = ["auto", "jsonl", "jepsen-log", "kv-log"])]
    pub format: String,
    /// Time limit per file; past it the verdict is `unknown` (exit 5), never a guess.
    #[arg(long, default_value = "60s")]
    pub timeout: String,
    /// JSON Lines: one object per file, on one line (`file`, `verdict`, ...; a file that
    /// could not be checked has `verdict` bad-input or no-operations and `error`), as `run
    /// --json` does per scenario.
    #[arg(long)]
    pub json: bool,
    /// When a history is not linearizable, write a page that draws the violation (the
    /// failing key's operations on a time axis, the window zoomed, the longest legal
    /// order numbered, the culprit in red; for the etcd model, what it expected and what etcd
    /// said, and the operations around it one row per client) to FILE; open it in any
    /// browser, it needs no network. With several failing histories the first writes FILE and the n-th writes
    /// FILE with `-n` before its extension (l.html, l-2.html, ...). Each page written is
    /// named on stderr.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// The flags of `faultline report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory.
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
}

/// The flags of `faultline clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only this run id (the 6 hex digits of `run_id` in summary.json and of
    /// faultline-<id>-... names); an id that matches nothing is an error (exit 2).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Also remove runs whose owner still seems alive.
    #[arg(long)]
    pub force: bool,
    /// Also remove the Docker images faultline built (every image labelled
    /// faultline.image, and only those); without it images are kept.
    #[arg(long)]
    pub images: bool,
    /// Touch nothing: list what would be removed or healed.
    #[arg(long)]
    pub dry_run: bool,
}

/// The flags of the hidden `faultline stress-worker`.
#[derive(Debug, Args)]
pub struct StressWorkerArgs {
    /// Percent of one core to keep busy.
    #[arg(long)]
    pub cpu_load: Option<f64>,
    /// Bytes of memory to allocate and touch.
    #[arg(long)]
    pub mem_bytes: Option<u64>,
}

/// The flags of `faultline image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to do with the image.
    #[command(subcommand)]
    pub action: ImageCommand,
}

/// The flags of `faultline image build`.
#[derive(Debug, Args)]
pub struct ImageBuildArgs {
    /// The etcd binary (default: etcd on PATH).
    #[arg(long, value_name = "PATH", conflicts_with = "version")]
    pub etcd: Option<PathBuf>,
    /// An etcd version of faultline's store instead (`3.5.1`; `faultline doctor` lists those
    /// here): builds faultline/etcd:<version> from that version's binary.
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,
    /// The image reference (default: faultline/etcd:<the binary's version>).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Redo every step instead of reusing the layers of an earlier build of the same files.
    #[arg(long)]
    pub no_cache: bool,
}

/// `--backend` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// Docker where an engine answers, else process.
    Auto,
    /// Local etcd processes in network namespaces.
    Process,
    /// Docker containers.
    Docker,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Process => BackendChoice::Process,
            BackendArg::Docker => BackendChoice::Docker,
        }
    }
}

/// Parse a duration as scenarios write it (`12s`, `1500ms`, `2m`).
fn parse_span(s: &str) -> Result<std::time::Duration, String> {
    crate::scenario::units::Span::parse(s).map(|x| x.0)
}
