//! `AnyRef` and `I31`: references of GC's `any` hierarchy as the host sees them. An `i31` is
//! an unboxed 31-bit integer: in wasm's word for an anyref it is the integer shifted left by
//! one with bit 0 set, so it needs no heap, and every odd word is one. (Null is 0; the GC
//! heap's objects, the even words, are yet to come: until then an anyref is null or an i31.)

/// A 31-bit integer, the value of an `i31ref`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct I31(u32);

impl I31 {
    const MASK: u32 = (1 << 31) - 1;

    /// The low 31 bits of `v` (what `ref.i31` keeps).
    pub fn wrapping_u32(v: u32) -> I31 {
        I31(v & Self::MASK)
    }

    /// The low 31 bits of `v`, as two's complement.
    pub fn wrapping_i32(v: i32) -> I31 {
        I31::wrapping_u32(v as u32)
    }

    /// `v`, if it fits in 31 bits unsigned.
    pub fn new_u32(v: u32) -> Option<I31> {
        (v <= Self::MASK).then_some(I31(v))
    }

    /// `v`, if it fits in 31 bits signed.
    pub fn new_i32(v: i32) -> Option<I31> {
        (-(1 << 30)..(1 << 30)).contains(&v).then(|| I31::wrapping_i32(v))
    }

    /// The value zero-extended (`i31.get_u`).
    pub fn get_u32(self) -> u32 {
        self.0
    }

    /// The value sign-extended (`i31.get_s`).
    pub fn get_i32(self) -> i32 {
        ((self.0 << 1) as i32) >> 1
    }

    /// The word wasm keeps for this i31.
    pub(crate) fn to_word(self) -> usize {
        ((self.0 as usize) << 1) | 1
    }

    /// The i31 of an odd word.
    pub(crate) fn from_word(word: usize) -> Option<I31> {
        (word & 1 == 1).then(|| I31::wrapping_u32((word >> 1) as u32))
    }
}

/// A non-null reference of the `any` hierarchy (`anyref`, `eqref`, `i31ref`…).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnyRef {
    i31: I31,
}

impl AnyRef {
    /// The reference to an i31.
    pub fn from_i31(i31: I31) -> AnyRef {
        AnyRef { i31 }
    }

    /// The i31 this reference is, if it is one.
    pub fn as_i31(&self) -> Option<I31> {
        Some(self.i31)
    }

    /// Whether this is an i31.
    pub fn is_i31(&self) -> bool {
        self.as_i31().is_some()
    }

    /// The word wasm keeps for this reference.
    pub(crate) fn to_word(self) -> usize {
        self.i31.to_word()
    }

    /// The reference of a non-null word, if it is one the host can hold.
    pub(crate) fn from_word(word: usize) -> Option<AnyRef> {
        I31::from_word(word).map(AnyRef::from_i31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i31_wraps_and_extends() {
        assert_eq!(I31::wrapping_i32(-1).get_u32(), 0x7fff_ffff);
        assert_eq!(I31::wrapping_i32(-1).get_i32(), -1);
        assert_eq!(I31::wrapping_u32(0x4000_0000).get_i32(), -(1 << 30));
        assert_eq!(I31::wrapping_u32(0x8000_0001).get_u32(), 1);
        assert_eq!(I31::new_i32(1 << 30), None);
        assert_eq!(I31::new_i32(-(1 << 30)).map(I31::get_i32), Some(-(1 << 30)));
        assert_eq!(I31::new_u32(1 << 31), None);
        let word = I31::wrapping_i32(-5).to_word();
        assert_eq!(word & 1, 1);
        assert_eq!(I31::from_word(word).map(I31::get_i32), Some(-5));
        assert_eq!(I31::from_word(2), None);
    }
}
