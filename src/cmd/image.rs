//! `faultline image build`: the etcd binary found (`--etcd`, else etcd on PATH), then the
//! image built by [`crate::cluster::image`], which prints its one progress line.

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
    let ImageBuildArgs { etcd, tag, no_cache } = args;
    let etcd = match etcd {
        Some(p) => sys::which(&p.display().to_string()).unwrap_or(p),
        None => sys::which("etcd")
            .ok_or_else(|| Error::Environment("etcd is not on PATH: install it (apt-get install etcd-server) or pass the binary with --etcd PATH.".into()))?,
    };
    super::block_on(crate::cluster::image::build_opts(&etcd, tag.as_deref(), no_cache))?;
    Ok(Exit::Pass)
}
