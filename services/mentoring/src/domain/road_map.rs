//! The road map (rule 11; Appendix 4): seven stages tracked with their planned and actual
//! dates. The director approves it once every stage has both planned dates (§4.1
//! «утверждает Дорожную карту»); a stage whose planned end has passed without an actual end
//! is overdue.

use std::fmt;

use jiff::civil::Date;

use super::MentoringError;

/// The stages of the road map, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoadMapStageKind {
    /// «Подготовка условий для реализации системы наставничества».
    PreparingConditions,
    /// «Формирование банка наставляемых».
    MenteeBank,
    /// «Формирование банка наставников».
    MentorBank,
    /// «Отбор и обучение».
    SelectionAndTraining,
    /// «Организация и осуществление работы наставнических пар/групп».
    PairsAtWork,
    /// «Завершение персонализированных программ наставничества».
    Completion,
    /// «Информационная поддержка системы наставничества».
    InformationSupport,
}

impl RoadMapStageKind {
    /// Every stage, in the road map's order.
    pub const ALL: [RoadMapStageKind; 7] = [
        RoadMapStageKind::PreparingConditions,
        RoadMapStageKind::MenteeBank,
        RoadMapStageKind::MentorBank,
        RoadMapStageKind::SelectionAndTraining,
        RoadMapStageKind::PairsAtWork,
        RoadMapStageKind::Completion,
        RoadMapStageKind::InformationSupport,
    ];

    /// The stored name: the proto value name without its `ROAD_MAP_STAGE_KIND_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            RoadMapStageKind::PreparingConditions => "PREPARING_CONDITIONS",
            RoadMapStageKind::MenteeBank => "MENTEE_BANK",
            RoadMapStageKind::MentorBank => "MENTOR_BANK",
            RoadMapStageKind::SelectionAndTraining => "SELECTION_AND_TRAINING",
            RoadMapStageKind::PairsAtWork => "PAIRS_AT_WORK",
            RoadMapStageKind::Completion => "COMPLETION",
            RoadMapStageKind::InformationSupport => "INFORMATION_SUPPORT",
        }
    }

    /// The stage a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The stage's resource ID, for example `mentor-bank` in
    /// `institutions/mechta-saratov/roadMapStages/mentor-bank`.
    pub fn id(self) -> &'static str {
        match self {
            RoadMapStageKind::PreparingConditions => "preparing-conditions",
            RoadMapStageKind::MenteeBank => "mentee-bank",
            RoadMapStageKind::MentorBank => "mentor-bank",
            RoadMapStageKind::SelectionAndTraining => "selection-and-training",
            RoadMapStageKind::PairsAtWork => "pairs-at-work",
            RoadMapStageKind::Completion => "completion",
            RoadMapStageKind::InformationSupport => "information-support",
        }
    }

    /// The stage a resource ID names.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }
}

impl fmt::Display for RoadMapStageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage's dates as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageDates {
    /// The planned first day.
    pub planned_start: Option<Date>,
    /// The planned last day.
    pub planned_end: Option<Date>,
    /// The day it actually started.
    pub actual_start: Option<Date>,
    /// The day it actually ended.
    pub actual_end: Option<Date>,
}

impl StageDates {
    /// Whether both planned dates are set.
    pub fn is_planned(&self) -> bool {
        self.planned_start.is_some() && self.planned_end.is_some()
    }

    /// Whether the stage is overdue on `today`: its planned end is before today and it has
    /// no actual end.
    pub fn is_overdue(&self, today: Date) -> bool {
        self.actual_end.is_none() && self.planned_end.is_some_and(|end| end < today)
    }
}

/// `ApproveRoadMap`'s rule: every stage has both planned dates; otherwise
/// `ROAD_MAP_INCOMPLETE` naming the first stage without them, in the road map's order, by
/// its resource name under `institution` (`institutions/{id}`).
pub fn check_approval(
    institution: &str,
    stages: &[(RoadMapStageKind, StageDates)],
) -> Result<(), MentoringError> {
    let first_unplanned = RoadMapStageKind::ALL.into_iter().find(|kind| {
        !stages
            .iter()
            .any(|(k, dates)| k == kind && dates.is_planned())
    });
    match first_unplanned {
        Some(kind) => Err(MentoringError::RoadMapIncomplete {
            stage: format!("{institution}/roadMapStages/{}", kind.id()),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn planned() -> StageDates {
        StageDates {
            planned_start: Some(date(2024, 9, 1)),
            planned_end: Some(date(2024, 10, 31)),
            actual_start: None,
            actual_end: None,
        }
    }

    #[test]
    fn a_road_map_is_approved_with_every_stage_planned() {
        let all: Vec<_> = RoadMapStageKind::ALL
            .into_iter()
            .map(|k| (k, planned()))
            .collect();
        assert_eq!(check_approval("institutions/mechta-saratov", &all), Ok(()));
    }

    #[test]
    fn the_first_stage_without_planned_dates_is_named() {
        let mut stages: Vec<_> = RoadMapStageKind::ALL
            .into_iter()
            .map(|k| (k, planned()))
            .collect();
        stages[5].1.planned_end = None;
        stages[2].1.planned_start = None;
        assert_eq!(
            check_approval("institutions/mechta-saratov", &stages),
            Err(MentoringError::RoadMapIncomplete {
                stage: "institutions/mechta-saratov/roadMapStages/mentor-bank".into()
            })
        );
        // A stage left out altogether counts as unplanned.
        assert_eq!(
            check_approval("institutions/mechta-saratov", &stages[..1]).map_err(|e| e.reason()),
            Err("ROAD_MAP_INCOMPLETE")
        );
    }

    #[test]
    fn a_stage_is_overdue_past_its_planned_end_without_an_actual_one() {
        let stage = planned();
        assert!(!stage.is_overdue(date(2024, 10, 31)));
        assert!(stage.is_overdue(date(2024, 11, 1)));
        let done = StageDates {
            actual_start: Some(date(2024, 9, 2)),
            actual_end: Some(date(2024, 11, 5)),
            ..stage
        };
        assert!(!done.is_overdue(date(2024, 12, 1)));
    }

    #[test]
    fn names_and_ids_round_trip() {
        for kind in RoadMapStageKind::ALL {
            assert_eq!(RoadMapStageKind::parse(kind.as_str()), Some(kind));
            assert_eq!(RoadMapStageKind::from_id(kind.id()), Some(kind));
        }
    }
}
