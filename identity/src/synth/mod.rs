//! Labelled synthetic registries (filled in by the generator).
