//! Zip files: telling an xlsx or ods (a zip too) from a zip holding lists, and unpacking the
//! latter one level deep within limits, so a zip bomb is refused, not unpacked.

use std::io::{Cursor, Read};

use zip::ZipArchive;
use zip::result::ZipError;

use super::{
    ArchiveProblem, Budget, Document, Format, Kind, MAX_UNPACKED_BYTES, ReadError, Sheet, Want,
};

/// Most files a zip of lists may hold.
pub const MAX_ENTRIES: usize = 64;
/// Most bytes all its files may unpack to.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Most bytes one file may unpack to.
pub const MAX_ENTRY_BYTES: u64 = 32 * 1024 * 1024;
/// Highest compression ratio accepted for a file over 1 MiB (spreadsheets compress about 10:1).
pub const MAX_RATIO: u64 = 200;

/// A zip read from memory.
pub(super) type Zip<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// What a zip is: a workbook in zip clothing (xlsx, ods...), a document, or an archive; and the
/// zip itself, when it could be opened.
pub(super) fn open(bytes: &[u8]) -> (Kind, Option<Zip<'_>>) {
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        // Let the workbook reader say what is wrong with it.
        return (Kind::Sheet(Format::Xlsx), None);
    };
    (kind(&mut zip), Some(zip))
}

fn kind(zip: &mut Zip) -> Kind {
    if let Ok(mut f) = zip.by_name("mimetype") {
        let mut m = String::new();
        let _ = f.by_ref().take(200).read_to_string(&mut m);
        let m = m.trim();
        if m.starts_with("application/vnd.oasis.opendocument.spreadsheet") {
            return Kind::Sheet(Format::Ods);
        }
        if m.starts_with("application/vnd.oasis.opendocument.text") {
            return Kind::Document(Document::Word);
        }
        if m.starts_with("application/vnd.oasis.opendocument") {
            return Kind::Document(Document::Other);
        }
    }
    let names: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(|n| normalised(&n))
        .collect();
    let has = |p: &str| names.iter().any(|n| n == p);
    if has("xl/workbook.bin") {
        Kind::Sheet(Format::Xlsb)
    } else if has("xl/workbook.xml") {
        Kind::Sheet(Format::Xlsx)
    } else if has("word/document.xml") {
        Kind::Document(Document::Word)
    } else if has("[content_types].xml") {
        // Another package layout (the workbook part elsewhere than `xl/`, as the package's own
        // relationships allow and calamine follows): its content types name the main part.
        main_part(zip)
    } else {
        Kind::Sheet(Format::Zip)
    }
}

/// What an Office package is by its main part: the package's relationships (`_rels/.rels`)
/// name it (the `officeDocument` relationship, which calamine follows too), and the content
/// type `[Content_Types].xml` gives that part says what it is. Not by the content types alone:
/// some writers list a workbook's types for every extension (`.bin` as an xlsb's) in any package.
fn main_part(zip: &mut Zip) -> Kind {
    let mut target = None;
    if let Some(rels) = small_part(zip, "_rels/.rels") {
        super::ooxml::each_named(&rels, "Relationship", |e| {
            if let [Some(kind), Some(to)] = super::ooxml::attrs(e, ["Type", "Target"])
                && kind.ends_with("/officeDocument")
                && target.is_none()
            {
                target = Some(to.trim_start_matches('/').to_string());
            }
        });
    }
    let Some(target) = target else {
        return Kind::Document(Document::Other);
    };
    let part = normalised(&target);
    let mut content_type = String::new();
    if let Some(types) = small_part(zip, "[Content_Types].xml") {
        super::ooxml::each_named(&types, "Override", |e| {
            if let [Some(name), Some(t)] = super::ooxml::attrs(e, ["PartName", "ContentType"])
                && normalised(&name) == part
            {
                content_type = t.to_ascii_lowercase();
            }
        });
    }
    if content_type.contains("wordprocessingml") {
        Kind::Document(Document::Word)
    } else if content_type.contains("ms-excel.sheet.binary")
        || (content_type.is_empty() && part.ends_with(".bin"))
    {
        Kind::Sheet(Format::Xlsb)
    } else if content_type.contains("spreadsheetml")
        || content_type.contains("ms-excel")
        || (content_type.is_empty() && part.ends_with("workbook.xml"))
    {
        Kind::Sheet(Format::Xlsx)
    } else {
        Kind::Document(Document::Other)
    }
}

/// A package part of at most 1 MiB, for telling what the package is.
fn small_part(zip: &mut Zip, path: &str) -> Option<Vec<u8>> {
    part_within(zip, path, 1024 * 1024)
}

/// The part at `path` (its name compared as calamine compares them: [`entry_name`]), unpacked
/// up to `limit` bytes.
pub(super) fn part_within(zip: &mut Zip, path: &str, limit: u64) -> Option<Vec<u8>> {
    let name = match zip.index_for_name(path) {
        Some(_) => path.to_string(),
        None => entry_name(zip, path)?,
    };
    let f = zip.by_name(&name).ok()?;
    // The declared size may lie: it only sizes the buffer, up to a bound.
    let mut out = Vec::with_capacity(f.size().min(limit).min(1 << 20) as usize);
    f.take(limit).read_to_end(&mut out).ok()?;
    Some(out)
}

/// A part's name as calamine looks it up: `\` read as `/` (zips written by some Windows tools
/// name their parts `xl\workbook.xml`), without a leading `/`, in lower case.
pub(super) fn normalised(name: &str) -> String {
    name.replace('\\', "/")
        .trim_start_matches('/')
        .to_ascii_lowercase()
}

/// The zip's own name of the part `path` names, compared as calamine compares them
/// ([`normalised`]); `None` when it has no such part.
pub(super) fn entry_name(zip: &Zip, path: &str) -> Option<String> {
    let want = normalised(path);
    zip.file_names()
        .filter_map(Result::ok)
        .find(|n| normalised(n) == want)
        .map(|n| n.into_owned())
}

/// The zip's own names of the parts whose normalised name ([`normalised`]) is `file` in any
/// folder: where calamine would look for it depends on where the package puts its workbook.
pub(super) fn entries_named(zip: &Zip, file: &str) -> Vec<String> {
    let file = file.to_ascii_lowercase();
    let in_folder = format!("/{file}");
    zip.file_names()
        .filter_map(Result::ok)
        .filter(|n| {
            let n = normalised(n);
            n == file || n.ends_with(&in_folder)
        })
        .map(|n| n.into_owned())
        .collect()
}

/// Refuses a zipped workbook (xlsx, xlsb, ods) whose parts would unpack to more than
/// [`MAX_UNPACKED_BYTES`], before calamine unpacks any (a sheet part of 2 GB of spaces is
/// 0.8 MB zipped). The declared sizes are what counts: unpacking an entry stops with an error
/// past its declared size. Nothing to check when the zip could not be opened (calamine then
/// says what is wrong).
///
/// Pictures pasted into the workbook do not count: calamine never unpacks them (a part it
/// reads counts whatever it is named).
pub(super) fn check_unpacked(zip: Option<&mut Zip>) -> Result<(), ReadError> {
    let Some(zip) = zip else { return Ok(()) };
    if zip
        .decompressed_size()
        .is_some_and(|total| total <= u128::from(MAX_UNPACKED_BYTES))
    {
        return Ok(());
    }
    // Over the bound in all, or entries with a data descriptor (the central directory still
    // declares their sizes): the parts that are read are counted one by one.
    let mut total = 0u128;
    for i in 0..zip.len() {
        if let Ok(f) = zip.by_index_raw(i) {
            let name = f.name().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
            let picture = [
                ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf",
            ]
            .iter()
            .any(|e| name.ends_with(e));
            if !picture {
                total += u128::from(f.size());
            }
        }
    }
    if total > u128::from(MAX_UNPACKED_BYTES) {
        return Err(ReadError::TooLarge);
    }
    Ok(())
}

/// Reads every list in a zip (not in zips inside it), each spending the same `budget`.
pub(super) fn read(bytes: &[u8], want: Want, budget: &mut Budget) -> Result<Vec<Sheet>, ReadError> {
    let mut zip =
        ZipArchive::new(Cursor::new(bytes)).map_err(|e| ReadError::Corrupt(format!("zip: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(ReadError::Archive(ArchiveProblem::TooLarge));
    }
    let mut total: u64 = 0;
    let mut sheets = Vec::new();
    let mut nested = false;
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(ZipError::UnsupportedArchive(m)) if m == ZipError::PASSWORD_REQUIRED => {
                return Err(ReadError::Archive(ArchiveProblem::Encrypted));
            }
            Err(e) => return Err(ReadError::Corrupt(format!("zip: {e}"))),
        };
        if entry.is_dir() {
            continue;
        }
        if entry.encrypted() {
            return Err(ReadError::Archive(ArchiveProblem::Encrypted));
        }
        let path = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let name = path.rsplit(['/', '\\']).next().unwrap_or("").to_string();
        if name.is_empty() || name.starts_with('.') || path.starts_with("__MACOSX") {
            continue;
        }
        let declared = entry.size();
        if declared > MAX_ENTRY_BYTES
            || (declared > 1024 * 1024 && declared / entry.compressed_size().max(1) > MAX_RATIO)
        {
            return Err(ReadError::Archive(ArchiveProblem::TooLarge));
        }
        // The declared size may lie: never read more than the limit, whatever it says.
        let mut data = Vec::new();
        entry
            .by_ref()
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| ReadError::InArchive {
                entry: name.clone(),
                error: Box::new(ReadError::Corrupt(e.to_string())),
            })?;
        total += data.len() as u64;
        if data.len() as u64 > MAX_ENTRY_BYTES || total > MAX_TOTAL_BYTES {
            return Err(ReadError::Archive(ArchiveProblem::TooLarge));
        }
        match super::kind(&name, &data) {
            Some(Kind::Sheet(Format::Zip)) => nested = true,
            Some(Kind::Sheet(_) | Kind::Encrypted | Kind::Winmail) => {
                let want = Want {
                    archives: false,
                    ..want
                };
                let read = super::read_kind(&name, &data, want, budget).map_err(|e| {
                    ReadError::InArchive {
                        entry: name.clone(),
                        error: Box::new(e),
                    }
                })?;
                sheets.extend(read.into_iter().map(|mut s| {
                    s.file = name.clone();
                    s
                }));
            }
            // A scan of the signed copy or a cover letter beside the list.
            Some(Kind::Document(_)) | None => {}
        }
    }
    if sheets.is_empty() {
        return Err(ReadError::Archive(if nested {
            ArchiveProblem::Nested
        } else {
            ArchiveProblem::NoList
        }));
    }
    Ok(sheets)
}
