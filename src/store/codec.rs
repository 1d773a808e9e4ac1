//! Record encoding: one version byte, then bincode 2 (standard configuration) of the
//! record's serde form.
//!
//! The version byte is what lets a later release read what an earlier one wrote: a
//! reader matches on it and upgrades old shapes. Today every record is version 1; a
//! byte it does not know is an error naming the tree (written by a newer release).

use super::{StoreError, TreeName};
use serde::de::DeserializeOwned;
use serde::Serialize;

const VERSION: u8 = 1;

/// A value kept in one tree, under a big-endian key.
pub trait Record: Serialize + DeserializeOwned {
    const TREE: TreeName;
    fn key(&self) -> Vec<u8>;
}

pub(super) fn encode<R: Record>(record: &R) -> Vec<u8> {
    encode_value(record)
}

pub(super) fn encode_value<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .expect("encoding into a Vec cannot fail");
    out
}

pub(super) fn decode<R: Record>(bytes: &[u8]) -> Result<R, StoreError> {
    decode_value(bytes, R::TREE.name())
}

pub(super) fn decode_value<T: DeserializeOwned>(bytes: &[u8], tree: &'static str) -> Result<T, StoreError> {
    let error = |detail: String| StoreError::Decode { tree, detail };
    match bytes.split_first() {
        Some((&VERSION, body)) => bincode::serde::decode_from_slice(body, bincode::config::standard())
            .map(|(value, _)| value)
            .map_err(|e| error(e.to_string())),
        Some((v, _)) => Err(error(format!(
            "record version {v} is newer than this release understands"
        ))),
        None => Err(error("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_behind_a_version_byte() {
        let bytes = encode_value(&(7u64, "seven".to_string()));
        assert_eq!(bytes[0], VERSION);
        let back: (u64, String) = decode_value(&bytes, "meta").unwrap();
        assert_eq!(back, (7, "seven".into()));
    }

    #[test]
    fn an_unknown_version_is_an_error_not_garbage() {
        let mut bytes = encode_value(&7u64);
        bytes[0] = 9;
        let err = decode_value::<u64>(&bytes, "meta").unwrap_err();
        assert!(err.to_string().contains("version 9"));
    }
}
