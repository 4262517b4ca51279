//! Disk faults (FUSE layer) against real mounts.
