//! The cut-over stages (SPEC 5), the desired state an operator asks for, and where each stage
//! sends a job.

use hop_proto::v1::Side;
use serde::{Deserialize, Serialize};

use super::Route;
use crate::routing::side_for;

/// Where the migration from blue to green stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Blue only; green runs nothing.
    Legacy,
    /// Blue is primary for every job; green shadows every job and is compared.
    Dual,
    /// Green is primary for `green_percent` % of the jobs (sticky hash), blue for the rest; the
    /// other side shadows every job.
    Weighted,
    /// Green is primary for every job; blue runs nothing.
    Green,
    /// As `green`, with blue scaled to zero.
    Decommissioned,
}

impl Stage {
    /// Every stage, in migration order.
    pub const ALL: [Stage; 5] = [
        Stage::Legacy,
        Stage::Dual,
        Stage::Weighted,
        Stage::Green,
        Stage::Decommissioned,
    ];

    /// The name in files, status and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Legacy => "legacy",
            Stage::Dual => "dual",
            Stage::Weighted => "weighted",
            Stage::Green => "green",
            Stage::Decommissioned => "decommissioned",
        }
    }

    /// The green weight this stage implies, `None` for `weighted` (it takes any).
    fn fixed_percent(self) -> Option<u32> {
        match self {
            Stage::Legacy | Stage::Dual => Some(0),
            Stage::Weighted => None,
            Stage::Green | Stage::Decommissioned => Some(100),
        }
    }

    /// The sides of a job at `effective` % green. While `latched`, every job is blue-primary and
    /// green keeps shadowing in every stage where it ran (all but `legacy`), so the window keeps
    /// showing whether green recovered.
    pub(super) fn route(self, job_id: &str, effective: u32, latched: bool) -> Route {
        let (primary, shadow) = match (self, latched) {
            (Stage::Legacy, _) => (Side::Blue, None),
            (_, true) | (Stage::Dual, false) => (Side::Blue, Some(Side::Green)),
            (Stage::Weighted, false) => {
                let primary = side_for(job_id, effective);
                let other = match primary {
                    Side::Green => Side::Blue,
                    _ => Side::Green,
                };
                (primary, Some(other))
            }
            (Stage::Green | Stage::Decommissioned, false) => (Side::Green, None),
        };
        Route { primary, shadow }
    }
}

/// What the operators ask for: a stage and, for `weighted`, a green weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    pub stage: Stage,
    /// 0 to 100; fixed by the stage except in `weighted`.
    pub green_percent: u32,
}

/// The desired-state file (`cutover.file`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DesiredFile {
    stage: Stage,
    green_percent: Option<u32>,
}

impl Desired {
    /// The state a bare weight stands for (the router's `green_percent` when no file is
    /// configured): `legacy` at 0, `green` at 100, else `weighted`.
    pub fn from_percent(green_percent: u32) -> Self {
        let stage = match green_percent {
            0 => Stage::Legacy,
            100.. => Stage::Green,
            _ => Stage::Weighted,
        };
        Self {
            stage,
            green_percent: green_percent.min(100),
        }
    }

    /// An operator's `SetWeight` over `self`: between 1 and 99 is `weighted`; 100 is `green`
    /// (or stays `decommissioned`); 0 stays `legacy` from `legacy` and is `dual` from any other
    /// stage, so green keeps being validated.
    pub fn with_weight(self, green_percent: u32) -> Self {
        let stage = match (green_percent, self.stage) {
            (0, Stage::Legacy) => Stage::Legacy,
            (0, _) => Stage::Dual,
            (100, Stage::Decommissioned) => Stage::Decommissioned,
            (100, _) => Stage::Green,
            _ => Stage::Weighted,
        };
        Self {
            stage,
            green_percent,
        }
    }

    /// Parses the desired-state file: `stage = "weighted"` with `green_percent = N` (0 to 100);
    /// other stages take no `green_percent` or the one they imply. The error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: DesiredFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let green_percent = match (file.stage.fixed_percent(), file.green_percent) {
            (None, None) => {
                return Err("stage \"weighted\" needs green_percent (0 to 100)".into());
            }
            (None, Some(percent)) if percent > 100 => {
                return Err(format!(
                    "green_percent is {percent}, it must be from 0 to 100"
                ));
            }
            (None, Some(percent)) => percent,
            (Some(fixed), Some(percent)) if percent != fixed => {
                return Err(format!(
                    "stage \"{}\" means green_percent = {fixed}, not {percent}: use stage \
                     \"weighted\" for another weight",
                    file.stage.as_str()
                ));
            }
            (Some(fixed), _) => fixed,
        };
        Ok(Self {
            stage: file.stage,
            green_percent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl Iterator<Item = String> {
        (0..2000).map(|i| format!("job_{i}"))
    }

    #[test]
    fn each_stage_routes_as_the_spec_says() {
        for id in ids() {
            let route = Stage::Legacy.route(&id, 0, false);
            assert_eq!((route.primary, route.shadow), (Side::Blue, None));
            let route = Stage::Dual.route(&id, 0, false);
            assert_eq!(
                (route.primary, route.shadow),
                (Side::Blue, Some(Side::Green))
            );
            for stage in [Stage::Green, Stage::Decommissioned] {
                let route = stage.route(&id, 100, false);
                assert_eq!((route.primary, route.shadow), (Side::Green, None));
            }
            let route = Stage::Weighted.route(&id, 10, false);
            assert_eq!(route.primary, side_for(&id, 10));
            assert_ne!(route.shadow, Some(route.primary));
            assert!(route.shadow.is_some());
        }
        let green = ids()
            .filter(|id| Stage::Weighted.route(id, 10, false).primary == Side::Green)
            .count();
        assert!((100..300).contains(&green), "{green} of 2000 green at 10 %");
    }

    #[test]
    fn latched_is_blue_primary_with_green_shadowing_where_it_ran() {
        for id in ids() {
            assert_eq!(Stage::Legacy.route(&id, 0, true).shadow, None);
            for stage in [
                Stage::Dual,
                Stage::Weighted,
                Stage::Green,
                Stage::Decommissioned,
            ] {
                let route = stage.route(&id, 0, true);
                assert_eq!(
                    (route.primary, route.shadow),
                    (Side::Blue, Some(Side::Green))
                );
            }
        }
    }

    #[test]
    fn weights_and_stages() {
        assert_eq!(Desired::from_percent(0).stage, Stage::Legacy);
        assert_eq!(Desired::from_percent(100).stage, Stage::Green);
        let ten = Desired::from_percent(10);
        assert_eq!((ten.stage, ten.green_percent), (Stage::Weighted, 10));
        assert_eq!(ten.with_weight(0).stage, Stage::Dual);
        assert_eq!(Desired::from_percent(0).with_weight(0).stage, Stage::Legacy);
        assert_eq!(
            Desired::from_percent(0).with_weight(50).stage,
            Stage::Weighted
        );
        assert_eq!(ten.with_weight(100).stage, Stage::Green);
        let retired = Desired {
            stage: Stage::Decommissioned,
            green_percent: 100,
        };
        assert_eq!(retired.with_weight(100).stage, Stage::Decommissioned);
        assert_eq!(retired.with_weight(90).stage, Stage::Weighted);
    }

    #[test]
    fn desired_file() {
        let parsed = Desired::parse("stage = \"weighted\"\ngreen_percent = 10\n").unwrap();
        assert_eq!((parsed.stage, parsed.green_percent), (Stage::Weighted, 10));
        assert_eq!(Desired::parse("stage = \"dual\"").unwrap().green_percent, 0);
        let green = Desired::parse("stage = \"green\"\ngreen_percent = 100").unwrap();
        assert_eq!(green.green_percent, 100);
        for (text, expected) in [
            ("stage = \"weighted\"", "needs green_percent"),
            ("stage = \"weighted\"\ngreen_percent = 101", "101"),
            (
                "stage = \"dual\"\ngreen_percent = 10",
                "use stage \"weighted\"",
            ),
            ("stage = \"blue\"", "unknown variant"),
            ("stage = \"dual\"\nweight = 1", "unknown field"),
            ("", "missing field `stage`"),
            ("stage = ", "string"),
        ] {
            let error = Desired::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
