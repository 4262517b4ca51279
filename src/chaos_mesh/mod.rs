//! Chaos Mesh, the fault tool etcd's users run in Kubernetes: its manifests turned into a
//! faultline scenario ([`import`]). docs/chaos-mesh.md says what maps, what is approximated
//! and what is refused.

pub mod import;
