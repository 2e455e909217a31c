//! Reading typed values straight off a simd-json tape, without building a value tree.
//!
//! The readers run for every field of every event, so they are `#[inline(always)]`: a plain
//! `#[inline]` is only a hint, and the compiler leaves `text` a call on the parse loop's hot path.

use std::borrow::Cow;

use simd_json::{Node, StaticNode};

/// The JSON type a field should have had, for the reject reason.
pub(crate) type Expected = &'static str;

/// Iterates the `(key, value)` pairs of the object at the start of `tape`, skipping nested values
/// whole. Returns `None` when the tape does not hold an object.
pub(crate) fn object_fields<'t, 'a>(tape: &'t [Node<'a>]) -> Option<ObjectFields<'t, 'a>> {
    let Some(Node::Object { len, .. }) = tape.first() else {
        return None;
    };
    Some(ObjectFields {
        tape,
        pos: 1,
        left: *len,
    })
}

/// The fields of an object on a tape; see [`object_fields`]. A named iterator with an inlined
/// `next`, so that its position stays in a register (a closure in `iter::from_fn` keeps it on the
/// stack, which the parse bench measures as slower).
pub(crate) struct ObjectFields<'t, 'a> {
    tape: &'t [Node<'a>],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for ObjectFields<'_, 'a> {
    type Item = (&'a str, Node<'a>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let Some(&[Node::String(key), value]) = self.tape.get(self.pos..self.pos + 2) else {
            return None;
        };
        self.pos += 2 + match value {
            Node::Object { count, .. } | Node::Array { count, .. } => count,
            _ => 0,
        };
        Some((key, value))
    }
}

/// Text, or a number written as text (`"artist_name": 112` is `"112"`). `null` is `None`.
#[inline(always)]
pub(crate) fn text<'a>(node: Node<'a>) -> Result<Option<Cow<'a, str>>, Expected> {
    match node {
        Node::String(s) => Ok(Some(Cow::Borrowed(s))),
        Node::Static(StaticNode::Null) => Ok(None),
        Node::Static(StaticNode::I64(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Node::Static(StaticNode::U64(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Node::Static(StaticNode::F64(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        _ => Err("text"),
    }
}

/// An integer; `null` is `None`. Floats, text and booleans are wrong types.
#[inline(always)]
pub(crate) fn int(node: Node<'_>) -> Result<Option<i64>, Expected> {
    match node {
        Node::Static(StaticNode::I64(n)) => Ok(Some(n)),
        Node::Static(StaticNode::U64(n)) => i64::try_from(n)
            .map(Some)
            .map_err(|_| "an integer in range"),
        Node::Static(StaticNode::Null) => Ok(None),
        _ => Err("an integer"),
    }
}

/// An integer that fits a 32-bit column.
#[inline(always)]
pub(crate) fn int32(node: Node<'_>) -> Result<Option<i32>, Expected> {
    match int(node)? {
        Some(n) => i32::try_from(n).map(Some).map_err(|_| "a 32-bit integer"),
        None => Ok(None),
    }
}

/// A number as a double; `null` is `None`.
#[inline(always)]
pub(crate) fn float(node: Node<'_>) -> Result<Option<f64>, Expected> {
    match node {
        Node::Static(StaticNode::F64(n)) => Ok(Some(n)),
        Node::Static(StaticNode::I64(n)) => Ok(Some(n as f64)),
        Node::Static(StaticNode::U64(n)) => Ok(Some(n as f64)),
        Node::Static(StaticNode::Null) => Ok(None),
        _ => Err("a number"),
    }
}

/// The reject reason for a field of the wrong type.
pub(crate) fn wrong_type(field: &str, expected: Expected) -> String {
    format!("field `{field}` is not {expected}")
}
