//! The two revisions of the Engine.IO protocol a client may speak, as its
//! `EIO` query parameter says.

/// An Engine.IO protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// Revision 3 (`socket.io-client` 2.x, Socket.IO protocol 4): clients
    /// ping, polling payloads are length-prefixed, a binary packet carries
    /// its type byte. Served only with [`super::EngineConfig::allow_eio3`].
    V3,
    /// Revision 4 (`socket.io-client` 3.x and later, Socket.IO protocol 5).
    #[default]
    V4,
}

impl Protocol {
    /// The revision an `EIO` value asks for: `4` is revision 4, anything
    /// else (or nothing) revision 3, as the reference server reads it.
    pub fn from_eio(eio: Option<&str>) -> Protocol {
        match eio {
            Some("4") => Protocol::V4,
            _ => Protocol::V3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn only_eio_4_is_revision_4() {
        assert_eq!(Protocol::from_eio(Some("4")), Protocol::V4);
        assert_eq!(Protocol::from_eio(Some("3")), Protocol::V3);
        assert_eq!(Protocol::from_eio(Some("2")), Protocol::V3);
        assert_eq!(Protocol::from_eio(None), Protocol::V3);
    }
}
