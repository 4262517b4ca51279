//! Network shaping against real namespaces.
