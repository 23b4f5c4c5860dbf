//! Opcode arguments read from the file: every length is checked against what remains before
//! anything is sliced, so a truncated or lying file is an error, never a panic.

use super::Step;

/// Longest `module\nname\n` line of a GLOBAL opcode.
const MAX_GLOBAL_LINE: usize = 256;

/// The whole pickle and the position of the next byte to read.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(super) fn offset(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next opcode, `None` at the end of the file.
    pub(super) fn opcode(&mut self) -> Option<u8> {
        let op = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(op)
    }

    /// `len` bytes from the file, borrowed; checked against what remains before anything else.
    pub(super) fn bytes(&mut self, len: u64) -> Step<&'a [u8]> {
        let remaining = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= remaining => {
                let bytes = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(bytes)
            }
            _ => Err(format!(
                "needs {len} bytes but only {remaining} remain in the file (truncated or damaged)"
            )),
        }
    }

    pub(super) fn array<const N: usize>(&mut self) -> Step<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N as u64)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Step<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Step<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Step<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(super) fn i32(&mut self) -> Step<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Step<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// LONG1's argument: a length byte, then a little-endian two's-complement integer, which
    /// must fit in an i64.
    pub(super) fn long1(&mut self) -> Step<i64> {
        let len = self.u8()?;
        let raw = self.bytes(len.into())?;
        if raw.len() > 8 {
            return Err(format!("integer of {} bytes is too large", raw.len()));
        }
        let negative = raw.last().is_some_and(|&b| b & 0x80 != 0);
        let mut bytes = [if negative { 0xff } else { 0 }; 8];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(i64::from_le_bytes(bytes))
    }

    /// A newline-terminated ASCII line (GLOBAL's module and name).
    pub(super) fn line(&mut self) -> Step<&'a str> {
        let rest = &self.data[self.pos..];
        let window = &rest[..rest.len().min(MAX_GLOBAL_LINE)];
        let len = window
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("GLOBAL name without a newline (truncated or damaged)")?;
        let line = std::str::from_utf8(&rest[..len])
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or("GLOBAL name is not ASCII")?;
        self.pos += len + 1;
        Ok(line)
    }
}
