//! Node tags: the short random name a clustered node picks at start, which
//! begins each of its Engine.IO session ids, so that any node can tell from a
//! sid alone which node holds that session. The random part after the tag is
//! the same 128 bits an unclustered node's sid has.

use std::fmt;

use base64::Engine as _;

/// A tag's length in characters (48 random bits, URL-safe base64).
pub const TAG_CHARS: usize = 8;
/// The length of a sid's random part ([`crate::engineio::random_id`]).
const RANDOM_CHARS: usize = 22;

/// This node's tag; see the module documentation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NodeTag(String);

impl NodeTag {
    /// A new random tag.
    pub fn random() -> NodeTag {
        let mut bytes = [0u8; TAG_CHARS * 3 / 4];
        // As for sids: without a random source nothing here is safe.
        if let Err(err) = getrandom::fill(&mut bytes) {
            log::error!("the OS random source failed: {err}");
            std::process::abort();
        }
        NodeTag(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The tag as it begins a sid.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag a sid begins with, when it has the shape of a tagged sid (a
    /// sid of an unclustered node, or anything else a client sends, has none).
    pub fn of_sid(sid: &str) -> Option<&str> {
        let well_formed = sid.len() == TAG_CHARS + RANDOM_CHARS
            && sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| &sid[..TAG_CHARS])
    }

    /// Whether `sid` is one of this node's.
    pub fn owns(&self, sid: &str) -> bool {
        NodeTag::of_sid(sid) == Some(self.as_str())
    }
}

impl fmt::Display for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeTag({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_sid_names_its_node() {
        let tag = NodeTag::random();
        assert_eq!(tag.as_str().len(), TAG_CHARS);
        let sid = format!("{tag}{}", crate::engineio::random_id());
        assert_eq!(NodeTag::of_sid(&sid), Some(tag.as_str()));
        assert!(tag.owns(&sid));
        assert!(!NodeTag::random().owns(&sid));
    }

    #[test]
    fn other_sids_have_no_tag() {
        // An unclustered node's sid, and what a client might make up.
        assert_eq!(NodeTag::of_sid(&crate::engineio::random_id()), None);
        assert_eq!(NodeTag::of_sid(""), None);
        assert_eq!(NodeTag::of_sid(&"é".repeat(15)), None);
        assert_eq!(
            NodeTag::of_sid(&format!("abcdefg/{}", "x".repeat(22))),
            None
        );
    }
}
