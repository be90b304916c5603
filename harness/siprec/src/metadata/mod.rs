//! RFC 7865 / BroadWorks recording metadata (being written).
