//! Network shaping inside a member's namespace (issue 6): latency, jitter, loss, duplicate,
//! reorder through `tc netem` where the kernel has it and an NFQUEUE userspace shaper where
//! it has not; bandwidth through `tbf`. (Being built.)
