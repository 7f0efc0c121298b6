//! Colours. Each of the five protocols has its own colour in every plot, so a reader learns it once; labels of
//! the same protocol (a quorum sweep's many Flexible Paxos runs) get shades from a second palette, chosen by the
//! label's order in the results so the same file always gives the same picture.

use plotters::style::RGBColor;

/// The protocol's own colour, from its registry entry ([`crate::registry`]).
pub fn protocol_colour(protocol: &str) -> Option<RGBColor> {
    crate::registry::info(protocol).map(|v| v.colour)
}

/// How many colours the extra palette has before it repeats.
pub const EXTRA_COLOURS: usize = 10;

const EXTRA: [RGBColor; EXTRA_COLOURS] = [
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 94, 240),
    RGBColor(100, 143, 255),
    RGBColor(254, 97, 0),
    RGBColor(220, 38, 127),
    RGBColor(68, 170, 153),
    RGBColor(136, 34, 85),
    RGBColor(153, 153, 51),
];

/// The `index`-th colour for labels without a protocol colour of their own (several labels of one protocol).
pub fn extra_colour(index: usize) -> RGBColor {
    EXTRA[index % EXTRA.len()]
}

/// Colours for message types (a separate palette: these are not variants).
pub fn kind_colour(index: usize) -> RGBColor {
    const KINDS: [RGBColor; 12] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(57, 59, 121),
        RGBColor(173, 73, 74),
    ];
    KINDS[index % KINDS.len()]
}
