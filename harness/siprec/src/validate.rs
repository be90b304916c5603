//! Single-message validation (being written).
