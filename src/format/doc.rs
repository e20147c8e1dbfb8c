//! A small layout language and its printer: the walker describes where lines may break, and
//! the printer picks, group by group, the flat form when it fits in the width.

/// The widest line the formatter aims for. Strings and comments are never broken, so a line
/// holding a long one may be wider.
pub const WIDTH: usize = 100;

#[derive(Debug, Clone)]
pub enum Doc {
    Text(String),
    /// One space, dropped at the start of a line and before a forced line break.
    Space,
    /// A space when its group is flat, a line break when it is broken.
    Line,
    /// Nothing when its group is flat, a line break when it is broken.
    SoftLine,
    /// A line break unless the output is already at the start of a line.
    LineStart,
    /// An empty line (several collapse into one; none after an opening brace).
    Blank,
    /// Text printed only in a flat group, or only in a broken one (the commas of lists).
    Mode {
        flat: &'static str,
        broken: &'static str,
    },
    /// A comment after code on the same line; `hard` when a line break must follow it.
    Trail {
        text: String,
        hard: bool,
    },
    /// A comment on a line of its own, after an empty line when `blank`; `hard` when code may
    /// not follow it on its line.
    Own {
        text: String,
        blank: bool,
        hard: bool,
    },
    /// Its contents indented by this many more spaces after each line break.
    Indent(usize, Vec<Doc>),
    /// Flat if it fits, unless `forced` (the author broke it over lines).
    Group {
        forced: bool,
        docs: Vec<Doc>,
    },
}

pub fn text(t: impl Into<String>) -> Doc {
    Doc::Text(t.into())
}

pub fn group(forced: bool, docs: Vec<Doc>) -> Doc {
    Doc::Group { forced, docs }
}

/// Prints the documents, each group flat when it fits.
pub fn print(docs: &[Doc]) -> String {
    let mut p = Printer {
        out: String::new(),
        col: 0,
        indent: 0,
        need_newline: false,
        line_comments: Vec::new(),
    };
    p.render(docs, false);
    let mut out = align_comments(&p.out, &p.line_comments);
    while out.ends_with('\n') || out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

struct Printer {
    out: String,
    col: usize,
    indent: usize,
    /// A line comment was printed: whatever comes next starts a new line.
    need_newline: bool,
    /// Where each one-line comment after code starts and ends in the output.
    line_comments: Vec<(usize, usize)>,
}

impl Printer {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
        self.col = 0;
        self.need_newline = false;
    }

    fn text(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if self.need_newline {
            self.newline();
        }
        if self.at_line_start() {
            self.out.extend(std::iter::repeat_n(' ', self.indent));
            self.col = self.indent;
        }
        self.out.push_str(t);
        match t.rfind('\n') {
            Some(at) => self.col = t.get(at + 1..).map_or(0, |rest| rest.chars().count()),
            None => self.col += t.chars().count(),
        }
    }

    fn space(&mut self) {
        if !self.need_newline && !self.at_line_start() && !self.out.ends_with(' ') {
            self.out.push(' ');
            self.col += 1;
        }
    }

    fn line_start(&mut self) {
        if !self.at_line_start() {
            self.newline();
        }
        self.need_newline = false;
    }

    fn render(&mut self, docs: &[Doc], flat: bool) {
        for doc in docs {
            match doc {
                Doc::Text(t) => self.text(t),
                Doc::Space => self.space(),
                Doc::Line if flat => self.space(),
                Doc::Line | Doc::SoftLine if !flat => self.newline(),
                Doc::Line | Doc::SoftLine => {}
                Doc::LineStart => self.line_start(),
                Doc::Blank => {
                    self.line_start();
                    if !self.out.is_empty()
                        && !self.out.ends_with("\n\n")
                        && !self.out.ends_with("{\n")
                    {
                        self.out.push('\n');
                    }
                }
                Doc::Mode { flat: f, broken: b } => self.text(if flat { f } else { b }),
                Doc::Trail { text, hard } => {
                    self.space();
                    let after_code = !self.need_newline && !self.at_line_start();
                    let at = self.out.len();
                    self.text(text);
                    if after_code && !text.contains('\n') {
                        self.line_comments.push((at, self.out.len()));
                    }
                    if *hard {
                        self.need_newline = true;
                    } else {
                        self.space();
                    }
                }
                Doc::Own { text, blank, hard } => {
                    if *blank {
                        self.render(&[Doc::Blank], flat);
                    } else {
                        self.line_start();
                    }
                    self.text(text);
                    if *hard {
                        self.need_newline = true;
                    } else {
                        self.space();
                    }
                }
                Doc::Indent(n, inner) => {
                    self.indent += n;
                    self.render(inner, flat);
                    self.indent -= n;
                }
                Doc::Group { forced, docs } => {
                    let flat = !*forced && (flat || self.fits(docs));
                    self.render(docs, flat);
                }
            }
        }
    }

    fn fits(&self, docs: &[Doc]) -> bool {
        let start = if self.need_newline || self.at_line_start() {
            self.indent
        } else {
            self.col
        };
        let room = WIDTH.saturating_sub(start);
        let mut m = Measure {
            width: 0,
            room,
            pending: false,
        };
        m.measure(docs, true) != Some(false)
    }
}

/// Measures a group laid flat: `Some(true)` when a line break of a broken inner group ends the
/// measure in time, `Some(false)` when it cannot be flat or is too wide, `None` when it ends
/// within the room.
struct Measure {
    width: usize,
    room: usize,
    /// A line comment was passed: any more code would need a new line.
    pending: bool,
}

impl Measure {
    fn add(&mut self, t: &str) -> Option<bool> {
        if t.is_empty() {
            return None;
        }
        if self.pending || t.contains('\n') {
            return Some(false);
        }
        self.width += t.chars().count();
        (self.width > self.room).then_some(false)
    }

    fn measure(&mut self, docs: &[Doc], flat: bool) -> Option<bool> {
        for doc in docs {
            let stop = match doc {
                Doc::Text(t) => self.add(t),
                Doc::Space => (!self.pending).then(|| self.add(" ")).flatten(),
                Doc::Line if flat => self.add(" "),
                Doc::Line | Doc::SoftLine if !flat => Some(true),
                Doc::Line | Doc::SoftLine => None,
                Doc::LineStart | Doc::Blank | Doc::Own { .. } => Some(!flat),
                Doc::Mode { flat: f, broken: b } => self.add(if flat { f } else { b }),
                Doc::Trail { text, hard } => {
                    if *hard || text.contains('\n') {
                        self.pending = true;
                        None
                    } else {
                        self.add(" ").or_else(|| self.add(text))
                    }
                }
                Doc::Indent(_, inner) => self.measure(inner, flat),
                Doc::Group { forced, docs } => self.measure(docs, flat && !*forced),
            };
            if stop.is_some() {
                return stop;
            }
        }
        None
    }
}

/// Lines in a row that end with a comment have their comments in one column, three spaces
/// after the longest code, as the policies write code lists.
fn align_comments(out: &str, marks: &[(usize, usize)]) -> String {
    // (line number, where the code ends, the code's width, where the comment starts)
    let mut rows = Vec::new();
    for &(at, end) in marks {
        let (Some(before), Some(after)) = (out.get(..at), out.get(end..)) else {
            continue;
        };
        if !(after.is_empty() || after.starts_with('\n')) {
            continue;
        }
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let code = before.get(line_start..).unwrap_or("").trim_end();
        let line = before.matches('\n').count();
        rows.push((line, line_start + code.len(), code.chars().count(), at));
    }
    let mut pads = vec![0usize; rows.len()];
    let mut first = 0;
    while first < rows.len() {
        let mut last = first;
        while rows
            .get(last + 1)
            .zip(rows.get(last))
            .is_some_and(|(next, this)| next.0 == this.0 + 1)
        {
            last += 1;
        }
        let run = rows.get(first..=last).unwrap_or(&[]);
        let column = run.iter().map(|r| r.2).max().unwrap_or(0) + 3;
        for (k, r) in run.iter().enumerate() {
            if let Some(p) = pads.get_mut(first + k) {
                *p = column - r.2;
            }
        }
        first = last + 1;
    }
    let mut result = String::with_capacity(out.len());
    let mut from = 0;
    for (r, pad) in rows.iter().zip(&pads) {
        result.push_str(out.get(from..r.1).unwrap_or(""));
        result.extend(std::iter::repeat_n(' ', *pad));
        from = r.3;
    }
    result.push_str(out.get(from..).unwrap_or(""));
    result
}
