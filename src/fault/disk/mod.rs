//! Disk faults through a FUSE layer mounted over a member's data directory (issue 6):
//! io-latency, io-error, lose-unsynced and fsync-lie. (Being built.)
