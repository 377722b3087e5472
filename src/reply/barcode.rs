//! The reconciliation code on the cover sheet: the printed code (with its check character) in
//! large type and as a Code 128 barcode, inline SVG, so a USB scanner at the paper desk reads it
//! straight off the paper copy.

use crate::domain::paper::printed_code;
use crate::safe::html;

/// Bar height and narrowest bar width, in SVG units (the sheet scales the drawing).
const HEIGHT: u32 = 60;
const XDIM: u32 = 2;

/// The Code 128 (set B) barcode of `text` as an inline SVG, `None` when `text` cannot be
/// encoded (it is a reconciliation code: it always can).
pub fn svg(text: &str) -> Option<String> {
    let code = barcoders::sym::code128::Code128::new(format!("Ɓ{text}")).ok()?;
    let svg = barcoders::generators::svg::SVG::new(HEIGHT)
        .xdim(XDIM)
        .generate(code.encode())
        .ok()?;
    let label = html(&format!("Mã vạch của mã đối chiếu {text}"));
    Some(svg.replacen(
        "<svg ",
        &format!(
            "<svg role=\"img\" aria-label=\"{label}\" \
             style=\"display:block;margin:2mm auto;width:70mm;height:15mm\" \
             preserveAspectRatio=\"none\" "
        ),
        1,
    ))
}

/// The cover sheet's code block: the printed code in large type, its barcode below.
pub fn code_block(code: &str) -> String {
    let printed = printed_code(code);
    format!(
        "<div class=\"code\">{}</div>\n<div class=\"barcode\">{}</div>",
        html(&printed),
        svg(&printed).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cover_sheets_code_is_printed_with_its_check_character_and_as_a_barcode() {
        let block = code_block("2KG6690H");
        let printed = printed_code("2KG6690H");
        assert!(
            block.contains(&format!("<div class=\"code\">{printed}</div>")),
            "{block}"
        );
        assert!(block.contains("<svg role=\"img\""), "{block}");
        // Start B (11010010000), then the bars: a real drawing, not an empty frame.
        assert!(block.matches("<rect").count() > 20, "{block}");
    }
}
