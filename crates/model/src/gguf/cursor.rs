//! Bounds-checked little-endian reads over the bytes of a GGUF file.

use std::str::Utf8Error;

/// Why a read failed; the caller adds the file and what was being read.
#[derive(Debug)]
pub(super) enum ReadFail {
    /// The value starting at `offset` runs past the end of the bytes.
    Eof {
        /// Where the value starts.
        offset: usize,
    },
    /// A string starting at `offset` is not UTF-8.
    Utf8 {
        /// Where the string's bytes start.
        offset: usize,
        /// What the decoder said.
        source: Utf8Error,
    },
}

/// A read position in a byte slice; every read checks the length first.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The offset of the next read.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the read position.
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes (`n` comes from the file, so it may be absurd).
    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], ReadFail> {
        let offset = self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => {
                self.pos += n;
                Ok(&self.bytes[offset..self.pos])
            }
            _ => Err(ReadFail::Eof { offset }),
        }
    }

    /// The next `N` bytes as an array (for `from_le_bytes`).
    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadFail> {
        let slice = self.take(N as u64)?;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(super) fn u32(&mut self) -> Result<u32, ReadFail> {
        self.array().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64, ReadFail> {
        self.array().map(u64::from_le_bytes)
    }

    /// A GGUF string: a u64 length and that many UTF-8 bytes.
    pub(super) fn string(&mut self) -> Result<&'a str, ReadFail> {
        let len = self.u64()?;
        let offset = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|source| ReadFail::Utf8 { offset, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_stops_at_the_end() {
        let bytes = [1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9];
        let mut c = Cursor::new(&bytes);
        assert_eq!(c.u32().unwrap(), 1);
        assert_eq!(c.u64().unwrap(), 2);
        assert!(matches!(c.u32(), Err(ReadFail::Eof { offset: 12 })));
        assert_eq!(c.pos(), 12);
        assert!(matches!(
            c.take(u64::MAX),
            Err(ReadFail::Eof { offset: 12 })
        ));
    }

    #[test]
    fn strings_are_length_prefixed_utf8() {
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"hi");
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.push(0xff);
        let mut c = Cursor::new(&bytes);
        assert_eq!(c.string().unwrap(), "hi");
        assert!(matches!(c.string(), Err(ReadFail::Utf8 { offset: 18, .. })));
    }
}
