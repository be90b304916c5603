//! Hard errors of the metadata reader, and the limits that bound what it will read.
//!
//! Only input that is not XML at all (not UTF-8, not well-formed), that carries a DTD, or
//! that breaks a resource limit is an error. Everything a schema would reject (unknown
//! elements, wrong order, missing attributes) is a [`super::SchemaObservation`] in the
//! parsed [`super::Document`] instead, so the checker can turn it into an MD- finding.

/// Why a metadata body could not be read at all.
///
/// Every variant that points into the input carries the byte `offset` (into the bytes given
/// to [`super::parse`]), so the caller can show the offending bytes as evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The bytes are not UTF-8. RFC 7865 metadata is UTF-8 in practice and recproof reads
    /// nothing else (a UTF-16 byte-order mark lands here too).
    #[error(
        "metadata is not UTF-8 (invalid byte at offset {offset}); recproof reads UTF-8 metadata only"
    )]
    NotUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// The body is larger than [`Limits::max_bytes`].
    #[error("metadata is {len} bytes, more than the {max} bytes recproof reads")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The XML is not well-formed (XML 1.0 §2.1, Namespaces in XML 1.0).
    #[error("not well-formed XML at byte {offset}: {reason}")]
    NotWellFormed {
        /// Where the reader noticed the problem.
        offset: usize,
        /// What was wrong, in words.
        reason: String,
    },
    /// A `<!DOCTYPE` was found. Metadata never needs a DTD, and a DTD is how entity bombs
    /// and external entity fetches get in, so it is refused without being read.
    #[error(
        "document type declaration at byte {offset} refused: metadata must not carry a DTD or entity declarations"
    )]
    DtdRefused {
        /// Offset of the `<!DOCTYPE`.
        offset: usize,
    },
    /// An entity reference other than the five predefined ones. Without a DTD no other
    /// entity can be declared, so the document is not well-formed; nothing is expanded.
    #[error(
        "entity reference `&{name};` at byte {offset} is not defined (only &lt; &gt; &amp; &apos; &quot; and character references exist without a DTD)"
    )]
    UndefinedEntity {
        /// The entity name between `&` and `;`.
        name: String,
        /// Offset of the reference.
        offset: usize,
    },
    /// Elements are nested deeper than [`Limits::max_depth`].
    #[error("elements are nested deeper than {max} levels (at byte {offset})")]
    TooDeep {
        /// The limit in force.
        max: usize,
        /// Offset of the element that went too deep.
        offset: usize,
    },
    /// More elements than [`Limits::max_elements`].
    #[error("more than {max} elements (at byte {offset})")]
    TooManyElements {
        /// The limit in force.
        max: usize,
        /// Offset of the first element over the limit.
        offset: usize,
    },
}

impl MetadataError {
    /// Byte offset into the input the error points at, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::NotUtf8 { offset }
            | Self::NotWellFormed { offset, .. }
            | Self::DtdRefused { offset }
            | Self::UndefinedEntity { offset, .. }
            | Self::TooDeep { offset, .. }
            | Self::TooManyElements { offset, .. } => Some(*offset),
            Self::TooLarge { .. } => None,
        }
    }
}

/// Resource limits for [`super::parse_with_limits`], so hostile input cannot make the
/// reader use unbounded memory or time. [`Limits::default`] is what [`super::parse`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting accepted (the root is depth 1).
    pub max_depth: usize,
    /// Most elements accepted in one document.
    pub max_elements: usize,
}

impl Limits {
    /// Default input limit: 1 MiB. Real metadata bodies are a few kilobytes.
    pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
    /// Default nesting limit. RFC 7865 documents are at most 4 levels deep; BroadWorks 6.
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// Default element-count limit.
    pub const DEFAULT_MAX_ELEMENTS: usize = 100_000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_elements: Self::DEFAULT_MAX_ELEMENTS,
        }
    }
}
