//! The PDF form of a fair list: A4 landscape, a title block on the first page, then a
//! table of the children with the heading row repeated on every page and «Стр. N из M» at
//! the foot of each.
//!
//! The document is written by krilla, which embeds a subset of the font with a ToUnicode
//! map, so the names can be searched and copied out of the file. The font is DejaVu Sans,
//! kept in the repository (`assets/fonts`) rather than read from the system: it covers
//! Cyrillic with the Kazakh letters, «№» and «₸», and a fresh machine may have no fonts at
//! all.
//!
//! Text is set one glyph a character at the font's advance widths (read with skrifa, the
//! reader krilla itself uses), and wrapped in its cell by the same widths, so what is
//! measured is exactly what is drawn. Cyrillic, Kazakh letters included, needs no shaping
//! beyond that, and leaving out krilla's shaper (and its kerning) makes a list of thousands
//! of children a few times quicker to print. Rows are laid out first and drawn afterwards,
//! as the footer needs the number of pages.

use krilla::color::luma;
use krilla::error::KrillaError;
use krilla::geom::{Path, PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Data, Document, SerializeSettings};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use super::{FairListTitle, FairRow, HEADINGS, cells, date};

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// A4 landscape, in points.
const PAGE_WIDTH: f32 = 842.0;
const PAGE_HEIGHT: f32 = 595.0;
/// About 1 cm at the sides and the top, which every office printer can reach.
const MARGIN_X: f32 = 28.0;
const MARGIN_TOP: f32 = 28.0;
/// The body stops here; the footer sits below it.
const BODY_BOTTOM: f32 = PAGE_HEIGHT - 36.0;
/// The footer's baseline.
const FOOTER_BASELINE: f32 = PAGE_HEIGHT - 18.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN_X;

/// The column widths in points, in the order of [`HEADINGS`]; they fill [`CONTENT_WIDTH`].
/// The names fit a 13-letter patronymic such as «Нурсултановна», the amounts `1 234 567,89`
/// and their headings, the signature cell a hand; the needs take what is left.
const WIDTHS: [f32; 12] = [
    26.0, 74.0, 30.0, 72.0, 58.0, 72.0, 52.0, 140.0, 59.0, 59.0, 59.0, 85.0,
];

/// How each column's text sits in its cell: numbers to the right, so digits line up.
const ALIGNS: [Align; 12] = [
    Align::Right,
    Align::Left,
    Align::Centre,
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Right,
    Align::Right,
    Align::Right,
    Align::Left,
];

/// The table's type size and line pitch.
const TABLE_SIZE: f32 = 8.0;
const LINE_HEIGHT: f32 = TABLE_SIZE * 1.2;
/// Space between a cell's text and its grid lines.
const PAD_X: f32 = 2.5;
const PAD_Y: f32 = 2.5;
/// Grid lines: thin, and dark enough to survive a photocopier.
const GRID_WIDTH: f32 = 0.5;
/// The heading row's shade (0 black, 255 white).
const HEADING_SHADE: u8 = 225;

/// The title block: the campaign larger, then the scope, the fair and the print date.
const CAMPAIGN_SIZE: f32 = 14.0;
const SCOPE_SIZE: f32 = 11.0;
const DETAIL_SIZE: f32 = 10.0;
const FOOTER_SIZE: f32 = 8.0;
/// The gap between the title block and the table.
const TITLE_GAP: f32 = 8.0;

/// What an empty list says instead of a table.
const NOTHING_LEFT: &str = "Нет детей с непокрытыми нуждами.";

/// Why a list could not be rendered. It names what failed and never carries the list's
/// contents, so it may be logged; the caller answers INTERNAL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The font built into the binary could not be read (a broken build, not bad data).
    #[error("the embedded font could not be read")]
    Font,
    /// krilla refused to write the document; the kind of failure only.
    #[error("the PDF could not be written ({0})")]
    Write(&'static str),
}

impl From<KrillaError> for PdfError {
    fn from(error: KrillaError) -> Self {
        // Only the kind: a font error's message could in principle quote text.
        PdfError::Write(match error {
            KrillaError::Font(..) => "font",
            KrillaError::Validation(_) => "validation",
            KrillaError::Limit(_) => "limit",
            _ => "other",
        })
    }
}

/// Renders a fair list as a PDF document.
///
/// The rows are printed in the order given, numbered from 1. A row is kept on one page;
/// only a row taller than a whole page (which no real list has) is continued on the next.
pub fn render(title: &FairListTitle, rows: &[FairRow]) -> Result<Vec<u8>, PdfError> {
    let measure = Measure::new()?;
    let layout = Layout::new(&measure, title, rows);
    let font = Font::new(Data::from(FONT), 0).ok_or(PdfError::Font)?;

    let mut document = Document::new_with(SerializeSettings {
        // Nothing here is tagged, so krilla need not prepare for it.
        enable_tagging: false,
        ..SerializeSettings::default()
    });
    document.set_metadata(
        Metadata::new()
            .title(format!("{} — {}", title.campaign, title.scope))
            .language("ru".to_owned()),
    );
    let settings =
        PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or(PdfError::Write("page size"))?;
    let total = layout.pages.len();
    for (index, page) in layout.pages.iter().enumerate() {
        let mut pdf_page = document.start_page_with(settings.clone());
        let mut surface = pdf_page.surface();
        let mut pen = Pen {
            surface: &mut surface,
            font: &font,
            measure: &measure,
        };
        pen.page(&layout, index, page, total);
        surface.finish();
        pdf_page.finish();
    }
    Ok(document.finish()?)
}

/// Horizontal placement of a line in its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Centre,
    Right,
}

/// The font's glyphs and advance widths, at a size of one point: for wrapping text and for
/// setting it.
struct Measure {
    charmap: Charmap<'static>,
    advances: GlyphMetrics<'static>,
    /// Above and below the baseline, in em.
    ascent: f32,
    descent: f32,
}

impl Measure {
    fn new() -> Result<Self, PdfError> {
        let font = FontRef::new(FONT).map_err(|_| PdfError::Font)?;
        let unit = Size::new(1.0);
        let metrics = font.metrics(unit, LocationRef::default());
        Ok(Self {
            charmap: font.charmap(),
            advances: font.glyph_metrics(unit, LocationRef::default()),
            ascent: metrics.ascent,
            descent: -metrics.descent,
        })
    }

    /// The advance of one character in em; a character the font lacks gets the advance of
    /// the box drawn in its place.
    fn char_em(&self, c: char) -> f32 {
        let glyph = self.charmap.map(c).unwrap_or_default();
        self.advances.advance_width(glyph).unwrap_or(0.0)
    }

    /// The glyphs of a line of text, one a character, each advanced by its width.
    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                let glyph = self.charmap.map(c).unwrap_or_default();
                let advance = self.advances.advance_width(glyph).unwrap_or(0.0);
                KrillaGlyph::new(
                    GlyphId::new(glyph.to_u32()),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// The width of a line of text at a size, in points.
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.char_em(c)).sum::<f32>() * size
    }

    /// Splits text into lines no wider than `width` at `size`, greedily. A line is broken at
    /// a space (never at a no-break space, so `12 000,00` stays whole, nor after «№») or
    /// after the hyphen of a word such as «Школа-гимназия»; a word wider than a line is
    /// broken between characters. A line break in the text starts a new line.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        // A little slack for the sums of floats.
        let width = width + 0.01;
        let space = self.char_em(' ') * size;
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut line_width = 0.0;
            for (piece, spaced) in pieces(paragraph) {
                let piece_width = self.width(&piece, size);
                if !line.is_empty() {
                    let gap = if spaced { space } else { 0.0 };
                    if line_width + gap + piece_width <= width {
                        if spaced {
                            line.push(' ');
                        }
                        line.push_str(&piece);
                        line_width += gap + piece_width;
                        continue;
                    }
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                if piece_width <= width {
                    line = piece;
                    line_width = piece_width;
                    continue;
                }
                for c in piece.chars() {
                    let advance = self.char_em(c) * size;
                    // A mark of no width stays with the letter it sits on.
                    if !line.is_empty() && advance > 0.0 && line_width + advance > width {
                        lines.push(std::mem::take(&mut line));
                        line_width = 0.0;
                    }
                    line.push(c);
                    line_width += advance;
                }
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
        lines
    }

    /// The distance from the top of a line to its baseline, so that the glyphs sit centred
    /// in a line of `line_height`.
    fn baseline(&self, size: f32, line_height: f32) -> f32 {
        (line_height - (self.ascent + self.descent) * size) / 2.0 + self.ascent * size
    }
}

/// Where a line may be broken: at white space other than the no-break spaces.
fn breaks_line(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}')
}

/// The pieces of a paragraph that a line may be broken between, each with whether a space
/// goes before it: its words, the parts of a hyphenated word (the hyphen ending the part
/// before), and «№» kept with the number after it.
fn pieces(paragraph: &str) -> Vec<(String, bool)> {
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut glued = false;
    for word in paragraph.split(breaks_line).filter(|w| !w.is_empty()) {
        for (n, part) in after_hyphens(word).into_iter().enumerate() {
            if n == 0
                && glued
                && let Some((last, _)) = pieces.last_mut()
            {
                last.push(' ');
                last.push_str(part);
                continue;
            }
            pieces.push((part.to_owned(), n == 0));
        }
        glued = word == "№";
    }
    pieces
}

/// A word split after each hyphen that follows a letter and is followed by something, so a
/// leading minus stays with its number.
fn after_hyphens(word: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut after_letter = false;
    for (i, c) in word.char_indices() {
        let end = i + c.len_utf8();
        if matches!(c, '-' | '\u{2010}') && after_letter && end < word.len() {
            parts.push(&word[start..end]);
            start = end;
        }
        after_letter = c.is_alphabetic();
    }
    parts.push(&word[start..]);
    parts
}

/// A line of the title block.
#[derive(Debug)]
struct TitleLine {
    text: String,
    size: f32,
}

/// One table row with each cell's text wrapped to its column.
#[derive(Debug)]
struct Row {
    cells: [Vec<String>; 12],
    /// The tallest cell's lines, at least one.
    lines: usize,
}

/// The lines `first..first + count` of a row, as printed on one page; the whole row but for
/// one taller than a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    row: usize,
    first: usize,
    count: usize,
}

/// What goes on one page: the title block (first page only) and a run of rows.
#[derive(Debug, Default)]
struct Page {
    slices: Vec<Slice>,
}

/// The whole document laid out, ready to draw.
#[derive(Debug)]
struct Layout {
    title: Vec<TitleLine>,
    /// Where the title block ends and the table (or the empty-list line) begins.
    title_bottom: f32,
    heading: Row,
    rows: Vec<Row>,
    pages: Vec<Page>,
}

/// The height of a table row of `lines` lines.
fn row_height(lines: usize) -> f32 {
    lines as f32 * LINE_HEIGHT + 2.0 * PAD_Y
}

/// How many lines of a row fit in `room` points of height; at least one, so that a row
/// always moves on.
fn lines_fitting(room: f32) -> usize {
    (((room - 2.0 * PAD_Y) / LINE_HEIGHT).floor().max(1.0)) as usize
}

impl Layout {
    fn new(measure: &Measure, title: &FairListTitle, rows: &[FairRow]) -> Self {
        let printed = format!("Дата печати: {}", date(title.printed_on));
        let mut parts = vec![
            (title.campaign.as_str(), CAMPAIGN_SIZE),
            (title.scope.as_str(), SCOPE_SIZE),
        ];
        if let Some(activity) = title.activity.as_deref() {
            parts.push((activity, DETAIL_SIZE));
        }
        parts.push((printed.as_str(), DETAIL_SIZE));
        let mut title_lines = Vec::new();
        for (text, size) in parts {
            for line in measure.wrap(text, size, CONTENT_WIDTH) {
                title_lines.push(TitleLine { text: line, size });
            }
        }
        let title_bottom = MARGIN_TOP
            + title_lines
                .iter()
                .map(|l| title_line_height(l.size))
                .sum::<f32>()
            + TITLE_GAP;

        let heading = wrap_row(measure, HEADINGS.map(str::to_owned));
        let rows: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| wrap_row(measure, cells(i + 1, row)))
            .collect();
        let pages = paginate(&rows, title_bottom, row_height(heading.lines));
        Self {
            title: title_lines,
            title_bottom,
            heading,
            rows,
            pages,
        }
    }
}

/// The pitch of a title line at a size.
fn title_line_height(size: f32) -> f32 {
    size * 1.35
}

/// Wraps each cell of a row to its column.
fn wrap_row(measure: &Measure, cells: [String; 12]) -> Row {
    let mut i = 0;
    let cells = cells.map(|text| {
        let lines = measure.wrap(&text, TABLE_SIZE, WIDTHS[i] - 2.0 * PAD_X);
        i += 1;
        lines
    });
    let lines = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
    Row { cells, lines }
}

/// Shares the rows out between pages: each row goes whole onto the page it starts on, or
/// onto a fresh page when it does not fit; a row taller than a fresh page is continued over
/// as many pages as it needs. There is always at least one page.
fn paginate(rows: &[Row], title_bottom: f32, heading_height: f32) -> Vec<Page> {
    let room_first = BODY_BOTTOM - title_bottom - heading_height;
    let room_next = BODY_BOTTOM - MARGIN_TOP - heading_height;
    let mut pages = vec![Page::default()];
    let mut room = room_first;
    let mut used = 0.0;
    for (index, row) in rows.iter().enumerate() {
        let height = row_height(row.lines);
        if used + height <= room {
            push_slice(&mut pages, index, 0, row.lines);
            used += height;
            continue;
        }
        // A fresh page; the first page is left without rows only when its title block
        // leaves no room for this one.
        if height <= room_next || !is_empty(&pages) {
            pages.push(Page::default());
            room = room_next;
            used = 0.0;
        }
        let mut first = 0;
        loop {
            let count = lines_fitting(room - used).min(row.lines - first);
            push_slice(&mut pages, index, first, count);
            used += row_height(count);
            first += count;
            if first >= row.lines {
                break;
            }
            pages.push(Page::default());
            room = room_next;
            used = 0.0;
        }
    }
    pages
}

fn is_empty(pages: &[Page]) -> bool {
    pages.last().is_none_or(|p| p.slices.is_empty())
}

fn push_slice(pages: &mut Vec<Page>, row: usize, first: usize, count: usize) {
    if pages.is_empty() {
        pages.push(Page::default());
    }
    if let Some(page) = pages.last_mut() {
        page.slices.push(Slice { row, first, count });
    }
}

/// Draws on one page's surface.
struct Pen<'s, 'a> {
    surface: &'s mut Surface<'a>,
    font: &'s Font,
    measure: &'s Measure,
}

impl Pen<'_, '_> {
    /// Draws page `index` (from 0) of `total`.
    fn page(&mut self, layout: &Layout, index: usize, page: &Page, total: usize) {
        let mut top = MARGIN_TOP;
        if index == 0 {
            for line in &layout.title {
                let height = title_line_height(line.size);
                let baseline = top + self.measure.baseline(line.size, height);
                self.text(MARGIN_X, baseline, line.size, &line.text);
                top += height;
            }
            top = layout.title_bottom;
            if layout.rows.is_empty() {
                let height = title_line_height(DETAIL_SIZE);
                let baseline = top + self.measure.baseline(DETAIL_SIZE, height);
                self.text(MARGIN_X, baseline, DETAIL_SIZE, NOTHING_LEFT);
            }
        }
        if !page.slices.is_empty() {
            self.table(layout, page, top);
        }
        let footer = format!("Стр. {} из {}", index + 1, total);
        let width = self.measure.width(&footer, FOOTER_SIZE);
        self.text(
            PAGE_WIDTH - MARGIN_X - width,
            FOOTER_BASELINE,
            FOOTER_SIZE,
            &footer,
        );
    }

    /// Draws the heading row and the page's rows from `top` down, then the grid over them.
    fn table(&mut self, layout: &Layout, page: &Page, top: f32) {
        let heading_height = row_height(layout.heading.lines);
        if let Some(shade) = rect(MARGIN_X, top, CONTENT_WIDTH, heading_height) {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(Fill {
                paint: luma::Color::new(HEADING_SHADE).into(),
                ..Fill::default()
            }));
            self.surface.draw_path(&shade);
        }
        self.surface.set_fill(Some(Fill::default()));

        let mut rules = vec![top];
        let mut y = top;
        self.row(&layout.heading, 0, layout.heading.lines, y);
        y += heading_height;
        rules.push(y);
        for slice in &page.slices {
            if let Some(row) = layout.rows.get(slice.row) {
                self.row(row, slice.first, slice.count, y);
            }
            y += row_height(slice.count);
            rules.push(y);
        }
        self.grid(&rules);
    }

    /// Draws lines `first..first + count` of each cell of a row whose top is at `top`.
    fn row(&mut self, row: &Row, first: usize, count: usize, top: f32) {
        let baseline = self.measure.baseline(TABLE_SIZE, LINE_HEIGHT);
        let mut x = MARGIN_X;
        for ((lines, width), align) in row.cells.iter().zip(WIDTHS).zip(ALIGNS) {
            let shown = lines.iter().skip(first).take(count);
            for (n, line) in shown.enumerate() {
                let y = top + PAD_Y + n as f32 * LINE_HEIGHT + baseline;
                let room = width - 2.0 * PAD_X;
                let left = match align {
                    Align::Left => 0.0,
                    Align::Centre => (room - self.measure.width(line, TABLE_SIZE)) / 2.0,
                    Align::Right => room - self.measure.width(line, TABLE_SIZE),
                };
                self.text(x + PAD_X + left.max(0.0), y, TABLE_SIZE, line);
            }
            x += width;
        }
    }

    /// Strokes the table's rules: across at each of `rules` (from the top of the heading to
    /// the bottom of the last row), and down at each column's edges.
    fn grid(&mut self, rules: &[f32]) {
        let (Some(&top), Some(&bottom)) = (rules.first(), rules.last()) else {
            return;
        };
        let mut builder = PathBuilder::new();
        for &y in rules {
            builder.move_to(MARGIN_X, y);
            builder.line_to(MARGIN_X + CONTENT_WIDTH, y);
        }
        let mut x = MARGIN_X;
        builder.move_to(x, top);
        builder.line_to(x, bottom);
        for width in WIDTHS {
            x += width;
            builder.move_to(x, top);
            builder.line_to(x, bottom);
        }
        let Some(path) = builder.finish() else {
            return;
        };
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(Stroke {
            width: GRID_WIDTH,
            ..Stroke::default()
        }));
        self.surface.draw_path(&path);
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(Fill::default()));
    }

    /// Draws one line of text in black with its baseline at `y`.
    fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        let glyphs = self.measure.glyphs(text);
        self.surface.draw_glyphs(
            Point::from_xy(x, y),
            &glyphs,
            self.font.clone(),
            text,
            size,
            false,
        );
    }
}

/// A rectangle as a path to fill.
fn rect(x: f32, y: f32, width: f32, height: f32) -> Option<Path> {
    let mut builder = PathBuilder::new();
    builder.push_rect(Rect::from_xywh(x, y, width, height)?);
    builder.finish()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date as day;

    use super::super::FairNeed;
    use super::*;

    fn title() -> FairListTitle {
        FairListTitle {
            campaign: "Дорога в школу — 2023".into(),
            scope: "Школа № 7, Костанай".into(),
            activity: Some("Ярмарка «Всё к школе», ТРЦ «Мега», 25.08.2023".into()),
            printed_on: day(2023, 8, 20),
        }
    }

    fn row(family: &str, given: &str, patronymic: &str, needs: Vec<FairNeed>) -> FairRow {
        let estimated: i64 = needs.iter().map(|n| n.left_tiyn).sum();
        FairRow {
            school: "Школа № 7, Костанай".into(),
            grade: Some(3),
            family_name: family.into(),
            given_name: given.into(),
            patronymic: patronymic.into(),
            birth_date: day(2015, 3, 14),
            needs,
            estimated_tiyn: estimated,
            committed_tiyn: 0,
            remaining_tiyn: estimated,
        }
    }

    fn need(item: &str, left_tiyn: i64) -> FairNeed {
        FairNeed {
            item: item.into(),
            left_tiyn,
        }
    }

    /// The text of a PDF with every run of white space (the no-break space included) made
    /// one space, as extraction spaces words as it pleases.
    fn text_of(pdf: &[u8]) -> String {
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
        let text = pdf_extract::extract_text_from_mem(pdf).expect("the PDF's text extracts");
        text.split(char::is_whitespace)
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn pages_of(title: &FairListTitle, rows: &[FairRow]) -> usize {
        let measure = Measure::new().expect("the font reads");
        Layout::new(&measure, title, rows).pages.len()
    }

    #[test]
    fn kazakh_names_print_and_extract() {
        let names = [
            ("Әбдіқадыр", "Ғалымжан", "Құралайұлы"),
            ("Өмірзақова", "Ұлжан", "Үмбетқызы"),
            ("Үмбетова", "Һ", "Іңкәрқызы"),
            ("Сейітов", "Іңкәр", ""),
        ];
        let rows: Vec<FairRow> = names
            .iter()
            .map(|(f, g, p)| {
                row(
                    f,
                    g,
                    p,
                    vec![need("Обувь", 1_200_000), need("Рюкзак", 850_000)],
                )
            })
            .collect();
        let pdf = render(&title(), &rows).expect("renders");
        let text = text_of(&pdf);
        for (f, g, p) in names {
            for name in [f, g, p].into_iter().filter(|n| !n.is_empty()) {
                assert!(text.contains(name), "{name} missing from {text}");
            }
        }
        for expected in [
            "Дорога в школу — 2023",
            "Школа № 7, Костанай",
            "Ярмарка «Всё к школе», ТРЦ «Мега», 25.08.2023",
            "Дата печати: 20.08.2023",
            "Обувь — 12 000,00",
            "20 500,00",
            "14.03.2015",
            "Оценка, ₸",
            "Стр. 1 из 1",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
    }

    #[test]
    fn a_long_list_runs_over_pages_with_the_heading_on_each() {
        let rows: Vec<FairRow> = (1..=150)
            .map(|i| {
                let mut needs = vec![need("Школьная форма", 1_500_000 + i * 100)];
                // Some children need more, so rows differ in height.
                if i % 7 == 0 {
                    needs.push(need("Зимняя куртка и сапоги для девочки", 2_500_000));
                    needs.push(need("Канцелярские товары", 300_000));
                }
                row(&format!("Ученик{i:03}"), "Айгерим", "Нурлановна", needs)
            })
            .collect();
        let pages = pages_of(&title(), &rows);
        assert!(pages > 2, "150 rows fit on {pages} pages");
        let pdf = render(&title(), &rows).expect("renders");
        let text = text_of(&pdf);
        assert!(text.contains(&format!("Стр. 1 из {pages}")));
        assert!(text.contains(&format!("Стр. {pages} из {pages}")));
        assert_eq!(text.matches("Стр. ").count(), pages);
        assert_eq!(text.matches("Фамилия").count(), pages);
        for i in 1..=150 {
            let name = format!("Ученик{i:03}");
            assert_eq!(text.matches(&name).count(), 1, "{name}");
        }
    }

    #[test]
    fn an_empty_list_says_so_on_one_page() {
        let title = FairListTitle {
            activity: None,
            ..title()
        };
        assert_eq!(pages_of(&title, &[]), 1);
        let text = text_of(&render(&title, &[]).expect("renders"));
        assert!(text.contains(NOTHING_LEFT), "{text}");
        assert!(text.contains("Дорога в школу — 2023"));
        assert!(text.contains("Стр. 1 из 1"));
        assert!(!text.contains("Фамилия"));
    }

    #[test]
    fn long_needs_and_unbroken_words_wrap() {
        let long_word = "Әбдіқадырұлыныңкітаптары".repeat(12);
        let mut needs: Vec<FairNeed> = (1..=80)
            .map(|i| {
                need(
                    &format!("Очень длинное описание нужды номер {i}"),
                    1_000_000,
                )
            })
            .collect();
        needs.push(need(&long_word, 500));
        let rows = vec![
            row("Короткий", "Первый", "", vec![need("Обувь", 100)]),
            row(&long_word, "Второй", "", needs.clone()),
            row("Третий", "Ребёнок", "", vec![need("Обувь", 100)]),
        ];
        let measure = Measure::new().expect("the font reads");
        let layout = Layout::new(&measure, &title(), &rows);
        // The second row is taller than a page, so it is continued.
        assert!(layout.pages.len() >= 3, "{} pages", layout.pages.len());
        for (row, laid) in layout.rows.iter().enumerate() {
            for (column, lines) in laid.cells.iter().enumerate() {
                for line in lines {
                    let width = measure.width(line, TABLE_SIZE);
                    assert!(
                        width <= WIDTHS[column] - 2.0 * PAD_X + 0.01,
                        "row {row}, column {column}: {line} is {width} wide"
                    );
                }
            }
        }

        let pdf = render(&title(), &rows).expect("renders");
        let joined: String = pdf_extract::extract_text_from_mem(&pdf)
            .expect("the PDF's text extracts")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        // The broken word is printed whole, line after line, in its cell.
        assert!(joined.contains(&long_word));
        for expected in ["Третий", "Очень", "номер80", "Короткий"] {
            assert!(joined.contains(expected), "{expected}");
        }
    }

    #[test]
    fn wrapping_keeps_amounts_whole_and_breaks_long_words() {
        let measure = Measure::new().expect("the font reads");
        let lines = measure.wrap("Обувь — 12\u{a0}000,00; Рюкзак — 8\u{a0}500,00", 8.0, 60.0);
        assert!(
            lines.iter().any(|l| l.contains("12\u{a0}000,00")),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| measure.width(l, 8.0) <= 60.01));
        let word = "ы".repeat(40);
        let lines = measure.wrap(&word, 8.0, 30.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), word);
        assert_eq!(
            measure.wrap("Школа-гимназия", 8.0, 50.0),
            ["Школа-", "гимназия"]
        );
        assert_eq!(measure.wrap("Школа № 17", 8.0, 30.0), ["Школа", "№ 17"]);
        assert_eq!(
            measure.wrap("-1\u{a0}000,00", 8.0, 100.0),
            ["-1\u{a0}000,00"]
        );
        assert!(measure.wrap("", 8.0, 30.0).is_empty());
        assert!(measure.wrap("   ", 8.0, 30.0).is_empty());
    }

    #[test]
    fn the_columns_fill_the_page() {
        let sum: f32 = WIDTHS.iter().sum();
        assert!(
            (sum - CONTENT_WIDTH).abs() < 0.01,
            "{sum} ≠ {CONTENT_WIDTH}"
        );
        // The needs are the widest column.
        assert!(WIDTHS.iter().all(|&w| w <= WIDTHS[7]));
    }

    #[test]
    fn the_font_covers_kazakh_and_the_signs() {
        let font = FontRef::new(FONT).expect("the font reads");
        let charmap = font.charmap();
        let letters = "әғқңөұүһіӘҒҚҢӨҰҮҺІ№₸\u{a0}—«»";
        let headings: String = HEADINGS.concat();
        let cyrillic: String = ('а'..='я').chain('А'..='Я').chain(['ё', 'Ё']).collect();
        for c in letters
            .chars()
            .chain(headings.chars())
            .chain(cyrillic.chars())
        {
            let glyph = charmap.map(c);
            assert!(
                glyph.is_some_and(|g| g.to_u32() != 0),
                "no glyph for {c} (U+{:04X})",
                c as u32
            );
        }
    }
}
