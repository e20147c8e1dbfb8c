//! The one diagnostic model every stage reports in.
//!
//! A [`Diagnostic`] is plain data: a stable [`Code`], a severity, a message, labelled spans,
//! help and notes. Stages only build them; `render` turns them into terminal reports, one-line
//! reports or JSON, and the language server maps them to LSP diagnostics.

use crate::source::Span;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $name:literal, $sev:ident, $summary:literal; )*) => {
        /// Every diagnostic code medpol can report. Codes are stable: a code keeps its meaning
        /// forever, and a retired code is never reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $variant, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable code, such as `E0101`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// The kebab-case name, such as `unknown-name`; usable in `medpol.yaml` lint levels.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// One line saying what the code is about.
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => $summary, )* }
            }
        }
    };
}

codes! {
    // Reading and parsing the text.
    SyntaxError = "E0001", "syntax-error", Error, "the text does not follow the language's syntax";
    InvalidUtf8 = "E0002", "invalid-utf8", Error, "the file is not valid UTF-8";
    InvalidCharacter = "E0003", "invalid-character", Error, "a NUL byte or control character in the text";
    UnterminatedString = "E0004", "unterminated-string", Error, "a string is not closed on its line";
    UnterminatedComment = "E0005", "unterminated-comment", Error, "a block comment is never closed";
    NestingTooDeep = "E0006", "nesting-too-deep", Error, "brackets nested deeper than the limit";
    NumberOutOfRange = "E0007", "number-out-of-range", Error, "a number too large or too precise to handle exactly";
    InvalidDate = "E0008", "invalid-date", Error, "a date that does not exist on the calendar";
    MalformedCode = "E0009", "malformed-code", Error, "a code that does not have the format of its code system";
    NameTooLong = "E0010", "name-too-long", Error, "a name longer than the limit";
    EmptyFile = "E0011", "empty-file", Error, "a policy file with no declarations";
    InvalidEscape = "E0012", "invalid-escape", Error, "an unknown escape sequence in a string";
    ConfusableName = "W0001", "confusable-name", Warning, "a name with a letter that looks like a different one";

    // Names and types.
    UnknownName = "E0101", "unknown-name", Error, "a name that is not declared";
    DuplicateDefinition = "E0102", "duplicate-definition", Error, "a name declared twice";
    TypeMismatch = "E0103", "type-mismatch", Error, "a value of the wrong type";
    UnitMismatch = "E0104", "unit-mismatch", Error, "quantities whose units cannot be compared exactly";
    UnknownEnumValue = "E0105", "unknown-enum-value", Error, "a value the enum does not declare";
    WrongCodeSystem = "E0106", "wrong-code-system", Error, "a code or code set of another code system";
    CountOutOfBounds = "E0107", "count-out-of-bounds", Error, "a k-of-n count larger than its list";
    UndeclaredOutcome = "E0108", "undeclared-outcome", Error, "an outcome the decision does not declare";
    DefinitionCycle = "E0109", "definition-cycle", Error, "definitions that refer to themselves";
    ComparisonWithoutFact = "E0110", "comparison-without-fact", Error, "a comparison that does not compare one fact with a value";
    UnknownType = "E0111", "unknown-type", Error, "a type or unit name that does not exist";
    UnknownCodeSystem = "E0112", "unknown-code-system", Error, "a code system name that does not exist";
    UnknownHitPolicy = "E0113", "unknown-hit-policy", Error, "a hit policy other than `unique`, `first` or `any`";
    InvalidMetadata = "E0114", "invalid-metadata", Error, "a policy block with a missing, unknown or repeated entry";
    MisplacedDeclaration = "E0115", "misplaced-declaration", Error, "a declaration in a file or place where it cannot be";
    InvalidDecision = "E0116", "invalid-decision", Error, "a decision without outcomes or rules, or with a misplaced `otherwise`";
    UndeclaredInput = "E0117", "undeclared-input", Error, "a rule reads a fact its decision does not list as an input";
    EmptyTest = "E0118", "empty-test", Error, "a test that expects nothing";
    PredeclaredName = "E0120", "predeclared-name", Error, "a declaration of a name the language declares, such as `service_date`";
    IncomparableFacts = "E0121", "incomparable-facts", Error, "two facts of different kinds compared or subtracted";
    MonthsNotWhole = "E0122", "months-not-whole", Error, "calendar months between two dates compared with an amount that is not whole months";
    UnusedFact = "W0101", "unused-fact", Warning, "a fact no rule or definition reads";
    UnusedDefine = "W0102", "unused-define", Warning, "a definition nothing uses";
    UnusedCodeSet = "W0103", "unused-code-set", Warning, "a code set nothing uses";
    TrivialCount = "W0104", "trivial-count", Warning, "a k-of-n condition that is always true or always false";
    UnusedOutcome = "W0105", "unused-outcome", Warning, "an outcome that no rule gives";
    UnusedImport = "W0106", "unused-import", Warning, "an imported name that is never used";

    // Histories: records, lists of items and counts over them.
    NotAList = "E0160", "not-a-list", Error, "a count of something that is not a list fact";
    InvalidField = "E0161", "invalid-field", Error, "a record field whose type is not a single value";
    UnknownRecord = "E0162", "unknown-record", Error, "a list of something that is not a record";
    WrongRecord = "E0163", "wrong-record", Error, "a count whose condition reads a field of another record";
    CountComparison = "E0164", "count-comparison", Error, "a count that is not compared with a whole number";
    WindowWithoutDate = "E0165", "window-without-date", Error, "a window `within N UNIT` without the date it ends at";
    InvalidWindow = "E0166", "invalid-window", Error, "a window on something that is not a date, or of an amount that is not whole days or months";

    // Codes against the code tables.
    UnknownCode = "E0301", "unknown-code", Error, "a code the code table in force does not have";
    HeaderCode = "E0302", "header-code", Error, "a heading used as if it were a billable code";
    MissingSeventh = "E0303", "missing-seventh-character", Error, "a code without the 7th character its category requires";
    InvalidSeventh = "E0304", "invalid-seventh-character", Error, "a 7th character the category does not allow";
    MissingPlaceholder = "E0305", "missing-placeholder", Error, "a 7th character without the placeholder `X` before it";
    LowercasePlaceholder = "W0306", "lowercase-placeholder", Note, "a code written with a lower-case `x`";
    UnknownRangeEnd = "E0307", "unknown-range-end", Error, "a range whose end is not a code of the table";
    InvertedRange = "E0308", "inverted-range", Error, "a range whose first code comes after its last";
    EmptyCodeItem = "E0309", "empty-code-item", Error, "a range or pattern that holds no billable code";
    WideRange = "W0310", "wide-range", Warning, "a range that spans several subcategories or encounter kinds";
    DuplicateCode = "W0311", "duplicate-code", Warning, "a code listed twice in one set";
    ExcludedTogether = "E0312", "excluded-together", Error, "a condition requiring codes an Excludes1 note forbids together";
    AddonWithoutPrimary = "W0313", "addon-without-primary", Warning, "an add-on code covered without one of its primary codes";
    CodeChangedLater = "W0314", "code-changed-later", Warning, "a code deleted or made non-billable in a later release";
    NoTableInForce = "W0315", "no-table-in-force", Note, "a policy older than every code table release";
    PartialTable = "W0316", "partial-table", Note, "codes taken as written where the code table lists only some codes";

    // Analysis of decisions.
    OverlappingRules = "E0401", "overlapping-rules", Error, "two rules give different outcomes to the same patient";
    RedundantOverlap = "W0402", "redundant-overlap", Warning, "two rules of a `unique` decision match the same patient";
    DecisionGap = "E0403", "decision-gap", Error, "some patients match no rule of a decision without `otherwise`";
    BoundaryGap = "E0404", "boundary-gap", Error, "a threshold value that no rule decides";
    ShadowedRule = "W0405", "shadowed-rule", Warning, "a rule that never fires because earlier rules decide first";
    PartlyShadowed = "W0406", "partly-shadowed", Note, "an earlier rule with another outcome decides some of a rule's patients";
    ImpossibleCondition = "W0407", "impossible-condition", Warning, "a rule or definition no patient meets";
    RedundantCondition = "W0408", "redundant-condition", Warning, "a condition the others beside it already imply";
    AlwaysTrue = "W0409", "always-true", Warning, "a condition every patient meets";
    UnreadInput = "W0410", "unread-input", Warning, "a decision input that no rule reads";
    UnreachableOtherwise = "W0411", "unreachable-otherwise", Warning, "an `otherwise` no patient reaches";
    AnalysisIncomplete = "W0412", "analysis-incomplete", Warning, "an analysis that stopped early at its budget";
    ListedCodeNeverCounts = "W0413", "listed-code-never-counts", Warning, "a listed code with which no patient can get the outcome whose rules name its set";
    RelationsApproximated = "W0420", "relations-approximated", Note, "related facts the analysis reasons over as independent values, too many to decide exactly";

    // Projects and imports.
    InvalidProjectFile = "E0201", "invalid-project-file", Error, "a `medpol.yaml` that cannot be read";
    UnknownLint = "E0202", "unknown-lint", Error, "a lint level for a code that does not exist or cannot be changed";
    ImportNotFound = "E0203", "import-not-found", Error, "an import of a file that does not exist";
    ImportOutsideProject = "E0204", "import-outside-project", Error, "an import that leaves the project folder";
    NoPolicyFiles = "E0205", "no-policy-files", Error, "a project with no `.medpol` files";
    UnreadableFile = "E0206", "unreadable-file", Error, "a policy file that cannot be read, is too large or is not a file";
    UnreadableFolder = "W0207", "unreadable-folder", Warning, "a project folder that cannot be read, so its policy files are not checked";
    TooLargeForEditor = "W0208", "too-large-for-editor", Warning, "a document the language server does not check because it is too large";

    // Bugs in medpol itself.
    InternalError = "E0901", "internal-error", Error, "a state medpol's own guarantees rule out: a bug in medpol";

    // Measurements: units, declared ranges and derived values.
    UnknownUnit = "E0140", "unknown-unit", Error, "a unit that is not a UCUM code of the unit table";
    WrongDimension = "E0141", "wrong-dimension", Error, "a measurement compared with or given in a unit of another dimension";
    InvalidRange = "E0142", "invalid-range", Error, "a declared range that is empty, on a fact that is not a number, or past the values its type can take";
    ValueOutOfRange = "E0143", "value-out-of-range", Error, "a test value outside its fact's declared range or its type's bounds";

    // FHIR bindings and CRD mappings (`fhir.yaml`).
    InvalidBinding = "E0501", "invalid-binding", Error, "a `fhir.yaml` that cannot be read, or a source written wrong";
    UnknownBinding = "E0502", "unknown-binding", Error, "a binding for a fact or policy the project does not have";
    BindingType = "E0503", "binding-type", Error, "a FHIR source that cannot give a value of its fact's type";
    BindingUnit = "E0504", "binding-unit", Error, "an observation unit that does not convert exactly to its fact's unit";
    BindingCodeSystem = "E0505", "binding-code-system", Error, "a code system URI that is not a FHIR URI medpol knows, or of another system";
    BindingEnumValue = "E0506", "binding-enum-value", Error, "a mapped value the fact does not have, a code mapped twice, or an unknown status";
    CrdMapping = "E0507", "crd-mapping", Error, "a CRD mapping with an unknown decision, outcome or code, or an outcome left out";
    CoverageInformationInvalid = "E0508", "coverage-information-invalid", Error, "a result of a decision whose CRD answer breaks one of CRD's invariants";
    UnboundFact = "W0509", "unbound-fact", Warning, "a fact a CRD policy reads that no FHIR source gives";
}

impl Code {
    /// Looks a code up by its code (`E0101`, any case) or its name (`unknown-name`).
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text) || c.name() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A labelled span. The primary label says where the problem is; secondary labels point at
/// related places (the first definition of a duplicate, the other rule of an overlap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// A machine-readable form of a "did you mean" help: replacing the text of `span` with
/// `replacement` fixes the problem (the language server offers it as a code action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.default_severity(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
            fixes: Vec::new(),
        }
    }

    /// A state medpol's own guarantees rule out (`what` says which): a bug in medpol, not in
    /// the policy. Debug builds (the tests, the fuzzer) stop here, so such a bug cannot pass
    /// unseen; a release reports it instead of going on with a silent stand-in.
    pub fn internal(what: impl std::fmt::Display) -> Diagnostic {
        let message =
            format!("internal error: {what}; please report this at the medpol issue tracker");
        debug_assert!(false, "{message}");
        Diagnostic::new(Code::InternalError, message)
    }

    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn fix(mut self, span: Span, replacement: impl Into<String>) -> Diagnostic {
        self.fixes.push(Fix {
            span,
            replacement: replacement.into(),
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The span of the first primary label.
    /// The message, then its help and notes, one a line (`help: ...`, `note: ...`): what a
    /// form with one text per diagnostic (an editor's, a code-scanning service's) shows.
    pub fn full_message(&self) -> String {
        let mut text = self.message.clone();
        if let Some(help) = &self.help {
            text.push_str("\nhelp: ");
            text.push_str(help);
        }
        for note in &self.notes {
            text.push_str("\nnote: ");
            text.push_str(note);
        }
        text
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Key for a stable report order: by file, position, then code.
    pub fn sort_key(&self) -> (u32, u32, u32, Code) {
        match self.primary_span() {
            Some(s) => (s.file.0, s.start, s.end, self.code),
            None => (u32::MAX, 0, 0, self.code),
        }
    }
}

/// User text as shown inside a message: long text is cut, so that a one-megabyte name does
/// not become a one-megabyte message.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 60;
    // Control characters are escaped: a message stays on one line whatever the input holds.
    if text.chars().count() <= MAX && !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Sorts diagnostics into report order and drops exact repeats.
pub fn sort_diagnostics(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
    diagnostics.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for code in Code::ALL {
            assert!(codes.insert(code.as_str()), "duplicate {code}");
            assert!(names.insert(code.name()), "duplicate name {}", code.name());
            let prefix = match code.default_severity() {
                Severity::Error => 'E',
                Severity::Warning | Severity::Note => 'W',
            };
            assert!(
                code.as_str().starts_with(prefix),
                "{code} has the wrong prefix"
            );
            assert_eq!(code.as_str().len(), 5);
        }
    }

    #[test]
    fn shown_text_stays_on_one_line() {
        assert_eq!(shown("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(shown(&"x".repeat(70)).chars().count(), 61);
    }

    #[test]
    fn parse_accepts_codes_and_names() {
        assert_eq!(Code::parse("e0101"), Some(Code::UnknownName));
        assert_eq!(Code::parse("unused-fact"), Some(Code::UnusedFact));
        assert_eq!(Code::parse("E9999"), None);
    }
}
