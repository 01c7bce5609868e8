//! Rule ids of `DOMAIN.md`, as constants so a typo is a compile error.

use crate::error::RuleId;

pub const A1: RuleId = RuleId("A1");
pub const A2: RuleId = RuleId("A2");
pub const A3: RuleId = RuleId("A3");
pub const A4: RuleId = RuleId("A4");
pub const A5: RuleId = RuleId("A5");
pub const A6: RuleId = RuleId("A6");
pub const A7: RuleId = RuleId("A7");
pub const A8: RuleId = RuleId("A8");
pub const A9: RuleId = RuleId("A9");
pub const A10: RuleId = RuleId("A10");
pub const A11: RuleId = RuleId("A11");
pub const A12: RuleId = RuleId("A12");
pub const A13: RuleId = RuleId("A13");
pub const A14: RuleId = RuleId("A14");
pub const A15: RuleId = RuleId("A15");
pub const A16: RuleId = RuleId("A16");
pub const A17: RuleId = RuleId("A17");
pub const A18: RuleId = RuleId("A18");
pub const A19: RuleId = RuleId("A19");
pub const A20: RuleId = RuleId("A20");
pub const A21: RuleId = RuleId("A21");
pub const A22: RuleId = RuleId("A22");
pub const A23: RuleId = RuleId("A23");
pub const B1: RuleId = RuleId("B1");
pub const B3: RuleId = RuleId("B3");
pub const B4: RuleId = RuleId("B4");
pub const B5: RuleId = RuleId("B5");
pub const B7: RuleId = RuleId("B7");
pub const B8: RuleId = RuleId("B8");
pub const B9: RuleId = RuleId("B9");
pub const B10: RuleId = RuleId("B10");
/// GB 11643 citizen identity number format and MOD 11-2 check digit.
pub const GB11643: RuleId = RuleId("GB11643");
/// GB/T 2260 administrative division codes.
pub const GBT2260: RuleId = RuleId("GBT2260");
