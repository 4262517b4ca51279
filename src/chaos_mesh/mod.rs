//! Chaos Mesh, the fault tool etcd's users run in Kubernetes: its manifests turned into a
//! faultline scenario ([`import`]), and a scenario out to a Chaos Mesh Workflow ([`export`]). docs/chaos-mesh.md says what maps, what is approximated
//! and what is refused.

pub mod export;
pub mod import;
