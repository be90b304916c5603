//! Object identifiers of both dialects: build them deterministically, and classify them.
//!
//! RFC 7865 §6.9 builds IDs from a 128-bit UUID encoded as base64 (RFC 4648): 16 bytes
//! become 24 characters ending in `==` (`sDW5yJFaTRWlfKpxlFxbCA==`). The BroadWorks dialect
//! writes `urn:uuid:` plus the hyphenated UUID. recproof never draws IDs from a thread
//! RNG: [`IdGenerator`] is seeded, so a run with the same seed sends the same IDs.

use super::Dialect;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

/// RFC 7865 ID of a UUID: base64 of its 16 bytes (24 characters, ending `==`).
pub fn rfc_id_from_uuid(uuid: Uuid) -> String {
    STANDARD.encode(uuid.as_bytes())
}

/// RFC 7865 ID of a 128-bit number taken as a UUID (big-endian bytes).
pub fn rfc_id_from_u128(n: u128) -> String {
    rfc_id_from_uuid(Uuid::from_u128(n))
}

/// BroadWorks ID of a UUID: `urn:uuid:` plus the lowercase hyphenated form.
pub fn broadworks_id_from_uuid(uuid: Uuid) -> String {
    format!("urn:uuid:{}", uuid.hyphenated())
}

/// BroadWorks ID of a 128-bit number taken as a UUID.
pub fn broadworks_id_from_u128(n: u128) -> String {
    broadworks_id_from_uuid(Uuid::from_u128(n))
}

/// The ID of `uuid` in `dialect`'s form.
pub fn id_from_uuid(uuid: Uuid, dialect: Dialect) -> String {
    match dialect {
        Dialect::Rfc7865 => rfc_id_from_uuid(uuid),
        Dialect::BroadWorks => broadworks_id_from_uuid(uuid),
    }
}

/// Why an ID is not in the form a dialect expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not valid base64 (RFC 4648 §4, standard alphabet, padded).
    #[error("`{id}` is not base64")]
    NotBase64 {
        /// The ID as written.
        id: String,
    },
    /// Valid base64, but not of 16 bytes.
    #[error("`{id}` decodes to {len} bytes, not the 16 bytes of a UUID")]
    WrongLength {
        /// The ID as written.
        id: String,
        /// Decoded length.
        len: usize,
    },
    /// Not `urn:uuid:` followed by a UUID.
    #[error("`{id}` is not urn:uuid: followed by a UUID")]
    NotUrnUuid {
        /// The ID as written.
        id: String,
    },
}

/// Decodes an RFC 7865 ID to its 16 bytes.
pub fn decode_rfc_id(id: &str) -> Result<[u8; 16], IdError> {
    let bytes = STANDARD
        .decode(id)
        .map_err(|_| IdError::NotBase64 { id: id.to_owned() })?;
    <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| IdError::WrongLength {
        id: id.to_owned(),
        len: bytes.len(),
    })
}

/// Parses a BroadWorks `urn:uuid:` ID (case-insensitive prefix, hyphenated UUID).
pub fn parse_broadworks_id(id: &str) -> Result<Uuid, IdError> {
    let err = || IdError::NotUrnUuid { id: id.to_owned() };
    let prefix = id.get(..9).ok_or_else(err)?;
    if !prefix.eq_ignore_ascii_case("urn:uuid:") {
        return Err(err());
    }
    let rest = id.get(9..).ok_or_else(err)?;
    if rest.len() != 36 {
        return Err(err());
    }
    Uuid::try_parse(rest).map_err(|_| err())
}

/// What form an ID string has, for MD-04.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    /// base64 of exactly 16 bytes: what RFC 7865 asks for.
    Base64Uuid,
    /// Valid base64 of another length (schema-valid `xs:base64Binary`, not a UUID).
    Base64Other {
        /// Decoded length.
        len: usize,
    },
    /// `urn:uuid:` + UUID: the BroadWorks form.
    UrnUuid,
    /// Neither (an empty ID counts here too).
    Invalid,
}

/// Classifies an ID.
pub fn classify_id(id: &str) -> IdForm {
    if id.is_empty() {
        return IdForm::Invalid;
    }
    if parse_broadworks_id(id).is_ok() {
        return IdForm::UrnUuid;
    }
    match decode_rfc_id(id) {
        Ok(_) => IdForm::Base64Uuid,
        Err(IdError::WrongLength { len, .. }) => IdForm::Base64Other { len },
        Err(_) => IdForm::Invalid,
    }
}

/// A deterministic source of version-4-shaped UUIDs and IDs, seeded so runs repeat.
///
/// It is SplitMix64 (two outputs per UUID), not a cryptographic generator: the IDs are
/// unique labels within a recording session, not secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next UUID, with the version (4) and variant bits set as RFC 9562 §5.4 says.
    pub fn next_uuid(&mut self) -> Uuid {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// The next RFC 7865 ID.
    pub fn next_rfc_id(&mut self) -> String {
        rfc_id_from_uuid(self.next_uuid())
    }

    /// The next BroadWorks ID.
    pub fn next_broadworks_id(&mut self) -> String {
        broadworks_id_from_uuid(self.next_uuid())
    }

    /// The next ID in `dialect`'s form.
    pub fn next_id(&mut self, dialect: Dialect) -> String {
        id_from_uuid(self.next_uuid(), dialect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_ids_are_24_chars_ending_in_padding() {
        let id = rfc_id_from_u128(0xb035_b9c8_915a_4d15_a57c_aa71_945c_5b08);
        assert_eq!(id, "sDW5yJFaTRWlfKpxlFxbCA==");
        assert_eq!(
            decode_rfc_id(&id).map(u128::from_be_bytes),
            Ok(0xb035_b9c8_915a_4d15_a57c_aa71_945c_5b08)
        );
        assert_eq!(classify_id(&id), IdForm::Base64Uuid);
    }

    #[test]
    fn broadworks_ids_are_urn_uuid() {
        let id = broadworks_id_from_u128(0x0349_4d0b_6217_425a_ab0d_d042_6138_8c36);
        assert_eq!(id, "urn:uuid:03494d0b-6217-425a-ab0d-d04261388c36");
        assert_eq!(classify_id(&id), IdForm::UrnUuid);
        assert!(parse_broadworks_id("urn:uuid:nope").is_err());
        assert!(parse_broadworks_id("urn:uuid:03494d0b6217425aab0dd04261388c36").is_err());
    }

    #[test]
    fn classify_tells_the_forms_apart() {
        assert_eq!(classify_id("abc="), IdForm::Base64Other { len: 2 });
        assert_eq!(classify_id("abc"), IdForm::Invalid);
        assert_eq!(classify_id("not base64!"), IdForm::Invalid);
        assert_eq!(classify_id(""), IdForm::Invalid);
    }

    #[test]
    fn generator_repeats_per_seed_and_sets_v4_bits() {
        let mut a = IdGenerator::new(7);
        let mut b = IdGenerator::new(7);
        let mut c = IdGenerator::new(8);
        let (ua, ub, uc) = (a.next_uuid(), b.next_uuid(), c.next_uuid());
        assert_eq!(ua, ub);
        assert_ne!(ua, uc);
        assert_eq!(ua.get_version_num(), 4);
        assert_eq!(ua.get_variant(), uuid::Variant::RFC4122);
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| a.next_rfc_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(a.next_broadworks_id().starts_with("urn:uuid:"));
    }
}
