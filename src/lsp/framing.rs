//! The framing of protocol messages on standard input: a block of `Name: value` header lines
//! ended by an empty line, then a body of `Content-Length` bytes of JSON. lsp-server's own
//! reader ends the session at the first malformed message, and allocates the length a header
//! claims before it reads a byte of the body; this one turns a bad message into a [`Problem`]
//! and reads on, and skips a body longer than [`MAX_MESSAGE`] without keeping it.

use std::io::{self, BufRead, Read, Write};

use lsp_server::Message;
use serde_json::Value;

/// The longest message body read, in bytes: a document of [`super::MAX_DOCUMENT`] bytes fits,
/// with room for JSON escapes and the rest of the message.
pub const MAX_MESSAGE: u64 = 64 << 20;

/// The longest header line kept; the rest of a longer one is skipped.
const MAX_HEADER_LINE: u64 = 1024;

/// What one read gives.
#[derive(Debug)]
pub enum Frame {
    Message(Message),
    /// A bad message, already skipped; the next read starts after it.
    Problem(Problem),
}

#[derive(Debug, PartialEq)]
pub enum Problem {
    /// A header block without a usable `Content-Length` (why): skipped, with no body, as its
    /// length is unknown.
    Header(String),
    /// A body past [`MAX_MESSAGE`] (its length): skipped unread.
    TooLarge(u64),
    /// A body that is not JSON (or not UTF-8, which JSON must be).
    NotJson,
    /// JSON that is not a request, a response or a notification, with its `id` when that is a
    /// number or a string.
    NotMessage(Option<Value>),
}

impl Problem {
    /// What the server sends for it: a JSON-RPC error reply to a body it could not read
    /// (with no `id`, as none can be known, unless the body had one), or a log message when
    /// there is no body to answer.
    pub fn answer(&self) -> String {
        let log = |message: String| {
            serde_json::json!({
                "jsonrpc": "2.0",
                "method": "window/logMessage",
                "params": { "type": 1, "message": message },
            })
        };
        let error = |id: Option<&Value>, code: lsp_server::ErrorCode, message: &str| {
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": { "code": code as i32, "message": message },
            })
        };
        let value = match self {
            Problem::Header(why) => {
                log(format!("medpol skipped a message with a bad header: {why}"))
            }
            Problem::TooLarge(length) => log(format!(
                "medpol skipped a message of {length} bytes: a message has at most {} MiB",
                MAX_MESSAGE >> 20
            )),
            Problem::NotJson => error(
                None,
                lsp_server::ErrorCode::ParseError,
                "the message is not JSON",
            ),
            Problem::NotMessage(id) => error(
                id.as_ref(),
                lsp_server::ErrorCode::InvalidRequest,
                "the message is not a request, a response or a notification",
            ),
        };
        value.to_string()
    }
}

/// Writes one message: its header, then its body.
pub fn write(out: &mut impl Write, body: &str) -> io::Result<()> {
    write!(out, "Content-Length: {}\r\n\r\n{body}", body.len())
}

/// Reads messages from a byte stream.
pub struct Reader<R> {
    input: R,
    /// The bytes of a too-large body still to skip: skipped at the next read, so that the
    /// problem is reported before the whole body has arrived.
    skip: u64,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Self {
        Reader { input, skip: 0 }
    }

    /// The next message or problem; `None` at the end of the input between messages. The
    /// input ending inside a message is an `UnexpectedEof` error.
    pub fn read(&mut self) -> io::Result<Option<Frame>> {
        if self.skip > 0 {
            let skipped = io::copy(&mut (&mut self.input).take(self.skip), &mut io::sink())?;
            if skipped < self.skip {
                return Err(truncated());
            }
            self.skip = 0;
        }
        let length = match self.header()? {
            None => return Ok(None),
            Some(Ok(length)) => length,
            Some(Err(why)) => return Ok(Some(Frame::Problem(Problem::Header(why)))),
        };
        if length > MAX_MESSAGE {
            self.skip = length;
            return Ok(Some(Frame::Problem(Problem::TooLarge(length))));
        }
        // No room is reserved from the header's word: the body grows as its bytes come.
        let mut body = Vec::new();
        (&mut self.input).take(length).read_to_end(&mut body)?;
        if (body.len() as u64) < length {
            return Err(truncated());
        }
        Ok(Some(frame(&body)))
    }

    /// Reads a header block to its empty line: the body's length, or why there is none;
    /// `None` at the end of the input before the block starts.
    fn header(&mut self) -> io::Result<Option<Result<u64, String>>> {
        let mut length: Option<Result<u64, String>> = None;
        let mut started = false;
        loop {
            let Some(line) = self.line()? else {
                return if started { Err(truncated()) } else { Ok(None) };
            };
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if started {
                    return Ok(Some(length.unwrap_or_else(|| {
                        Err("a header block without `Content-Length`".to_string())
                    })));
                }
                // Blank lines between messages are not a block.
                continue;
            }
            started = true;
            // A body whose header was lost runs into the next header, as a body ends without a
            // line break: the block starts again at a `Content-Length` inside a line.
            let line = match find_ignoring_case(line, "content-length:") {
                Some(at) if at > 0 => {
                    length = None;
                    line.get(at..).unwrap_or(line)
                }
                _ => line,
            };
            let Some((name, value)) = line.split_once(':') else {
                length = Some(Err(format!(
                    "a header line without `:`: `{}`",
                    crate::diagnostic::shown(line)
                )));
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-length") {
                let value = value.trim();
                length = Some(value.parse::<u64>().map_err(|_| {
                    format!(
                        "`Content-Length` is not a length: `{}`",
                        crate::diagnostic::shown(value)
                    )
                }));
            }
        }
    }

    /// One line of the header, cut to [`MAX_HEADER_LINE`] bytes and read as UTF-8 with
    /// replacements; `None` at the end of the input.
    fn line(&mut self) -> io::Result<Option<String>> {
        let mut bytes = Vec::new();
        (&mut self.input)
            .take(MAX_HEADER_LINE)
            .read_until(b'\n', &mut bytes)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        if !bytes.ends_with(b"\n") {
            // Longer than any header: drop the rest of the line unread into memory.
            loop {
                let buffer = self.input.fill_buf()?;
                if buffer.is_empty() {
                    break;
                }
                match buffer.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        self.input.consume(end + 1);
                        break;
                    }
                    None => {
                        let all = buffer.len();
                        self.input.consume(all);
                    }
                }
            }
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the input ended inside a message",
    )
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A body as a message, or the problem with it.
fn frame(body: &[u8]) -> Frame {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Frame::Problem(Problem::NotJson);
    };
    let id = value
        .get("id")
        .filter(|id| id.is_number() || id.is_string())
        .cloned();
    match serde_json::from_value::<Message>(value) {
        Ok(message) => Frame::Message(message),
        Err(_) => Frame::Problem(Problem::NotMessage(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8]) -> (Vec<Result<String, Problem>>, Option<io::ErrorKind>) {
        let mut reader = Reader::new(input);
        let mut out = Vec::new();
        loop {
            match reader.read() {
                Ok(None) => return (out, None),
                Ok(Some(Frame::Message(m))) => out.push(Ok(match m {
                    Message::Request(r) => r.method,
                    Message::Notification(n) => n.method,
                    Message::Response(r) => format!("response {}", r.id),
                })),
                Ok(Some(Frame::Problem(p))) => out.push(Err(p)),
                Err(e) => return (out, Some(e.kind())),
            }
        }
    }

    fn message(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

    #[test]
    fn well_formed_messages_are_read_in_turn() {
        let input = format!(
            "{}\r\n{}",
            message(PING),
            message(r#"{"jsonrpc":"2.0","method":"note","params":{}}"#)
        );
        let (read, end) = read_all(input.as_bytes());
        assert_eq!(read, [Ok("ping".to_string()), Ok("note".to_string())]);
        assert_eq!(end, None);
    }

    #[test]
    fn headers_are_case_blind_and_others_are_ignored() {
        let input = format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{PING}",
            PING.len()
        );
        assert_eq!(read_all(input.as_bytes()).0, [Ok("ping".to_string())]);
    }

    #[test]
    fn a_bad_header_block_is_skipped() {
        let input = format!("Garbage\r\n\r\n{}", message(PING));
        let (read, _) = read_all(input.as_bytes());
        assert_eq!(
            read,
            [
                Err(Problem::Header(
                    "a header line without `:`: `Garbage`".to_string()
                )),
                Ok("ping".to_string())
            ]
        );
    }

    #[test]
    fn a_missing_or_unreadable_length_is_a_header_problem() {
        let input = format!("Content-Type: x\r\n\r\n{}", message(PING));
        let (read, _) = read_all(input.as_bytes());
        assert_eq!(
            read[0],
            Err(Problem::Header(
                "a header block without `Content-Length`".to_string()
            ))
        );
        assert_eq!(read[1], Ok("ping".to_string()));
        let input = format!("Content-Length: -3\r\n\r\n{}", message(PING));
        let (read, _) = read_all(input.as_bytes());
        assert_eq!(
            read[0],
            Err(Problem::Header(
                "`Content-Length` is not a length: `-3`".to_string()
            ))
        );
    }

    #[test]
    fn a_body_without_its_header_runs_into_the_next_header_which_is_still_read() {
        // The lost block's body has no line break, so it joins the next header line.
        let input = format!("Content-Length: x\r\n\r\n{PING}{}", message(PING));
        let (read, _) = read_all(input.as_bytes());
        assert!(matches!(read[0], Err(Problem::Header(_))), "{read:?}");
        assert_eq!(read[1], Ok("ping".to_string()));
        assert_eq!(read.len(), 2);
    }

    #[test]
    fn a_huge_length_is_reported_before_its_body_and_skipped_unkept() {
        // 60 GB claimed: reported at once, with nothing allocated for it.
        let input = b"Content-Length: 60000000000\r\n\r\n{\"partial";
        let mut reader = Reader::new(&input[..]);
        assert!(matches!(
            reader.read(),
            Ok(Some(Frame::Problem(Problem::TooLarge(60_000_000_000))))
        ));
        // The rest of its body never comes: the input is cut short.
        assert_eq!(
            reader.read().map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::UnexpectedEof)
        );
        // A body just past the limit is skipped, and the next message read.
        let over = MAX_MESSAGE + 1;
        let mut input = format!("Content-Length: {over}\r\n\r\n").into_bytes();
        input.resize(input.len() + over as usize, b' ');
        input.extend_from_slice(message(PING).as_bytes());
        let (read, end) = read_all(&input);
        assert_eq!(read, [Err(Problem::TooLarge(over)), Ok("ping".to_string())]);
        assert_eq!(end, None);
    }

    #[test]
    fn a_body_that_is_not_json_or_not_a_message_is_a_problem() {
        let not_utf8 = b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}";
        let mut input = format!("Content-Length: {}\r\n\r\n", not_utf8.len()).into_bytes();
        input.extend_from_slice(not_utf8);
        input.extend_from_slice(message("{not json").as_bytes());
        input.extend_from_slice(message(r#"{"jsonrpc":"2.0","id":7}"#).as_bytes());
        input.extend_from_slice(message(r#"[1, 2]"#).as_bytes());
        input.extend_from_slice(message(PING).as_bytes());
        let (read, end) = read_all(&input);
        assert_eq!(
            read,
            [
                Err(Problem::NotJson),
                Err(Problem::NotJson),
                Err(Problem::NotMessage(Some(Value::from(7)))),
                Err(Problem::NotMessage(None)),
                Ok("ping".to_string()),
            ]
        );
        assert_eq!(end, None);
    }

    #[test]
    fn a_long_or_non_utf8_header_line_does_not_stop_the_reading() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\r\n\xff\xfe: 1\r\n\r\n");
        input.extend_from_slice(message(PING).as_bytes());
        let (read, _) = read_all(&input);
        assert!(
            matches!(&read[0], Err(Problem::Header(why)) if why.len() < 200),
            "{read:?}"
        );
        assert_eq!(read[1], Ok("ping".to_string()));
    }

    #[test]
    fn a_problem_is_answered_as_an_error_or_logged() {
        let mut out = Vec::new();
        write(&mut out, &Problem::NotJson.answer()).unwrap();
        let body = r#"{"error":{"code":-32700,"message":"the message is not JSON"},"id":null,"jsonrpc":"2.0"}"#;
        assert_eq!(out, message(body).into_bytes());
        let answer = Problem::NotMessage(Some(Value::from("a"))).answer();
        assert!(
            answer.contains(r#""id":"a""#) && answer.contains("-32600"),
            "{answer}"
        );
        let answer = Problem::TooLarge(MAX_MESSAGE + 1).answer();
        assert!(
            answer.contains("window/logMessage") && answer.contains("67108865 bytes"),
            "{answer}"
        );
    }

    #[test]
    fn a_truncated_stream_ends_with_an_error() {
        for cut in [
            "Content-Length: 10\r\n".to_string(),
            format!("Content-Length: {}\r\n\r\n{{\"js", PING.len()),
        ] {
            let (read, end) = read_all(cut.as_bytes());
            assert!(read.is_empty());
            assert_eq!(end, Some(io::ErrorKind::UnexpectedEof), "{cut:?}");
        }
    }
}
