//! The eight search algorithms by name.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// Genetic algorithm: tournament selection, uniform subset crossover with repair, elitism.
    #[serde(rename = "GA")]
    Ga,
    /// Discrete (set-based) particle swarm optimisation.
    #[serde(rename = "PSO")]
    Pso,
    /// Metropolis simulated annealing, many chains, geometric cooling.
    #[serde(rename = "SA")]
    Sa,
    /// Differential evolution over membership scores (random keys).
    #[serde(rename = "DE")]
    De,
    /// Ant colony optimisation with a per-strategy pheromone vector.
    #[serde(rename = "ACO")]
    Aco,
    /// Restart hill climbing with single-swap moves.
    #[serde(rename = "HC")]
    Hc,
    /// Surrogate-guided (Bayesian-style) optimisation.
    #[serde(rename = "BO")]
    Bo,
    /// Random search.
    #[serde(rename = "RS")]
    Rs,
}

impl Algorithm {
    pub const ALL: [Algorithm; 8] = [
        Algorithm::Ga,
        Algorithm::Pso,
        Algorithm::Sa,
        Algorithm::De,
        Algorithm::Aco,
        Algorithm::Hc,
        Algorithm::Bo,
        Algorithm::Rs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ga => "GA",
            Algorithm::Pso => "PSO",
            Algorithm::Sa => "SA",
            Algorithm::De => "DE",
            Algorithm::Aco => "ACO",
            Algorithm::Hc => "HC",
            Algorithm::Bo => "BO",
            Algorithm::Rs => "RS",
        }
    }

    /// Fitness evaluations a job gives this algorithm when it does not set a budget. The local
    /// searches (SA, HC) score single swaps, O(T) each; the population methods score whole
    /// portfolios, O(k T) each and bound by memory on the production matrix, for 1/16 of their
    /// budget, then single swaps. Chosen from `hop-bench --curve` (README, "Convergence") so that
    /// a production-shape job (25,544 x 82, k = 35) with its walk-forward finishes in well under
    /// a second on two cores: SA still gains between 200,000 and 400,000 evaluations, while HC
    /// stalls after 100,000 (its restarts rarely beat its first climb).
    pub fn default_budget(self) -> u64 {
        match self {
            Algorithm::Sa => 400_000,
            Algorithm::Hc => 100_000,
            Algorithm::Ga | Algorithm::Pso | Algorithm::De | Algorithm::Bo => 6_000,
            Algorithm::Aco | Algorithm::Rs => 4_000,
        }
    }

    /// The share of the budget a whole-portfolio algorithm spends on its own method; the single-swap
    /// local search (`search::polish`) spends the rest from the best portfolio it found. `None`
    /// for the local searches themselves (SA, HC) and for RS, the baseline every other algorithm
    /// must beat.
    pub fn exploration_share(self) -> Option<Share> {
        match self {
            Algorithm::Ga | Algorithm::Pso | Algorithm::De | Algorithm::Aco | Algorithm::Bo => {
                Some(Share { parts: 16 })
            }
            Algorithm::Sa | Algorithm::Hc | Algorithm::Rs => None,
        }
    }

    /// A stable number per algorithm, mixed into the seed so each gets its own RNG stream.
    pub fn stream(self) -> u64 {
        Algorithm::ALL
            .iter()
            .position(|&a| a == self)
            .expect("listed in ALL") as u64
            + 1
    }

    /// Parses an algorithm name, case-insensitive (`sa`, `SA`).
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let wanted = text.trim().to_ascii_uppercase();
        super::find_by_name(
            "algorithm",
            text,
            &wanted,
            &Algorithm::ALL,
            Algorithm::as_str,
        )
    }

    /// Parses a comma-separated list such as `GA,SA,HC` (duplicates removed, order kept).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, CoreError> {
        let mut out = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let alg = Algorithm::parse(part)?;
            if !out.contains(&alg) {
                out.push(alg);
            }
        }
        if out.is_empty() {
            return Err(CoreError::Options("no algorithm named".into()));
        }
        Ok(out)
    }
}

/// One part in `parts` of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub parts: u64,
}

impl Share {
    /// This share of `budget`, at least one evaluation.
    pub fn of(self, budget: u64) -> u64 {
        (budget / self.parts).max(1)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
