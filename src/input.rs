//! Reading an input file whole, with a size limit for each kind of input.
//!
//! Every file medpol reads whole goes through [`read`]: an operator who points `--facts` at
//! `/dev/zero` or a table path at a 6 GB log gets a plain error at once, not a process that
//! grows until it is killed. Devices, sockets and folders are refused before anything is read;
//! a pipe (`--facts <(...)`) is read up to the limit. The limits are documented in
//! `docs/limits.md`; a batch is not read whole (`eval --batch` limits each line instead).

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The kinds of input read whole, each with its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `.medpol` source file. Generated policies (one decision per row of a payer's
    /// spreadsheet) reach tens of megabytes, and the checker is linear in them.
    Source,
    /// A project's `medpol.yaml`: a few lines of settings.
    Project,
    /// The facts of one patient (`eval --facts`).
    Facts,
    /// A compiled decision artifact.
    Artifact,
    /// A code table file (`.mpt`, or the YAML of a local table).
    Table,
    /// A file given to an importer (`medpol tables import`): the publishers' releases are
    /// large XML and text files.
    Release,
    /// A code table pasted from a printed policy (`medpol codes import`): a few hundred rows,
    /// some forty thousand at the most.
    Paste,
}

impl Kind {
    /// The largest file of this kind that is read, in bytes.
    pub const fn limit(self) -> u64 {
        const MIB: u64 = 1 << 20;
        match self {
            Kind::Source => 64 * MIB,
            Kind::Project => MIB,
            Kind::Facts => 16 * MIB,
            Kind::Artifact => 256 * MIB,
            Kind::Table => 256 * MIB,
            Kind::Release => 1024 * MIB,
            Kind::Paste => 4 * MIB,
        }
    }

    /// What the file is, for a message.
    pub const fn noun(self) -> &'static str {
        match self {
            Kind::Source => "a policy file",
            Kind::Project => "a project file",
            Kind::Facts => "a facts file",
            Kind::Artifact => "an artifact",
            Kind::Table => "a code table",
            Kind::Release => "a code release file",
            Kind::Paste => "a pasted code table",
        }
    }
}

/// Why a file was not read. Its text names neither the path nor the input: callers say which
/// file it was.
#[derive(Debug)]
pub enum ReadError {
    /// The file system refused (missing, no permission...).
    Io(std::io::Error),
    /// A folder, device or socket: nothing a user means to give as this input.
    NotAFile(&'static str),
    /// Larger than the limit of its kind.
    TooLarge { kind: Kind },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{}", plain_io(e)),
            ReadError::NotAFile(what) => write!(f, "it is {what}, not a file"),
            ReadError::TooLarge { kind } => write!(
                f,
                "it is larger than {} MiB, the limit for {}",
                kind.limit() >> 20,
                kind.noun()
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// An I/O error in plain words: the operating system's message without its error number.
pub fn plain_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file or folder".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let text = e.to_string();
            // "Is a directory (os error 21)": the number helps no reader.
            match text.find(" (os error") {
                Some(at) => text.get(..at).unwrap_or(&text).to_lowercase(),
                None => text.to_lowercase(),
            }
        }
    }
}

/// A YAML file's error (`medpol.yaml`, a local table) in plain words: the library's own text
/// names its options and functions ("set DuplicateKeyPolicy in Options"), which a reader of
/// the file cannot act on. The location is left out; callers point at it.
pub fn yaml_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error;
    match err.without_snippet() {
        Error::Unexpected { expected, .. } => match *expected {
            "sequence start" => "expected a list here, such as `[a, b]`".to_string(),
            "mapping start" => "expected `key: value` entries here".to_string(),
            other => format!("expected {other} here"),
        },
        Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let known = expected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            match crate::check::names::suggest(field, expected.iter().copied()) {
                Some(s) => format!(
                    "unknown key `{}`; did you mean `{s}`? (the keys here are {known})",
                    crate::diagnostic::shown(field)
                ),
                None => format!(
                    "unknown key `{}`; the keys here are {known}",
                    crate::diagnostic::shown(field)
                ),
            }
        }
        // The rest is worded alike for every YAML medpol reads, facts included.
        other => medpol_artifact::yaml_message(other),
    }
}

/// Reads a whole file of the given kind; refuses special files and files past the kind's
/// limit.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open(path)?;
    if meta.is_file() && meta.len() > kind.limit() {
        return Err(ReadError::TooLarge { kind });
    }
    read_from(file, kind, meta.len())
}

/// Opens a file or pipe to read; refuses folders, devices and sockets before anything is
/// read. A stream read line by line (`eval --batch`) opens its file this way too.
pub fn open(path: &Path) -> Result<(File, std::fs::Metadata), ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    let ty = meta.file_type();
    if ty.is_dir() {
        return Err(ReadError::NotAFile("a folder"));
    }
    if !ty.is_file() && !is_pipe(&ty) {
        return Err(ReadError::NotAFile("a device or socket"));
    }
    Ok((file, meta))
}

/// Reads a whole stream of the given kind (standard input), refusing one past the kind's
/// limit; `expected` is a hint for the buffer's size.
pub fn read_from(reader: impl Read, kind: Kind, expected: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(expected.min(kind.limit()) as usize);
    // One byte past the limit tells a file that grew, or a pipe, that is too large.
    reader
        .take(kind.limit() + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > kind.limit() {
        return Err(ReadError::TooLarge { kind });
    }
    Ok(bytes)
}

/// Reads a whole file as text; invalid UTF-8 is an error naming the first bad byte's offset.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, ReadError> {
    let bytes = read(path, kind)?;
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (byte {} is not valid)",
                e.utf8_error().valid_up_to() + 1
            ),
        ))
    })
}

#[cfg(unix)]
fn is_pipe(ty: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    ty.is_fifo()
}

#[cfg(not(unix))]
fn is_pipe(_: &std::fs::FileType) -> bool {
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn devices_and_folders_are_refused_before_reading() {
        let zero = read(Path::new("/dev/zero"), Kind::Facts).unwrap_err();
        assert_eq!(zero.to_string(), "it is a device or socket, not a file");
        let dir = tempfile::tempdir().unwrap();
        let folder = read(dir.path(), Kind::Facts).unwrap_err();
        assert_eq!(folder.to_string(), "it is a folder, not a file");
    }

    #[test]
    fn a_file_past_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let file = File::create(&path).unwrap();
        file.set_len(Kind::Facts.limit() + 1).unwrap();
        let err = read(&path, Kind::Facts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is larger than 16 MiB, the limit for a facts file"
        );
        file.set_len(Kind::Facts.limit()).unwrap();
        assert_eq!(
            read(&path, Kind::Facts).unwrap().len() as u64,
            Kind::Facts.limit()
        );
    }

    #[test]
    fn missing_files_are_said_plainly() {
        let err = read(Path::new("/nonexistent/facts.json"), Kind::Facts).unwrap_err();
        assert_eq!(err.to_string(), "no such file or folder");
    }
}
