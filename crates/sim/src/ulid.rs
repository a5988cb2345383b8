//! ULID-shaped identifiers (26 characters, Crockford base32), as Nuvemshop uses
//! for fulfillment orders and tracking events.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Encodes a 48-bit millisecond timestamp and 80 bits of entropy as a ULID string.
pub fn encode(ms: u64, entropy: u128) -> String {
    let value: u128 = (u128::from(ms & 0xFFFF_FFFF_FFFF) << 80) | (entropy & ((1u128 << 80) - 1));
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * i as u32;
        let idx = ((value >> shift) & 0x1F) as usize;
        *slot = ALPHABET[idx];
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        let id = super::encode(1_669_285_219_000, 42);
        assert_eq!(id.len(), 26);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, super::encode(1_669_285_219_000, 43));
    }
}
