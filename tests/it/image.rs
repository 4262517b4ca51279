//! The etcd image: `faultline image build` makes it from this machine's etcd, a container
//! from it runs `etcd --version`, `clean` without `--images` keeps it, and it is removed.
//!
//! It needs a Docker engine; where none answers the test fails under `CI` and otherwise says
//! on stderr that it was skipped and why (`util::require`). It builds under a tag of its own (`faultline/etcd:test-<random>`) and removes
//! only that tag, so it never takes away an image that other tests are running.

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder};
use bollard::Docker;
use faultline::cluster::image;
use futures_util::StreamExt;
use std::process::Command;

/// Run the image with `args` (auto-removed) and return what it wrote on stdout and stderr.
async fn run_once(docker: &Docker, tag: &str, args: &[&str]) -> String {
    let body = ContainerCreateBody {
        image: Some(tag.to_string()),
        cmd: Some(args.iter().map(|s| s.to_string()).collect()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        network_disabled: Some(true),
        host_config: Some(HostConfig { auto_remove: Some(true), network_mode: Some("none".into()), ..Default::default() }),
        ..Default::default()
    };
    let name = format!("faultline-image-test-{:08x}", rand::random::<u32>());
    let created = docker.create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body).await.expect("create container");
    // Attach before starting: an auto-removed container's output is gone once it exits.
    let mut attached = docker
        .attach_container(&created.id, Some(AttachContainerOptionsBuilder::default().stream(true).stdout(true).stderr(true).logs(true).build()))
        .await
        .expect("attach");
    docker.start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>).await.expect("start container");
    let mut out = String::new();
    let read = async {
        while let Some(chunk) = attached.output.next().await {
            out.push_str(&chunk.expect("container output").to_string());
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read).await.expect("the container ends within 30 s");
    out
}

#[test]
fn image_build_makes_an_image_that_runs_etcd_and_it_can_be_removed() {
    if !crate::util::docker() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let docker = rt.block_on(image::connect()).expect("the Docker engine that answered a moment ago");
    let etcd = faultline::host::sys::which("etcd").expect("etcd on PATH (apt-get install etcd-server)");
    let version = faultline::cluster::etcd_version(&etcd).unwrap();
    let tag = format!("faultline/etcd:test-{:08x}", rand::random::<u32>());

    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["image", "build", "--tag", &tag]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "faultline image build failed: {stderr}");
    assert!(stderr.contains(&format!("building {tag} from {}", etcd.display())) && stderr.contains("done in"), "{stderr}");

    // Removed at the end even when an assertion fails.
    struct Remove<'a>(&'a tokio::runtime::Runtime, &'a str);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            if let Err(e) = self.0.block_on(image::remove(self.1)) {
                eprintln!("could not remove test image {}: {e}", self.1);
            }
        }
    }
    let guard = Remove(&rt, &tag);

    rt.block_on(async {
        assert!(image::exists(&tag).await.unwrap());
        let info = docker.inspect_image(&tag).await.unwrap();
        let config = info.config.unwrap();
        let labels = config.labels.unwrap_or_default();
        assert_eq!(labels.get(image::LABEL).map(String::as_str), Some("etcd"));
        assert_eq!(labels.get(image::VERSION_LABEL), Some(&version));
        assert_eq!(config.entrypoint, Some(vec![image::ETCD_IN_IMAGE.to_string()]));

        let printed = run_once(&docker, &tag, &["--version"]).await;
        assert!(printed.contains(&format!("etcd Version: {version}")), "the container printed: {printed}");

        // Already there, for this version: ensure does not build again.
        assert!(!image::ensure(&tag, &etcd).await.unwrap());
    });

    // `clean` without --images keeps images (--run of an id no run has: nothing else is
    // touched, and clean says so with exit 2).
    if faultline::host::sys::is_root() {
        let o = Command::new(env!("CARGO_BIN_EXE_faultline")).args(["clean", "--run", "000000"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(rt.block_on(image::exists(&tag)).unwrap(), "clean without --images removed the image");
    } else {
        eprintln!("not checked: `faultline clean` keeps images without --images (clean needs root)");
    }

    drop(guard);
    assert!(!rt.block_on(image::exists(&tag)).unwrap(), "{tag} is still there after removing it");
}
