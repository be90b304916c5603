//! Media engine (being written).
