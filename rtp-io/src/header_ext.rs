//! RTP header extensions: RFC 3550 §5.3.1 container and RFC 8285 one-/two-byte elements.
//!
//! # What
//! [`HeaderExtension`] is the borrowed extension block of a packet (16-bit profile + data);
//! [`HeaderExtension::elements`] iterates RFC 8285 elements, [`HeaderExtension::find`] looks one up by
//! its negotiated ID (`a=extmap`). [`ExtensionElement`] + [`ExtensionForm`] are the builder side used by
//! [`crate::RtpBuilder`].
//!
//! # How
//! RFC 8285 §4.2: profile `0xBEDE`, each element one byte `ID(4) | L(4)` with `L+1` data bytes, ID 0 is
//! a padding byte, ID 15 stops parsing. §4.3: profile `0x100X` (X = 4 "appbits"), each element `ID`,
//! `length` (0–255) then data; ID 0 is a padding byte. The block is zero-padded to 32 bits.
//!
//! # Real-time safety
//! Iteration and writing allocate nothing.

use crate::error::RtpError;

/// RFC 8285 one-byte header profile.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// RFC 8285 two-byte header profile (low 4 bits are application bits).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// One RFC 8285 extension element: negotiated ID and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// Local identifier (1–14 one-byte form, 1–255 two-byte form).
    pub id: u8,
    /// Element data (1–16 bytes one-byte form, 0–255 two-byte form).
    pub data: &'a [u8],
}

/// Which RFC 8285 encoding a builder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtensionForm {
    /// One-byte form when every element fits it (ID 1–14, 1–16 bytes), else two-byte.
    #[default]
    Auto,
    /// Force the one-byte form (error when an element does not fit).
    OneByte,
    /// Force the two-byte form.
    TwoByte,
}

/// The header extension block of a parsed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    profile: u16,
    data: &'a [u8],
}

impl<'a> HeaderExtension<'a> {
    /// Wraps a profile word and the extension data (without the 4-byte extension header).
    pub fn new(profile: u16, data: &'a [u8]) -> Self {
        Self { profile, data }
    }

    /// The 16-bit "defined by profile" word.
    pub fn profile(&self) -> u16 {
        self.profile
    }

    /// The raw extension data (a multiple of 4 bytes in a valid packet).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The RFC 8285 form this block uses, or `None` for another profile.
    pub fn form(&self) -> Option<ExtensionForm> {
        if self.profile == ONE_BYTE_PROFILE {
            Some(ExtensionForm::OneByte)
        } else if self.profile & 0xfff0 == TWO_BYTE_PROFILE {
            Some(ExtensionForm::TwoByte)
        } else {
            None
        }
    }

    /// Iterates the RFC 8285 elements (empty for a non-RFC 8285 profile). A malformed element yields one
    /// `Err` and ends the iteration.
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            form: self.form(),
            data: self.data,
            pos: 0,
        }
    }

    /// The data of the first element with `id`, if present and well formed.
    pub fn find(&self, id: u8) -> Option<&'a [u8]> {
        self.elements()
            .map_while(Result::ok)
            .find(|e| e.id == id)
            .map(|e| e.data)
    }
}

/// Iterator over RFC 8285 elements; see [`HeaderExtension::elements`].
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    form: Option<ExtensionForm>,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = Result<ExtensionElement<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let form = self.form?;
        loop {
            let d = self.data;
            if self.pos >= d.len() {
                return None;
            }
            let b = d[self.pos];
            let (id, len, hdr) = match form {
                ExtensionForm::OneByte => {
                    let id = b >> 4;
                    if id == 0 {
                        self.pos += 1;
                        continue;
                    }
                    if id == 15 {
                        // RFC 8285 §4.2: ID 15 is reserved; stop processing the block.
                        self.pos = d.len();
                        return None;
                    }
                    (id, usize::from(b & 0x0f) + 1, 1)
                }
                _ => {
                    if b == 0 {
                        self.pos += 1;
                        continue;
                    }
                    if self.pos + 2 > d.len() {
                        self.form = None;
                        return Some(Err(RtpError::truncated(
                            "RFC 8285 element",
                            2,
                            d.len() - self.pos,
                        )));
                    }
                    (b, usize::from(d[self.pos + 1]), 2)
                }
            };
            let start = self.pos + hdr;
            if start + len > d.len() {
                self.form = None;
                return Some(Err(RtpError::truncated(
                    "RFC 8285 element",
                    hdr + len,
                    d.len() - self.pos,
                )));
            }
            self.pos = start + len;
            return Some(Ok(ExtensionElement {
                id,
                data: &d[start..start + len],
            }));
        }
    }
}

fn fits_one_byte(e: &ExtensionElement<'_>) -> bool {
    (1..=14).contains(&e.id) && (1..=16).contains(&e.data.len())
}

fn resolve_form(els: &[ExtensionElement<'_>], form: ExtensionForm) -> Result<ExtensionForm, RtpError> {
    for e in els {
        if e.id == 0 {
            return Err(RtpError::malformed(
                "RFC 8285 element",
                "ID 0 is reserved for padding",
            ));
        }
        if e.data.len() > 255 {
            return Err(RtpError::malformed(
                "RFC 8285 element",
                "more than 255 data bytes",
            ));
        }
    }
    let all_one = els.iter().all(fits_one_byte);
    match form {
        ExtensionForm::Auto if all_one => Ok(ExtensionForm::OneByte),
        ExtensionForm::Auto => Ok(ExtensionForm::TwoByte),
        ExtensionForm::OneByte if !all_one => Err(RtpError::malformed(
            "RFC 8285 element",
            "does not fit the one-byte form (ID 1-14, 1-16 bytes)",
        )),
        f => Ok(f),
    }
}

/// Length of the extension data (without the 4-byte block header), padded to 32 bits.
pub(crate) fn encoded_len(els: &[ExtensionElement<'_>], form: ExtensionForm) -> Result<usize, RtpError> {
    let form = resolve_form(els, form)?;
    let hdr = if form == ExtensionForm::OneByte { 1 } else { 2 };
    let raw: usize = els.iter().map(|e| hdr + e.data.len()).sum();
    let padded = raw.div_ceil(4) * 4;
    if padded / 4 > usize::from(u16::MAX) {
        return Err(RtpError::malformed(
            "RTP header extension",
            "longer than 65535 words",
        ));
    }
    Ok(padded)
}

/// Writes the 4-byte block header and elements into `out` (exactly `4 + encoded_len` bytes long).
pub(crate) fn write_extension(
    els: &[ExtensionElement<'_>],
    form: ExtensionForm,
    out: &mut [u8],
) -> Result<usize, RtpError> {
    let len = encoded_len(els, form)?;
    let form = resolve_form(els, form)?;
    if out.len() < 4 + len {
        return Err(RtpError::BufferTooSmall {
            needed: 4 + len,
            actual: out.len(),
        });
    }
    let profile = if form == ExtensionForm::OneByte {
        ONE_BYTE_PROFILE
    } else {
        TWO_BYTE_PROFILE
    };
    out[0..2].copy_from_slice(&profile.to_be_bytes());
    out[2..4].copy_from_slice(&((len / 4) as u16).to_be_bytes());
    let mut off = 4;
    for e in els {
        if form == ExtensionForm::OneByte {
            out[off] = (e.id << 4) | (e.data.len() as u8 - 1);
            off += 1;
        } else {
            out[off] = e.id;
            out[off + 1] = e.data.len() as u8;
            off += 2;
        }
        out[off..off + e.data.len()].copy_from_slice(e.data);
        off += e.data.len();
    }
    out[off..4 + len].fill(0);
    Ok(4 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8285_one_byte_example_with_padding_bytes() {
        // RFC 8285 §4.2 figure: ID 1 L=0 (1 byte), ID 2 L=1 (2 bytes), padding, ID 3 L=3 (4 bytes).
        let data = [
            0x10, 0xaa, 0x21, 0xbb, 0xbb, 0x00, 0x00, 0x33, 0xcc, 0xcc, 0xcc, 0xcc,
        ];
        let h = HeaderExtension::new(ONE_BYTE_PROFILE, &data);
        let v: Vec<_> = h.elements().collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[1],
            ExtensionElement {
                id: 2,
                data: &[0xbb, 0xbb]
            }
        );
        assert_eq!(h.find(3), Some(&[0xcc; 4][..]));
    }

    #[test]
    fn two_byte_form_and_zero_length() {
        let data = [0x01, 0x00, 0x02, 0x01, 0x42, 0x00, 0x00, 0x00];
        let h = HeaderExtension::new(0x1003, &data);
        assert_eq!(h.form(), Some(ExtensionForm::TwoByte));
        assert_eq!(h.find(1), Some(&[][..]));
        assert_eq!(h.find(2), Some(&[0x42][..]));
    }

    #[test]
    fn id15_stops_and_overrun_errors() {
        let h = HeaderExtension::new(ONE_BYTE_PROFILE, &[0xf0, 0x10, 0x01, 0x00]);
        assert_eq!(h.elements().count(), 0);
        let h = HeaderExtension::new(ONE_BYTE_PROFILE, &[0x13, 0x01, 0x02]);
        let v: Vec<_> = h.elements().collect();
        assert!(matches!(v.as_slice(), [Err(RtpError::Truncated { .. })]));
        assert_eq!(HeaderExtension::new(0x1234, &[0x10, 0]).elements().count(), 0);
    }

    #[test]
    fn auto_form_selection() {
        let big = [0u8; 17];
        let els = [ExtensionElement { id: 1, data: &big }];
        assert_eq!(
            resolve_form(&els, ExtensionForm::Auto).unwrap(),
            ExtensionForm::TwoByte
        );
        assert!(resolve_form(&els, ExtensionForm::OneByte).is_err());
        let mut out = [0u8; 24];
        let n = write_extension(&els, ExtensionForm::Auto, &mut out).unwrap();
        assert_eq!(n, 4 + 20);
        let h = HeaderExtension::new(u16::from_be_bytes([out[0], out[1]]), &out[4..n]);
        assert_eq!(h.find(1), Some(&big[..]));
    }
}
