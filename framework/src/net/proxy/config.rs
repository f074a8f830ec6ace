//! [`ProxyProtocol`]: which versions a server accepts, and the entry point of the parser.

use super::{ProxyHeaderError, ProxyParse, ProxyVersion, v1, v2};

/// Which PROXY header versions a server accepts, and how long a v2 header may be.
///
/// The spec forbids guessing whether a header is present: a server configured
/// with this always requires one. Both versions are told apart by their first
/// byte, so accepting both costs nothing.
///
/// # Examples
///
/// ```
/// use aioproto::{ProxyHeaderError, ProxyProtocol};
///
/// let only_v2 = ProxyProtocol::v2().with_max_v2_len(512);
/// assert_eq!(only_v2.parse(b"PROXY UNKNOWN\r\n"), Err(ProxyHeaderError::NotProxyHeader));
/// assert!(ProxyProtocol::any().parse(b"PROXY UNKNOWN\r\n").is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyProtocol {
    v1: bool,
    v2: bool,
    max_v2_len: usize,
}

impl Default for ProxyProtocol {
    /// [`ProxyProtocol::any`].
    fn default() -> Self {
        Self::any()
    }
}

impl ProxyProtocol {
    /// The longest v1 line, CRLF included (spec §2.1).
    pub const MAX_V1_LEN: usize = 107;
    /// The longest v2 header the wire format can express: 16 + 65535 bytes.
    pub const MAX_V2_LEN: usize = 16 + 65535;
    /// The default cap on a v2 header: 4 KiB, far above any real header
    /// (addresses take at most 216 bytes, TLVs are typically a few dozen).
    pub const DEFAULT_MAX_V2_LEN: usize = 4096;

    /// Accepts v1 headers only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(aioproto::ProxyProtocol::v1().accepts(aioproto::ProxyVersion::V1));
    /// ```
    pub const fn v1() -> Self {
        ProxyProtocol {
            v1: true,
            v2: false,
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }

    /// Accepts v2 headers only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!aioproto::ProxyProtocol::v2().accepts(aioproto::ProxyVersion::V1));
    /// ```
    pub const fn v2() -> Self {
        ProxyProtocol {
            v1: false,
            v2: true,
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }

    /// Accepts both versions (the default), as the spec recommends for v2 receivers.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyProtocol, ProxyVersion};
    /// let any = ProxyProtocol::any();
    /// assert!(any.accepts(ProxyVersion::V1) && any.accepts(ProxyVersion::V2));
    /// ```
    pub const fn any() -> Self {
        ProxyProtocol {
            v1: true,
            v2: true,
            max_v2_len: Self::DEFAULT_MAX_V2_LEN,
        }
    }

    /// Caps v2 headers at `max` bytes in all, the fixed 16 included (default
    /// [`DEFAULT_MAX_V2_LEN`](Self::DEFAULT_MAX_V2_LEN)). A larger header is
    /// rejected as soon as its length field arrives, before its body is read.
    /// Values above [`MAX_V2_LEN`](Self::MAX_V2_LEN) change nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = aioproto::ProxyProtocol::any().with_max_v2_len(256);
    /// assert_eq!(cfg.max_v2_len(), 256);
    /// ```
    pub const fn with_max_v2_len(mut self, max: usize) -> Self {
        self.max_v2_len = max;
        self
    }

    /// The cap on v2 headers, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::ProxyProtocol;
    /// assert_eq!(ProxyProtocol::any().max_v2_len(), ProxyProtocol::DEFAULT_MAX_V2_LEN);
    /// ```
    pub const fn max_v2_len(&self) -> usize {
        self.max_v2_len
    }

    /// Whether headers of `version` are accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ProxyProtocol, ProxyVersion};
    /// assert!(!ProxyProtocol::v1().accepts(ProxyVersion::V2));
    /// ```
    pub const fn accepts(&self, version: ProxyVersion) -> bool {
        match version {
            ProxyVersion::V1 => self.v1,
            ProxyVersion::V2 => self.v2,
        }
    }

    /// Parses a header at the start of `buf`, the bytes received so far.
    ///
    /// Call it again with more bytes after [`ProxyParse::Incomplete`]; the
    /// answer never depends on how the bytes were split. Input that cannot be
    /// the start of an accepted header is rejected at the first wrong byte,
    /// so a client speaking another protocol is turned away at once.
    ///
    /// # Errors
    ///
    /// A [`ProxyHeaderError`] saying what is wrong; the connection should be
    /// closed without passing anything to the protocol.
    ///
    /// # Examples
    ///
    /// A driver feeding bytes as they arrive:
    ///
    /// ```
    /// use aioproto::{ProxyParse, ProxyProtocol};
    ///
    /// let cfg = ProxyProtocol::any();
    /// let mut buf = Vec::new();
    /// for chunk in [&b"PROXY TCP6 ::1 "[..], b"::2 1000 80\r", b"\nhello"] {
    ///     buf.extend_from_slice(chunk);
    ///     match cfg.parse(&buf).unwrap() {
    ///         ProxyParse::Incomplete { .. } => continue,
    ///         ProxyParse::Complete { header, consumed } => {
    ///             assert_eq!(header.source(), Some("[::1]:1000".parse().unwrap()));
    ///             assert_eq!(&buf[consumed..], b"hello");
    ///         }
    ///     }
    /// }
    /// ```
    pub fn parse(&self, buf: &[u8]) -> Result<ProxyParse, ProxyHeaderError> {
        match buf.first() {
            None => Ok(ProxyParse::Incomplete { needed: 1 }),
            Some(&b) if self.v1 && b == v1::SIGNATURE[0] => v1::parse(buf),
            Some(&b) if self.v2 && b == v2::SIGNATURE[0] => v2::parse(buf, self.max_v2_len),
            Some(_) => Err(ProxyHeaderError::NotProxyHeader),
        }
    }
}
