//! # Yearly evaluation (效果评估) of a county by the city CDC — rule A17 (A14 for the year)
//!
//! Policy of this module:
//! - One evaluation per county and year: stream category `"evaluation"`, deterministic id
//!   [`CountyYear`] `"{county}-{year}"` (e.g. `evaluation-330602-2024`).
//! - A17 names six items — form, scale, frequency, population reached, media dissemination, effect. Each is
//!   recorded as an integer score `0..=100` and a comment ([`Text`]); all six are always present.
//! - Recording is append-only: the first record is revision 1; a later record is a **new revision** that must
//!   give a reason and must change something. Nothing is edited in place; the history shows every revision.
//! - The year must be one the campaign window touches (A14), told by the application layer.
//! - [`EvaluationItems::total`] is the pure helper for the total score (0..=600); it is not stored.
//! - Who may record (the city CDC) is checked by the application layer.

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{RegionCode, Text};
use crate::rules;
use crate::summary::{CountyYear, check_text};

pub const COMMENT_MAX_CHARS: usize = 2_000;
pub const REASON_MAX_CHARS: usize = 2_000;
/// Highest score of one item.
pub const MAX_SCORE: u8 = 100;

/// Score and comment of one A17 item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemAssessment {
    /// `0..=100`.
    pub score: u8,
    pub comment: Text,
}

/// The six A17 items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationItems {
    /// 活动形式.
    pub form: ItemAssessment,
    /// 活动规模.
    pub scale: ItemAssessment,
    /// 活动频次.
    pub frequency: ItemAssessment,
    /// 覆盖人群.
    pub population_reached: ItemAssessment,
    /// 媒体传播.
    pub media_dissemination: ItemAssessment,
    /// 活动效果.
    pub effect: ItemAssessment,
}

impl EvaluationItems {
    /// The six items with their field names, in A17 order.
    pub fn named(&self) -> [(&'static str, &ItemAssessment); 6] {
        [
            ("form", &self.form),
            ("scale", &self.scale),
            ("frequency", &self.frequency),
            ("population_reached", &self.population_reached),
            ("media_dissemination", &self.media_dissemination),
            ("effect", &self.effect),
        ]
    }

    /// Sum of the six scores (0..=600 for valid items).
    pub fn total(&self) -> u16 {
        self.named().iter().map(|(_, i)| u16::from(i.score)).sum()
    }

    fn validate(&self, field: &str) -> Result<(), DomainError> {
        for (name, item) in self.named() {
            if item.score > MAX_SCORE {
                return Err(DomainError::invalid_by(
                    rules::A17,
                    format!("{field}.{name}.score"),
                    format!("{} is above the maximum score {MAX_SCORE}", item.score),
                ));
            }
            check_text(
                &format!("{field}.{name}.comment"),
                &item.comment,
                COMMENT_MAX_CHARS,
            )?;
        }
        Ok(())
    }
}

/// City CDC records (or re-records) its evaluation of a county's year (A17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEvaluation {
    pub evaluation: CountyYear,
    pub items: EvaluationItems,
    /// Required from the second record on (why the evaluation is revised); optional on the first.
    pub reason: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluationCommand {
    Record(RecordEvaluation),
}

impl EvaluationCommand {
    /// The evaluation addressed; the stream id is `Evaluation::stream_id(&key.id())`.
    pub fn evaluation(&self) -> CountyYear {
        match self {
            Self::Record(c) => c.evaluation,
        }
    }
}

/// Loaded from the campaign configuration by the application layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationFacts {
    /// The campaign window touches the evaluated year (A14).
    pub year_in_window: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRecorded {
    pub county: RegionCode,
    pub year: i32,
    /// 1 for the first record, then 2, 3, …
    pub revision: u32,
    pub items: EvaluationItems,
    pub reason: Option<Text>,
}

domain_events! {
    /// Events of a yearly evaluation.
    pub enum EvaluationEvent {
        Recorded(EvaluationRecorded) = ("EvaluationRecorded", 1),
    }
}

/// The evaluation aggregate: the current revision and its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    key: Option<CountyYear>,
    revision: u32,
    items: Option<EvaluationItems>,
    reason: Option<Text>,
}

impl Evaluation {
    pub fn key(&self) -> Option<CountyYear> {
        self.key
    }
    /// 0 before the first record.
    pub fn revision(&self) -> u32 {
        self.revision
    }
    pub fn items(&self) -> Option<&EvaluationItems> {
        self.items.as_ref()
    }
    /// Reason of the current revision.
    pub fn reason(&self) -> Option<&Text> {
        self.reason.as_ref()
    }
    /// Total of the current revision.
    pub fn total(&self) -> Option<u16> {
        self.items.as_ref().map(EvaluationItems::total)
    }
}

impl Aggregate for Evaluation {
    const CATEGORY: &'static str = "evaluation";
    type Command = EvaluationCommand;
    type Event = EvaluationEvent;
    type Facts = EvaluationFacts;

    fn decide(
        &self,
        command: &EvaluationCommand,
        facts: &EvaluationFacts,
        _ctx: &Decision,
    ) -> Result<Vec<EvaluationEvent>, DomainError> {
        let EvaluationCommand::Record(c) = command;
        if let Some(k) = self.key
            && k != c.evaluation
        {
            return Err(DomainError::lifecycle(
                "evaluation",
                format!(
                    "command addressed to evaluation {} was sent to evaluation {k}",
                    c.evaluation
                ),
            ));
        }
        if !facts.year_in_window {
            return Err(DomainError::rule(
                rules::A14,
                "evaluation.year",
                format!(
                    "the campaign window does not touch {}; there is nothing to evaluate",
                    c.evaluation.year()
                ),
            ));
        }
        c.items.validate("items")?;
        if let Some(r) = &c.reason {
            check_text("reason", r, REASON_MAX_CHARS)?;
        }
        if self.key.is_some() {
            if c.reason.is_none() {
                return Err(DomainError::rule(
                    rules::A17,
                    "reason",
                    "a revised evaluation must give the reason for the revision",
                ));
            }
            if self.items.as_ref() == Some(&c.items) {
                return Err(DomainError::rule(
                    rules::A17,
                    "items",
                    "the revision changes nothing in the current evaluation",
                ));
            }
        }
        Ok(vec![EvaluationEvent::Recorded(EvaluationRecorded {
            county: c.evaluation.county(),
            year: c.evaluation.year(),
            revision: self.revision.saturating_add(1),
            items: c.items.clone(),
            reason: c.reason.clone(),
        })])
    }

    fn evolve(&mut self, event: &EvaluationEvent) {
        let EvaluationEvent::Recorded(e) = event;
        self.key = Some(CountyYear::from_recorded(e.county, e.year));
        self.revision = e.revision;
        self.items = Some(e.items.clone());
        self.reason = e.reason.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    fn ctx() -> Decision {
        Decision {
            received_at: chrono::DateTime::parse_from_rfc3339("2025-02-01T02:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        }
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 100_000).unwrap()
    }
    fn key() -> CountyYear {
        CountyYear::parse("evaluation", "330602-2024").unwrap()
    }
    const IN: EvaluationFacts = EvaluationFacts {
        year_in_window: true,
    };

    fn item(score: u8) -> ItemAssessment {
        ItemAssessment {
            score,
            comment: text("良好"),
        }
    }
    fn items(scores: [u8; 6]) -> EvaluationItems {
        EvaluationItems {
            form: item(scores[0]),
            scale: item(scores[1]),
            frequency: item(scores[2]),
            population_reached: item(scores[3]),
            media_dissemination: item(scores[4]),
            effect: item(scores[5]),
        }
    }
    fn record(scores: [u8; 6], reason: Option<&str>) -> EvaluationCommand {
        EvaluationCommand::Record(RecordEvaluation {
            evaluation: key(),
            items: items(scores),
            reason: reason.map(text),
        })
    }
    fn run(state: &mut Evaluation, cmd: EvaluationCommand) -> EvaluationRecorded {
        let events = state
            .decide(&cmd, &IN, &ctx())
            .unwrap_or_else(|e| panic!("rejected: {e}"));
        for e in &events {
            state.evolve(e);
        }
        match events.as_slice() {
            [EvaluationEvent::Recorded(r)] => r.clone(),
            other => panic!("expected one EvaluationRecorded, got {other:?}"),
        }
    }

    #[test]
    fn a17_first_record_is_revision_1_with_all_six_items() {
        let mut s = Evaluation::default();
        let r = run(&mut s, record([80, 70, 60, 90, 50, 85], None));
        assert_eq!(r.revision, 1);
        assert_eq!(r.county.as_str(), "330602");
        assert_eq!(r.year, 2024);
        assert_eq!(s.revision(), 1);
        assert_eq!(s.items(), Some(&items([80, 70, 60, 90, 50, 85])));
        assert_eq!(s.key(), Some(key()));
        assert_eq!(Evaluation::stream_id(&key().id()), "evaluation-330602-2024");
    }

    #[test]
    fn a17_total_is_the_sum_of_the_six_scores() {
        assert_eq!(items([80, 70, 60, 90, 50, 85]).total(), 435);
        assert_eq!(items([100; 6]).total(), 600);
        assert_eq!(items([0; 6]).total(), 0);
        let mut s = Evaluation::default();
        assert_eq!(s.total(), None);
        run(&mut s, record([1, 2, 3, 4, 5, 6], None));
        assert_eq!(s.total(), Some(21));
    }

    #[test]
    fn a17_a_score_above_100_is_rejected_naming_the_item() {
        let e = Evaluation::default()
            .decide(&record([80, 70, 60, 90, 101, 85], None), &IN, &ctx())
            .unwrap_err();
        assert_eq!(e.rule, rules::A17);
        assert_eq!(e.field, "items.media_dissemination.score");
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn a17_score_100_is_accepted() {
        let mut s = Evaluation::default();
        assert_eq!(run(&mut s, record([100; 6], None)).items.effect.score, 100);
    }

    #[test]
    fn a17_an_overlong_comment_is_rejected_naming_the_item() {
        let mut c = items([1; 6]);
        c.scale.comment = text(&"评".repeat(COMMENT_MAX_CHARS + 1));
        let cmd = EvaluationCommand::Record(RecordEvaluation {
            evaluation: key(),
            items: c,
            reason: None,
        });
        let e = Evaluation::default().decide(&cmd, &IN, &ctx()).unwrap_err();
        assert_eq!(e.field, "items.scale.comment");
        assert_eq!(e.rule, RuleId::INPUT);
    }

    #[test]
    fn a17_a_later_record_is_a_new_revision_with_its_reason() {
        let mut s = Evaluation::default();
        run(&mut s, record([80, 70, 60, 90, 50, 85], None));
        let r = run(
            &mut s,
            record([80, 70, 60, 90, 60, 85], Some("补充了媒体报道材料")),
        );
        assert_eq!(r.revision, 2);
        assert_eq!(r.reason, Some(text("补充了媒体报道材料")));
        assert_eq!(s.revision(), 2);
        assert_eq!(s.reason(), Some(&text("补充了媒体报道材料")));
        assert_eq!(s.total(), Some(445));
    }

    #[test]
    fn a17_a_revision_without_reason_is_rejected() {
        let mut s = Evaluation::default();
        run(&mut s, record([80; 6], None));
        let e = s.decide(&record([70; 6], None), &IN, &ctx()).unwrap_err();
        assert_eq!(e.rule, rules::A17);
        assert_eq!(e.field, "reason");
    }

    #[test]
    fn a17_a_revision_that_changes_nothing_is_rejected() {
        let mut s = Evaluation::default();
        run(&mut s, record([80; 6], None));
        let e = s
            .decide(&record([80; 6], Some("再次确认")), &IN, &ctx())
            .unwrap_err();
        assert_eq!(e.rule, rules::A17);
        assert_eq!(e.field, "items");
    }

    #[test]
    fn a14_a_year_outside_the_campaign_window_cannot_be_evaluated() {
        let e = Evaluation::default()
            .decide(
                &record([80; 6], None),
                &EvaluationFacts {
                    year_in_window: false,
                },
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.rule, rules::A14);
        assert_eq!(e.field, "evaluation.year");
    }

    #[test]
    fn a17_a_record_addressed_to_another_evaluation_is_rejected() {
        let mut s = Evaluation::default();
        run(&mut s, record([80; 6], None));
        let cmd = EvaluationCommand::Record(RecordEvaluation {
            evaluation: CountyYear::parse("e", "330603-2024").unwrap(),
            items: items([70; 6]),
            reason: Some(text("x")),
        });
        let e = s.decide(&cmd, &IN, &ctx()).unwrap_err();
        assert_eq!(e.rule, RuleId::LIFECYCLE);
        assert_eq!(e.field, "evaluation");
    }

    #[test]
    fn golden_json_of_evaluation_recorded() {
        let e = EvaluationEvent::Recorded(EvaluationRecorded {
            county: RegionCode::parse("c", "330602").unwrap(),
            year: 2024,
            revision: 2,
            items: items([80, 70, 60, 90, 50, 85]),
            reason: Some(text("更正")),
        });
        let json = r#"{"county":"330602","year":2024,"revision":2,"items":{"form":{"score":80,"comment":"良好"},"scale":{"score":70,"comment":"良好"},"frequency":{"score":60,"comment":"良好"},"population_reached":{"score":90,"comment":"良好"},"media_dissemination":{"score":50,"comment":"良好"},"effect":{"score":85,"comment":"良好"}},"reason":"更正"}"#;
        assert_eq!(e.event_type(), "EvaluationRecorded");
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json);
        assert_eq!(
            EvaluationEvent::from_payload("EvaluationRecorded", 1, json).unwrap(),
            e
        );
        assert_eq!(EvaluationEvent::TYPES, &[("EvaluationRecorded", 1)]);
    }

    proptest! {
        #[test]
        fn a17_revisions_count_up_by_one_and_replay_matches(
            records in proptest::collection::vec((proptest::array::uniform6(0u8..=110), any::<bool>()), 0..20),
        ) {
            let mut state = Evaluation::default();
            let mut history = Vec::new();
            for (scores, with_reason) in records {
                let cmd = record(scores, with_reason.then_some("修订"));
                let before = state.revision();
                if let Ok(events) = state.decide(&cmd, &IN, &ctx()) {
                    for e in &events { state.evolve(e); }
                    history.extend(events);
                    prop_assert_eq!(state.revision(), before + 1);
                    prop_assert_eq!(state.items(), Some(&items(scores)));
                    prop_assert!(state.total().unwrap_or(u16::MAX) <= 600);
                    prop_assert_eq!(&Evaluation::replay(&history), &state);
                } else {
                    prop_assert_eq!(state.revision(), before);
                }
            }
        }
    }
}
