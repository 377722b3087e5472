//! The reconciliation code on the cover sheet as a Code 128 barcode, so a USB scanner at the
//! paper desk reads it straight off the paper copy: the bar pattern from `barcoders`' encoding,
//! drawn as filled rectangles on the PDF page ([`draw`]).

use super::pdf::Page;

/// The Code 128 (set B) modules of `text`, one per narrowest bar width, 1 for black; `None`
/// when `text` cannot be encoded (it is a reconciliation code: it always can).
pub fn modules(text: &str) -> Option<Vec<u8>> {
    let code = barcoders::sym::code128::Code128::new(format!("Ɓ{text}")).ok()?;
    Some(code.encode())
}

/// The width of `text`'s barcode at `xdim` points a module, without its quiet zones.
pub fn width(text: &str, xdim: f32) -> f32 {
    modules(text).map_or(0.0, |m| m.len() as f32 * xdim)
}

/// Draws `text`'s barcode with its bottom left corner at (`x`, `y`): one rectangle per run of
/// black modules. The caller leaves ten modules of white on either side (the quiet zone).
pub fn draw(page: &mut Page, text: &str, (x, y): (f32, f32), xdim: f32, height: f32) {
    let Some(modules) = modules(text) else {
        return;
    };
    let mut i = 0;
    while i < modules.len() {
        if modules[i] == 1 {
            let start = i;
            while i < modules.len() && modules[i] == 1 {
                i += 1;
            }
            page.bar(
                x + start as f32 * xdim,
                y,
                (i - start) as f32 * xdim,
                height,
            );
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::paper::printed_code;

    #[test]
    fn the_code_is_encoded_as_code_128_set_b() {
        let printed = printed_code("2KG6690H");
        let m = modules(&printed).unwrap();
        // Start B (11010010000), one symbol of 11 modules per character and the check symbol,
        // then the stop pattern of 13.
        assert_eq!(&m[..11], &[1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(m.len(), 11 * (printed.chars().count() + 2) + 13);
        assert_eq!(&m[m.len() - 13..], &[1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1]);
        assert_eq!(width(&printed, 2.0), m.len() as f32 * 2.0);
    }
}
