//! The control socket's messages, without I/O: one request per connection
//! and one reply.
//!
//! A request is the command's words, each separated by one space, on one
//! line; `user add` and `user passwd` add a second line, the password (so a
//! password never sits on a command line):
//!
//! ```text
//! user add ann\n
//! correct horse battery\n
//! ```
//!
//! A reply is `ok` or `error` on a first line, then the text to show the
//! operator (what was done, or why not). Both are UTF-8; a request is at most
//! [`MAX_REQUEST`] bytes. Every request has one spelling: whatever
//! [`Request::parse`] accepts, [`Request::encode`] gives back byte for byte.

use std::fmt;

/// The longest request, in bytes.
pub const MAX_REQUEST: usize = 4096;

/// The longest word (a user name is at most 32 characters).
const MAX_WORD: usize = 64;

/// The commands, as the operator types them.
pub const USAGE: &str = "sessio user add NAME | user del NAME | user passwd NAME | user list \
                         | session list | session purge [--all]";

/// What the operator asks for.
#[derive(Clone, PartialEq, Eq)]
pub enum Request {
    UserAdd {
        name: String,
        password: String,
    },
    UserDel {
        name: String,
    },
    UserPasswd {
        name: String,
        password: String,
    },
    UserList,
    SessionList,
    /// Expired sessions only, or all of them.
    SessionPurge {
        all: bool,
    },
}

/// Why a request or a reply was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Over [`MAX_REQUEST`] bytes.
    TooLong,
    NotUtf8,
    /// The last line has no line feed.
    Unterminated,
    /// Words that are no command (see [`USAGE`]).
    Usage,
    /// A name that is empty, too long, or not printable ASCII without spaces.
    BadName,
    /// A password missing where the command needs one, or given where it does not.
    Password,
    /// Lines after the request's end.
    Trailing,
    /// A reply whose first line is neither `ok` nor `error`.
    BadReply,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::TooLong => "request too long",
            ParseError::NotUtf8 => "not UTF-8",
            ParseError::Unterminated => "the last line is not terminated",
            ParseError::Usage => return write!(f, "usage: {USAGE}"),
            ParseError::BadName => "a name is 1 to 64 printable ASCII characters without spaces",
            ParseError::Password => "a password belongs to user add and user passwd only",
            ParseError::Trailing => "lines after the request",
            ParseError::BadReply => "not a control socket reply",
        })
    }
}

impl std::error::Error for ParseError {}

impl Request {
    /// Whether these words (`["user", "add", "ann"]`) name a command that
    /// takes a password, which the caller then reads and passes to
    /// [`Request::from_words`].
    pub fn takes_password(words: &[&str]) -> bool {
        matches!(words, ["user", "add" | "passwd", _])
    }

    /// The request these words and this password make.
    pub fn from_words(words: &[&str], password: Option<String>) -> Result<Request, ParseError> {
        if Request::takes_password(words) != password.is_some() {
            return Err(ParseError::Password);
        }
        let name = |word: &str| {
            let printable = word.bytes().all(|b| b.is_ascii_graphic());
            if (1..=MAX_WORD).contains(&word.len()) && printable {
                Ok(word.to_owned())
            } else {
                Err(ParseError::BadName)
            }
        };
        let request = match (words, password) {
            (["user", "add", who], Some(password)) => Request::UserAdd {
                name: name(who)?,
                password,
            },
            (["user", "passwd", who], Some(password)) => Request::UserPasswd {
                name: name(who)?,
                password,
            },
            (["user", "del", who], None) => Request::UserDel { name: name(who)? },
            (["user", "list"], None) => Request::UserList,
            (["session", "list"], None) => Request::SessionList,
            (["session", "purge"], None) => Request::SessionPurge { all: false },
            (["session", "purge", "--all"], None) => Request::SessionPurge { all: true },
            _ => return Err(ParseError::Usage),
        };
        if request.password().is_some_and(|p| p.contains('\n')) {
            return Err(ParseError::Password);
        }
        if request.encoded_len() > MAX_REQUEST {
            return Err(ParseError::TooLong);
        }
        Ok(request)
    }

    /// Reads a whole request.
    pub fn parse(bytes: &[u8]) -> Result<Request, ParseError> {
        if bytes.len() > MAX_REQUEST {
            return Err(ParseError::TooLong);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?;
        let (command, rest) = text.split_once('\n').ok_or(ParseError::Unterminated)?;
        let words: Vec<&str> = command.split(' ').collect();
        let password = if Request::takes_password(&words) {
            let (password, rest) = rest.split_once('\n').ok_or(ParseError::Unterminated)?;
            if !rest.is_empty() {
                return Err(ParseError::Trailing);
            }
            Some(password.to_owned())
        } else if !rest.is_empty() {
            return Err(ParseError::Trailing);
        } else {
            None
        };
        Request::from_words(&words, password)
    }

    /// The request's bytes, as [`Request::parse`] reads them.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = self.words().join(" ");
        text.push('\n');
        if let Some(password) = self.password() {
            text.push_str(password);
            text.push('\n');
        }
        text.into_bytes()
    }

    fn encoded_len(&self) -> usize {
        let words: usize = self.words().iter().map(|w| w.len() + 1).sum();
        words + self.password().map_or(0, |p| p.len() + 1)
    }

    /// The command's words (never the password).
    pub fn words(&self) -> Vec<&str> {
        match self {
            Request::UserAdd { name, .. } => vec!["user", "add", name],
            Request::UserDel { name } => vec!["user", "del", name],
            Request::UserPasswd { name, .. } => vec!["user", "passwd", name],
            Request::UserList => vec!["user", "list"],
            Request::SessionList => vec!["session", "list"],
            Request::SessionPurge { all: false } => vec!["session", "purge"],
            Request::SessionPurge { all: true } => vec!["session", "purge", "--all"],
        }
    }

    /// The password the request carries, if it is one that does.
    pub fn password(&self) -> Option<&str> {
        match self {
            Request::UserAdd { password, .. } | Request::UserPasswd { password, .. } => {
                Some(password)
            }
            _ => None,
        }
    }
}

/// The command as typed, without the password: for logs and errors.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words().join(" "))
    }
}

/// Like `Display`: a password is never printed.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Request({self})")
    }
}

/// The answer to a request: what was done, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Done(String),
    Failed(String),
}

impl Reply {
    /// Reads a whole reply.
    pub fn parse(bytes: &[u8]) -> Result<Reply, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?;
        match text.split_once('\n') {
            Some(("ok", rest)) => Ok(Reply::Done(rest.to_owned())),
            Some(("error", rest)) => Ok(Reply::Failed(rest.to_owned())),
            Some(_) => Err(ParseError::BadReply),
            None => Err(ParseError::Unterminated),
        }
    }

    /// The reply's bytes, as [`Reply::parse`] reads them.
    pub fn encode(&self) -> Vec<u8> {
        let (status, text) = match self {
            Reply::Done(text) => ("ok", text),
            Reply::Failed(text) => ("error", text),
        };
        format!("{status}\n{text}").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Result<Request, ParseError> {
        Request::parse(text.as_bytes())
    }

    #[test]
    fn every_command_parses_and_encodes_back() {
        let cases = [
            (
                "user add ann\ncorrect horse\n",
                Request::UserAdd {
                    name: "ann".into(),
                    password: "correct horse".into(),
                },
            ),
            (
                "user passwd ann\n \u{e9}t\u{e9} \r\n",
                Request::UserPasswd {
                    name: "ann".into(),
                    password: " \u{e9}t\u{e9} \r".into(),
                },
            ),
            ("user del ann\n", Request::UserDel { name: "ann".into() }),
            ("user list\n", Request::UserList),
            ("session list\n", Request::SessionList),
            ("session purge\n", Request::SessionPurge { all: false }),
            ("session purge --all\n", Request::SessionPurge { all: true }),
        ];
        for (text, expected) in cases {
            let parsed = request(text).unwrap();
            assert_eq!(parsed, expected, "{text:?}");
            assert_eq!(parsed.encode(), text.as_bytes());
            let words: Vec<&str> = text.lines().next().unwrap().split(' ').collect();
            let password = parsed.password().map(str::to_owned);
            assert_eq!(Request::from_words(&words, password).unwrap(), parsed);
        }
    }

    #[test]
    fn refusals_say_why() {
        let long = format!("user add ann\n{}\n", "p".repeat(MAX_REQUEST));
        let cases: &[(&[u8], ParseError)] = &[
            (b"", ParseError::Unterminated),
            (b"user list", ParseError::Unterminated),
            (b"user add ann\npassword", ParseError::Unterminated),
            (b"user add ann\n", ParseError::Unterminated),
            (b"user list\nextra\n", ParseError::Trailing),
            (b"user add ann\npw\nmore\n", ParseError::Trailing),
            (b"user  list\n", ParseError::Usage),
            (b"user list \n", ParseError::Usage),
            (b"USER list\n", ParseError::Usage),
            (b"user del\n", ParseError::Usage),
            (b"user del a b\n", ParseError::Usage),
            (b"session purge --ALL\n", ParseError::Usage),
            (b"\n", ParseError::Usage),
            (b"user del \xe9\n", ParseError::NotUtf8),
            (b"user del \xc3\xa9\n", ParseError::BadName),
            (b"user del a\tb\n", ParseError::BadName),
            (b"user add \n", ParseError::Unterminated),
            (long.as_bytes(), ParseError::TooLong),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                Request::parse(bytes),
                Err(*expected),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let name = "n".repeat(MAX_WORD + 1);
        assert_eq!(
            Request::from_words(&["user", "del", &name], None),
            Err(ParseError::BadName)
        );
        assert_eq!(
            Request::from_words(&["user", "add", "ann"], None),
            Err(ParseError::Password)
        );
        assert_eq!(
            Request::from_words(&["user", "list"], Some("pw".into())),
            Err(ParseError::Password)
        );
        assert_eq!(
            Request::from_words(&["user", "add", "ann"], Some("a\nb".into())),
            Err(ParseError::Password)
        );
        assert_eq!(
            Request::from_words(&["nonsense"], None),
            Err(ParseError::Usage)
        );
        assert_eq!(
            Request::from_words(&["user", "add"], None),
            Err(ParseError::Usage)
        );
    }

    #[test]
    fn a_password_is_never_printed() {
        let request =
            Request::from_words(&["user", "add", "ann"], Some("hunter22".into())).unwrap();
        assert_eq!(request.to_string(), "user add ann");
        assert!(!format!("{request:?}").contains("hunter22"));
    }

    #[test]
    fn replies_round_trip() {
        for reply in [
            Reply::Done(String::new()),
            Reply::Done("1\tann\n2\tbob\n".into()),
            Reply::Failed("no user ann".into()),
        ] {
            assert_eq!(Reply::parse(&reply.encode()), Ok(reply));
        }
        assert_eq!(Reply::parse(b"ok"), Err(ParseError::Unterminated));
        assert_eq!(Reply::parse(b"fine\n"), Err(ParseError::BadReply));
        assert_eq!(Reply::parse(b"ok\n\xff"), Err(ParseError::NotUtf8));
    }
}
