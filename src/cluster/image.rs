//! The etcd image the Docker backend runs: `faultline/etcd:<version>`, built locally (no
//! registry) from the etcd binary on this machine.
//!
//! The image is `FROM scratch` with the binary at `/usr/local/bin/etcd`, every shared library
//! it links (found the way `ldd` finds them, copied at the paths `ldd` names, symlinks
//! followed), `etcdctl` when one is installed, an empty `/tmp` and `/var/lib/etcd`, and the
//! few files a C library wants at run time (`/etc/nsswitch.conf`, `/etc/passwd`,
//! `/etc/group`). It is labelled `faultline.image=etcd` and `faultline.etcd-version=<v>`;
//! `faultline clean --images` removes every image carrying the first label, and nothing else.
//!
//! Everything goes through the engine's API (bollard): the build context is a tar archive
//! made in memory and sent to `POST /build` (the classic builder, which caches layers, so a
//! second build of the same binary is quick).

use crate::error::Error;
use bollard::query_parameters::{BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The repository of faultline's etcd images.
pub const REPOSITORY: &str = "faultline/etcd";
/// The label every faultline image carries (its value says which image: `etcd`).
pub const LABEL: &str = "faultline.image";
/// The label that records the etcd version inside the image.
pub const VERSION_LABEL: &str = "faultline.etcd-version";
/// Where etcd lives inside the image (the entrypoint).
pub const ETCD_IN_IMAGE: &str = "/usr/local/bin/etcd";
/// Where etcdctl lives inside the image, when the machine has one.
pub const ETCDCTL_IN_IMAGE: &str = "/usr/local/bin/etcdctl";
/// An empty directory in the image for etcd's data (`--data-dir /var/lib/etcd`).
pub const DATA_DIR_IN_IMAGE: &str = "/var/lib/etcd";

/// A finished build.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBuilt {
    /// The image reference built, e.g. `faultline/etcd:3.4.23`.
    pub tag: String,
    /// Wall time of the whole build: reading the files, the context, the engine's build.
    pub seconds: f64,
    /// The image's size as the engine reports it.
    pub bytes: u64,
}

/// The default reference for an etcd version: `faultline/etcd:<version>`.
pub fn default_tag(version: &str) -> String {
    format!("{REPOSITORY}:{version}")
}

/// The engine's address, for messages: `DOCKER_HOST` when it names a unix socket, else the
/// default socket (the same rule as bollard's local defaults).
fn engine_address() -> String {
    std::env::var("DOCKER_HOST").ok().filter(|h| h.starts_with("unix://")).unwrap_or_else(|| "unix:///var/run/docker.sock".into())
}

/// The one paragraph for "no Docker engine to talk to", with what to do.
fn no_engine(reason: &str, permission: bool) -> Error {
    let addr = engine_address();
    let first = if permission {
        format!("permission denied on the Docker engine's socket {addr} ({reason}).")
    } else {
        format!("no Docker engine answers on {addr} ({reason}).")
    };
    Error::Environment(format!(
        "{first} faultline's etcd image is built and run by the Docker engine: start it (`systemctl start docker`, or `dockerd &`; \
         install it with `apt-get install docker.io`), and if you are not root, add your user to the docker group \
         (`sudo usermod -aG docker $USER`, then log in again). Without Docker, run scenarios with `--backend process` \
         (local etcd processes; needs root)."
    ))
}

/// Whether a bollard error means the engine could not be reached at all, and if so whether
/// because of permissions.
fn unreachable(e: &bollard::errors::Error) -> Option<bool> {
    use bollard::errors::Error as B;
    match e {
        B::SocketNotFoundError(_) => return Some(false),
        B::HyperLegacyError { .. } | B::HyperResponseError { .. } | B::IOError { .. } => {}
        _ => return None,
    }
    // Walk the source chain for the io::Error underneath (connect on the unix socket).
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::PermissionDenied => Some(true),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionReset => Some(false),
                _ => None,
            };
        }
        cur = c.source();
    }
    let text = format!("{e:?}").to_lowercase();
    if text.contains("permission denied") {
        Some(true)
    } else if text.contains("connection refused") || text.contains("no such file") {
        Some(false)
    } else {
        None
    }
}

/// The innermost message of an error chain ("Permission denied (os error 13)" rather than
/// "client error (Connect)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Map a bollard error: an unreachable engine is the environment's fault, anything else the
/// harness's, prefixed with what was being done.
fn docker_err(what: &str, e: bollard::errors::Error) -> Error {
    match unreachable(&e) {
        Some(permission) => no_engine(&root_cause(&e), permission),
        None => Error::Harness(format!("{what}: {e}")),
    }
}

/// Connect to the local Docker engine and agree on an API version (the engine's, when older
/// than bollard's). An absent or unreachable engine is [`Error::Environment`].
pub async fn connect() -> Result<Docker, Error> {
    let docker = Docker::connect_with_local_defaults().map_err(|e| docker_err("connecting to the Docker engine", e))?;
    docker.negotiate_version().await.map_err(|e| docker_err("asking the Docker engine for its version", e))
}

/// The shared objects `ldd` lists for a binary: every `=> /path` and the interpreter line
/// (`/lib64/ld-linux-x86-64.so.2 (0x...)`), as `ldd` names them (not resolved). Lines
/// without a path (`linux-vdso.so.1`) are skipped; `=> not found` is an error naming the
/// library.
pub fn parse_ldd(out: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = if let Some((name, rest)) = line.split_once("=>") {
            let rest = rest.trim();
            if rest.starts_with("not found") {
                return Err(format!("the library {} is not found", name.trim()));
            }
            rest.split_whitespace().next().filter(|p| p.starts_with('/'))
        } else {
            line.split_whitespace().next().filter(|p| p.starts_with('/'))
        };
        if let Some(p) = path {
            let p = PathBuf::from(p);
            if !libs.contains(&p) {
                libs.push(p);
            }
        }
    }
    Ok(libs)
}

/// The shared objects a binary needs, by running `ldd` on it. A static binary needs none.
pub fn libraries(binary: &Path) -> Result<Vec<PathBuf>, Error> {
    let out = std::process::Command::new("ldd").arg(binary).stdin(std::process::Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Environment("`ldd` is not installed; faultline uses it to find the libraries etcd links (apt-get install libc-bin).".into())
        } else {
            Error::Harness(format!("failed to run `ldd {}`: {e}", binary.display()))
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stdout.contains("statically linked") || stdout.contains("not a dynamic executable") || stderr.contains("not a dynamic executable") {
        return Ok(Vec::new());
    }
    if !out.status.success() {
        return Err(Error::Harness(format!("`ldd {}` failed ({}): {}", binary.display(), out.status, stderr.trim())));
    }
    parse_ldd(&stdout).map_err(|m| Error::Environment(format!("{} cannot run on this machine: {m} (`ldd {}`)", binary.display(), binary.display())))
}

/// What goes into the image, before it is archived.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The etcd binary on this machine.
    pub etcd: PathBuf,
    /// Its version (`etcd --version`).
    pub version: String,
    /// etcdctl on this machine, if any.
    pub etcdctl: Option<PathBuf>,
    /// Every library either binary links, at the paths `ldd` names.
    pub libraries: Vec<PathBuf>,
}

/// etcdctl to put beside etcd: the one next to the binary, else `/usr/bin/etcdctl`.
fn find_etcdctl(etcd: &Path) -> Option<PathBuf> {
    let sibling = etcd.parent().map(|d| d.join("etcdctl"));
    sibling.into_iter().chain([PathBuf::from("/usr/bin/etcdctl")]).find(|p| p.is_file())
}

impl Contents {
    /// Find what an image of `etcd` needs: its version, etcdctl, the libraries of both.
    pub fn discover(etcd: &Path) -> Result<Contents, Error> {
        let version = crate::cluster::etcd_version(etcd)?;
        let mut libs: Vec<PathBuf> = libraries(etcd)?;
        let etcdctl = find_etcdctl(etcd);
        if let Some(ctl) = &etcdctl {
            // etcdctl is a convenience: if its libraries cannot be found, leave it out.
            match libraries(ctl) {
                Ok(more) => {
                    for l in more {
                        if !libs.contains(&l) {
                            libs.push(l);
                        }
                    }
                }
                Err(_) => return Ok(Contents { etcd: etcd.to_path_buf(), version, etcdctl: None, libraries: libs }),
            }
        }
        Ok(Contents { etcd: etcd.to_path_buf(), version, etcdctl, libraries: libs })
    }

    /// The Dockerfile of the build context.
    pub fn dockerfile(&self) -> String {
        let mut f = String::from("# Made by `faultline image build`: etcd from this machine, with the libraries it links.\nFROM scratch\n");
        f.push_str(&format!("LABEL {LABEL}=\"etcd\" {VERSION_LABEL}=\"{}\"\n", self.version));
        f.push_str("COPY rootfs/ /\n");
        // The loader finds the libraries where ldd found them even on systems whose default
        // search path differs (there is no ld.so.cache in the image).
        let dirs: BTreeSet<&Path> = self.libraries.iter().filter(|l| !is_interpreter(l)).filter_map(|l| l.parent()).collect();
        if !dirs.is_empty() {
            let joined: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            f.push_str(&format!("ENV LD_LIBRARY_PATH={}\n", joined.join(":")));
        }
        f.push_str("EXPOSE 2379 2380\n");
        f.push_str(&format!("ENTRYPOINT [\"{ETCD_IN_IMAGE}\"]\n"));
        f
    }

    /// The build context: the Dockerfile and `rootfs/`, as an uncompressed tar archive.
    pub fn context(&self) -> Result<Vec<u8>, Error> {
        let mut tar = Tarball::default();
        tar.file("Dockerfile", self.dockerfile().as_bytes(), 0o644)?;
        tar.dir("rootfs", 0o755)?;
        // The directories with modes of their own first (a parent added later keeps them).
        tar.new_dir("/tmp", 0o1777)?;
        tar.new_dir("/root", 0o700)?;
        tar.new_dir(DATA_DIR_IN_IMAGE, 0o700)?;
        tar.copy(&self.etcd, ETCD_IN_IMAGE)?;
        if let Some(ctl) = &self.etcdctl {
            tar.copy(ctl, ETCDCTL_IN_IMAGE)?;
        }
        for lib in &self.libraries {
            tar.copy(lib, &lib.display().to_string())?;
        }
        tar.new_file("/etc/nsswitch.conf", b"hosts: files dns\nnetworks: files\n", 0o644)?;
        tar.new_file("/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n", 0o644)?;
        tar.new_file("/etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)?;
        tar.finish()
    }
}

fn is_interpreter(lib: &Path) -> bool {
    lib.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ld-linux") || n.starts_with("ld64") || n.starts_with("ld-musl"))
}

/// A tar archive in memory whose paths under `rootfs/` get their parent directories once.
#[derive(Default)]
struct Tarball {
    builder: Option<tar::Builder<Vec<u8>>>,
    dirs: BTreeSet<String>,
}

impl Tarball {
    fn builder(&mut self) -> &mut tar::Builder<Vec<u8>> {
        self.builder.get_or_insert_with(|| tar::Builder::new(Vec::new()))
    }

    fn append(&mut self, path: &str, kind: tar::EntryType, mode: u32, data: &[u8], mtime: u64) -> Result<(), Error> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        self.builder().append_data(&mut h, path, data).map_err(|e| Error::Harness(format!("building the image context ({path}): {e}")))
    }

    fn file(&mut self, path: &str, data: &[u8], mode: u32) -> Result<(), Error> {
        self.append(path, tar::EntryType::Regular, mode, data, 0)
    }

    fn dir(&mut self, path: &str, mode: u32) -> Result<(), Error> {
        if self.dirs.insert(path.to_string()) {
            self.append(&format!("{path}/"), tar::EntryType::Directory, mode, &[], 0)?;
        }
        Ok(())
    }

    /// `rootfs/<abs>`'s parents, 0755, each once.
    fn parents(&mut self, abs: &str) -> Result<String, Error> {
        let rel = abs.trim_start_matches('/');
        let mut acc = String::from("rootfs");
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            acc.push('/');
            acc.push_str(c);
            self.dir(&acc.clone(), 0o755)?;
        }
        Ok(format!("rootfs/{rel}"))
    }

    fn new_file(&mut self, abs: &str, data: &[u8], mode: u32) -> Result<(), Error> {
        let p = self.parents(abs)?;
        self.file(&p, data, mode)
    }

    fn new_dir(&mut self, abs: &str, mode: u32) -> Result<(), Error> {
        let p = self.parents(abs)?;
        self.dir(&p, mode)
    }

    /// Copy a file of this machine into the image at `abs`, following symlinks (the
    /// contents, with the target's mode and time).
    fn copy(&mut self, src: &Path, abs: &str) -> Result<(), Error> {
        let data = std::fs::read(src).map_err(|e| Error::Environment(format!("cannot read {}: {e}", src.display())))?;
        let meta = std::fs::metadata(src)?;
        use std::os::unix::fs::MetadataExt as _;
        let p = self.parents(abs)?;
        self.append(&p, tar::EntryType::Regular, meta.mode() & 0o7777, &data, meta.mtime().max(0) as u64)
    }

    fn finish(mut self) -> Result<Vec<u8>, Error> {
        self.builder().finish().map_err(|e| Error::Harness(format!("building the image context: {e}")))?;
        let b = self.builder.take().expect("builder");
        b.into_inner().map_err(|e| Error::Harness(format!("building the image context: {e}")))
    }
}

/// A light check of an image reference (the engine has the last word): lowercase name
/// components, an optional `:tag`, no digests, no spaces.
pub fn check_reference(tag: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::BadInput(format!("--tag {tag:?}: {why} (an image reference looks like faultline/etcd:3.4.23)")));
    if tag.is_empty() {
        return bad("empty");
    }
    if tag.contains('@') || tag.chars().any(char::is_whitespace) {
        return bad("digests and spaces are not allowed");
    }
    let (name, t) = match tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (tag, None),
    };
    if let Some(t) = t {
        if t.is_empty() || t.len() > 128 || !t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) || t.starts_with(['.', '-']) {
            return bad("the tag after ':' must be 1-128 of [A-Za-z0-9_.-], not starting with . or -");
        }
    }
    // The first component may be a registry host (it has a dot or a port, or is localhost).
    let path = name.split_once('/').filter(|(h, _)| h.contains('.') || h.contains(':') || *h == "localhost").map(|(_, p)| p).unwrap_or(name);
    if path.is_empty() || !path.split('/').all(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))) {
        return bad("the name must be lowercase letters, digits and . _ - separated by /");
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1024.0 * 1024.0);
    if m >= 10.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.1} MiB")
    }
}

/// Build `tag` (default `faultline/etcd:<version>`) from the etcd binary `etcd`, printing
/// one progress line on stderr. The build stream's errors become [`Error::Harness`] with the
/// step that failed; an unreachable engine is [`Error::Environment`].
pub async fn build(etcd: &Path, tag: Option<&str>) -> Result<ImageBuilt, Error> {
    build_opts(etcd, tag, false).await
}

/// [`build`], with `no_cache` to make the engine redo every step instead of reusing the
/// layers of an earlier build of the same files (`faultline image build --no-cache`).
pub async fn build_opts(etcd: &Path, tag: Option<&str>, no_cache: bool) -> Result<ImageBuilt, Error> {
    let started = Instant::now();
    if !etcd.is_file() {
        return Err(Error::BadInput(format!("{}: no such file; pass the etcd binary with --etcd PATH", etcd.display())));
    }
    let contents = Contents::discover(etcd)?;
    let tag = tag.map(str::to_string).unwrap_or_else(|| default_tag(&contents.version));
    check_reference(&tag)?;
    if !contents.version.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c)) {
        return Err(Error::Environment(format!("{} reports an unusual version {:?}", etcd.display(), contents.version)));
    }
    let docker = connect().await?;
    let nlibs = contents.libraries.len();
    let ctl = contents.etcdctl.as_ref().map(|c| format!(", etcdctl from {}", c.display())).unwrap_or_default();
    eprint!("faultline: building {tag} from {} ({nlibs} librar{}{ctl})… ", etcd.display(), if nlibs == 1 { "y" } else { "ies" });
    let _ = std::io::stderr().flush();
    match build_with(&docker, &contents, &tag, no_cache).await {
        Ok(bytes) => {
            let seconds = started.elapsed().as_secs_f64();
            eprintln!("done in {seconds:.1} s, {}", mib(bytes));
            Ok(ImageBuilt { tag, seconds, bytes })
        }
        Err(e) => {
            eprintln!("failed");
            Err(e)
        }
    }
}

/// The engine's part of a build; returns the image's size.
async fn build_with(docker: &Docker, contents: &Contents, tag: &str, no_cache: bool) -> Result<u64, Error> {
    let context = contents.context()?;
    let options = BuildImageOptionsBuilder::default().dockerfile("Dockerfile").t(tag).rm(true).forcerm(true).nocache(no_cache).build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut last_step = String::new();
    let mut tail: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.stream {
                    for line in s.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()) {
                        if line.starts_with("Step ") {
                            last_step = line.to_string();
                        }
                        tail.push(line.to_string());
                        if tail.len() > 8 {
                            tail.remove(0);
                        }
                    }
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                let at = if last_step.is_empty() { String::new() } else { format!(" at {last_step:?}") };
                return Err(Error::Harness(format!("the Docker engine could not build {tag}{at}: {}", error.trim())));
            }
            Err(e) => return Err(docker_err(&format!("building {tag}"), e)),
        }
    }
    let img = docker.inspect_image(tag).await.map_err(|e| match e {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => {
            Error::Harness(format!("the Docker engine finished building {tag} but has no such image; the build said: {}", tail.join(" | ")))
        }
        e => docker_err(&format!("inspecting {tag}"), e),
    })?;
    Ok(img.size.unwrap_or(0).max(0) as u64)
}

/// The labels of an image, or `None` when the engine has no image by that name.
async fn labels_of(docker: &Docker, tag: &str) -> Result<Option<HashMap<String, String>>, Error> {
    match docker.inspect_image(tag).await {
        Ok(img) => Ok(Some(img.config.and_then(|c| c.labels).unwrap_or_default())),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(docker_err(&format!("inspecting {tag}"), e)),
    }
}

/// Whether the engine has an image by this reference.
pub async fn exists(tag: &str) -> Result<bool, Error> {
    let docker = connect().await?;
    Ok(labels_of(&docker, tag).await?.is_some())
}

/// Make sure `tag` exists, building it from `etcd` when it does not; returns whether it
/// built. An image faultline built for another etcd version under the same tag is rebuilt;
/// an image under that tag without faultline's label is the user's and is used as it is.
pub async fn ensure(tag: &str, etcd: &Path) -> Result<bool, Error> {
    let docker = connect().await?;
    if let Some(labels) = labels_of(&docker, tag).await? {
        match (labels.get(LABEL), labels.get(VERSION_LABEL)) {
            (Some(_), Some(v)) if *v != crate::cluster::etcd_version(etcd)? => {}
            _ => return Ok(false),
        }
    }
    build(etcd, Some(tag)).await?;
    Ok(true)
}

/// Remove one image reference (untag it; the image goes with its last reference).
pub async fn remove(tag: &str) -> Result<(), Error> {
    let docker = connect().await?;
    let opts = RemoveImageOptionsBuilder::default().force(false).noprune(false).build();
    docker.remove_image(tag, Some(opts), None).await.map(|_| ()).map_err(|e| docker_err(&format!("removing image {tag}"), e))
}

/// Remove every image labelled `faultline.image` (each tag of it; untagged ones by id), and
/// nothing else. Returns what was removed, in words. Images in use by a container are not
/// forced out: they make the result an error naming them (after the rest were removed).
///
/// With `dry_run` nothing is removed: the images that would be are listed.
pub async fn remove_all(dry_run: bool) -> Result<Vec<String>, Error> {
    let docker = connect().await?;
    let filters = HashMap::from([("label".to_string(), vec![LABEL.to_string()])]);
    let list = docker
        .list_images(Some(ListImagesOptionsBuilder::default().all(false).filters(&filters).build()))
        .await
        .map_err(|e| docker_err("listing faultline's images", e))?;
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for img in list {
        // Only what carries the label, even if an engine ignored the filter.
        if !img.labels.contains_key(LABEL) {
            continue;
        }
        let short = img.id.trim_start_matches("sha256:").chars().take(12).collect::<String>();
        let tags: Vec<String> = img.repo_tags.iter().filter(|t| t.as_str() != "<none>:<none>").cloned().collect();
        let refs = if tags.is_empty() { vec![img.id.clone()] } else { tags };
        for r in refs {
            let opts = RemoveImageOptionsBuilder::default().force(false).noprune(false).build();
            let what = if r == img.id { format!("image {short} (untagged)") } else { format!("image {r} ({short})") };
            if dry_run {
                removed.push(what);
                continue;
            }
            match docker.remove_image(&r, Some(opts), None).await {
                Ok(_) => removed.push(what),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
                Err(e) => match unreachable(&e) {
                    Some(permission) => return Err(no_engine(&root_cause(&e), permission)),
                    None => failed.push(format!("{what}: {e}")),
                },
            }
        }
    }
    if failed.is_empty() {
        Ok(removed)
    } else {
        let done = if removed.is_empty() { String::new() } else { format!("removed {}; ", removed.join(", ")) };
        Err(Error::Harness(format!(
            "{done}could not remove {} (an image a container still uses stays until the container is removed: `docker ps -a --filter ancestor=IMAGE`)",
            failed.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LDD: &str = "\tlinux-vdso.so.1 (0x00007ffd1b5f2000)
\tlibpthread.so.0 => /lib/x86_64-linux-gnu/libpthread.so.0 (0x00007f0c1a5a0000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c1a3bf000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1a5c8000)
";

    #[test]
    fn ldd_output_gives_every_resolved_library_and_the_interpreter() {
        let libs = parse_ldd(LDD).unwrap();
        let want: Vec<PathBuf> =
            ["/lib/x86_64-linux-gnu/libpthread.so.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"].iter().map(PathBuf::from).collect();
        assert_eq!(libs, want);
        assert!(parse_ldd("\tlibfoo.so.1 => not found\n").unwrap_err().contains("libfoo.so.1"));
        assert!(parse_ldd("").unwrap().is_empty());
    }

    #[test]
    fn the_context_holds_the_binary_the_libraries_and_an_empty_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let etcd = dir.path().join("etcd");
        std::fs::write(&etcd, b"#!/bin/sh\n").unwrap();
        let lib = dir.path().join("lib").join("libc.so.6");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, b"elf").unwrap();
        let link = dir.path().join("ld.so");
        std::os::unix::fs::symlink(&lib, &link).unwrap();
        let c = Contents { etcd, version: "3.4.23".into(), etcdctl: None, libraries: vec![lib.clone(), link.clone()] };
        let df = c.dockerfile();
        assert!(df.starts_with("# Made by") && df.contains("FROM scratch\n"), "{df}");
        assert!(df.contains("LABEL faultline.image=\"etcd\" faultline.etcd-version=\"3.4.23\""), "{df}");
        assert!(df.contains("ENTRYPOINT [\"/usr/local/bin/etcd\"]"), "{df}");
        let bytes = c.context().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut seen = HashMap::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            seen.insert(e.path().unwrap().display().to_string(), (e.header().entry_type(), e.header().mode().unwrap(), data));
        }
        assert_eq!(seen["rootfs/usr/local/bin/etcd"].2, b"#!/bin/sh\n");
        let rel_lib = format!("rootfs{}", lib.display());
        assert_eq!(seen[&rel_lib].2, b"elf");
        // The symlink's contents are copied, at the symlink's own path.
        let rel_link = format!("rootfs{}", link.display());
        assert_eq!(seen[&rel_link].0, tar::EntryType::Regular);
        assert_eq!(seen[&rel_link].2, b"elf");
        assert_eq!(seen["rootfs/tmp/"].1, 0o1777);
        assert_eq!(seen["rootfs/var/lib/etcd/"].0, tar::EntryType::Directory);
        assert!(String::from_utf8_lossy(&seen["rootfs/etc/nsswitch.conf"].2).contains("hosts: files dns"));
        assert!(seen.contains_key("Dockerfile") && seen.contains_key("rootfs/etc/passwd"));
    }

    #[test]
    fn references_are_checked_lightly() {
        for ok in ["faultline/etcd:3.4.23", "faultline/etcd", "localhost:5000/x/y:test-1", "etcd:v3.5.0-rc.1"] {
            assert!(check_reference(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Faultline/etcd:1", "faultline/etcd:", "a b", "x@sha256:00", "faultline/etcd:-x"] {
            assert!(matches!(check_reference(bad), Err(Error::BadInput(_))), "{bad}");
        }
    }

    #[test]
    fn an_absent_socket_is_the_environment_with_what_to_do() {
        let e = docker_err("connecting", bollard::errors::Error::SocketNotFoundError("/nope.sock".into()));
        let Error::Environment(m) = e else { panic!("{e:?}") };
        assert!(m.contains("start it") && m.contains("docker group") && m.contains("--backend process"), "{m}");
    }
}
