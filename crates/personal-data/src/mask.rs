//! Masking for display (PIPL: mask by default). Pure functions on `&str`, counting Unicode scalar
//! values (`char`s), one `*` per hidden character. Unmasked display is a separate, audited path.

/// Keeps the first `head` and last `tail` characters and replaces the others with `*`.
fn keep_ends(text: &str, head: usize, tail: usize) -> String {
    let n = text.chars().count();
    text.chars()
        .enumerate()
        .map(|(i, c)| if i < head || i + tail >= n { c } else { '*' })
        .collect()
}

/// All characters replaced with `*`.
fn all_stars(text: &str) -> String {
    text.chars().map(|_| '*').collect()
}

/// A name: the first character, then one `*` per further character. A single character becomes `*`.
///
/// `"张三"` → `"张*"`, `"欧阳娜娜"` → `"欧***"`, `"李"` → `"*"`, `""` → `""`.
#[must_use]
pub fn mask_name(name: &str) -> String {
    match name.chars().count() {
        0 | 1 => all_stars(name),
        _ => keep_ends(name, 1, 0),
    }
}

/// A phone number. A Chinese mobile number (11 ASCII digits starting with `1`) keeps its first 7 digits
/// (network and area block) and hides the last 4: `"13589971234"` → `"1358997****"`. Any other value of
/// at least 6 characters keeps its first 3 and last 2; shorter values are all stars.
#[must_use]
pub fn mask_phone(phone: &str) -> String {
    let is_mobile =
        phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit());
    if is_mobile {
        keep_ends(phone, 7, 0)
    } else if phone.chars().count() >= 6 {
        keep_ends(phone, 3, 2)
    } else {
        all_stars(phone)
    }
}

/// An identity-document number. From 11 characters on (resident ID cards have 18, old cards 15) the
/// first 6 (region code) and last 4 stay visible: `"33060219800101123X"` → `"330602********123X"`.
/// Shorter numbers (passports, permits) of 6–10 characters keep the first 2 and last 2; below 6 all
/// characters are hidden.
#[must_use]
pub fn mask_id_number(id_number: &str) -> String {
    match id_number.chars().count() {
        n if n >= 11 => keep_ends(id_number, 6, 4),
        n if n >= 6 => keep_ends(id_number, 2, 2),
        _ => all_stars(id_number),
    }
}
