//! `faultline image build`: the etcd binary found (`--etcd`, the store's `--version`, else
//! etcd on PATH), then the image built by [`crate::cluster::image`], which prints its one
//! progress line.

use crate::cli::{ImageArgs, ImageBuildArgs, ImageCommand};
use crate::error::{Error, Exit};
use crate::host::sys;

/// Carry out an `image` subcommand.
pub fn run(args: ImageArgs) -> Result<Exit, Error> {
    match args.action {
        ImageCommand::Build(build) => build_image(build),
    }
}

fn build_image(args: ImageBuildArgs) -> Result<Exit, Error> {
    let ImageBuildArgs { etcd, version, tag, no_cache } = args;
    let etcd = match (etcd, version) {
        (Some(p), _) => sys::which(&p.display().to_string()).unwrap_or(p),
        (None, Some(v)) if !crate::cluster::versions::is_version(&v) => {
            return Err(Error::BadInput(format!("--version {v:?} is not an etcd version: write it as 3.5.1 (`faultline doctor` lists the versions here)")))
        }
        (None, Some(v)) => crate::cluster::versions::binary(&v)?,
        (None, None) => sys::which("etcd").ok_or_else(|| {
            Error::Environment("etcd is not on PATH: install it (apt-get install etcd-server), pass the binary with --etcd PATH, or a version of the store with --version X.Y.Z.".into())
        })?,
    };
    super::block_on(crate::cluster::image::build_opts(&etcd, tag.as_deref(), no_cache))?;
    Ok(Exit::Pass)
}
